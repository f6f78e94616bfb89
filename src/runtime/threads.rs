//! The threaded runtime: the real thing, one OS thread per node.
//!
//! Each node thread owns its node, its timers and its generators. Its crossbeam inbox
//! *is* its event queue: messages, client requests and the harness's orders (crash,
//! restart, stop) all arrive there. Its timers sit in a min-heap the thread owns, and the
//! thread blocks in `recv_deadline(earliest timer)`: it wakes for the next message or the
//! next timer, whichever comes first, and never polls or sleeps.
//!
//! When a node sends, the sender's thread asks the network ([`Network::route`]) what
//! becomes of the message, drawing from its own seeded network generator, and puts an
//! undelayed message into the receiver's inbox when the handler is done, together with
//! the handler's other messages to that node: one thread hop at most per message. Only
//! delayed messages go through the router thread, which holds them in a min-heap until
//! they are due. The harness changes partitions under a lock and bumps a version number;
//! each sender re-reads the network only when the version changed.
//!
//! A node thread handles what its inbox holds, up to [`MAX_BATCH`] events, then reaches
//! the node's batching point ([`Node::on_flush`]). A handler reads the clock only if it
//! asks (`ctx.now()`) or arms a timer, so handlers that need no time cost no clock read.
//!
//! Crash drops the node struct and its timers; the storage location survives, and
//! restart builds a new node from it. Shutdown stops and joins every thread.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::id::{CallId, NodeId};
use super::net::{DropReason, Faults, Network, Route};
use super::node::{Context, Effect, Message, Node};
use super::rng::Rng;
use super::schedule::{Action, Schedule};
use super::sim::Factory;
use super::stats::NodeStats;
use super::time::Time;
use super::timers::{TimerTable, Wake, Woken};
use super::trace::{records, Fact, Observed, Record, RuntimeEvent, TraceLevel, HARNESS};
use crate::error::{Error, Result};
use crate::storage::Location;

/// How to set up a threaded run.
#[derive(Clone, Debug)]
pub struct ThreadsConfig {
    /// How many nodes, `n1..=nN`.
    pub nodes: usize,
    /// Seeds every node's generators (node `i` draws from its own stream of it).
    pub seed: u64,
    /// The network's random faults.
    pub faults: Faults,
    /// How much of the run to record: nothing, the protocol's events, or everything
    /// (the runtime's own `send`, `deliver`, … too).
    pub trace: TraceLevel,
}

/// Where a node's answers to clients go: one channel of a client thread, named so that
/// a node thread can gather the answers it owes that thread. Every request of an
/// envelope shares one port, so a thread that runs many clients needs one channel, not
/// one per request.
struct Port<N: Node> {
    id: u64,
    tx: Sender<Answers<N>>,
}

/// Calls and their answers, in the order the node gave them.
type AnswerBatch<N> = Vec<(CallId, <N as Node>::Response)>;

/// Answers from one node to one client thread: everything it owed that thread at the
/// end of a batch, in one envelope.
pub struct Answers<N: Node> {
    /// The node that answered.
    pub from: NodeId,
    /// Each request's call and its answer, in the order the node gave them.
    pub answers: AnswerBatch<N>,
}

/// A closure the harness runs on a node's own thread, to look at the node.
type Inspector<N> = Box<dyn FnOnce(Option<&N>) + Send>;

/// What arrives in a node thread's inbox.
enum Envelope<N: Node> {
    Message {
        from: NodeId,
        msg: N::Msg,
        id: u64,
    },
    /// Several undelayed messages one handler sent to this node, in the order it sent
    /// them: one hop for all of them.
    Messages {
        from: NodeId,
        batch: Vec<(N::Msg, u64)>,
    },
    /// Client requests, in the order a client thread sent them, answered through
    /// `port`.
    Requests {
        port: Port<N>,
        batch: Vec<(CallId, N::Request)>,
    },
    Crash,
    Restart,
    Inspect(Inspector<N>),
    /// Handle nothing until the sender of this channel is dropped.
    Pause(Receiver<()>),
    Stop,
}

/// A delayed message, waiting in the router.
struct Delayed<N: Node> {
    at: Instant,
    seq: u64,
    to: NodeId,
    envelope: Envelope<N>,
}

impl<N: Node> PartialEq for Delayed<N> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<N: Node> Eq for Delayed<N> {}
impl<N: Node> PartialOrd for Delayed<N> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<N: Node> Ord for Delayed<N> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One node's counters, on a cache line of its own so that nodes don't contend.
#[derive(Default)]
#[repr(align(64))]
struct AtomicStats {
    sent: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    delivered: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_delivered: AtomicU64,
    timers_fired: AtomicU64,
}

impl AtomicStats {
    fn load(&self) -> NodeStats {
        NodeStats {
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            duplicated: self.duplicated.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            bytes_delivered: self.bytes_delivered.load(Relaxed),
            timers_fired: self.timers_fired.load(Relaxed),
        }
    }
}

/// What every thread of a run shares.
struct Shared {
    start: Instant,
    net: RwLock<Network>,
    net_version: AtomicU64,
    crashed: Vec<AtomicBool>,
    /// Each node's own counters, as its thread last published them.
    stats: Vec<AtomicStats>,
    /// Per sender: messages lost on arrival (the receiver was down, or a partition began
    /// while they were in flight), counted by the receivers.
    lost_on_arrival: Vec<AtomicU64>,
    next_msg: AtomicU64,
    /// The last call id handed out (client threads take them in blocks).
    next_call: AtomicU64,
    /// The last port id handed out.
    next_port: AtomicU64,
    level: TraceLevel,
    /// What went wrong on any thread, for [`Threads::stop`] to return.
    errors: Mutex<Vec<Error>>,
}

impl Shared {
    fn now(&self) -> Time {
        Time(super::time::micros(self.start.elapsed()))
    }

    fn fail(&self, what: Error) {
        log::error!(target: "quorum::harness", "{what}");
        if let Ok(mut e) = self.errors.lock() {
            e.push(what);
        }
    }
}

