//! The deterministic simulator: the same nodes, one thread, virtual time.
//!
//! Everything that can happen in a run (a node starts, a message arrives, a timer
//! fires, a client asks, the harness crashes a node) is an entry in one queue ordered
//! by (time, sequence number). The simulator pops the earliest entry, moves its virtual
//! clock to that entry's time, and hands the event to the node; the node's effects add
//! new entries. Every random choice, the node's and the network's, comes from one
//! generator seeded at the start. So a seed *is* a run: the same seed gives the same
//! run, byte for byte, on any machine, and a failing seed found by a sweep of thousands
//! replays under a debugger.
//!
//! After every event the simulator runs the registered checks (Election Safety, "at
//! most one value chosen", …) and records any [`Violation`].
//!
//! In *controlled mode* the caller, not the clock, picks which pending event happens
//! next ([`Sim::pending`], [`Sim::step_pending`], [`Sim::discard`]): that is how the
//! exhaustive explorer of chapter 1 walks every order of deliveries, and every loss.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::id::{CallId, NodeId};
use super::net::{DropReason, Faults, Network, Route};
use super::node::{Context, Effect, Message, Node};
use super::rng::Rng;
use super::schedule::{Action, Schedule};
use super::stats::NodeStats;
use super::time::Time;
use super::timers::{TimerTable, Wake, Woken};
use super::trace::{records, Fact, Observed, Record, RuntimeEvent, TraceLevel, HARNESS};
use crate::check::Violation;
use crate::error::{Error, Result};
use crate::storage::{Location, Storage};

/// Builds a node from its id and its storage, at the start and after every restart.
pub type Factory<N> = Arc<dyn Fn(NodeId, Storage) -> Result<N> + Send + Sync>;

/// A checker run after every simulated event: it returns the violations it sees.
pub type Check<N> = Box<dyn FnMut(&Sim<N>) -> Vec<Violation>>;

/// How to set up a simulated run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many nodes, `n1..=nN`.
    pub nodes: usize,
    /// The seed of the run's one generator.
    pub seed: u64,
    /// The network's random faults.
    pub faults: Faults,
    /// How much of the run to record: nothing, the protocol's events, or everything
    /// (the runtime's own `send`, `deliver`, … too). Checks see the protocol's events
    /// whatever the level.
    pub trace: TraceLevel,
}

impl SimConfig {
    /// `nodes` nodes, seed `seed`, a reliable network, the protocol's events recorded.
    pub fn new(nodes: usize, seed: u64) -> SimConfig {
        SimConfig {
            nodes,
            seed,
            faults: Faults::reliable(),
            trace: TraceLevel::Protocol,
        }
    }
}

/// A client's answer, as the simulator saw it.
#[derive(Clone, Debug)]
pub struct Reply<R> {
    /// When the node answered.
    pub at: Time,
    /// The node that answered.
    pub node: NodeId,
    /// The call it answered.
    pub call: CallId,
    /// The answer.
    pub response: R,
}

/// One node's place in the simulation: the node (absent while crashed), where its
/// storage lives, its armed timers, and whether it is owed a flush.
struct Slot<N: Node> {
    node: Option<N>,
    location: Location,
    timers: TimerTable<N::Timer>,
    /// The node is queued for its flush ([`Node::on_flush`]).
    dirty: bool,
}

/// What can happen.
enum Happening<N: Node> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: N::Msg,
        id: u64,
    },
    /// A wake-up for one of `node`'s timers; its key is the entry's time and sequence
    /// number, and the node's [`TimerTable`] says what it finds.
    Timer {
        node: NodeId,
    },
    Request {
        node: NodeId,
        call: CallId,
        req: N::Request,
    },
    /// Boxed: an action is far larger than the other happenings, and the queue moves
    /// its entries on every push and pop.
    Action(Box<Action>),
}

/// An entry of the event queue.
struct Queued<N: Node> {
    at: Time,
    seq: u64,
    what: Happening<N>,
}

impl<N: Node> Queued<N>
where
    N::Request: Clone,
{
    /// A copy of the entry (for [`Sim::fork`]).
    fn duplicate(&self) -> Queued<N> {
        let what = match &self.what {
            Happening::Start(n) => Happening::Start(*n),
            Happening::Deliver { from, to, msg, id } => Happening::Deliver {
                from: *from,
                to: *to,
                msg: msg.clone(),
                id: *id,
            },
            Happening::Timer { node } => Happening::Timer { node: *node },
            Happening::Request { node, call, req } => Happening::Request {
                node: *node,
                call: *call,
                req: req.clone(),
            },
            Happening::Action(a) => Happening::Action(a.clone()),
        };
        Queued {
            at: self.at,
            seq: self.seq,
            what,
        }
    }
}

