//! The world the explorer drives: the simulator set up for a search, a choice applied
//! to it, and a path of choices replayed (to rebuild a state, or to tell a
//! counterexample step by step with the trace on).

use std::collections::HashSet;

use super::moves::{choices, Choice};
use super::{Counterexample, ExploreConfig};
use crate::check::Violation;
use crate::error::Result;
use crate::paxos::check::Agreement;
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

/// `path`, which ends in `violation`, with every step left out that the violation does
/// not need: a step is dropped when the run without it still reaches a violation, the
/// other steps named by what they do (a message's content, a timer, a crash), not by
/// where they sit in the queue. Dropping one step at a time until none can go leaves a
/// counterexample in which every step matters: no crash of a node that had nothing to
/// lose, no promise that nobody counts.
pub(super) fn shrink(
    config: &ExploreConfig,
    path: &[Choice],
    violation: Violation,
) -> Result<(Vec<Choice>, Violation)> {
    let Some(mut ids) = by_identity(config, path)? else {
        return Ok((path.to_vec(), violation));
    };
    let mut best = (path.to_vec(), violation);
    // Passes from the last step back, until one leaves nothing out: dropping a step can
    // make a later one, kept before, unnecessary.
    let mut dropped = true;
    while dropped {
        dropped = false;
        let mut at = ids.len();
        while at > 0 {
            at -= 1;
            let mut fewer = ids.clone();
            fewer.remove(at);
            if let Some((choices, v)) = violates(config, &fewer)? {
                ids = fewer;
                ids.truncate(choices.len());
                at = at.min(ids.len());
                best = (choices, v);
                dropped = true;
            }
        }
    }
    Ok(best)
}

/// The identities of `path`'s steps, or `None` if a step is not offered where it comes.
fn by_identity(config: &ExploreConfig, path: &[Choice]) -> Result<Option<Vec<u64>>> {
    let mut sim = initial(config, false)?;
    let mut crashes_left = config.crashes;
    let mut ids = Vec::with_capacity(path.len());
    for &choice in path {
        let offered = choices(&sim, crashes_left, false);
        let Some(m) = offered.iter().find(|m| m.choice == choice) else {
            return Ok(None);
        };
        ids.push(m.id);
        crashes_left -= usize::from(m.is_crash());
        apply(&mut sim, choice, config.duplicates)?;
    }
    Ok(Some(ids))
}

/// Plays the steps named `ids` from the initial state, checked after each; the choices
/// made up to the first violation, and the violation. `None` if a step is not possible
/// where it comes, or no violation occurs.
fn violates(config: &ExploreConfig, ids: &[u64]) -> Result<Option<(Vec<Choice>, Violation)>> {
    let mut sim = initial(config, false)?;
    let mut agreement = Agreement::new(config.nodes);
    let mut crashes_left = config.crashes;
    let mut path = Vec::with_capacity(ids.len());
    for &id in ids {
        let offered = choices(&sim, crashes_left, false);
        let Some(m) = offered.iter().find(|m| m.id == id) else {
            return Ok(None);
        };
        crashes_left -= usize::from(m.is_crash());
        apply(&mut sim, m.choice, config.duplicates)?;
        path.push(m.choice);
        if let Some(v) = first_violation(&mut sim, &mut agreement) {
            return Ok(Some((path, v)));
        }
    }
    Ok(None)
}

/// The first violation that the events recorded since the last call reveal to
/// `agreement`, which takes them in.
pub(super) fn first_violation(
    sim: &mut Sim<PaxosNode>,
    agreement: &mut Agreement,
) -> Option<Violation> {
    sim.take_observed()
        .iter()
        .filter_map(|o| Some((o, o.protocol()?)))
        .flat_map(|(o, e)| agreement.observe(o.at, o.node, e))
        .next()
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
                PendingWhat::Request { node, call } => format!("{call} asks {node}"),
                PendingWhat::Action(a) => a.to_string(),
            })
            .unwrap_or_else(|| format!("event #{seq}"))
    };
    match choice {
        Choice::Run(seq) | Choice::Deliver(seq) => what(seq),
        Choice::Crash(id) => format!("{id} crashes and restarts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::Rule;
    use clap::ValueEnum;

    /// A random walk, seeded, until a property breaks: the path and the violation.
    fn walk_to_violation(config: &ExploreConfig, seed: u64) -> Option<(Vec<Choice>, Violation)> {
        let mut rng = crate::runtime::Rng::new(seed);
        let mut sim = initial(config, false).ok()?;
        let mut agreement = Agreement::new(config.nodes);
        let mut crashes_left = config.crashes;
        let mut path = Vec::new();
        loop {
            let offered = choices(&sim, crashes_left, false);
            if offered.is_empty() {
                return None;
            }
            let m = offered[rng.index(offered.len())];
            crashes_left -= usize::from(m.is_crash());
            apply(&mut sim, m.choice, config.duplicates).ok()?;
            path.push(m.choice);
            if let Some(v) = first_violation(&mut sim, &mut agreement) {
                return Some((path, v));
            }
        }
    }

    #[test]
    fn a_shrunk_counterexample_still_fails_and_needs_every_step() {
        let mut shortened = 0;
        for &rule in Rule::value_variants() {
            let config = ExploreConfig {
                broken: Some(rule),
                crashes: 1,
                ..ExploreConfig::default()
            };
            let (path, violation) = (0..5000)
                .find_map(|seed| walk_to_violation(&config, seed))
                .unwrap_or_else(|| panic!("no walk breaks a property without {rule:?}"));
            let (short, _) = shrink(&config, &path, violation).expect("shrinks");
            assert!(
                short.len() <= path.len(),
                "{rule:?}: shrinking lengthened the run"
            );
            shortened += usize::from(short.len() < path.len());
            let ids = by_identity(&config, &short)
                .expect("replays")
                .expect("every step of the shrunk run is possible where it comes");
            assert!(
                violates(&config, &ids).expect("replays").is_some(),
                "{rule:?}: the shrunk run no longer breaks a property"
            );
            for at in 0..ids.len() {
                let mut fewer = ids.clone();
                fewer.remove(at);
                assert!(
                    violates(&config, &fewer).expect("replays").is_none(),
                    "{rule:?}: step {} of the shrunk run ({} steps) can still be left out",
                    at + 1,
                    ids.len()
                );
            }
        }
        assert!(shortened > 0, "no random walk's run was shortened at all");
    }
}