/// A running cluster of node threads.
pub struct Threads<N: Node> {
    shared: Arc<Shared>,
    inboxes: Vec<Sender<Envelope<N>>>,
    workers: Vec<JoinHandle<()>>,
    router: Option<JoinHandle<()>>,
    /// Where the run's facts go, to the collector thread (`None` once stopped).
    facts: Option<Sender<Observed<N::Event>>>,
    collector: Option<JoinHandle<()>>,
    /// What the collector kept, when the run was started to keep its trace.
    kept: Arc<Mutex<Vec<Observed<N::Event>>>>,
    /// Dropped when the run stops, which wakes a paused node thread.
    stopping: Option<Sender<()>>,
}

impl<N: Node> Threads<N> {
    /// Builds every node (node `i` from storage `locations[i]`) and starts one thread per
    /// node plus the router. What the run records (as `config.trace` asks) is kept in
    /// memory for [`Threads::take_records`]: for short runs and tests. A long run uses
    /// [`Threads::start_observed`], which keeps nothing.
    pub fn start(
        config: ThreadsConfig,
        locations: Vec<Location>,
        factory: Factory<N>,
    ) -> Result<Threads<N>> {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let keep = kept.clone();
        let mut threads = Threads::start_observed(config, locations, factory, move |fact| {
            if let Ok(mut kept) = keep.lock() {
                kept.push(fact);
            }
        })?;
        threads.kept = kept;
        Ok(threads)
    }