impl<N: Node> PartialEq for Queued<N> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<N: Node> Eq for Queued<N> {}
impl<N: Node> PartialOrd for Queued<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<N: Node> Ord for Queued<N> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest entry first; among
    /// entries of one instant, the first queued (or armed) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A pending event as controlled mode shows it.
#[derive(Debug)]
pub struct Pending<'a, N: Node> {
    /// The event's sequence number: pass it to [`Sim::step_pending`] or [`Sim::discard`].
    pub seq: u64,
    /// When it would happen on the clock.
    pub at: Time,
    /// What it is.
    pub what: PendingWhat<'a, N>,
}

/// What a pending event is.
#[derive(Debug)]
pub enum PendingWhat<'a, N: Node> {
    /// A node starts.
    Start(NodeId),
    /// A message in flight.
    Deliver {
        /// Its sender.
        from: NodeId,
        /// Its receiver.
        to: NodeId,
        /// The message.
        msg: &'a N::Msg,
    },
    /// An armed timer.
    Timer {
        /// Whose.
        node: NodeId,
        /// Which.
        timer: &'a N::Timer,
    },
    /// A client request on its way to a node.
    Request {
        /// The node asked.
        node: NodeId,
        /// The call: this request, as the runtime names it.
        call: CallId,
    },
    /// A scheduled harness action.
    Action(&'a Action),
}

/// A simulated cluster.
pub struct Sim<N: Node> {
    now: Time,
    seq: u64,
    queue: BinaryHeap<Queued<N>>,
    rng: Rng,
    net: Network,
    slots: Vec<Slot<N>>,
    factory: Factory<N>,
    /// Reused between handler calls, so a step allocates nothing for its effects.
    effects: Vec<Effect<N>>,
    stats: Vec<NodeStats>,
    /// What the run recorded, as its level asks.
    trace: Vec<Observed<N::Event>>,
    level: TraceLevel,
    next_msg: u64,
    next_call: u64,
    replies: Vec<Reply<N::Response>>,
    checks: Vec<Check<N>>,
    step_events: Vec<(NodeId, N::Event)>,
    violations: Vec<Violation>,
    steps: u64,
    /// The nodes owed a flush, in the order they came to want one: flushed, in that
    /// order, once the current instant has no more events.
    dirty: VecDeque<NodeId>,
    flushes: u64,
}

impl<N: Node> Sim<N> {
    /// A simulation of `config.nodes` nodes with in-memory storage, each built by
    /// `factory`. The nodes start at time zero, in id order, when the run begins.
    pub fn new(
        config: SimConfig,
        factory: impl Fn(NodeId, Storage) -> Result<N> + Send + Sync + 'static,
    ) -> Result<Sim<N>> {
        let locations = (0..config.nodes).map(|_| Location::memory()).collect();
        Sim::with_storage(config, locations, Arc::new(factory))
    }

    /// A simulation whose node `i` keeps its durable state at `locations[i]`.
    pub fn with_storage(
        config: SimConfig,
        locations: Vec<Location>,
        factory: Factory<N>,
    ) -> Result<Sim<N>> {
        if config.nodes == 0 || locations.len() != config.nodes {
            return Err(Error::Config(format!(
                "a simulation needs at least one node and one storage location per node \
                 (nodes = {}, locations = {})",
                config.nodes,
                locations.len()
            )));
        }
        let mut slots = Vec::with_capacity(config.nodes);
        for (i, location) in locations.into_iter().enumerate() {
            let id = NodeId::from_index(i);
            let node = factory(id, location.open()?)?;
            slots.push(Slot {
                node: Some(node),
                location,
                timers: TimerTable::default(),
                dirty: false,
            });
        }
        let mut sim = Sim {
            now: Time::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: Rng::new(config.seed),
            net: Network::new(config.nodes, config.faults),
            slots,
            factory,
            effects: Vec::new(),
            stats: vec![NodeStats::default(); config.nodes],
            trace: Vec::new(),
            level: config.trace,
            next_msg: 0,
            next_call: 0,
            replies: Vec::new(),
            checks: Vec::new(),
            step_events: Vec::new(),
            violations: Vec::new(),
            steps: 0,
            dirty: VecDeque::new(),
            flushes: 0,
        };
        for id in NodeId::all(config.nodes) {
            sim.push(Time::ZERO, Happening::Start(id));
        }
        Ok(sim)
    }

