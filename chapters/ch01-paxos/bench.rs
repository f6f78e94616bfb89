//! `ch01-paxos bench`: decisions per second, and explorer states per second.
//!
//! Single-decree Paxos decides once, so "decisions per second" times whole decisions:
//! a fresh three-node cluster, one proposer, from start until every node has learned,
//! repeated. On threads that includes starting and joining three threads; in the
//! simulator it includes building the cluster. Storage is in memory, so no fsync is
//! timed (chapter 4 measures durable throughput).

use std::time::{Duration, Instant};

use serde_json::json;

use quorum::paxos::explore::{explore, ExploreConfig};
use quorum::paxos::{run, PaxosConfig};
use quorum::runtime::{Faults, NodeId, SimConfig, Threads, ThreadsConfig, Time};
use quorum::storage::Location;

fn sim_decisions_per_sec(decisions: u64) -> quorum::Result<f64> {
    let started = Instant::now();
    for seed in 0..decisions {
        let (mut sim, _) =
            run::checked_sim(SimConfig::new(3, seed), &PaxosConfig::new(3, None), 1)?;
        let done = sim.run_until_true(Time(10_000_000), |s| {
            s.live_nodes().all(|(_, n)| n.chosen().is_some())
        })?;
        if !done {
            return Err(quorum::Error::Runtime(format!(
                "seed {seed} did not decide"
            )));
        }
    }
    Ok(decisions as f64 / started.elapsed().as_secs_f64())
}

fn threads_decisions_per_sec(decisions: u64) -> quorum::Result<f64> {
    let started = Instant::now();
    for seed in 0..decisions {
        let config = ThreadsConfig {
            nodes: 3,
            seed,
            faults: Faults::reliable(),
            trace: quorum::runtime::TraceLevel::Off,
        };
        let mut base = PaxosConfig::new(3, None);
        base.retry = Duration::from_millis(20);
        let locations = (0..3).map(|_| Location::memory()).collect();
        let mut threads = Threads::start(config, locations, run::factory(&base, 1))?;
        for id in NodeId::all(3) {
            threads.call(id, (), Duration::from_secs(10))?;
        }
        threads.stop()?;
    }
    Ok(decisions as f64 / started.elapsed().as_secs_f64())
}

/// Runs the benchmarks and prints their figures.
pub fn run(decisions: u64, json: bool) -> quorum::Result<bool> {
    let sim = sim_decisions_per_sec(decisions)?;
    let threads = threads_decisions_per_sec(decisions)?;
    let e = explore(&ExploreConfig {
        max_ballots: 1,
        crashes: 1,
        proposers: 2,
        ..ExploreConfig::default()
    })?;
    let states_per_sec = e.states as f64 / e.seconds.max(1e-9);
    let transitions_per_sec = e.transitions as f64 / e.seconds.max(1e-9);
    quorum::harness::bench::print_bench(
        "ch01-paxos",
        json,
        &[
            ("decisions", json!(decisions)),
            ("sim_decisions_per_sec", json!(sim.round())),
            ("threads_decisions_per_sec", json!(threads.round())),
            ("explorer_states", json!(e.states)),
            ("explorer_states_per_sec", json!(states_per_sec.round())),
            ("explorer_transitions_per_sec", json!(transitions_per_sec.round())),
        ],
        &[
            format!("simulator: {sim:>10.0} decisions/s (fresh 3-node cluster each, one proposer)"),
            format!("threads:   {threads:>10.0} decisions/s (fresh 3 threads each, one proposer)"),
            format!(
                "explorer:  {states_per_sec:>10.0} states/s, {transitions_per_sec:.0} transitions/s ({} states, 2 proposers x 3 acceptors, 1 ballot each, 1 crash)",
                e.states
            ),
        ],
    )?;
    Ok(true)
}