    /// As [`Threads::start`], but every fact the run records is handed to `observe`, on
    /// a thread of its own, as it comes, and nothing is kept: memory stays bounded on a
    /// run of any length. Facts come in the order they were handed over, which respects
    /// causality (a node's event comes before anything a message it sent afterwards
    /// caused), not strictly in clock order. If `observe` falls behind, the node threads
    /// wait for it.
    pub fn start_observed(
        config: ThreadsConfig,
        locations: Vec<Location>,
        factory: Factory<N>,
        mut observe: impl FnMut(Observed<N::Event>) + Send + 'static,
    ) -> Result<Threads<N>> {
        if config.nodes == 0 || locations.len() != config.nodes {
            return Err(Error::Config(format!(
                "a cluster needs at least one node and one storage location per node \
                 (nodes = {}, locations = {})",
                config.nodes,
                locations.len()
            )));
        }
        // Build every node before starting any thread, so a bad data directory fails
        // the whole start cleanly.
        let mut nodes = Vec::with_capacity(config.nodes);
        for (i, location) in locations.iter().enumerate() {
            nodes.push(factory(NodeId::from_index(i), location.open()?)?);
        }
        let net = Network::new(config.nodes, config.faults.clone());
        let shared = Arc::new(Shared {
            start: Instant::now(),
            net: RwLock::new(net.clone()),
            net_version: AtomicU64::new(0),
            crashed: (0..config.nodes).map(|_| AtomicBool::new(false)).collect(),
            stats: (0..config.nodes).map(|_| AtomicStats::default()).collect(),
            lost_on_arrival: (0..config.nodes).map(|_| AtomicU64::new(0)).collect(),
            next_msg: AtomicU64::new(0),
            next_call: AtomicU64::new(0),
            next_port: AtomicU64::new(0),
            level: config.trace,
            errors: Mutex::new(Vec::new()),
        });
        let (inbox_txs, inbox_rxs): (Vec<_>, Vec<_>) = (0..config.nodes)
            .map(|_| crossbeam_channel::unbounded())
            .unzip();
        let (router_tx, router_rx) = crossbeam_channel::unbounded::<Delayed<N>>();
        let (facts, incoming) = crossbeam_channel::bounded::<Observed<N::Event>>(FACTS_IN_FLIGHT);
        // A run that records nothing has no fact to collect, and needs no thread for it.
        let collector = match config.trace {
            TraceLevel::Off => None,
            _ => Some(
                std::thread::Builder::new()
                    .name("collector".into())
                    .spawn(move || {
                        for fact in incoming {
                            observe(fact);
                        }
                    })
                    .map_err(|e| {
                        Error::Runtime(format!("could not start the collector thread: {e}"))
                    })?,
            ),
        };

        let router = {
            let inboxes = inbox_txs.clone();
            std::thread::Builder::new()
                .name("router".into())
                .spawn(move || route_delayed(router_rx, inboxes))
                .map_err(|e| Error::Runtime(format!("could not start the router thread: {e}")))?
        };

        // Dropped by `stop`: every thread that waits on its receiver (a paused node) wakes.
        let (stopping, stopped) = crossbeam_channel::bounded::<()>(0);
        let mut workers = Vec::with_capacity(config.nodes);
        for (i, (node, inbox)) in nodes.into_iter().zip(inbox_rxs).enumerate() {
            let id = NodeId::from_index(i);
            let worker = Worker {
                id,
                node: Some(node),
                location: locations[i].clone(),
                factory: factory.clone(),
                inbox,
                peers: inbox_txs.clone(),
                router: router_tx.clone(),
                timers: TimerTable::default(),
                heap: BinaryHeap::new(),
                timer_seq: 0,
                rng: Rng::derived(config.seed, 2 * id.0 as u64),
                net_rng: Rng::derived(config.seed, 2 * id.0 as u64 + 1),
                net: net.clone(),
                net_version: 0,
                shared: shared.clone(),
                effects: Vec::new(),
                calls: HashMap::new(),
                ports: HashMap::new(),
                answers: Vec::new(),
                answered: false,
                facts: facts.clone(),
                outbox: (0..config.nodes).map(|_| Vec::new()).collect(),
                outbound: Vec::new(),
                delay_seq: 0,
                now: Time::ZERO,
                level: config.trace,
                everything: config.trace == TraceLevel::Everything,
                stats: LocalStats::default(),
                stopped: stopped.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(id.to_string())
                .spawn(move || worker.run());
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // Stop the threads already started rather than leave them running.
                    for inbox in &inbox_txs {
                        let _ = inbox.send(Envelope::Stop);
                    }
                    for w in workers {
                        let _ = w.join();
                    }
                    return Err(Error::Runtime(format!(
                        "could not start {id}'s thread: {e}"
                    )));
                }
            }
        }
        Ok(Threads {
            shared,
            inboxes: inbox_txs,
            workers,
            router: Some(router),
            facts: Some(facts),
            collector,
            kept: Arc::new(Mutex::new(Vec::new())),
            stopping: Some(stopping),
        })
    }

    /// Time since the run started.
    pub fn now(&self) -> Time {
        self.shared.now()
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.inboxes.len()
    }

    /// Whether the cluster has no nodes (never: a cluster needs at least one).
    pub fn is_empty(&self) -> bool {
        self.inboxes.is_empty()
    }

    fn inbox(&self, id: NodeId) -> Result<&Sender<Envelope<N>>> {
        let n = self.len();
        let i = id
            .index_in(n)
            .ok_or_else(|| Error::Runtime(format!("there is no node {id} in a cluster of {n}")))?;
        Ok(&self.inboxes[i])
    }

    /// Records one of the harness's changes, if everything is traced.
    fn record(&self, node: NodeId, event: RuntimeEvent) {
        if self.shared.level == TraceLevel::Everything {
            if let Some(facts) = &self.facts {
                let _ = facts.send(Observed {
                    at: self.now(),
                    node,
                    what: Fact::Runtime(event),
                });
            }
        }
    }

    /// Carries out a harness action now.
    pub fn apply(&self, action: &Action) -> Result<()> {
        action.check(self.len())?;
        log::info!(target: "quorum::harness", "{} harness: {action}", self.now());
        let change_net = |f: &dyn Fn(&mut Network)| -> Result<()> {
            let mut net =
                self.shared.net.write().map_err(|_| {
                    Error::Runtime("the network lock was poisoned by a panic".into())
                })?;
            f(&mut net);
            self.shared.net_version.fetch_add(1, SeqCst);
            Ok(())
        };
        match action {
            Action::Crash(id) => {
                let inbox = self.inbox(*id)?;
                self.shared.crashed[id.index()].store(true, SeqCst);
                let _ = inbox.send(Envelope::Crash);
            }
            Action::Restart(id) => {
                let inbox = self.inbox(*id)?;
                self.shared.crashed[id.index()].store(false, SeqCst);
                let _ = inbox.send(Envelope::Restart);
            }
            Action::Partition { a, b, one_way, on } => {
                change_net(&|n| n.apply_partition(a, b, *one_way, *on))?;
                let what = action.to_string();
                self.record(HARNESS, RuntimeEvent::Partition { what });
            }
            Action::Disconnect(id) => {
                change_net(&|n| n.disconnect(*id))?;
                let what = action.to_string();
                self.record(HARNESS, RuntimeEvent::Partition { what });
            }
            Action::Connect(id) => {
                change_net(&|n| n.connect(*id))?;
                let what = action.to_string();
                self.record(HARNESS, RuntimeEvent::Partition { what });
            }
            Action::Heal => {
                change_net(&|n| n.heal())?;
                self.record(HARNESS, RuntimeEvent::Heal);
            }
            Action::SetFaults(f) => change_net(&|n| n.set_faults(f.clone()))?,
            Action::Slow(id, slow) => {
                change_net(&|n| n.set_slow(*id, *slow))?;
                self.record(*id, RuntimeEvent::Slow { slow: *slow });
            }
        }
        Ok(())
    }

    /// Runs for `duration` from the start of the run, carrying out `schedule`'s actions
    /// at their times. The calling thread waits between actions; the nodes run on.
    pub fn run_schedule(&self, schedule: &Schedule, duration: Duration) -> Result<()> {
        let mut actions = schedule.actions.clone();
        actions.sort_by_key(|(at, _)| *at);
        for (at, action) in actions.iter().filter(|(at, _)| *at <= duration) {
            wait_until(self.shared.start + *at);
            self.apply(action)?;
        }
        wait_until(self.shared.start + duration);
        Ok(())
    }

    /// Sends `req` to `node` as a client and waits up to `timeout` for the answer.
    pub fn call(
        &mut self,
        node: NodeId,
        req: N::Request,
        timeout: Duration,
    ) -> Result<N::Response> {
        let mut answers = self.send_requests(node, vec![req])?.wait(timeout)?;
        answers
            .pop()
            .ok_or_else(|| Error::Runtime(format!("{node} gave no answer")))
    }

    /// Sends every request of `reqs` to `node` at once, each as a call of its own, and
    /// returns at once; [`Replies::wait`] collects the answers.
    pub fn send_requests(&mut self, node: NodeId, reqs: Vec<N::Request>) -> Result<Replies<N>> {
        let mut port = self.client_port();
        let mut calls = Vec::with_capacity(reqs.len());
        for req in reqs {
            calls.push(port.request(node, req)?);
        }
        port.post()?;
        // Only the nodes hold the port's sender now: a node that crashes before it
        // answers drops it, and the wait ends at once.
        let ClientPort { rx, .. } = port;
        Ok(Replies {
            node,
            calls,
            answers: rx,
        })
    }

    /// A connection for a client thread: requests to any node, answers on one channel.
    /// One thread can run any number of clients through one port.
    pub fn client_port(&self) -> ClientPort<N> {
        let (tx, rx) = crossbeam_channel::unbounded();
        ClientPort {
            id: self.shared.next_port.fetch_add(1, Relaxed) + 1,
            tx,
            rx,
            inboxes: self.inboxes.clone(),
            shared: self.shared.clone(),
            pending: self.inboxes.iter().map(|_| Vec::new()).collect(),
            calls: 0..0,
        }
    }

    /// Runs `f` on `node`'s own thread with the node (`None` while it is crashed) and
    /// returns what `f` returns: how the harness reads a node's state on threads.
    pub fn inspect<R: Send + 'static>(
        &self,
        node: NodeId,
        f: impl FnOnce(Option<&N>) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let inspector: Inspector<N> = Box::new(move |n| {
            let _ = tx.send(f(n));
        });
        self.inbox(node)?
            .send(Envelope::Inspect(inspector))
            .map_err(|_| Error::Runtime(format!("{node}'s thread has stopped")))?;
        rx.recv()
            .map_err(|_| Error::Runtime(format!("{node}'s thread stopped while being inspected")))
    }

    /// Message counts and bytes of node `id`. Each node thread publishes its counts
    /// once per batch, so while the run goes on they may lag by one batch; after
    /// [`Threads::stop`] they are exact.
    pub fn stats(&self, id: NodeId) -> NodeStats {
        let Some(i) = id.index_in(self.len()) else {
            return NodeStats::default();
        };
        let mut stats = self.shared.stats[i].load();
        stats.dropped += self.shared.lost_on_arrival[i].load(Relaxed);
        stats
    }

    /// The sum of every node's counts.
    pub fn total_stats(&self) -> NodeStats {
        NodeId::all(self.len())
            .into_iter()
            .fold(NodeStats::default(), |a, id| a.plus(&self.stats(id)))
    }

    /// Stalls node `id`'s thread, as a long garbage-collection pause or a `SIGSTOP`
    /// would: it handles nothing (no message, no timer) until the returned guard is
    /// dropped, while messages and requests pile up in its inbox. Then it handles them
    /// all in one batch, up to [`MAX_BATCH`] at a time. Meanwhile [`Threads::inspect`]
    /// and [`Threads::call`] to it wait for the pause to end; [`Threads::stop`] ends it.
    pub fn pause(&self, id: NodeId) -> Result<Paused> {
        let (resume, until) = crossbeam_channel::bounded(0);
        self.inbox(id)?
            .send(Envelope::Pause(until))
            .map_err(|_| Error::Runtime(format!("{id}'s thread has stopped")))?;
        // The node is paused once it takes the envelope; wait for that, so that what
        // the caller sends next finds it paused.
        let _ = resume.send(());
        Ok(Paused { _resume: resume })
    }

    /// Stops every node thread and the router and waits for them to end. After it, the
    /// message counts are final and [`Threads::take_records`] holds the whole trace. An
    /// error any node thread met during the run (a failed handler, a failed restart, a
    /// panic) is returned here. Calling it again does nothing more.
    pub fn stop(&mut self) -> Result<()> {
        self.stopping = None;
        for inbox in &self.inboxes {
            let _ = inbox.send(Envelope::Stop);
        }
        for (i, w) in self.workers.drain(..).enumerate() {
            if w.join().is_err() {
                self.shared.fail(Error::Runtime(format!(
                    "{}'s thread panicked",
                    NodeId::from_index(i)
                )));
            }
        }
        // The router ends once every sender to it is gone, and the workers held them all.
        if let Some(r) = self.router.take() {
            if r.join().is_err() {
                self.shared
                    .fail(Error::Runtime("the router thread panicked".into()));
            }
        }
        // So does the collector, once the harness's sender is gone too: it has seen
        // every fact when it ends.
        self.facts = None;
        if let Some(c) = self.collector.take() {
            if c.join().is_err() {
                self.shared
                    .fail(Error::Runtime("the collector thread panicked".into()));
            }
        }
        let mut errors = self
            .shared
            .errors
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default();
        // One error comes back as it is; several, as one sentence naming them all.
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Runtime(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }
    }

    /// Takes the trace kept so far (by a run started with [`Threads::start`]), typed and
    /// sorted by time. After [`Threads::stop`] it is the whole trace.
    pub fn take_observed(&mut self) -> Vec<Observed<N::Event>> {
        let mut kept = self
            .kept
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default();
        kept.sort_by_key(|o| o.at);
        kept
    }

    /// [`Threads::take_observed`] as trace lines.
    pub fn take_records(&mut self) -> Vec<Record> {
        records(&self.take_observed())
    }

    /// Stops every thread ([`Threads::stop`]) and returns the whole trace.
    pub fn shutdown(mut self) -> Result<Vec<Record>> {
        self.stop()?;
        Ok(self.take_records())
    }
}

