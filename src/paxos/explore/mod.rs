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
//! After every step it runs the [`Agreement`](crate::paxos::check::Agreement) checker.
//! A violation stops the search; the path to it is replayed with the runtime's trace
//! on, so it can be read step by step and drawn as a space-time diagram.
//!
//! The bound that keeps the space finite: each proposer tries at most `max_ballots`
//! ballots, learners never re-ask, and delays need no modelling (a delay is just a
//! later delivery, which the explorer's free choice of order covers).
//!
//! Files:
//!
//! - `search.rs`: [`explore`] (the search loop, and the reductions it applies, in its
//!   documentation) and [`random_walks`];
//! - `world.rs`: the simulator set up for a search, a choice applied to it, a path
//!   replayed (to rebuild a state, or to tell a counterexample with the trace on);
//! - `moves.rs`: every choice in a state, named by content, and which moves commute
//!   (the sleep sets);
//! - `shape.rs`: a state's key: the nodes' states and storage hashed, the events
//!   pending, all filed under the renaming of acceptors that names it smallest;
//! - `dead.rs`: what will never matter again: dead messages, closed ballots, doomed
//!   proposers;
//! - `hooks.rs`: the explorer's methods on `PaxosNode`, `Proposer`, `Learner` and
//!   `Agreement`, which the protocol itself never calls.
//!
//! What knows nothing of Paxos is in [`crate::check::explore`]: the fingerprint
//! hasher, the renamings of interchangeable nodes, and the set of states explored, with
//! covering and sleep sets.

mod dead;
mod hooks;
mod moves;
mod search;
mod shape;
mod world;

use serde::Serialize;

pub use search::{explore, random_walks, WALK_STEPS_WITH_DUPLICATES};

use crate::check::Violation;
use crate::paxos::Rule;
use crate::runtime::trace::Record;

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
    /// Show the states explored so far on stderr, when it is a terminal.
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
