//! The exhaustive explorer: every order of deliveries, every loss, and crashes.
//!
//! A sweep of random runs finds bugs that are likely; it cannot prove their absence.
//! For a small configuration the explorer can. It drives the simulator in *controlled
//! mode*: from each state it tries delivering every message in flight, firing every
//! armed timer, and, while the budget allows, crashing and restarting any node. By
//! default each message is delivered at most once, and a message never delivered is a
//! lost one: every state reachable with a loss is reached, with the same node states,
//! by a run that leaves that message in flight, so losses and every reordering are
//! covered. With `duplicates` set, a message stays in the network after delivery (the
//! network of Lamport's TLA+ specification of Paxos) and may be delivered again, which
//! covers duplication too; two identical messages in flight then count as one.
//!
//! A state is recognised by its node states and storage, its history of acceptances,
//! and its messages in flight, each compared by a 64-bit hash (so a collision could in
//! principle hide a state). A state is not explored again, and neither is a state
//! *covered* by one already explored: the same node states and history, and messages
//! in flight a subset of the explored state's. The search therefore ends, and the
//! number of states it reports is the number it explored; every reachable state is
//! one of them, or one of them with fewer messages in flight, or one of those with
//! its acceptors renamed.
//!
//! After every step it runs the [`Agreement`] checker. A
//! violation stops the search; the path to it is replayed with the runtime's trace on,
//! so it can be read step by step and drawn as a space-time diagram.
//!
//! The bound that keeps the space finite: each proposer tries at most `max_ballots`
//! ballots, learners never re-ask, and delays need no modelling (a delay is just a
//! later delivery, which the explorer's free choice of order covers).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use serde::Serialize;

use super::check::Agreement;
use super::proposer::Phase;
use super::{run, Ballot, Msg, PaxosConfig, PaxosNode, Rule, Value};
use crate::check::Violation;
use crate::error::Result;
use crate::runtime::sim::PendingWhat;
use crate::runtime::trace::Record;
use crate::runtime::{Action, NodeId, Sim, SimConfig, TraceLevel};

/// What to explore.
#[derive(Clone, Debug, PartialEq)]
pub struct ExploreConfig {
    /// How many nodes (each an acceptor and a learner).
    pub nodes: usize,
    /// How many of them propose (each its own value).
    pub proposers: usize,
    /// At most this many ballots per proposer (per incarnation).
    pub max_ballots: u64,
    /// How many crash-and-restarts of a node the explorer may add to a run.
    pub crashes: usize,
    /// Messages stay in the network after delivery and may be delivered again
    /// (duplication); without it each message is delivered at most once.
    pub duplicates: bool,
    /// A rule removed on purpose.
    pub broken: Option<Rule>,
    /// Stop after this many distinct states (a run-away guard; the result then says
    /// the search was incomplete).
    pub max_states: usize,
    /// Print a line on stderr every million states.
    pub progress: bool,
    /// Search breadth first, so that a counterexample found is a shortest one (and the
    /// easiest to read); depth first otherwise, which needs far less memory.
    pub breadth_first: bool,
    /// Apply the reductions of [`explore`] (dead messages, moves that change nothing,
    /// covering, sleep sets, symmetry). Off, the search takes every move from every state and
    /// only an identical state counts as seen (the key leaves nothing out): slower, and
    /// the yardstick that shows the reductions lose no node state.
    pub reduce: bool,
}

impl Default for ExploreConfig {
    /// The chapter's configuration: 2 proposers, 3 acceptors, 2 ballots each, no
    /// crash (add crashes with `crashes`).
    fn default() -> Self {
        ExploreConfig {
            nodes: 3,
            proposers: 2,
            max_ballots: 2,
            crashes: 0,
            duplicates: false,
            broken: None,
            max_states: 50_000_000,
            progress: false,
            breadth_first: false,
            reduce: true,
        }
    }
}

/// What the search found.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    /// Distinct states explored (the initial state included). Every reachable state
    /// is one of them, or covered by one of them (the same node states, fewer
    /// messages in flight), up to a renaming of acceptors.
    pub states: usize,
    /// Distinct combinations, among the states reached, of what the properties read:
    /// every acceptor's state and storage, what every learner learned, and the values
    /// chosen, counted up to a renaming of acceptors. What the reductions must not
    /// lose.
    pub node_states: usize,
    /// Steps taken from one state to another, counting those that reached a state
    /// already seen.
    pub transitions: u64,
    /// The longest run explored, in steps.
    pub max_depth: usize,
    /// Whether every reachable state was explored (no counterexample, no cut-off).
    pub complete: bool,
    /// Wall-clock seconds the search took.
    pub seconds: f64,
    /// A run that breaks a property, if one was found.
    pub counterexample: Option<Counterexample>,
}

/// A run that breaks a property, step by step.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// The violation at the end of the run.
    pub violation: Violation,
    /// Each step the explorer chose, in words.
    pub steps: Vec<String>,
    /// The replayed run's full trace (runtime events included), for `--svg`.
    pub records: Vec<Record>,
}

/// One choice of the explorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// Run the pending event (a timer, a start) with this sequence number.
    Run(u64),
    /// Deliver a copy of the message in flight with this sequence number.
    Deliver(u64),
    /// Crash this node and restart it from its storage.
    Crash(NodeId),
}

/// A state on the search stack. Breadth first, the frontier is wide, so a state keeps
/// only its path and is rebuilt by replaying it when its turn comes.
struct State {
    sim: Option<Sim<PaxosNode>>,
    agreement: Agreement,
    crashes_left: usize,
    /// The choices that led here from the initial state.
    path: Vec<Choice>,
    depth: usize,
    /// The sleep set: moves not to take from here, because a sibling branch already
    /// takes them in an order that reaches the same states.
    sleep: Vec<Move>,
    /// On a second visit, only these moves (by identity) are left to take: the first
    /// visit took the others.
    only: Option<Vec<u64>>,
    /// The state's shape, when already computed.
    shape: Option<Shape>,
    /// The renaming of acceptors under which the state was filed.
    perm: usize,
}

/// The node configuration the explorer runs.
fn node_config(config: &ExploreConfig) -> PaxosConfig {
    let mut base = PaxosConfig::new(config.nodes, None);
    base.backoff = false;
    base.max_ballots = Some(config.max_ballots);
    base.query_every = None;
    base.broken = config.broken;
    base
}