impl<N: Node> Drop for Threads<N> {
    /// A cluster that goes out of scope (a test's failed assertion, an early return)
    /// stops and joins its threads rather than leaving them heartbeating forever.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Answers on their way to requests sent with [`Threads::send_requests`].
pub struct Replies<N: Node> {
    node: NodeId,
    calls: Vec<CallId>,
    answers: Receiver<Answers<N>>,
}

impl<N: Node> Replies<N> {
    /// Waits up to `timeout` in all for every answer, and returns them in the order the
    /// requests were sent. An error names the first request left unanswered.
    pub fn wait(self, timeout: Duration) -> Result<Vec<N::Response>> {
        let deadline = Instant::now() + timeout;
        let mut got: Vec<Option<N::Response>> = self.calls.iter().map(|_| None).collect();
        let mut missing = got.len();
        while missing > 0 {
            let first = self.calls[got.iter().position(Option::is_none).unwrap_or(0)];
            let node = self.node;
            let answers = self.answers.recv_deadline(deadline).map_err(|e| {
                Error::Runtime(match e {
                    RecvTimeoutError::Timeout => {
                        format!("{node} did not answer {first} within {timeout:?}")
                    }
                    RecvTimeoutError::Disconnected => {
                        format!("{node} crashed before answering {first}")
                    }
                })
            })?;
            for (call, response) in answers.answers {
                if let Some(slot) = self
                    .calls
                    .iter()
                    .position(|&c| c == call)
                    .and_then(|i| got.get_mut(i))
                {
                    if slot.replace(response).is_none() {
                        missing -= 1;
                    }
                }
            }
        }
        Ok(got.into_iter().flatten().collect())
    }
}

// ANCHOR: client_port
/// A client thread's connection to a running cluster: it sends requests to any node and
/// receives every answer on one channel of its own.
///
/// [`ClientPort::request`] only gathers a request; [`ClientPort::post`] sends what was
/// gathered, one envelope per node however many requests it holds, and the node thread
/// sends back, once per batch, one envelope of every answer it owes this port. So a
/// thread running hundreds of clients costs a node one wake-up per batch, not one per
/// request.
pub struct ClientPort<N: Node> {
    id: u64,
    /// The port's own sender, lent to every envelope.
    tx: Sender<Answers<N>>,
    rx: Receiver<Answers<N>>,
    inboxes: Vec<Sender<Envelope<N>>>,
    shared: Arc<Shared>,
    /// Per node, the requests gathered since the last post.
    pending: Vec<Vec<(CallId, N::Request)>>,
    /// Call ids reserved for this port and not yet used.
    calls: std::ops::Range<u64>,
}
// ANCHOR_END: client_port

/// How many call ids a port reserves at once: one shared counter update per this many
/// requests.
const CALL_BLOCK: u64 = 1024;

impl<N: Node> ClientPort<N> {
    /// The run's time now, as the nodes read it.
    pub fn now(&self) -> Time {
        self.shared.now()
    }