    fn push(&mut self, at: Time, what: Happening<N>) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            what,
        });
    }

    /// Queues a timer's wake-up under the key its arming took.
    fn push_keyed(&mut self, key: Wake, what: Happening<N>) {
        self.queue.push(Queued {
            at: key.at,
            seq: key.seq,
            what,
        });
    }

    // --- Looking at the run -------------------------------------------------------

    /// The virtual clock.
    pub fn now(&self) -> Time {
        self.now
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the cluster has no nodes (never: a simulation needs at least one).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The ids of every node.
    pub fn ids(&self) -> Vec<NodeId> {
        NodeId::all(self.slots.len())
    }

    /// Node `id`, or `None` while it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.slots
            .get(id.index_in(self.slots.len())?)?
            .node
            .as_ref()
    }

    /// Node `id` for changing it by hand (a test that breaks a rule on purpose).
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut N> {
        let i = id.index_in(self.slots.len())?;
        self.slots[i].node.as_mut()
    }

    /// Whether node `id` is up.
    pub fn is_up(&self, id: NodeId) -> bool {
        self.node(id).is_some()
    }

    /// Every live node with its id.
    pub fn live_nodes(&self) -> impl Iterator<Item = (NodeId, &N)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.node.as_ref().map(|n| (NodeId::from_index(i), n)))
    }

    /// Message counts and bytes of node `id`.
    pub fn stats(&self, id: NodeId) -> NodeStats {
        id.index_in(self.stats.len())
            .map(|i| self.stats[i])
            .unwrap_or_default()
    }

    /// The sum of every node's counts.
    pub fn total_stats(&self) -> NodeStats {
        self.stats
            .iter()
            .fold(NodeStats::default(), |a, b| a.plus(b))
    }

    /// The network, to read its partitions and faults.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The trace so far, typed: protocol events at [`TraceLevel::Protocol`], the
    /// runtime's own too at [`TraceLevel::Everything`], nothing at [`TraceLevel::Off`].
    pub fn observed(&self) -> &[Observed<N::Event>] {
        &self.trace
    }

    /// The trace so far as trace lines (JSON, for files and diagrams).
    pub fn records(&self) -> Vec<Record> {
        records(&self.trace)
    }

    /// Takes the trace recorded so far as trace lines, leaving it empty.
    pub fn take_records(&mut self) -> Vec<Record> {
        records(&std::mem::take(&mut self.trace))
    }

    /// Takes the trace recorded so far, typed, leaving it empty.
    pub fn take_observed(&mut self) -> Vec<Observed<N::Event>> {
        std::mem::take(&mut self.trace)
    }

    /// The protocol events of the step that just ran, for checks.
    pub fn step_events(&self) -> &[(NodeId, N::Event)] {
        &self.step_events
    }

    /// Every answer nodes gave clients so far.
    pub fn replies(&self) -> &[Reply<N::Response>] {
        &self.replies
    }

    /// Takes the answers given so far.
    pub fn take_replies(&mut self) -> Vec<Reply<N::Response>> {
        std::mem::take(&mut self.replies)
    }

    /// Every property violation seen so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// How many events have been processed (flushes are not events).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// How many times a node's batching point ([`Node::on_flush`]) has run.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// How many entries wait in the event queue, wake-ups left behind by cancelled
    /// timers included: what a timer re-armed for later does not add to.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the next event is due, if any is pending.
    pub fn next_event_at(&self) -> Option<Time> {
        self.queue.peek().map(|q| q.at)
    }

    // --- Checks -------------------------------------------------------------------

    /// Registers a property to check after every event. The check sees the whole
    /// simulation, including [`Sim::step_events`].
    pub fn add_check(
        &mut self,
        property: &'static str,
        mut check: impl FnMut(&Sim<N>) -> std::result::Result<(), String> + 'static,
    ) {
        self.add_checker(move |sim| match check(sim) {
            Ok(()) => Vec::new(),
            Err(detail) => vec![Violation::new(sim.now(), property, detail)],
        });
    }

    /// Registers a checker of several properties at once (one that keeps a history of
    /// the run, say), run after every event; every violation it returns is recorded.
    pub fn add_checker(&mut self, checker: impl FnMut(&Sim<N>) -> Vec<Violation> + 'static) {
        self.checks.push(Box::new(checker));
    }

    #[inline]
    fn run_checks(&mut self) {
        if !self.checks.is_empty() {
            self.run_checks_now();
        }
    }

    fn run_checks_now(&mut self) {
        let mut checks = std::mem::take(&mut self.checks);
        for check in checks.iter_mut() {
            for v in check(self) {
                // Part of the run's story, not an error report: the caller reports the
                // violations it collects (see `violations`), once.
                log::info!(target: "quorum::harness", "{} harness: {v}", self.now);
                self.violations.push(v);
            }
        }
        self.checks = checks;
    }

    // --- Driving the run ----------------------------------------------------------

    // ANCHOR: step
    /// Runs the earliest pending event, or, once the current instant has no event left,
    /// the batching point of a node that wants it ([`Node::on_flush`]). Returns `false`
    /// when nothing is pending.
    pub fn step(&mut self) -> Result<bool> {
        if self.flush_due() {
            self.flush_next()?;
            return Ok(true);
        }
        match self.queue.pop() {
            Some(q) => {
                self.run_event(q)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether a node is owed its flush: one wants it, and no event is left at the
    /// current instant (events a flush sends with no delay come before the next flush,
    /// so a node flushes again after handling them).
    fn flush_due(&self) -> bool {
        !self.dirty.is_empty() && self.queue.peek().is_none_or(|q| q.at > self.now)
    }
    // ANCHOR_END: step

    /// Whether a step is due at or before `deadline`: a flush, or an event.
    fn due_by(&self, deadline: Time) -> bool {
        self.flush_due() || self.queue.peek().is_some_and(|q| q.at <= deadline)
    }

    /// Flushes the first node owed a flush, then runs the checks (a flush may record
    /// protocol events: a commit, say).
    fn flush_next(&mut self) -> Result<()> {
        match self.dirty.pop_front() {
            Some(id) => self.flush_node(id),
            None => Ok(()),
        }
    }

    /// Flushes node `id` if it wants it, then runs the checks.
    fn flush_node(&mut self, id: NodeId) -> Result<()> {
        let Some(slot) = self.slots.get_mut(id.index()) else {
            return Ok(());
        };
        slot.dirty = false;
        if !slot.node.as_ref().is_some_and(|n| n.wants_flush()) {
            return Ok(());
        }
        self.flushes += 1;
        self.step_events.clear();
        self.call(id, |n, ctx| n.on_flush(ctx))?;
        self.run_checks();
        Ok(())
    }

    /// Flushes every node owed a flush, now: a controlled step is an instant of its own.
    fn flush_all(&mut self) -> Result<()> {
        while !self.dirty.is_empty() {
            self.flush_next()?;
        }
        Ok(())
    }

    /// Runs every event due up to and including `deadline`, then sets the clock to it.
    pub fn run_until(&mut self, deadline: Time) -> Result<()> {
        while self.due_by(deadline) {
            self.step()?;
        }
        self.now = self.now.max(deadline);
        Ok(())
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<()> {
        self.run_until(self.now + d)
    }

    /// Runs until `done` holds (checked after every event) or the clock passes
    /// `deadline`. Returns whether `done` came to hold.
    pub fn run_until_true(
        &mut self,
        deadline: Time,
        mut done: impl FnMut(&Sim<N>) -> bool,
    ) -> Result<bool> {
        if done(self) {
            return Ok(true);
        }
        while self.due_by(deadline) {
            self.step()?;
            if done(self) {
                return Ok(true);
            }
        }
        self.now = self.now.max(deadline);
        Ok(false)
    }

    /// Queues every action of `schedule` at its time.
    pub fn schedule(&mut self, schedule: &Schedule) -> Result<()> {
        for (_, action) in &schedule.actions {
            action.check(self.slots.len())?;
        }
        for (at, action) in &schedule.actions {
            self.push(
                Time::ZERO + *at,
                Happening::Action(Box::new(action.clone())),
            );
        }
        Ok(())
    }

    /// Queues `action` at `at`.
    pub fn schedule_at(&mut self, at: Time, action: Action) -> Result<()> {
        action.check(self.slots.len())?;
        self.push(at, Happening::Action(Box::new(action)));
        Ok(())
    }

    /// A client's request `req` reaches node `node` at `at` (not before now): a client
    /// that crosses the network decides when. The answer will appear in
    /// [`Sim::replies`] under the returned call id.
    pub fn request_at(&mut self, at: Time, node: NodeId, req: N::Request) -> Result<CallId> {
        if node.index_in(self.slots.len()).is_none() {
            return Err(Error::Runtime(format!(
                "a call asked {node}, but the cluster has only n1..=n{}",
                self.slots.len()
            )));
        }
        self.next_call += 1;
        let call = CallId(self.next_call);
        self.push(at.max(self.now), Happening::Request { node, call, req });
        Ok(call)
    }

    /// A client sends `req` to node `node` now; the answer will appear in
    /// [`Sim::replies`] under the returned call id.
    pub fn request(&mut self, node: NodeId, req: N::Request) -> Result<CallId> {
        self.request_at(self.now, node, req)
    }

    // --- Controlled mode ----------------------------------------------------------

    /// Every pending event, earliest first: what is queued, and every armed timer of a
    /// live node at its deadline (a timer is named by the sequence number of its
    /// arming).
    pub fn pending(&self) -> Vec<Pending<'_, N>> {
        let mut v: Vec<Pending<'_, N>> = self
            .queue
            .iter()
            .filter_map(|q| {
                let what = match &q.what {
                    Happening::Start(n) => PendingWhat::Start(*n),
                    Happening::Deliver { from, to, msg, .. } => PendingWhat::Deliver {
                        from: *from,
                        to: *to,
                        msg,
                    },
                    // Armed timers are listed from the nodes' tables below.
                    Happening::Timer { .. } => return None,
                    Happening::Request { node, call, .. } => PendingWhat::Request {
                        node: *node,
                        call: *call,
                    },
                    Happening::Action(a) => PendingWhat::Action(a),
                };
                Some(Pending {
                    seq: q.seq,
                    at: q.at,
                    what,
                })
            })
            .collect();
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.node.is_none() {
                continue;
            }
            for (timer, due) in slot.timers.armed() {
                v.push(Pending {
                    seq: due.seq,
                    at: due.at,
                    what: PendingWhat::Timer {
                        node: NodeId::from_index(i),
                        timer,
                    },
                });
            }
        }
        v.sort_by_key(|p| (p.at, p.seq));
        v
    }

    /// Removes the queued event `seq` (not a timer's wake-up: timers are named by their
    /// arming, see [`Sim::pending`]).
    fn remove_pending(&mut self, seq: u64) -> Option<Queued<N>> {
        let mut entries = std::mem::take(&mut self.queue).into_vec();
        let found = entries
            .iter()
            .position(|q| q.seq == seq && !matches!(q.what, Happening::Timer { .. }))
            .map(|i| entries.swap_remove(i));
        self.queue = BinaryHeap::from(entries);
        found
    }

    /// The live node whose timer was armed with sequence number `seq`, and the timer's
    /// deadline key, if there is one.
    fn armed_timer(&self, seq: u64) -> Option<(NodeId, Wake)> {
        self.slots.iter().enumerate().find_map(|(i, slot)| {
            slot.node.as_ref()?;
            let (_, due) = slot.timers.armed().find(|(_, due)| due.seq == seq)?;
            Some((NodeId::from_index(i), due))
        })
    }

    /// Runs the pending event `seq` now, whatever its place in the queue. The clock
    /// moves forward to the event's time if that is later; it never moves back.
    pub fn step_pending(&mut self, seq: u64) -> Result<()> {
        if let Some(q) = self.remove_pending(seq) {
            self.run_event(q)?;
            return self.flush_all();
        }
        let (node, due) = self
            .armed_timer(seq)
            .ok_or_else(|| Error::Runtime(format!("no pending event #{seq}")))?;
        self.now = self.now.max(due.at);
        self.steps += 1;
        self.step_events.clear();
        if let Some(timer) = self.slots[node.index()].timers.take(due) {
            self.fire(node, timer)?;
        }
        self.run_checks();
        self.flush_all()
    }

    /// Delivers a copy of the message in flight `seq` now and leaves the message in
    /// flight: the network duplicated it. A model checker that lets every message be
    /// delivered any number of times, including never, covers loss, duplication and
    /// reordering at once.
    pub fn redeliver(&mut self, seq: u64) -> Result<()> {
        let copy = self
            .queue
            .iter()
            .find(|q| q.seq == seq)
            .and_then(|q| match &q.what {
                Happening::Deliver { from, to, msg, id } => Some(Queued {
                    at: q.at,
                    seq: q.seq,
                    what: Happening::Deliver {
                        from: *from,
                        to: *to,
                        msg: msg.clone(),
                        id: *id,
                    },
                }),
                _ => None,
            });
        match copy {
            Some(q) => {
                self.run_event(q)?;
                self.flush_all()
            }
            None => Err(Error::Runtime(format!(
                "no message in flight with event #{seq}"
            ))),
        }
    }

    /// Removes the pending event `seq` without running it: the network lost the
    /// message (or the timer never fires).
    pub fn discard(&mut self, seq: u64) -> Result<()> {
        if let Some(q) = self.remove_pending(seq) {
            if let Happening::Deliver { from, to, id, .. } = q.what {
                self.note_drop(from, to, id, DropReason::Lost);
            }
            return Ok(());
        }
        let (node, due) = self
            .armed_timer(seq)
            .ok_or_else(|| Error::Runtime(format!("no pending event #{seq}")))?;
        self.slots[node.index()].timers.take(due);
        Ok(())
    }

    // --- Branching ----------------------------------------------------------------

    /// An independent copy of this simulation, for a model checker that explores one
    /// state's every successor. Storage is deep-copied ([`Location::fork`], memory
    /// only), and `copy` rebuilds each live node over its copied storage. Checks are not
    /// copied: the caller checks the copy itself.
    pub fn fork(&self, copy: impl Fn(&N, Storage) -> N) -> Result<Sim<N>>
    where
        N::Request: Clone,
        N::Response: Clone,
    {
        let mut slots = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            let location = s.location.fork()?;
            let node = match &s.node {
                Some(n) => Some(copy(n, location.open()?)),
                None => None,
            };
            slots.push(Slot {
                node,
                location,
                timers: s.timers.clone(),
                dirty: s.dirty,
            });
        }
        Ok(Sim {
            now: self.now,
            seq: self.seq,
            queue: self.queue.iter().map(Queued::duplicate).collect(),
            rng: self.rng.clone(),
            net: self.net.clone(),
            slots,
            factory: self.factory.clone(),
            effects: Vec::new(),
            stats: self.stats.clone(),
            trace: self.trace.clone(),
            level: self.level,
            next_msg: self.next_msg,
            next_call: self.next_call,
            replies: self.replies.clone(),
            checks: Vec::new(),
            step_events: Vec::new(),
            violations: self.violations.clone(),
            steps: self.steps,
            dirty: self.dirty.clone(),
            flushes: self.flushes,
        })
    }

    // --- The harness's hands --------------------------------------------------------

    /// Carries out a harness action now: a restarted node's `on_start`, and its flush.
    /// Other nodes' flushes keep their turn.
    pub fn apply(&mut self, action: Action) -> Result<()> {
        let restarted = match action {
            Action::Restart(id) => Some(id),
            _ => None,
        };
        self.apply_action(action)?;
        if let Some(id) = restarted {
            if self.slots.get(id.index()).is_some_and(|s| s.dirty) {
                self.dirty.retain(|&d| d != id);
                self.flush_node(id)?;
            }
        }
        Ok(())
    }

    /// Carries out a harness action; a restarted node is left owed its flush.
    fn apply_action(&mut self, action: Action) -> Result<()> {
        action.check(self.slots.len())?;
        log::info!(target: "quorum::harness", "{} harness: {action}", self.now);
        match &action {
            Action::Crash(id) => {
                let slot = self.slot_mut(*id)?;
                slot.node = None;
                slot.timers.clear();
                self.record_runtime(*id, RuntimeEvent::Crash);
            }
            Action::Restart(id) => {
                let slot = self.slot_mut(*id)?;
                if slot.node.is_some() {
                    log::info!(target: "quorum::harness", "{} harness: {id} is already up", self.now);
                    return Ok(());
                }
                // A node that cannot be rebuilt (its storage refuses to open, say) stays
                // down, and the error names it, as on threads.
                let node = slot
                    .location
                    .open()
                    .and_then(|storage| (self.factory)(*id, storage))
                    .map_err(|e| Error::NodeFailed {
                        node: *id,
                        source: Box::new(e),
                    })?;
                self.slots[id.index()].node = Some(node);
                self.record_runtime(*id, RuntimeEvent::Restart);
                self.dispatch(*id, |n, ctx| n.on_start(ctx))?;
            }
            Action::Partition { a, b, one_way, on } => {
                self.net.apply_partition(a, b, *one_way, *on);
                self.record_partition(&action);
            }
            Action::Disconnect(id) => {
                self.net.disconnect(*id);
                self.record_partition(&action);
            }
            Action::Connect(id) => {
                self.net.connect(*id);
                self.record_partition(&action);
            }
            Action::Heal => {
                self.net.heal();
                self.record_runtime(HARNESS, RuntimeEvent::Heal);
            }
            Action::SetFaults(f) => self.net.set_faults(f.clone()),
            Action::Slow(id, slow) => {
                self.net.set_slow(*id, *slow);
                self.record_runtime(*id, RuntimeEvent::Slow { slow: *slow });
            }
        }
        Ok(())
    }

    fn record_partition(&mut self, action: &Action) {
        if self.level == TraceLevel::Everything {
            let what = action.to_string();
            self.record_runtime(HARNESS, RuntimeEvent::Partition { what });
        }
    }

    fn slot_mut(&mut self, id: NodeId) -> Result<&mut Slot<N>> {
        let n = self.slots.len();
        let i = id
            .index_in(n)
            .ok_or_else(|| Error::Runtime(format!("there is no node {id} in a cluster of {n}")))?;
        Ok(&mut self.slots[i])
    }

    /// Where node `id` keeps its durable state.
    pub fn location(&self, id: NodeId) -> Option<&Location> {
        Some(&self.slots.get(id.index_in(self.slots.len())?)?.location)
    }

    // --- The engine -----------------------------------------------------------------

    fn run_event(&mut self, q: Queued<N>) -> Result<()> {
        self.now = self.now.max(q.at);
        self.steps += 1;
        self.step_events.clear();
        match q.what {
            Happening::Start(id) => self.dispatch(id, |n, ctx| n.on_start(ctx))?,
            Happening::Deliver { from, to, msg, id } => {
                if self.net.is_blocked(from, to) {
                    // In flight when a partition began: lost with it.
                    self.note_drop(from, to, id, DropReason::Partitioned);
                } else if self.is_up(to) {
                    let s = &mut self.stats[to.index()];
                    s.delivered += 1;
                    s.bytes_delivered += msg.size() as u64;
                    if self.level == TraceLevel::Everything {
                        self.record_runtime(to, RuntimeEvent::Deliver { from, id });
                    }
                    self.dispatch(to, |n, ctx| n.on_message(ctx, from, msg))?;
                } else {
                    self.note_drop(from, to, id, DropReason::Crashed);
                }
            }
            Happening::Timer { node } => {
                let wake = Wake {
                    at: q.at,
                    seq: q.seq,
                };
                let woken = match self.slots.get_mut(node.index()) {
                    Some(slot) if slot.node.is_some() => slot.timers.wake(wake),
                    _ => Woken::Stale,
                };
                match woken {
                    Woken::Fire(timer) => self.fire(node, timer)?,
                    Woken::Requeue(due) => {
                        // Re-armed for later: wake up again at the deadline. Not an event.
                        self.push_keyed(due, Happening::Timer { node });
                        self.steps -= 1;
                        return Ok(());
                    }
                    Woken::Stale => {
                        // Cancelled, re-armed for earlier, or its node crashed. Not an event.
                        self.steps -= 1;
                        return Ok(());
                    }
                }
            }
            Happening::Request { node, call, req } => {
                self.dispatch(node, |n, ctx| n.on_request(ctx, call, req))?
            }
            Happening::Action(action) => self.apply_action(*action)?,
        }
        self.run_checks();
        Ok(())
    }

    /// Fires `timer` of node `node`: counts it, traces it, and calls the handler.
    fn fire(&mut self, node: NodeId, timer: N::Timer) -> Result<()> {
        self.stats[node.index()].timers_fired += 1;
        if self.level == TraceLevel::Everything {
            let timer = format!("{timer:?}");
            self.record_runtime(node, RuntimeEvent::Timer { timer });
        }
        self.dispatch(node, |n, ctx| n.on_timer(ctx, timer))
    }

    fn note_drop(&mut self, from: NodeId, to: NodeId, id: u64, reason: DropReason) {
        if let Some(s) = self.stats.get_mut(from.index()) {
            s.dropped += 1;
        }
        if self.level == TraceLevel::Everything {
            let reason = reason.as_str();
            self.record_runtime(from, RuntimeEvent::Drop { to, id, reason });
        }
    }

    /// Records one of the runtime's own events, if everything is traced.
    fn record_runtime(&mut self, node: NodeId, event: RuntimeEvent) {
        if self.level == TraceLevel::Everything {
            self.trace.push(Observed {
                at: self.now,
                node,
                what: Fact::Runtime(event),
            });
        }
    }

    /// Calls one event handler of node `id` (if it is up) and carries out its effects;
    /// a node that then wants its flush is queued for it.
    fn dispatch(
        &mut self,
        id: NodeId,
        handler: impl FnOnce(&mut N, &mut Context<'_, N>) -> Result<()>,
    ) -> Result<()> {
        self.call(id, handler)?;
        if let Some(slot) = self.slots.get_mut(id.index()) {
            if !slot.dirty && slot.node.as_ref().is_some_and(|n| n.wants_flush()) {
                slot.dirty = true;
                self.dirty.push_back(id);
            }
        }
        Ok(())
    }

    /// Calls one handler of node `id` (if it is up) and carries out its effects. A
    /// handler that fails is fail-stop: its effects are discarded, the node is crashed,
    /// and the error ends the step.
    fn call(
        &mut self,
        id: NodeId,
        handler: impl FnOnce(&mut N, &mut Context<'_, N>) -> Result<()>,
    ) -> Result<()> {
        let Some(node) = self.slots.get_mut(id.index()).and_then(|s| s.node.as_mut()) else {
            return Ok(());
        };
        let mut effects = std::mem::take(&mut self.effects);
        // Checks read the protocol's events whatever is recorded.
        let tracing = match self.checks.is_empty() {
            true => self.level,
            false => self.level.max(TraceLevel::Protocol),
        };
        let handled = handler(
            node,
            &mut Context::new(id, self.now, &mut self.rng, &mut effects).with_tracing(tracing),
        );
        let result = match handled {
            Ok(()) if effects.is_empty() => Ok(()),
            Ok(()) => self.carry_out(id, &mut effects),
            Err(e) => {
                let slot = &mut self.slots[id.index()];
                slot.node = None;
                slot.timers.clear();
                Err(Error::NodeFailed {
                    node: id,
                    source: Box::new(e),
                })
            }
        };
        effects.clear();
        self.effects = effects;
        result
    }

    // ANCHOR: carry_out
    /// Carries out the effects one handler call recorded, in order.
    fn carry_out(&mut self, from: NodeId, effects: &mut Vec<Effect<N>>) -> Result<()> {
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(from, to, msg)?,
                Effect::SetTimer { timer, after } => {
                    // The arming takes the sequence number its wake-up would take, and
                    // queues one only if no wake-up already queued comes soon enough.
                    self.seq += 1;
                    let at = self.now + after;
                    if let Some(wake) = self.slots[from.index()].timers.arm(timer, at, self.seq) {
                        self.push_keyed(wake, Happening::Timer { node: from });
                    }
                }
                Effect::CancelTimer(timer) => self.slots[from.index()].timers.cancel(&timer),
                Effect::Reply { call, response } => {
                    if self.level == TraceLevel::Everything {
                        let response = format!("{response:?}");
                        self.record_runtime(from, RuntimeEvent::Reply { call, response });
                    }
                    self.replies.push(Reply {
                        at: self.now,
                        node: from,
                        call,
                        response,
                    });
                }
                Effect::Trace(event) => {
                    if !self.checks.is_empty() {
                        self.step_events.push((from, event.clone()));
                    }
                    if self.level > TraceLevel::Off {
                        self.trace.push(Observed {
                            at: self.now,
                            node: from,
                            what: Fact::Protocol(event),
                        });
                    }
                }
                Effect::Log(text) => {
                    let role = self.node(from).map(|n| n.role()).unwrap_or_default();
                    log::info!(target: "quorum::node", "{} {from} {role}: {text}", self.now);
                }
            }
        }
        Ok(())
    }

    /// Puts one message on the simulated network: the network decides its fate now.
    fn send(&mut self, from: NodeId, to: NodeId, msg: N::Msg) -> Result<()> {
        if to.0 == 0 || to.index() >= self.slots.len() {
            return Err(Error::Runtime(format!(
                "{from} sent {msg:?} to {to}, which is not in this cluster of {}",
                self.slots.len()
            )));
        }
        self.next_msg += 1;
        let id = self.next_msg;
        let size = msg.size() as u64;
        let s = &mut self.stats[from.index()];
        s.sent += 1;
        s.bytes_sent += size;
        if self.level == TraceLevel::Everything {
            let msg = format!("{msg:?}");
            self.record_runtime(from, RuntimeEvent::Send { to, id, msg });
        }
        match self.net.route(from, to, &mut self.rng) {
            Route::Drop(reason) => self.note_drop(from, to, id, reason),
            Route::Deliver { delay, duplicate } => {
                if let Some(extra) = duplicate {
                    self.stats[from.index()].duplicated += 1;
                    let copy = Happening::Deliver {
                        from,
                        to,
                        msg: msg.clone(),
                        id,
                    };
                    self.push(self.now + extra, copy);
                }
                self.push(self.now + delay, Happening::Deliver { from, to, msg, id });
            }
        }
        Ok(())
    }
    // ANCHOR_END: carry_out
}