fn initial(config: &ExploreConfig, trace: bool) -> Result<Sim<PaxosNode>> {
    // The search reads the protocol's events after every move; a replay records
    // everything, for the diagram.
    let sim_config = SimConfig {
        trace: match trace {
            true => TraceLevel::Everything,
            false => TraceLevel::Protocol,
        },
        ..SimConfig::new(config.nodes, 0)
    };
    let locations = (0..config.nodes)
        .map(|_| crate::storage::Location::memory())
        .collect();
    let factory = run::factory(&node_config(config), config.proposers);
    let mut sim = Sim::with_storage(sim_config, locations, factory)?;
    // Every node starts first. A start only arms the proposer's first timer, which
    // fires whenever the explorer chooses, so starting later adds no run.
    let starts: Vec<u64> = sim
        .pending()
        .iter()
        .filter(|p| matches!(p.what, PendingWhat::Start(_)))
        .map(|p| p.seq)
        .collect();
    for seq in starts {
        sim.step_pending(seq)?;
    }
    Ok(sim)
}

/// A choice as the search's bookkeeping sees it: which node it acts on, and an
/// identity that names the same choice in every state where it is possible (the
/// content of the pending event it runs, not its sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Move {
    choice: Choice,
    /// The event's identity, acceptors as they are named here.
    id: u64,
    /// The event, to name it under a renaming of acceptors.
    key: EventKey,
    node: NodeId,
    /// The part of the node it acts on.
    role: Role,
    /// A delivery or a timer: if it changes nothing, a state that never takes it
    /// covers the state it leads to. Not so a node's start: a node that has not
    /// started cannot be crashed.
    may_skip: bool,
}

impl Move {
    fn is_crash(&self) -> bool {
        matches!(self.choice, Choice::Crash(_))
    }

    /// Whether the two moves commute: taken in either order from any state where both
    /// are possible, they lead to the same state, and neither disables the other (a
    /// move may make another one's message dead, so that it is no longer offered; a
    /// dead message changes nothing, so that loses no state).
    /// Moves at different nodes do: each changes only its own node and adds messages
    /// to the network, and a message in flight stays deliverable. Two crashes do not,
    /// since they share the crash budget. At one node, a move of its acceptor and a
    /// move of its proposer or learner commute too: they read and write disjoint state
    /// (in memory and on disk).
    fn independent(&self, other: &Move) -> bool {
        if self.node == NodeId(0) || other.node == NodeId(0) {
            return false;
        }
        if self.node == other.node {
            return matches!(
                (self.role, other.role),
                (Role::Acceptor, Role::Other) | (Role::Other, Role::Acceptor)
            );
        }
        !(self.is_crash() && other.is_crash())
    }
}

/// The part of a node a move acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The acceptor alone: a prepare or an accept delivered.
    Acceptor,
    /// The proposer and the learner: any other message, a timer.
    Other,
    /// The whole node: a crash, a start, a query (which both answer).
    Whole,
}

/// The part of the node that `what` acts on.
fn role_of(what: &PendingWhat<'_, PaxosNode>) -> Role {
    match what {
        PendingWhat::Deliver { msg, .. } => match msg {
            Msg::Prepare { .. } | Msg::Accept { .. } => Role::Acceptor,
            Msg::Query => Role::Whole,
            Msg::Promise { .. } | Msg::Nack { .. } | Msg::Accepted { .. } | Msg::Decided { .. } => {
                Role::Other
            }
        },
        PendingWhat::Timer { .. } => Role::Other,
        _ => Role::Whole,
    }
}

/// Every choice the explorer may make in a state.
fn choices(sim: &Sim<PaxosNode>, crashes_left: usize, reduce: bool) -> Vec<Move> {
    let mut out: Vec<Move> = sim
        .pending()
        .iter()
        .filter(|p| !(reduce && dead(sim, &p.what, crashes_left > 0)))
        .map(|p| {
            let (choice, node, may_skip) = match p.what {
                PendingWhat::Deliver { to, .. } => (Choice::Deliver(p.seq), to, true),
                PendingWhat::Timer { node, .. } => (Choice::Run(p.seq), node, true),
                PendingWhat::Start(n) => (Choice::Run(p.seq), n, false),
                PendingWhat::Request { node, .. } => (Choice::Run(p.seq), node, false),
                // The explorer schedules no harness actions; were one pending, it
                // would count as acting on every node (dependent on everything).
                PendingWhat::Action(_) => (Choice::Run(p.seq), NodeId(0), false),
            };
            let key = EventKey::of(&p.what);
            Move {
                choice,
                id: key.id(&[]),
                key,
                node,
                role: role_of(&p.what),
                may_skip,
            }
        })
        .collect();
    if crashes_left > 0 {
        // A node that has not started yet has nothing to lose: crashing it would be a
        // step that does nothing.
        let starting: Vec<NodeId> = sim
            .pending()
            .iter()
            .filter_map(|p| match p.what {
                PendingWhat::Start(n) => Some(n),
                _ => None,
            })
            .collect();
        out.extend(
            sim.live_nodes()
                .filter(|(id, _)| !starting.contains(id))
                .map(|(id, _)| Move {
                    choice: Choice::Crash(id),
                    id: EventKey::crash(id).id(&[]),
                    key: EventKey::crash(id),
                    node: id,
                    role: Role::Whole,
                    may_skip: false,
                }),
        );
    }
    out
}

fn apply(sim: &mut Sim<PaxosNode>, choice: Choice, duplicates: bool) -> Result<()> {
    match choice {
        Choice::Run(seq) => sim.step_pending(seq)?,
        Choice::Deliver(seq) if duplicates => sim.redeliver(seq)?,
        Choice::Deliver(seq) => sim.step_pending(seq)?,
        Choice::Crash(id) => {
            sim.apply(Action::Crash(id))?;
            sim.apply(Action::Restart(id))?;
        }
    }
    if duplicates {
        forget_resends(sim)?;
    }
    Ok(())
}

/// In a network where messages stay for good, a message identical to one already in
/// flight (same sender, receiver and content) is the same message: keep one.
fn forget_resends(sim: &mut Sim<PaxosNode>) -> Result<()> {
    let mut seen = HashSet::new();
    let resends: Vec<u64> = sim
        .pending()
        .iter()
        .filter_map(|p| match p.what {
            PendingWhat::Deliver { from, to, msg } => {
                (!seen.insert((from, to, msg.clone()))).then_some(p.seq)
            }
            _ => None,
        })
        .collect();
    for seq in resends {
        sim.discard(seq)?;
    }
    Ok(())
}