    /// The machine's instant of run time `at`.
    pub fn instant(&self, at: Time) -> Instant {
        self.shared.start + at.as_duration()
    }

    /// Gathers `req` for node `to`, under a call id of its own, which its answer will
    /// carry. Nothing is sent before [`ClientPort::post`].
    pub fn request(&mut self, to: NodeId, req: N::Request) -> Result<CallId> {
        let Some(pending) = to
            .index_in(self.inboxes.len())
            .map(|i| &mut self.pending[i])
        else {
            return Err(Error::Config(format!(
                "a request to {to}, but the cluster has nodes n1..n{}",
                self.inboxes.len()
            )));
        };
        if self.calls.is_empty() {
            let first = self.shared.next_call.fetch_add(CALL_BLOCK, Relaxed) + 1;
            self.calls = first..first + CALL_BLOCK;
        }
        let call = CallId(self.calls.start);
        self.calls.start += 1;
        pending.push((call, req));
        Ok(call)
    }

    /// Sends every gathered request: one envelope per node.
    pub fn post(&mut self) -> Result<()> {
        for (i, pending) in self.pending.iter_mut().enumerate() {
            if pending.is_empty() {
                continue;
            }
            let batch = std::mem::take(pending);
            let port = Port {
                id: self.id,
                tx: self.tx.clone(),
            };
            self.inboxes[i]
                .send(Envelope::Requests { port, batch })
                .map_err(|_| {
                    Error::Runtime(format!("{}'s thread has stopped", NodeId::from_index(i)))
                })?;
        }
        Ok(())
    }

    /// The next answers, waiting until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Option<Answers<N>> {
        self.rx.recv_deadline(deadline).ok()
    }

    /// The next answers, if some have come.
    pub fn try_recv(&self) -> Option<Answers<N>> {
        self.rx.try_recv().ok()
    }

    /// The next answers, looked for during [`SPIN`] before giving up: for a thread
    /// that expects them within microseconds.
    pub fn spin_recv(&self) -> Option<Answers<N>> {
        spin_recv(&self.rx)
    }
}

/// Looks for a value on `rx` during [`SPIN`]: an answer or a request often comes
/// within microseconds, sooner than a blocked thread wakes.
fn spin_recv<T>(rx: &Receiver<T>) -> Option<T> {
    let until = Instant::now() + SPIN;
    while Instant::now() < until {
        if let Ok(value) = rx.try_recv() {
            return Some(value);
        }
        std::hint::spin_loop();
    }
    None
}

/// A paused node thread ([`Threads::pause`]); dropping this resumes it.
#[derive(Debug)]
pub struct Paused {
    _resume: Sender<()>,
}

/// The time since `start`, by the machine's clock.
fn clock(start: Instant) -> Time {
    Time(super::time::micros(start.elapsed()))
}

/// Blocks the harness thread until `deadline` (no-op if it has passed).
fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// The router thread: holds delayed messages until they are due.
fn route_delayed<N: Node>(incoming: Receiver<Delayed<N>>, inboxes: Vec<Sender<Envelope<N>>>) {
    let mut heap: BinaryHeap<Delayed<N>> = BinaryHeap::new();
    loop {
        let got = match heap.peek() {
            Some(d) => incoming.recv_deadline(d.at),
            None => incoming.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(d) => heap.push(d),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|d| d.at <= now) {
            if let Some(d) = heap.pop() {
                if let Some(inbox) = inboxes.get(d.to.index()) {
                    let _ = inbox.send(d.envelope);
                }
            }
        }
    }
}

/// How many facts may wait for the collector thread before node threads wait for it.
const FACTS_IN_FLIGHT: usize = 1 << 16;

/// How long a thread that expects a message at once looks for it before it blocks: a
/// node thread that just answered clients, a client thread with requests in flight.
pub const SPIN: Duration = Duration::from_micros(20);

/// How many events a node thread handles, at most, before its batching point: it drains
/// what is already in its inbox up to this many (a group of messages counts each),
/// flushes, and looks at its timers again, so that a flood of messages cannot hold back a
/// due timer for long. A pass over due timers fires at most this many too.
pub const MAX_BATCH: usize = 1024;

/// A node thread's own counters, published to [`Shared::stats`] once per batch (plain
/// additions on the hot path, a handful of stores per batch).
#[derive(Default)]
struct LocalStats {
    sent: u64,
    dropped: u64,
    duplicated: u64,
    delivered: u64,
    bytes_sent: u64,
    bytes_delivered: u64,
    timers_fired: u64,
}

