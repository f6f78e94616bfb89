//! The exhaustive explorer: every order of deliveries, every loss, one crash.
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
//! States it has seen before (the same node states and storage, the same set of
//! messages in flight, the same history of acceptances, compared by a 64-bit hash, so
//! a collision could in principle hide a state) are not explored again, so the search
//! ends, and the number of distinct states it reports is the size of the space it
//! checked.
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
use super::{run, PaxosConfig, PaxosNode, Rule};
use crate::check::Violation;
use crate::error::Result;
use crate::runtime::sim::PendingWhat;
use crate::runtime::trace::Record;
use crate::runtime::{Action, NodeId, Sim, SimConfig};

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
    /// Apply the two reductions of [`explore`] (moves that change nothing, sleep
    /// sets). Off, the search takes every move from every state: slower, and the
    /// yardstick that shows the reductions lose no node state.
    pub reduce: bool,
}

impl Default for ExploreConfig {
    /// The chapter's configuration: 2 proposers, 3 acceptors, 2 ballots each, one
    /// crash and restart.
    fn default() -> Self {
        ExploreConfig {
            nodes: 3,
            proposers: 2,
            max_ballots: 2,
            crashes: 1,
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
    /// Distinct states reached (the initial state included).
    pub states: usize,
    /// Distinct combinations of node states (protocol state and storage of every
    /// node) and acceptance history among them, messages in flight left aside: what
    /// the checks read, and what the reductions must not lose.
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
    /// Index of the step that led here in the search's arena (for the path).
    at: usize,
    depth: usize,
    /// The sleep set: moves not to take from here, because a sibling branch already
    /// takes them in an order that reaches the same states.
    sleep: Vec<Move>,
    /// On a second visit, only these moves (by identity) are left to take: the first
    /// visit took the others.
    only: Option<Vec<u64>>,
    /// The state's shape, when already computed.
    shape: Option<Shape>,
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
    let sim_config = SimConfig {
        trace,
        ..SimConfig::new(config.nodes, 0)
    };
    let locations = (0..config.nodes)
        .map(|_| crate::storage::Location::memory())
        .collect();
    let factory = run::factory(&node_config(config), config.proposers);
    Sim::with_storage(sim_config, locations, factory)
}

/// A choice as the search's bookkeeping sees it: which node it acts on, and an
/// identity that names the same choice in every state where it is possible (the
/// content of the pending event it runs, not its sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Move {
    choice: Choice,
    id: u64,
    node: NodeId,
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
    /// are possible, they lead to the same state, and neither disables the other.
    /// Moves at different nodes do: each changes only its own node and adds messages
    /// to the network, and a message in flight stays deliverable. Two crashes do not,
    /// since they share the crash budget.
    fn independent(&self, other: &Move) -> bool {
        self.node != other.node
            && self.node != NodeId(0)
            && other.node != NodeId(0)
            && !(self.is_crash() && other.is_crash())
    }
}

/// Every choice the explorer may make in a state.
fn choices(sim: &Sim<PaxosNode>, crashes_left: usize, reduce: bool) -> Vec<Move> {
    let mut out: Vec<Move> = sim
        .pending()
        .iter()
        .filter(|p| !dead(sim, &p.what, reduce.then_some(crashes_left > 0)))
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
            Move {
                choice,
                id: pending_hash(&p.what),
                node,
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
                    id: hash_of((5u8, id)),
                    node: id,
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
    nodes: Vec<u64>,
    pending: Vec<u64>,
    /// Each pending event's sequence number and hash, by sequence number: what lets
    /// the next state's shape reuse the hashes of the events it still has.
    by_seq: Vec<(u64, u64)>,
}

fn node_hash(sim: &Sim<PaxosNode>, id: NodeId) -> Result<u64> {
    Ok(match sim.node(id) {
        Some(node) => hash_of((node, node.durable_state()?)),
        None => 0,
    })
}

impl Shape {
    fn of(sim: &Sim<PaxosNode>, may_crash: Option<bool>) -> Result<Shape> {
        let nodes = sim
            .ids()
            .into_iter()
            .map(|id| node_hash(sim, id))
            .collect::<Result<Vec<u64>>>()?;
        Ok(Shape::with_nodes(sim, nodes, None, may_crash))
    }

    /// The shape of `sim`, one move after the state of shape `before`: only the node
    /// the move acted on can have changed, and only new events need hashing.
    fn after(
        sim: &Sim<PaxosNode>,
        before: &Shape,
        moved: NodeId,
        may_crash: Option<bool>,
    ) -> Result<Shape> {
        let mut nodes = before.nodes.clone();
        match moved.index_in(nodes.len()) {
            Some(i) => nodes[i] = node_hash(sim, moved)?,
            None => return Shape::of(sim, may_crash),
        }
        Ok(Shape::with_nodes(sim, nodes, Some(before), may_crash))
    }

    /// The shape of `sim` with these node hashes. Messages their receiver ignores for
    /// good are left out of `pending`: a state that still carries one has the same
    /// future as a state without it.
    fn with_nodes(
        sim: &Sim<PaxosNode>,
        nodes: Vec<u64>,
        before: Option<&Shape>,
        may_crash: Option<bool>,
    ) -> Shape {
        let mut by_seq = Vec::new();
        let mut pending = Vec::new();
        for p in sim.pending() {
            let known = before.and_then(|b| {
                b.by_seq
                    .binary_search_by_key(&p.seq, |&(seq, _)| seq)
                    .ok()
                    .map(|i| b.by_seq[i].1)
            });
            let hash = known.unwrap_or_else(|| pending_hash(&p.what));
            by_seq.push((p.seq, hash));
            if !dead(sim, &p.what, may_crash) {
                pending.push(hash);
            }
        }
        by_seq.sort_unstable();
        pending.sort_unstable();
        Shape {
            nodes,
            pending,
            by_seq,
        }
    }

    /// The fingerprint of a state of this shape: the shape (two identical messages in
    /// flight counted once), the history of acceptances, and the crash budget left.
    fn fingerprint(&self, agreement: &Agreement, crashes_left: usize) -> u64 {
        let mut pending = self.pending.clone();
        pending.dedup();
        hash_of((&self.nodes, pending, agreement, crashes_left))
    }

    /// Whether `after` is this shape with the pending event `gone` taken away and
    /// nothing else changed: the event was run and did nothing.
    fn lost_only(&self, gone: u64, after: &Shape) -> bool {
        self.nodes == after.nodes
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

/// Whether the pending event is a message its receiver ignores for good.
fn dead(sim: &Sim<PaxosNode>, what: &PendingWhat<'_, PaxosNode>, may_crash: Option<bool>) -> bool {
    let Some(may_crash) = may_crash else {
        return false; // no reductions
    };
    match what {
        PendingWhat::Deliver { to, msg, .. } => sim
            .node(*to)
            .is_some_and(|n| n.ignores_for_good(msg, may_crash)),
        _ => false,
    }
}

fn pending_hash(what: &PendingWhat<'_, PaxosNode>) -> u64 {
    match what {
        PendingWhat::Start(n) => hash_of((0u8, n)),
        PendingWhat::Deliver { from, to, msg } => hash_of((1u8, from, to, msg)),
        PendingWhat::Timer { node, timer } => hash_of((2u8, node, timer)),
        PendingWhat::Request { node, .. } => hash_of((3u8, node)),
        PendingWhat::Action(a) => hash_of((4u8, a.to_string())),
    }
}

// ANCHOR: explore
/// Explores every reachable state of `config`, depth first (or breadth first).
///
/// Two reductions keep the search small, and neither loses a reachable state. A move
/// that changes nothing but its own removal from the network (a late promise ignored,
/// say) is not taken: it leads to this state with a message lost, which this state
/// covers by never delivering it. And *sleep sets* (Godefroid, 1996) skip orders that
/// differ only in moves that commute: after exploring "deliver a to n1" from a state,
/// the sibling branch "deliver b to n2" does not deliver a next, since "b then a"
/// reaches the state "a then b" already reached. A state seen before is explored again
/// only for the moves that were asleep on its first visit and are awake now.
pub fn explore(config: &ExploreConfig) -> Result<Exploration> {
    let started = Instant::now();
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = State {
        sim: Some(initial(config, false)?),
        agreement: Agreement::new(config.nodes),
        crashes_left: config.crashes,
        at: 0,
        depth: 0,
        sleep: Vec::new(),
        only: None,
        shape: None,
    };
    // Each state seen, by fingerprint, with the identities of the moves asleep there.
    let mut seen: HashMap<u64, Box<[u64]>> = HashMap::new();
    // The node states (and acceptance histories) reached, messages in flight aside.
    let mut node_states: HashSet<u64> = HashSet::new();
    if let Some(sim) = &root.sim {
        let shape = Shape::of(sim, config.reduce.then_some(root.crashes_left > 0))?;
        seen.insert(
            shape.fingerprint(&root.agreement, root.crashes_left),
            Box::default(),
        );
        node_states.insert(hash_of((&shape.nodes, &root.agreement)));
    }
    // arena[i] = (the step before, the choice made): the paths of every state.
    let mut arena: Vec<(usize, Option<Choice>)> = vec![(0, None)];
    let mut stack = VecDeque::from([root]);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let finish = |seen: &HashMap<u64, Box<[u64]>>,
                  node_states: &HashSet<u64>,
                  transitions,
                  max_depth,
                  complete,
                  counterexample| Exploration {
        states: seen.len(),
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
            None => rebuild(config, &path_to(&arena, state.at))?,
        };
        let shape = match state.shape.take() {
            Some(shape) => shape,
            None => Shape::of(&sim, config.reduce.then_some(state.crashes_left > 0))?,
        };
        let moves = choices(&sim, state.crashes_left, config.reduce);
        // Moves asleep here: the sleep set, and on a second visit every move the
        // first visit took.
        let mut asleep: Vec<Move> = state.sleep.clone();
        if !config.reduce {
            asleep.clear();
        }
        if let Some(only) = &state.only {
            asleep.extend(moves.iter().filter(|m| !only.contains(&m.id)));
        }
        let mut taken: Vec<Move> = Vec::new();
        for &m in &moves {
            if asleep.iter().any(|a| a.id == m.id) || taken.iter().any(|t| t.id == m.id) {
                continue;
            }
            let sleep: Vec<Move> = asleep
                .iter()
                .chain(&taken)
                .filter(|u| config.reduce && u.independent(&m))
                .copied()
                .collect();
            taken.push(m);
            let mut next = sim.fork(copy)?;
            apply(&mut next, m.choice, config.duplicates)?;
            transitions += 1;
            let mut agreement = state.agreement.clone();
            let violations: Vec<Violation> = next
                .take_records()
                .iter()
                .flat_map(|r| agreement.observe_record(r))
                .collect();
            if let Some(violation) = violations.into_iter().next() {
                arena.push((state.at, Some(m.choice)));
                let path = path_to(&arena, arena.len() - 1);
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
            let next_shape = Shape::after(
                &next,
                &shape,
                m.node,
                config.reduce.then_some(crashes_left > 0),
            )?;
            // A move that changed nothing but its own removal from the queue: see above.
            node_states.insert(hash_of((&next_shape.nodes, &agreement)));
            if config.reduce
                && !config.duplicates
                && m.may_skip
                && agreement == state.agreement
                && shape.lost_only(m.id, &next_shape)
            {
                continue;
            }
            let fingerprint = next_shape.fingerprint(&agreement, crashes_left);
            let mut ids: Vec<u64> = sleep.iter().map(|u| u.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let only = match seen.get_mut(&fingerprint) {
                None => {
                    seen.insert(fingerprint, ids.into_boxed_slice());
                    None
                }
                Some(before) => {
                    // Seen: explore again only the moves asleep then and awake now.
                    let woken: Vec<u64> = before
                        .iter()
                        .filter(|id| ids.binary_search(id).is_err())
                        .copied()
                        .collect();
                    if woken.is_empty() {
                        continue;
                    }
                    *before = before
                        .iter()
                        .filter(|id| ids.binary_search(id).is_ok())
                        .copied()
                        .collect();
                    Some(woken)
                }
            };
            if seen.len() >= config.max_states {
                return Ok(finish(
                    &seen,
                    &node_states,
                    transitions,
                    max_depth,
                    false,
                    None,
                ));
            }
            arena.push((state.at, Some(m.choice)));
            max_depth = max_depth.max(state.depth + 1);
            if config.progress && only.is_none() && seen.len() % 1_000_000 == 0 {
                eprintln!(
                    "explore: {} states, {transitions} transitions, depth {max_depth}, stack {}, {:.0}s",
                    seen.len(),
                    stack.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            stack.push_back(State {
                sim: (!config.breadth_first).then_some(next),
                agreement,
                crashes_left,
                at: arena.len() - 1,
                depth: state.depth + 1,
                sleep,
                only,
                shape: (!config.breadth_first).then_some(next_shape),
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
                .take_records()
                .iter()
                .flat_map(|r| agreement.observe_record(r))
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

/// The choices from the initial state to arena entry `at`.
fn path_to(arena: &[(usize, Option<Choice>)], mut at: usize) -> Vec<Choice> {
    let mut path = Vec::new();
    while let (parent, Some(choice)) = arena[at] {
        path.push(choice);
        at = parent;
    }
    path.reverse();
    path
}

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