/// A fast 64-bit hasher for fingerprints (the multiply-rotate step of rustc's
/// `FxHasher`). The explorer hashes every state it reaches, so the hasher is its
/// inner loop; it needs speed and spread, not resistance to an adversary.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        // A final avalanche (splitmix64's), so that the low bits the hash set uses
        // depend on every input bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn hash_of(value: impl Hash) -> u64 {
    let mut h = Fx::default();
    value.hash(&mut h);
    h.finish()
}

/// A state's parts, hashed: each node's protocol state and storage, and each pending
/// event by content (not by sequence number), sorted.
#[derive(PartialEq, Eq)]
struct Shape {
    /// Each node's acceptor, proposer and storage.
    nodes: Vec<u64>,
    /// Each node's learner, votes of closed ballots left out.
    learners: Vec<u64>,
    /// The ballots still open: some acceptor may yet accept them.
    open: Vec<Ballot>,
    /// Acceptances in flight to a learner that may count them: (learner, ballot).
    unheard: Vec<(NodeId, Ballot)>,
    /// Every pending event the state is filed with (with the reductions on, dead
    /// messages left out), to be named under each renaming of acceptors.
    events: Vec<EventKey>,
    /// The messages in flight and timers armed (which a larger state may have more of).
    pending: Vec<u64>,
    /// The other events pending (a node's start), which a state covering this one
    /// must have the same of: a node that has not started cannot be crashed.
    fixed: Vec<u64>,
    /// Each pending event's sequence number and hash, by sequence number: what lets
    /// the next state's shape reuse the hashes of the events it still has.
    by_seq: Vec<(u64, u64)>,
}

/// A node's acceptor, proposer and storage, hashed. Its learner is hashed with the
/// state as a whole ([`canonical`]), which knows which of its votes can still count.
fn node_hash(sim: &Sim<PaxosNode>, id: NodeId) -> Result<u64> {
    Ok(match sim.node(id) {
        Some(node) => {
            let mut h = Fx::default();
            node.acceptor.hash(&mut h);
            match &node.proposer {
                Some(p) => p.hash_future(node.config(), &mut h, |n| n, false),
                None => 0u8.hash(&mut h),
            }
            node.durable_state()?.hash(&mut h);
            h.finish()
        }
        None => 0,
    })
}

impl Shape {
    fn of(sim: &Sim<PaxosNode>, may_crash: bool, reduce: bool) -> Result<Shape> {
        let nodes = sim
            .ids()
            .into_iter()
            .map(|id| node_hash(sim, id))
            .collect::<Result<Vec<u64>>>()?;
        Ok(Shape::with_nodes(sim, nodes, None, may_crash, reduce))
    }

    /// The shape of `sim`, one move after the state of shape `before`: only the node
    /// the move acted on can have changed, and only new events need hashing.
    fn after(
        sim: &Sim<PaxosNode>,
        before: &Shape,
        moved: NodeId,
        may_crash: bool,
        reduce: bool,
    ) -> Result<Shape> {
        let mut nodes = before.nodes.clone();
        match moved.index_in(nodes.len()) {
            Some(i) => nodes[i] = node_hash(sim, moved)?,
            None => return Shape::of(sim, may_crash, reduce),
        }
        Ok(Shape::with_nodes(
            sim,
            nodes,
            Some(before),
            may_crash,
            reduce,
        ))
    }

    /// The shape of `sim` with these node hashes (`may_crash`: if a crash may still
    /// come). With `reduce`, messages that will never change anything are left out of
    /// `pending`: a state that still carries one has the same future as a state
    /// without it.
    fn with_nodes(
        sim: &Sim<PaxosNode>,
        nodes: Vec<u64>,
        before: Option<&Shape>,
        may_crash: bool,
        reduce: bool,
    ) -> Shape {
        let mut by_seq = Vec::new();
        let mut pending = Vec::new();
        let mut fixed = Vec::new();
        let mut events = Vec::new();
        // Ballots that may still be accepted somewhere: a proposer collecting
        // promises for it will send accepts, or an accept for it is in flight to an
        // acceptor that may take it.
        let open = open_ballots(sim, may_crash);
        // Acceptances in flight to a learner that may count them: (learner, ballot).
        let mut unheard: Vec<(NodeId, Ballot)> = Vec::new();
        for p in sim.pending() {
            let known = before.and_then(|b| {
                b.by_seq
                    .binary_search_by_key(&p.seq, |&(seq, _)| seq)
                    .ok()
                    .map(|i| b.by_seq[i].1)
            });
            let hash = known.unwrap_or_else(|| pending_hash(&p.what));
            by_seq.push((p.seq, hash));
            match p.what {
                PendingWhat::Deliver { to, msg, .. } => {
                    let is_dead = dead(sim, &p.what, may_crash);
                    if let Msg::Accepted { ballot, .. } = msg {
                        if !is_dead {
                            unheard.push((to, *ballot));
                        }
                    }
                    if !(reduce && is_dead) {
                        pending.push(hash);
                        events.push(EventKey::of(&p.what));
                    }
                }
                PendingWhat::Timer { .. } => {
                    pending.push(hash);
                    events.push(EventKey::of(&p.what));
                }
                _ => {
                    fixed.push(hash);
                    events.push(EventKey::of(&p.what));
                }
            }
        }
        by_seq.sort_unstable();
        pending.sort_unstable();
        fixed.sort_unstable();
        let learners = sim
            .ids()
            .into_iter()
            .map(|id| match sim.node(id) {
                Some(n) => {
                    let mut h = Fx::default();
                    n.learner.hash_future(
                        &mut h,
                        |b| open.binary_search(&b).is_ok() || unheard.contains(&(id, b)),
                        |n| n,
                    );
                    h.finish()
                }
                None => 0,
            })
            .collect();
        Shape {
            nodes,
            learners,
            pending,
            fixed,
            by_seq,
            open,
            unheard,
            events,
        }
    }

    /// Whether `after` is this shape with the pending event `gone` taken away and
    /// nothing else changed: the event was run and did nothing.
    fn lost_only(&self, gone: u64, after: &Shape) -> bool {
        self.nodes == after.nodes
            && self.learners == after.learners
            && self.pending.len() == after.pending.len() + 1
            && match self.pending.binary_search(&gone) {
                Ok(i) => {
                    self.pending[..i] == after.pending[..i]
                        && self.pending[i + 1..] == after.pending[i..]
                }
                Err(_) => false,
            }
    }
}