/// A node thread's whole state.
struct Worker<N: Node> {
    id: NodeId,
    node: Option<N>,
    location: Location,
    factory: Factory<N>,
    inbox: Receiver<Envelope<N>>,
    peers: Vec<Sender<Envelope<N>>>,
    router: Sender<Delayed<N>>,
    timers: TimerTable<N::Timer>,
    /// Wake-ups of the node's timers, earliest first (see [`TimerTable`]).
    heap: BinaryHeap<Reverse<Wake>>,
    /// The sequence number of the last timer arming, which orders timers due at once.
    timer_seq: u64,
    /// The protocol's generator (`ctx.rng()`).
    rng: Rng,
    /// The network's generator for this node's sends, apart so that faults don't
    /// change the protocol's random draws.
    net_rng: Rng,
    /// This thread's copy of the network, re-read when `net_version` moves.
    net: Network,
    net_version: u64,
    shared: Arc<Shared>,
    effects: Vec<Effect<N>>,
    /// Calls waiting for an answer from this node, and the port each came through.
    calls: HashMap<CallId, u64>,
    /// The ports of those calls: each one's sender and how many of its calls wait.
    ports: HashMap<u64, (Sender<Answers<N>>, usize)>,
    /// Answers given since the last batching point, gathered per port.
    answers: Vec<(u64, AnswerBatch<N>)>,
    /// Whether answers went to clients since the thread last waited.
    answered: bool,
    /// Where this node's recorded facts go (the collector thread).
    facts: Sender<Observed<N::Event>>,
    /// Per receiver, the undelayed messages the running handler sent it, posted when
    /// the handler is done ([`Worker::post`]).
    outbox: Vec<Vec<(N::Msg, u64)>>,
    /// The receivers with messages in `outbox`, in the order of their first message.
    outbound: Vec<usize>,
    delay_seq: u64,
    /// The clock as read at the start of the current batch: every handler of a batch
    /// sees this time, as every event of one instant does in the simulator.
    now: Time,
    /// How much the run records ([`Shared::level`], kept here for the hot path).
    level: TraceLevel,
    /// Whether the run records everything: a record per message.
    everything: bool,
    stats: LocalStats,
    /// Disconnected when the run stops (see [`Threads::stop`]).
    stopped: Receiver<()>,
}

impl<N: Node> Worker<N> {
    // ANCHOR: worker_loop
    fn run(mut self) {
        self.now = self.shared.now();
        self.dispatch(|n, ctx| n.on_start(ctx));
        self.flush();
        loop {
            if self.crash_ordered() {
                self.crash();
            }
            self.refresh_net();
            let mut handled = self.fire_due_timers();
            if handled == 0 {
                // Nothing is due: block until an envelope comes or the next timer does.
                let got = match (self.spin(), self.next_deadline()) {
                    (Some(envelope), _) => Ok(envelope),
                    (None, Some(deadline)) => self.inbox.recv_deadline(deadline),
                    (None, None) => self
                        .inbox
                        .recv()
                        .map_err(|_| RecvTimeoutError::Disconnected),
                };
                self.now = self.shared.now();
                self.refresh_net();
                match got {
                    Ok(envelope) => {
                        handled += Self::weight(&envelope);
                        if !self.handle(envelope) {
                            return self.publish_stats();
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return self.publish_stats(),
                }
            }
            // Handle what is already in the inbox, up to a bound, then flush once.
            while handled < MAX_BATCH {
                let Ok(envelope) = self.inbox.try_recv() else {
                    break;
                };
                handled += Self::weight(&envelope);
                if !self.handle(envelope) {
                    return self.publish_stats();
                }
            }
            self.flush();
            self.publish_stats();
        }
    }
    // ANCHOR_END: worker_loop

    /// Looks for an envelope for a few microseconds before the thread blocks, if the
    /// node just answered a client: the client's next request often comes that soon,
    /// sooner than a blocked thread wakes.
    fn spin(&mut self) -> Option<Envelope<N>> {
        match std::mem::take(&mut self.answered) {
            true => spin_recv(&self.inbox),
            false => None,
        }
    }

    /// How many events an envelope brings (a group of messages or requests counts each).
    fn weight(envelope: &Envelope<N>) -> usize {
        match envelope {
            Envelope::Messages { batch, .. } => batch.len(),
            Envelope::Requests { batch, .. } => batch.len(),
            _ => 1,
        }
    }

    /// Handles one envelope; `false` when the thread must stop.
    fn handle(&mut self, envelope: Envelope<N>) -> bool {
        match envelope {
            Envelope::Message { from, msg, id } => self.deliver(from, msg, id),
            Envelope::Messages { from, batch } => {
                for (msg, id) in batch {
                    self.deliver(from, msg, id);
                }
            }
            Envelope::Requests { port, batch } => {
                // A crashed node drops requests (and the port's sender with them).
                if self.node.is_some() {
                    let waiting = &mut self.ports.entry(port.id).or_insert((port.tx, 0)).1;
                    *waiting += batch.len();
                    for (call, req) in batch {
                        // A handler that fails crashes the node, which forgets every
                        // call and port: the rest of the batch is dropped.
                        if self.node.is_none() {
                            break;
                        }
                        self.calls.insert(call, port.id);
                        self.dispatch(|n, ctx| n.on_request(ctx, call, req));
                    }
                }
            }
            Envelope::Crash => self.crash(),
            Envelope::Restart => self.restart(),
            Envelope::Inspect(f) => {
                // The harness sees the node between batches, as its peers do.
                self.flush();
                f(self.node.as_ref())
            }
            Envelope::Pause(until) => {
                self.flush();
                self.publish_stats();
                // The first receive tells the harness the node is paused; the second
                // ends when the harness drops its end: a stalled process. A run that
                // stops meanwhile ends the pause, and the thread.
                let _ = until.recv();
                crossbeam_channel::select! {
                    recv(until) -> _ => {}
                    recv(self.stopped) -> _ => return false,
                }
                self.now = self.shared.now();
            }
            Envelope::Stop => {
                // Answers already given go out, as messages already sent have.
                self.post_answers();
                return false;
            }
        }
        true
    }

    /// The batching point: if the node wants it, call its [`Node::on_flush`]; then send
    /// every client thread the answers it is owed, one envelope per port.
    fn flush(&mut self) {
        if self.node.as_ref().is_some_and(|n| n.wants_flush()) {
            self.call(|n, ctx| n.on_flush(ctx));
        }
        if !self.answers.is_empty() {
            self.post_answers();
        }
    }

    /// Sends the answers gathered since the last batching point; a port none of whose
    /// calls still waits is forgotten.
    fn post_answers(&mut self) {
        for (port, answers) in self.answers.drain(..) {
            let Some((tx, waiting)) = self.ports.get_mut(&port) else {
                continue;
            };
            *waiting = waiting.saturating_sub(answers.len());
            let _ = tx.send(Answers {
                from: self.id,
                answers,
            });
            self.answered = true;
            if *waiting == 0 {
                self.ports.remove(&port);
            }
        }
    }

    /// Copies this thread's counters to where the harness reads them.
    fn publish_stats(&self) {
        let (s, l) = (&self.shared.stats[self.id.index()], &self.stats);
        s.sent.store(l.sent, Relaxed);
        s.dropped.store(l.dropped, Relaxed);
        s.duplicated.store(l.duplicated, Relaxed);
        s.delivered.store(l.delivered, Relaxed);
        s.bytes_sent.store(l.bytes_sent, Relaxed);
        s.bytes_delivered.store(l.bytes_delivered, Relaxed);
        s.timers_fired.store(l.timers_fired, Relaxed);
    }

    /// The earliest wake-up still worth waking for (stale ones are discarded here).
    fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse(wake)) = self.heap.peek() {
            if self.timers.is_current(wake) {
                return Some(self.shared.start + wake.at.as_duration());
            }
            self.heap.pop();
        }
        None
    }

