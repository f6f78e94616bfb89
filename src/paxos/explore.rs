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

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
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
        }
    }
}

/// What the search found.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    /// Distinct states reached (the initial state included).
    pub states: usize,
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

/// Every choice the explorer may make in a state.
fn choices(sim: &Sim<PaxosNode>, crashes_left: usize) -> Vec<Choice> {
    let mut out: Vec<Choice> = sim
        .pending()
        .iter()
        .map(|p| match p.what {
            PendingWhat::Deliver { .. } => Choice::Deliver(p.seq),
            _ => Choice::Run(p.seq),
        })
        .collect();
    if crashes_left > 0 {
        out.extend(sim.live_nodes().map(|(id, _)| Choice::Crash(id)));
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

/// A hash of everything that decides a state's future and its checks: each node's
/// protocol state and storage, the set of pending events (by content, not by sequence
/// number), the history of acceptances, and the crash budget left.
fn fingerprint(sim: &Sim<PaxosNode>, agreement: &Agreement, crashes_left: usize) -> Result<u64> {
    let mut h = DefaultHasher::new();
    for id in sim.ids() {
        match sim.node(id) {
            Some(node) => {
                node.hash(&mut h);
                node.durable_state()?.hash(&mut h);
            }
            None => 0u8.hash(&mut h),
        }
    }
    let mut pending: Vec<u64> = sim
        .pending()
        .iter()
        .map(|p| {
            let mut e = DefaultHasher::new();
            match &p.what {
                PendingWhat::Start(n) => (0u8, n).hash(&mut e),
                PendingWhat::Deliver { from, to, msg } => (1u8, from, to, msg).hash(&mut e),
                PendingWhat::Timer { node, timer } => (2u8, node, timer).hash(&mut e),
                PendingWhat::Request { node, .. } => (3u8, node).hash(&mut e),
                PendingWhat::Action(a) => (4u8, a.to_string()).hash(&mut e),
            }
            e.finish()
        })
        .collect();
    pending.sort_unstable();
    pending.dedup();
    pending.hash(&mut h);
    agreement.hash(&mut h);
    crashes_left.hash(&mut h);
    Ok(h.finish())
}

// ANCHOR: explore
/// Explores every reachable state of `config`, depth first (or breadth first).
pub fn explore(config: &ExploreConfig) -> Result<Exploration> {
    let started = Instant::now();
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = State {
        sim: Some(initial(config, false)?),
        agreement: Agreement::new(config.nodes),
        crashes_left: config.crashes,
        at: 0,
        depth: 0,
    };
    let mut seen = HashSet::new();
    if let Some(sim) = &root.sim {
        seen.insert(fingerprint(sim, &root.agreement, root.crashes_left)?);
    }
    // arena[i] = (the step before, the choice made): the paths of every state.
    let mut arena: Vec<(usize, Option<Choice>)> = vec![(0, None)];
    let mut stack = VecDeque::from([root]);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    while let Some(mut state) = if config.breadth_first {
        stack.pop_front()
    } else {
        stack.pop_back()
    } {
        let sim = match state.sim.take() {
            Some(sim) => sim,
            None => rebuild(config, &path_to(&arena, state.at))?,
        };
        for choice in choices(&sim, state.crashes_left) {
            let mut next = sim.fork(copy)?;
            apply(&mut next, choice, config.duplicates)?;
            transitions += 1;
            let mut agreement = state.agreement.clone();
            let violations: Vec<Violation> = next
                .take_records()
                .iter()
                .flat_map(|r| agreement.observe_record(r))
                .collect();
            if let Some(violation) = violations.into_iter().next() {
                arena.push((state.at, Some(choice)));
                let path = path_to(&arena, arena.len() - 1);
                return Ok(Exploration {
                    states: seen.len(),
                    transitions,
                    max_depth: max_depth.max(state.depth + 1),
                    complete: false,
                    seconds: started.elapsed().as_secs_f64(),
                    counterexample: Some(replay(config, &path, violation)?),
                });
            }
            let crashes_left = state.crashes_left - usize::from(matches!(choice, Choice::Crash(_)));
            if !seen.insert(fingerprint(&next, &agreement, crashes_left)?) {
                continue;
            }
            if seen.len() >= config.max_states {
                return Ok(Exploration {
                    states: seen.len(),
                    transitions,
                    max_depth,
                    complete: false,
                    seconds: started.elapsed().as_secs_f64(),
                    counterexample: None,
                });
            }
            arena.push((state.at, Some(choice)));
            max_depth = max_depth.max(state.depth + 1);
            if config.progress && seen.len() % 1_000_000 == 0 {
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
            });
        }
    }
    Ok(Exploration {
        states: seen.len(),
        transitions,
        max_depth,
        complete: true,
        seconds: started.elapsed().as_secs_f64(),
        counterexample: None,
    })
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
            let options = choices(&sim, crashes_left);
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