/// Whether the pending event is a message that will never change anything: its
/// receiver ignores it for good; or its acceptor will answer it without changing
/// (refusing it, or promising a ballot it has already promised) and the answer goes to
/// a proposer that ignores it for good; or it is an acceptance a learner can never
/// count toward a majority.
fn dead(sim: &Sim<PaxosNode>, what: &PendingWhat<'_, PaxosNode>, may_crash: bool) -> bool {
    let PendingWhat::Deliver { to, msg, .. } = what else {
        return false;
    };
    let Some(receiver) = sim.node(*to) else {
        return false;
    };
    // Whether the proposer of `ballot` ignores every refusal, and (if `promise`) every
    // promise of that ballot too, for good.
    let deaf = |ballot: Ballot, promise: bool| {
        let Some(n) = sim.node(ballot.node) else {
            return false;
        };
        let Some(p) = n.proposer.as_ref() else {
            return false;
        };
        let promises_ignored = !promise
            || p.ignores_for_good(
                &Msg::Promise {
                    ballot,
                    accepted: None,
                },
                n.config(),
                may_crash,
            );
        let doomed = doomed(sim, ballot.node, may_crash);
        doomed || (promises_ignored && p.ignores_every_refusal(n.config(), may_crash))
    };
    match msg {
        Msg::Promise { .. } | Msg::Nack { .. } if doomed(sim, *to, may_crash) => true,
        _ if receiver.ignores_for_good(msg, may_crash) => true,
        Msg::Accepted { ballot, .. } => short(sim, *to, *ballot, may_crash),
        // Promised already: the acceptor answers with a promise and stays as it is,
        // until a higher promise makes it refuse.
        Msg::Prepare { ballot }
            if receiver.acceptor.promised == *ballot
                && !(may_crash && receiver.config().breaks(Rule::NoPersist)) =>
        {
            deaf(*ballot, true)
        }
        _ => receiver
            .refuses_for_good(msg, may_crash)
            .is_some_and(|ballot| deaf(ballot, false)),
    }
}

/// The ballots still open, sorted: those some acceptor may still accept, because their
/// proposer is gathering promises for them (and will send accepts), or an accept for
/// them is in flight to an acceptor that does not refuse it for good.
fn open_ballots(sim: &Sim<PaxosNode>, may_crash: bool) -> Vec<Ballot> {
    let mut open: Vec<Ballot> = sim
        .live_nodes()
        .filter_map(|(_, n)| n.proposer.as_ref())
        .filter(|p| p.phase == Phase::Preparing)
        .map(|p| p.ballot)
        .collect();
    for p in sim.pending() {
        if let PendingWhat::Deliver {
            to,
            msg: msg @ Msg::Accept { ballot, .. },
            ..
        } = p.what
        {
            if sim
                .node(to)
                .is_none_or(|a| a.refuses_for_good(msg, may_crash).is_none())
            {
                open.push(*ballot);
            }
        }
    }
    open.sort_unstable();
    open.dedup();
    open
}

/// Whether learner `learner` can never learn from ballot `b`: the ballot is closed
/// (see [`open_ballots`]), and the votes it holds for it, with the acceptances for it
/// in flight to it, fall short of a majority.
fn short(sim: &Sim<PaxosNode>, learner: NodeId, b: Ballot, may_crash: bool) -> bool {
    let Some(l) = sim.node(learner) else {
        return false;
    };
    if open_ballots(sim, may_crash).binary_search(&b).is_ok() {
        return false;
    }
    let mut voters: Vec<NodeId> = l
        .learner
        .votes
        .get(&b)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for p in sim.pending() {
        if let PendingWhat::Deliver {
            from,
            to,
            msg: Msg::Accepted { ballot, .. },
        } = p.what
        {
            if to == learner && *ballot == b && !voters.contains(&from) {
                voters.push(from);
            }
        }
    }
    voters.len() < l.config().quorum()
}

/// Whether the proposer of node `id` can never get a value accepted again, whatever
/// happens: it has no ballot left, and every acceptor refuses its current ballot for
/// good. Such a proposer may still gather promises and send accepts, but every one is
/// refused, so nothing it does or receives matters any more: it is as good as inert.
fn doomed(sim: &Sim<PaxosNode>, id: NodeId, may_crash: bool) -> bool {
    let Some(node) = sim.node(id) else {
        return false;
    };
    let Some(p) = &node.proposer else {
        return false;
    };
    if node
        .config()
        .max_ballots
        .is_none_or(|m| p.ballots_tried < m)
    {
        return false;
    }
    let accept = Msg::Accept {
        ballot: p.ballot,
        value: Value::new(),
    };
    sim.live_nodes()
        .all(|(_, a)| a.refuses_for_good(&accept, may_crash).is_some())
}

fn pending_hash(what: &PendingWhat<'_, PaxosNode>) -> u64 {
    EventKey::of(what).id(&[])
}

/// A pending event (or a crash), as the search names it: by content, with its
/// acceptor (if it has one at either end) open to renaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EventKey {
    kind: u8,
    from: NodeId,
    to: NodeId,
    /// The hash of what the event carries.
    body: u64,
    /// Which end is an acceptor: 1 the sender, 2 the receiver, 0 neither.
    acceptor_end: u8,
}

impl EventKey {
    fn of(what: &PendingWhat<'_, PaxosNode>) -> EventKey {
        let key = |kind, from, to, body, acceptor_end| EventKey {
            kind,
            from,
            to,
            body,
            acceptor_end,
        };
        match what {
            PendingWhat::Start(n) => key(0, *n, *n, 0, 0),
            PendingWhat::Deliver { from, to, msg } => {
                let end = match msg {
                    Msg::Prepare { .. } | Msg::Accept { .. } | Msg::Query => 2,
                    Msg::Promise { .. } | Msg::Nack { .. } | Msg::Accepted { .. } => 1,
                    Msg::Decided { .. } => 0,
                };
                key(1, *from, *to, hash_of(msg), end)
            }
            PendingWhat::Timer { node, timer } => key(2, *node, *node, hash_of(timer), 0),
            PendingWhat::Request { node, .. } => key(3, *node, *node, 0, 0),
            PendingWhat::Action(a) => key(4, NodeId(0), NodeId(0), hash_of(a.to_string()), 0),
        }
    }