    /// Whether the harness has crashed this node and the thread has not yet noticed.
    fn crash_ordered(&self) -> bool {
        self.node.is_some() && self.shared.crashed[self.id.index()].load(SeqCst)
    }

    /// Fires every timer that is due; returns how many fired.
    fn fire_due_timers(&mut self) -> usize {
        let Some(&Reverse(first)) = self.heap.peek() else {
            return 0;
        };
        // Reading the clock costs tens of nanoseconds: only when a wake-up may be due.
        if first.at > self.now {
            self.now = self.shared.now();
        }
        let mut fired = 0;
        while let Some(&Reverse(wake)) = self.heap.peek() {
            // At most a batch's worth: a timer that re-arms itself for now must not keep
            // the inbox waiting.
            if wake.at > self.now || fired >= MAX_BATCH || self.crash_ordered() {
                break;
            }
            self.heap.pop();
            let timer = match self.timers.wake(wake) {
                Woken::Fire(timer) => timer,
                Woken::Requeue(due) => {
                    self.heap.push(Reverse(due));
                    continue;
                }
                Woken::Stale => continue,
            };
            self.stats.timers_fired += 1;
            if self.everything {
                let timer = format!("{timer:?}");
                self.record(RuntimeEvent::Timer { timer });
            }
            self.dispatch(|n, ctx| n.on_timer(ctx, timer));
            fired += 1;
        }
        fired
    }

    fn deliver(&mut self, from: NodeId, msg: N::Msg, id: u64) {
        // A message still in flight when a partition began is lost with it, as a packet
        // on a cut cable is: check the link again on arrival (against the network as it
        // was read at the start of this batch).
        let lost = if self.node.is_none() {
            Some(DropReason::Crashed)
        } else if self.net.is_blocked(from, self.id) {
            Some(DropReason::Partitioned)
        } else {
            None
        };
        if let Some(reason) = lost {
            // Counted as its sender's loss (rare: an atomic add on another node's line).
            if let Some(s) = self.shared.lost_on_arrival.get(from.index()) {
                s.fetch_add(1, Relaxed);
            }
            if self.everything {
                let (to, reason) = (self.id, reason.as_str());
                let drop = Fact::Runtime(RuntimeEvent::Drop { to, id, reason });
                self.observe(self.shared.now(), from, drop);
            }
            return;
        }
        self.stats.delivered += 1;
        self.stats.bytes_delivered += msg.size() as u64;
        if self.everything {
            self.record(RuntimeEvent::Deliver { from, id });
        }
        self.dispatch(|n, ctx| n.on_message(ctx, from, msg));
    }

    fn crash(&mut self) {
        if self.node.take().is_some() {
            self.timers.clear();
            self.heap.clear();
            // Answers given before the crash were sent; calls still waiting never will be.
            self.post_answers();
            self.calls.clear();
            self.ports.clear();
            self.record(RuntimeEvent::Crash);
        }
    }

    fn restart(&mut self) {
        if self.node.is_some() {
            return;
        }
        let built = self
            .location
            .open()
            .and_then(|storage| (self.factory)(self.id, storage));
        match built {
            Ok(node) => {
                self.node = Some(node);
                self.record(RuntimeEvent::Restart);
                self.dispatch(|n, ctx| n.on_start(ctx));
            }
            Err(e) => self.shared.fail(Error::NodeFailed {
                node: self.id,
                source: Box::new(e),
            }),
        }
    }

    /// Records one of the runtime's own events on this node, if everything is traced,
    /// at the time it happens.
    fn record(&self, event: RuntimeEvent) {
        if self.everything {
            self.observe(self.shared.now(), self.id, Fact::Runtime(event));
        }
    }

    /// Hands a fact of node `node`, of time `at`, to the collector.
    fn observe(&self, at: Time, node: NodeId, what: Fact<N::Event>) {
        let _ = self.facts.send(Observed { at, node, what });
    }

