//! The world the explorer drives: the simulator set up for a search, a choice applied
//! to it, and a path of choices replayed (to rebuild a state, or to tell a
//! counterexample step by step with the trace on).

use std::collections::HashSet;

use super::moves::Choice;
use super::{Counterexample, ExploreConfig};
use crate::check::Violation;
use crate::error::Result;
use crate::paxos::{run, PaxosConfig, PaxosNode};
use crate::runtime::sim::PendingWhat;
use crate::runtime::{Action, Sim, SimConfig, TraceLevel};

/// The node configuration the explorer runs.
fn node_config(config: &ExploreConfig) -> PaxosConfig {
    let mut base = PaxosConfig::new(config.nodes, None);
    base.backoff = false;
    base.max_ballots = Some(config.max_ballots);
    base.query_every = None;
    base.broken = config.broken;
    base
}

pub(super) fn initial(config: &ExploreConfig, trace: bool) -> Result<Sim<PaxosNode>> {
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

pub(super) fn apply(sim: &mut Sim<PaxosNode>, choice: Choice, duplicates: bool) -> Result<()> {
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

/// The state at the end of `path`, rebuilt by replaying it from the initial state.
pub(super) fn rebuild(config: &ExploreConfig, path: &[Choice]) -> Result<Sim<PaxosNode>> {
    let mut sim = initial(config, false)?;
    for &choice in path {
        apply(&mut sim, choice, config.duplicates)?;
    }
    sim.take_records();
    Ok(sim)
}

/// Replays `path` from the initial state with the trace on, describing each step.
pub(super) fn replay(
    config: &ExploreConfig,
    path: &[Choice],
    violation: Violation,
) -> Result<Counterexample> {
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