    /// A crash and restart of `node`.
    fn crash(node: NodeId) -> EventKey {
        EventKey {
            kind: 5,
            from: node,
            to: node,
            body: 0,
            acceptor_end: 0,
        }
    }

    /// The event's identity with acceptors renamed by `perm` (empty: as they are).
    fn id(&self, perm: &[usize]) -> u64 {
        let (mut from, mut to) = (self.from, self.to);
        match self.acceptor_end {
            1 => from = renamed(from, perm),
            2 => to = renamed(to, perm),
            _ => {}
        }
        hash_of((self.kind, from, to, self.body))
    }
}

/// `node` renamed by `perm` (`perm[i]` is the new index of the node of index `i`;
/// empty: unchanged).
fn renamed(node: NodeId, perm: &[usize]) -> NodeId {
    match node.index_in(perm.len()) {
        Some(i) => NodeId::from_index(perm[i]),
        None => node,
    }
}

/// Every permutation of `0..n`, the identity first.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![(0..n).collect::<Vec<usize>>()];
    // Heap's algorithm, iteratively.
    let mut perm: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            out.push(perm.clone());
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    out
}

/// A state as the search files it: under the renaming of acceptors that gives the
/// smallest key and, among those, the smallest events pending.
struct Canonical {
    /// The node states, their storage, the history of acceptances, closed ballots left
    /// out (see [`canonical`]).
    key: u64,
    /// The events pending (messages that will never change anything left out), sorted.
    pool: Vec<u64>,
    /// The renaming used (an index into the search's list of permutations).
    perm: usize,
    /// The state's class of what the properties read (acceptors, learned values,
    /// chosen values), up to a renaming of acceptors.
    node_class: u64,
}

/// `sim`'s state filed under every renaming in `perms` whose index is in `tried`,
/// with `agreement` and what `shape` knows of which ballots are open.
fn canonical(
    sim: &Sim<PaxosNode>,
    shape: &Shape,
    agreement: &Agreement,
    perms: &[Vec<usize>],
    tried: std::ops::Range<usize>,
    may_crash: bool,
    reduce: bool,
) -> Result<Canonical> {
    let ids = sim.ids();
    // Per node: the acceptor and its storage, which move with the acceptor's name.
    let mut acceptors = Vec::with_capacity(ids.len());
    for &id in &ids {
        acceptors.push(match sim.node(id) {
            Some(n) => hash_of((&n.acceptor, n.durable_state()?.acceptor)),
            None => 0,
        });
    }
    let durable: Vec<Option<(Option<u64>, Option<u64>)>> = ids
        .iter()
        .map(|&id| {
            sim.node(id)
                .map(|n| n.durable_state().map(|d| (d.round, d.tried)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    // The abstraction of the key (closed ballots, doomed proposers) is a reduction too:
    // the full search goes without it, so that comparing the two checks it as well.
    let open = |b: Ballot| !reduce || shape.open.binary_search(&b).is_ok();
    let doomed = |id: NodeId| reduce && doomed(sim, id, may_crash);
    // The acceptors' hashes under a renaming: the acceptor now named k is the one that
    // was named perm⁻¹(k).
    let moved = |perm: &[usize]| -> Vec<u64> {
        let mut moved = acceptors.clone();
        for (i, a) in acceptors.iter().enumerate() {
            if let Some(&k) = perm.get(i) {
                moved[k] = *a;
            }
        }
        moved
    };
    let key_under = |perm: &[usize]| -> u64 {
        let rename = |n: NodeId| renamed(n, perm);
        let mut h = Fx::default();
        moved(perm).hash(&mut h);
        for (i, &id) in ids.iter().enumerate() {
            match sim.node(id) {
                Some(n) => {
                    match &n.proposer {
                        Some(p) => p.hash_future(n.config(), &mut h, rename, doomed(id)),
                        None => 0u8.hash(&mut h),
                    }
                    durable[i].hash(&mut h);
                    n.learner.hash_future(
                        &mut h,
                        |b| open(b) || shape.unheard.contains(&(id, b)),
                        rename,
                    );
                }
                None => 1u8.hash(&mut h),
            }
        }
        shape.fixed.hash(&mut h);
        agreement.hash_future(&mut h, open, rename);
        h.finish()
    };
    let keys: Vec<u64> = perms.iter().map(|p| key_under(p)).collect();
    // What the properties read, and what no reduction may lose: every acceptor's state,
    // what every learner learned, and the values chosen, up to a renaming of acceptors.
    let learned: Vec<Option<&(Ballot, Value)>> = ids
        .iter()
        .map(|&id| sim.node(id).and_then(|n| n.learner.learned.as_ref()))
        .collect();
    let chosen = agreement.chosen_values();
    let node_class = perms
        .iter()
        .map(|perm| hash_of((moved(perm), &learned, &chosen)))
        .min()
        .unwrap_or(0);
    let mut best: Option<Canonical> = None;
    for i in tried {
        let Some(&key) = keys.get(i) else { continue };
        if best.as_ref().is_some_and(|b| key > b.key) {
            continue;
        }
        let mut pool: Vec<u64> = shape.events.iter().map(|e| e.id(&perms[i])).collect();
        pool.sort_unstable();
        pool.dedup();
        if best
            .as_ref()
            .is_none_or(|b| key < b.key || (key == b.key && pool < b.pool))
        {
            best = Some(Canonical {
                key,
                pool,
                perm: i,
                node_class,
            });
        }
    }
    best.ok_or_else(|| crate::error::Error::Runtime("explorer: no renaming to try".into()))
}

/// A [`Hasher`] builder for the explorer's sets, whose keys are hashes already.
type BuildFx = std::hash::BuildHasherDefault<Fx>;

/// A state explored: its events pending and crash budget (its node states and history
/// are the key it is filed under), and the moves asleep when it was explored, both as
/// sorted lists of small numbers (see [`Visited`]) kept in one shared vector.
struct Seen {
    /// Where the two lists start in [`Visited::data`]: the pending events, then the
    /// moves asleep.
    at: usize,
    pool_len: u16,
    asleep_len: u16,
    crashes_left: u16,
}

/// What [`Visited::visit`] found.
enum Visit {
    /// A state not covered by any explored before: explore it.
    New,
    /// Covered: an explored state has the same node states, every message this one has
    /// in flight, and at least its crash budget, and it took every move awake here.
    Covered,
    /// Covered by a state explored with more moves asleep: take only these.
    Woken(Vec<u64>),
}

/// The states explored, filed by node states and acceptance history.
///
/// With `subsume` set, a state is *covered* by an explored state that has the same node
/// states and history, a superset of its messages in flight, and a crash budget at
/// least as large: every run from the smaller state is a run from the larger one in
/// which the extra messages are lost, so it reaches the same node states. Without it,
/// only an identical state covers.
///
/// A search keeps tens of millions of states, so each is kept small: every pending
/// event's 64-bit identity is numbered the first time it is seen, and a state's lists
/// hold those numbers (4 bytes each), all in one vector.
struct Visited {
    subsume: bool,
    /// File covered states that are woken, too (see [`Visited::visit`]).
    file_woken: bool,
    by_key: HashMap<u64, Vec<Seen>, BuildFx>,
    /// The number of each identity, and the identity of each number.
    numbers: HashMap<u64, u32, BuildFx>,
    identities: Vec<u64>,
    /// Every state's two lists, one after the other.
    data: Vec<u32>,
    /// How many states were explored.
    states: usize,
}

impl Seen {
    fn pool<'a>(&self, data: &'a [u32]) -> &'a [u32] {
        &data[self.at..self.at + usize::from(self.pool_len)]
    }
    fn asleep<'a>(&self, data: &'a [u32]) -> &'a [u32] {
        let from = self.at + usize::from(self.pool_len);
        &data[from..from + usize::from(self.asleep_len)]
    }
}