    /// Calls one event handler (if the node is up) and carries out its effects.
    fn dispatch(&mut self, handler: impl FnOnce(&mut N, &mut Context<'_, N>) -> Result<()>) {
        self.call(handler);
    }

    /// Calls one handler (if the node is up) and carries out its effects. A handler
    /// that fails is fail-stop: its effects are discarded and the node is crashed.
    fn call(&mut self, handler: impl FnOnce(&mut N, &mut Context<'_, N>) -> Result<()>) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let start = self.shared.start;
        let mut ctx = Context::reading_clock(self.id, start, &mut self.rng, &mut self.effects)
            .with_tracing(self.level);
        let handled = handler(node, &mut ctx);
        // The handler's time, if it read the clock: its timers and facts are of that time.
        let mut now = ctx.seen_now();
        match handled {
            // Most handlers of a busy node (a follower taking entries) ask for nothing.
            Ok(()) if self.effects.is_empty() => {}
            Ok(()) => {
                // The network as the harness has it now, once for all of these sends.
                self.refresh_net();
                let mut effects = std::mem::take(&mut self.effects);
                for effect in effects.drain(..) {
                    match effect {
                        // The hot path, kept apart from the rest.
                        Effect::Send { to, msg } => self.send(to, msg),
                        other => {
                            let at = *now.get_or_insert_with(|| clock(start));
                            self.carry_out(at, other)
                        }
                    }
                }
                self.effects = effects;
                if !self.outbound.is_empty() {
                    self.post();
                }
            }
            Err(e) => {
                self.effects.clear();
                self.shared.fail(Error::NodeFailed {
                    node: self.id,
                    source: Box::new(e),
                });
                self.crash();
            }
        }
    }

    fn carry_out(&mut self, now: Time, effect: Effect<N>) {
        match effect {
            Effect::Send { to, msg } => self.send(to, msg),
            Effect::SetTimer { timer, after } => {
                self.timer_seq += 1;
                if let Some(wake) = self.timers.arm(timer, now + after, self.timer_seq) {
                    self.heap.push(Reverse(wake));
                }
            }
            Effect::CancelTimer(timer) => self.timers.cancel(&timer),
            Effect::Reply { call, response } => {
                if self.everything {
                    let response = format!("{response:?}");
                    self.record(RuntimeEvent::Reply { call, response });
                }
                if let Some(port) = self.calls.remove(&call) {
                    match self.answers.iter_mut().find(|(p, _)| *p == port) {
                        Some((_, answers)) => answers.push((call, response)),
                        None => self.answers.push((port, vec![(call, response)])),
                    }
                }
            }
            Effect::Trace(event) => self.observe(now, self.id, Fact::Protocol(event)),
            Effect::Log(text) => {
                let role = self.node.as_ref().map(|n| n.role()).unwrap_or_default();
                log::info!(target: "quorum::node", "{now} {} {role}: {text}", self.id);
            }
        }
    }

    // ANCHOR: threads_send
    /// Puts one message on the network: decide its fate here, on the sender's thread,
    /// and hand an undelayed message straight to the receiver's inbox.
    #[inline]
    fn send(&mut self, to: NodeId, msg: N::Msg) {
        if to.0 == 0 || to.index() >= self.peers.len() {
            let n = self.peers.len();
            self.shared.fail(Error::Runtime(format!(
                "{} sent {msg:?} to {to}, which is not in this cluster of {n}",
                self.id
            )));
            return;
        }
        self.stats.sent += 1;
        self.stats.bytes_sent += msg.size() as u64;
        let everything = self.everything;
        let id = match everything {
            true => self.shared.next_msg.fetch_add(1, Relaxed) + 1,
            false => 0,
        };
        if everything {
            let msg = format!("{msg:?}");
            self.record(RuntimeEvent::Send { to, id, msg });
        }
        match self.net.route(self.id, to, &mut self.net_rng) {
            Route::Drop(reason) => {
                self.stats.dropped += 1;
                if everything {
                    let reason = reason.as_str();
                    self.record(RuntimeEvent::Drop { to, id, reason });
                }
            }
            Route::Deliver { delay, duplicate } => {
                if let Some(extra) = duplicate {
                    self.stats.duplicated += 1;
                    let copy = Envelope::Message {
                        from: self.id,
                        msg: msg.clone(),
                        id,
                    };
                    self.send_after(to, extra, copy);
                }
                if delay.is_zero() {
                    // Into the receiver's inbox when the handler is done, with the
                    // other messages it sends there (see `post`).
                    let outbox = &mut self.outbox[to.index()];
                    if outbox.is_empty() {
                        self.outbound.push(to.index());
                    }
                    outbox.push((msg, id));
                } else {
                    let envelope = Envelope::Message {
                        from: self.id,
                        msg,
                        id,
                    };
                    self.send_after(to, delay, envelope);
                }
            }
        }
    }
    // ANCHOR_END: threads_send

    // ANCHOR: post
    /// Hands each receiver the undelayed messages this handler sent it: one message as it
    /// is, several as one group, in the order they were sent. Each receiver's inbox is
    /// one channel push however many messages the handler sent it (up to [`MAX_BATCH`] a
    /// group), and the messages of a link stay in order.
    fn post(&mut self) {
        let mut outbound = std::mem::take(&mut self.outbound);
        for to in outbound.drain(..) {
            if self.outbox[to].len() == 1 {
                // One message: sent as it is, and the outbox keeps its room.
                if let Some((msg, id)) = self.outbox[to].pop() {
                    let from = self.id;
                    let _ = self.peers[to].send(Envelope::Message { from, msg, id });
                }
                continue;
            }
            let mut batch = std::mem::take(&mut self.outbox[to]);
            while !batch.is_empty() {
                let rest = batch.split_off(batch.len().min(MAX_BATCH));
                let envelope = match batch.len() {
                    1 => {
                        let Some((msg, id)) = batch.pop() else { break };
                        Envelope::Message {
                            from: self.id,
                            msg,
                            id,
                        }
                    }
                    _ => Envelope::Messages {
                        from: self.id,
                        batch,
                    },
                };
                let _ = self.peers[to].send(envelope);
                batch = rest;
            }
        }
        self.outbound = outbound;
    }
    // ANCHOR_END: post

    /// Re-reads the network if the harness changed it since this thread last looked.
    #[inline]
    fn refresh_net(&mut self) {
        let version = self.shared.net_version.load(SeqCst);
        if version != self.net_version {
            if let Ok(net) = self.shared.net.read() {
                self.net = net.clone();
                self.net_version = version;
            }
        }
    }

    fn send_after(&mut self, to: NodeId, delay: Duration, envelope: Envelope<N>) {
        self.delay_seq += 1;
        let d = Delayed {
            at: Instant::now() + delay,
            seq: self.delay_seq,
            to,
            envelope,
        };
        let _ = self.router.send(d);
    }
}