impl Visited {
    fn new(subsume: bool, file_woken: bool) -> Visited {
        Visited {
            subsume,
            file_woken,
            by_key: HashMap::default(),
            numbers: HashMap::default(),
            identities: Vec::new(),
            data: Vec::new(),
            states: 0,
        }
    }

    /// The identities as a sorted list of numbers.
    fn numbered(&mut self, identities: &[u64]) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(identities.len());
        for &id in identities {
            let n = match self.numbers.get(&id) {
                Some(&n) => n,
                None => {
                    let n = u32::try_from(self.identities.len()).map_err(|_| {
                        crate::error::Error::Runtime(
                            "explorer: over 4 billion distinct events".into(),
                        )
                    })?;
                    self.numbers.insert(id, n);
                    self.identities.push(id);
                    n
                }
            };
            out.push(n);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Files the state (`key`, `pool`, `crashes_left`) reached with the moves `asleep`,
    /// and says what is left to explore from it.
    fn visit(
        &mut self,
        key: u64,
        pool: &[u64],
        crashes_left: usize,
        asleep: &[u64],
    ) -> Result<Visit> {
        let subsume = self.subsume;
        let pool = self.numbered(pool)?;
        let asleep = self.numbered(asleep)?;
        let too_long =
            || crate::error::Error::Runtime("explorer: a state too large to file".into());
        let pool_len = u16::try_from(pool.len()).map_err(|_| too_long())?;
        let asleep_len = u16::try_from(asleep.len()).map_err(|_| too_long())?;
        let crashes_left = u16::try_from(crashes_left).map_err(|_| too_long())?;
        // Without subsumption, only the identical state matters: file it by all of it.
        let key = if subsume {
            key
        } else {
            hash_of((key, &pool, crashes_left))
        };
        let data = &mut self.data;
        let entries = self.by_key.entry(key).or_default();
        let covers = |e: &Seen, data: &[u32]| {
            if subsume {
                e.crashes_left >= crashes_left && includes(e.pool(data), &pool)
            } else {
                e.crashes_left == crashes_left && e.pool(data) == pool.as_slice()
            }
        };
        let awake_here = |e: &Seen, data: &[u32]| -> Vec<u32> {
            e.asleep(data)
                .iter()
                .filter(|n| asleep.binary_search(n).is_err())
                .copied()
                .collect()
        };
        if entries
            .iter()
            .any(|e| covers(e, data) && includes(&asleep, e.asleep(data)))
        {
            return Ok(Visit::Covered);
        }
        let same = entries
            .iter_mut()
            .find(|e| e.crashes_left == crashes_left && e.pool(data) == pool.as_slice());
        let same_missing = same.is_none();
        let woken = match same {
            Some(before) => {
                // Explored before with moves asleep that are awake now: take those, and
                // from now on only the moves asleep both times count as asleep there.
                let woken = awake_here(before, data);
                let kept: Vec<u32> = before
                    .asleep(data)
                    .iter()
                    .filter(|n| asleep.binary_search(n).is_ok())
                    .copied()
                    .collect();
                let from = before.at + usize::from(before.pool_len);
                data[from..from + kept.len()].copy_from_slice(&kept);
                before.asleep_len = u16::try_from(kept.len()).map_err(|_| too_long())?;
                Some(woken)
            }
            // Covered by a larger state explored with moves asleep that are awake here:
            // from this state, only those are left to take (every other move was taken
            // from the larger state, and its runs include this state's).
            None => entries
                .iter()
                .filter(|e| covers(e, data))
                .map(|e| awake_here(e, data))
                .min_by_key(Vec::len),
        };
        let identities = &self.identities;
        let as_identities =
            |woken: &[u32]| -> Vec<u64> { woken.iter().map(|&n| identities[n as usize]).collect() };
        // A state covered but woken is filed too where a move may lead back to the very
        // same state (a message delivered again that changes nothing, when messages
        // stay in flight): its next visit then finds it, and its sleep set only shrinks.
        let file = woken.is_none() || (self.file_woken && same_missing);
        if !file {
            return Ok(woken.map_or(Visit::Covered, |w| Visit::Woken(as_identities(&w))));
        }
        let answer = match &woken {
            Some(w) => Visit::Woken(as_identities(w)),
            None => Visit::New,
        };
        // A new state; it replaces the explored states it covers that slept through at
        // least as much.
        if subsume {
            entries.retain(|e| {
                !(crashes_left >= e.crashes_left
                    && includes(&pool, e.pool(data))
                    && includes(e.asleep(data), &asleep))
            });
        }
        entries.push(Seen {
            at: data.len(),
            pool_len,
            asleep_len,
            crashes_left,
        });
        data.extend_from_slice(&pool);
        data.extend_from_slice(&asleep);
        self.states += 1;
        Ok(answer)
    }
}

/// Whether the sorted slice `big` holds every element of the sorted slice `small`.
fn includes(big: &[u32], small: &[u32]) -> bool {
    let mut big = big.iter();
    small.iter().all(|x| big.any(|y| y == x))
}

// ANCHOR: explore
/// Explores every reachable state of `config`, depth first (or breadth first).
///
/// Every node starts before the first choice (a start only arms a timer that fires
/// whenever the explorer chooses). With the reductions on, a state's key leaves out
/// what can never count again: a learner's votes, and the checker's record of
/// acceptances, for a ballot no acceptor can accept any more (unless they made a
/// majority), and the state of a doomed proposer. Then five reductions keep the search
/// small. None of this may lose a reachable combination of what the properties read
/// (acceptor states, learned values, chosen values), which [`ExploreConfig::reduce`]
/// turned off checks:
///
/// - **Dead messages.** A message that will never change anything (a promise for a
///   ballot its proposer has left; an acceptance to a learner that has learned, or that
///   can never count it; a prepare or accept its acceptor refuses for good, or a
///   prepare for the ballot it has promised, whose answer goes to a proposer that
///   ignores it for good; a promise or a refusal sent to a doomed proposer, see
///   `doomed`) is neither delivered nor part of the state.
/// - **Moves that change nothing** but their own removal from the network are not
///   taken: they lead to this state with a message lost, which this state covers.
/// - **Covering.** A state with the same node states as one explored, and a subset of
///   its messages in flight, has no run the larger state lacks: the extra messages can
///   be lost. It is not explored again.
/// - **Sleep sets** (Godefroid, 1996) skip orders that differ only in moves that
///   commute (moves at different nodes, or at one node's acceptor and its proposer):
///   after exploring "deliver a to n1" from a state, the sibling branch "deliver b to
///   n2" does not deliver a next, since "b then a" reaches the state "a then b"
///   reached. A state covered by one explored is explored again only for the moves
///   that were asleep there and are awake here.
/// - **Symmetry.** Acceptors are interchangeable: renaming them (in every message,
///   promise, vote and acceptance) maps runs to runs and keeps every property. Once no
///   crash is left (a crash takes an acceptor down with its node's proposer), a state
///   is filed under the renaming that names it smallest, so the renamings of a state
///   explored are not explored again.
pub fn explore(config: &ExploreConfig) -> Result<Exploration> {
    let started = Instant::now();
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = State {
        sim: Some(initial(config, false)?),
        agreement: Agreement::new(config.nodes),
        crashes_left: config.crashes,
        path: Vec::new(),
        depth: 0,
        sleep: Vec::new(),
        only: None,
        shape: None,
        perm: 0,
    };
    // Acceptors are interchangeable (without crashes, which take an acceptor down with
    // its node's proposer): the renamings of acceptors, for up to 4 nodes (24
    // renamings). Node states are counted by class (the same up to a renaming) in
    // every search, and with the reductions on, a state with no crash left is filed
    // under the renaming that names it smallest.
    let perms = if config.nodes <= 4 {
        permutations(config.nodes)
    } else {
        vec![(0..config.nodes).collect()]
    };
    let tried = |crashes_left: usize| {
        if config.reduce && crashes_left == 0 {
            0..perms.len()
        } else {
            0..1
        }
    };
    // Each state explored, with the identities of the moves asleep there.
    let mut seen = Visited::new(config.reduce, config.duplicates);
    // The classes of node states (and acceptance histories) reached, messages in
    // flight aside.
    let mut node_states: HashSet<u64, BuildFx> = HashSet::default();
    if let Some(sim) = &root.sim {
        let may_crash = root.crashes_left > 0;
        let shape = Shape::of(sim, may_crash, config.reduce)?;
        let c = canonical(
            sim,
            &shape,
            &root.agreement,
            &perms,
            tried(root.crashes_left),
            may_crash,
            config.reduce,
        )?;
        seen.visit(c.key, &c.pool, root.crashes_left, &[])?;
        node_states.insert(c.node_class);
    }
    let mut stack = VecDeque::from([root]);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let finish = |seen: &Visited,
                  node_states: &HashSet<u64, BuildFx>,
                  transitions,
                  max_depth,
                  complete,
                  counterexample| Exploration {
        states: seen.states,
        node_states: node_states.len(),
        transitions,
        max_depth,
        complete,
        seconds: started.elapsed().as_secs_f64(),
        counterexample,
    };
    while let Some(mut state) = if config.breadth_first {
        stack.pop_front()
    } else {
        stack.pop_back()
    } {
        let sim = match state.sim.take() {
            Some(sim) => sim,
            None => rebuild(config, &state.path)?,
        };
        let shape = match state.shape.take() {
            Some(shape) => shape,
            None => Shape::of(&sim, state.crashes_left > 0, config.reduce)?,
        };
        let moves = choices(&sim, state.crashes_left, config.reduce);
        // Moves asleep here: the sleep set, and on a second visit every move the
        // first visit took.
        let mut asleep: Vec<Move> = state.sleep.clone();
        if !config.reduce {
            asleep.clear();
        }
        if let Some(only) = &state.only {
            let perm = &perms[state.perm];
            asleep.extend(moves.iter().filter(|m| !only.contains(&m.key.id(perm))));
        }
        // The moves to take (two identical messages in flight are one move).
        let mut to_take: Vec<Move> = Vec::new();
        for &m in &moves {
            if !asleep.iter().chain(&to_take).any(|a| a.id == m.id) {
                to_take.push(m);
            }
        }
        // The last move takes the state itself rather than a copy.
        let mut last = Some(sim);
        for (i, &m) in to_take.iter().enumerate() {
            let sleep: Vec<Move> = asleep
                .iter()
                .chain(&to_take[..i])
                .filter(|u| config.reduce && u.independent(&m))
                .copied()
                .collect();
            let mut next = match (i + 1 == to_take.len(), last.as_ref()) {
                (false, Some(sim)) => sim.fork(copy)?,
                _ => last.take().ok_or_else(|| {
                    crate::error::Error::Runtime("explorer: state taken twice".into())
                })?,
            };
            apply(&mut next, m.choice, config.duplicates)?;
            transitions += 1;
            let mut agreement = state.agreement.clone();
            let violations: Vec<Violation> = next
                .take_observed()
                .iter()
                .filter_map(|o| Some((o, o.protocol()?)))
                .flat_map(|(o, e)| agreement.observe(o.at, o.node, e))
                .collect();
            if let Some(violation) = violations.into_iter().next() {
                let mut path = state.path.clone();
                path.push(m.choice);
                let counterexample = replay(config, &path, violation)?;
                return Ok(finish(
                    &seen,
                    &node_states,
                    transitions,
                    max_depth.max(state.depth + 1),
                    false,
                    Some(counterexample),
                ));
            }
            let crashes_left = state.crashes_left - usize::from(m.is_crash());
            let next_shape = Shape::after(&next, &shape, m.node, crashes_left > 0, config.reduce)?;
            let may_crash = crashes_left > 0;
            let c = canonical(
                &next,
                &next_shape,
                &agreement,
                &perms,
                tried(crashes_left),
                may_crash,
                config.reduce,
            )?;
            node_states.insert(c.node_class);
            // A move that changed nothing but its own removal from the queue: see above.
            if config.reduce
                && !config.duplicates
                && m.may_skip
                && agreement == state.agreement
                && shape.lost_only(m.id, &next_shape)
            {
                continue;
            }
            let ids: Vec<u64> = sleep.iter().map(|u| u.key.id(&perms[c.perm])).collect();
            let only = match seen.visit(c.key, &c.pool, crashes_left, &ids)? {
                Visit::New => None,
                Visit::Covered => continue,
                Visit::Woken(woken) => Some(woken),
            };
            if seen.states >= config.max_states {
                return Ok(finish(
                    &seen,
                    &node_states,
                    transitions,
                    max_depth,
                    false,
                    None,
                ));
            }
            let mut path = state.path.clone();
            path.push(m.choice);
            max_depth = max_depth.max(state.depth + 1);
            if config.progress && only.is_none() && seen.states.is_multiple_of(1_000_000) {
                eprintln!(
                    "explore: {} states ({} of node states), {transitions} transitions, depth {max_depth}, stack {}, {:.0}s",
                    seen.states,
                    node_states.len(),
                    stack.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            stack.push_back(State {
                sim: (!config.breadth_first).then_some(next),
                agreement,
                crashes_left,
                path,
                depth: state.depth + 1,
                sleep,
                only,
                shape: (!config.breadth_first).then_some(next_shape),
                perm: c.perm,
            });
        }
    }
    Ok(finish(
        &seen,
        &node_states,
        transitions,
        max_depth,
        true,
        None,
    ))
}
// ANCHOR_END: explore

// ANCHOR: random_walks
/// Random walks through the same choices (TLC's "simulation mode"): `walks` runs from
/// the initial state, each choosing uniformly among the choices of every state until
/// none is left, checked at every step. Not a proof, but it reaches deep states that an
/// exhaustive search of a large space would take hours to get to. Returns the shortest
/// counterexample found; `seed` makes the walks replayable.
pub fn random_walks(config: &ExploreConfig, walks: u64, seed: u64) -> Result<Exploration> {
    let started = Instant::now();
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = initial(config, false)?;
    let mut rng = crate::runtime::Rng::new(seed);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let mut best: Option<(Vec<Choice>, Violation)> = None;
    for _ in 0..walks {
        let mut sim = root.fork(copy)?;
        let mut agreement = Agreement::new(config.nodes);
        let mut crashes_left = config.crashes;
        let mut path = Vec::new();
        loop {
            let options: Vec<Choice> = choices(&sim, crashes_left, false)
                .into_iter()
                .map(|m| m.choice)
                .collect();
            if options.is_empty() || best.as_ref().is_some_and(|(b, _)| path.len() >= b.len()) {
                break;
            }
            let choice = options[rng.index(options.len())];
            apply(&mut sim, choice, config.duplicates)?;
            transitions += 1;
            path.push(choice);
            crashes_left -= usize::from(matches!(choice, Choice::Crash(_)));
            let violation = sim
                .take_observed()
                .iter()
                .filter_map(|o| Some((o, o.protocol()?)))
                .flat_map(|(o, e)| agreement.observe(o.at, o.node, e))
                .next();
            if let Some(v) = violation {
                best = Some((path.clone(), v));
                break;
            }
        }
        max_depth = max_depth.max(path.len());
    }
    let counterexample = match best {
        Some((path, v)) => Some(replay(config, &path, v)?),
        None => None,
    };
    Ok(Exploration {
        states: 0,
        node_states: 0,
        transitions,
        max_depth,
        complete: false,
        seconds: started.elapsed().as_secs_f64(),
        counterexample,
    })
}
// ANCHOR_END: random_walks

/// The state at the end of `path`, rebuilt by replaying it from the initial state.
fn rebuild(config: &ExploreConfig, path: &[Choice]) -> Result<Sim<PaxosNode>> {
    let mut sim = initial(config, false)?;
    for &choice in path {
        apply(&mut sim, choice, config.duplicates)?;
    }
    sim.take_records();
    Ok(sim)
}

/// Replays `path` from the initial state with the trace on, describing each step.
fn replay(config: &ExploreConfig, path: &[Choice], violation: Violation) -> Result<Counterexample> {
    let mut sim = initial(config, true)?;
    let mut steps = Vec::with_capacity(path.len());
    for &choice in path {
        steps.push(describe(&sim, choice));
        apply(&mut sim, choice, config.duplicates)?;
    }
    Ok(Counterexample {
        violation,
        steps,
        records: sim.take_records(),
    })
}

/// One choice, in words, as it looks from `sim` before it is made.
fn describe(sim: &Sim<PaxosNode>, choice: Choice) -> String {
    let what = |seq: u64| {
        sim.pending()
            .into_iter()
            .find(|p| p.seq == seq)
            .map(|p| match p.what {
                PendingWhat::Start(n) => format!("{n} starts"),
                PendingWhat::Deliver { from, to, msg } => format!("{from} -> {to}: {msg:?}"),
                PendingWhat::Timer { node, timer } => format!("{node}'s {timer:?} timer fires"),
                PendingWhat::Request { node, client } => format!("{client} asks {node}"),
                PendingWhat::Action(a) => a.to_string(),
            })
            .unwrap_or_else(|| format!("event #{seq}"))
    };
    match choice {
        Choice::Run(seq) | Choice::Deliver(seq) => what(seq),
        Choice::Crash(id) => format!("{id} crashes and restarts"),
    }
}
