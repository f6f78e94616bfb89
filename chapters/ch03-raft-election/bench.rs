//! `ch03-raft-election bench`: how fast the simulator runs elections.
//!
//! One figure per runtime. Simulator: trials of the chapter's experiment per second
//! (a fresh five-node cluster elects a leader, the leader is crashed, a new one is
//! elected: at least two elections per trial). Threads: elections cost real time (an
//! election timeout of 150–300 ms), so what is timed on threads is the failover itself,
//! by the binary's own `--crash-leader-every` run, with five crashes, one a second.

use std::time::Instant;

use serde_json::json;

use quorum::raft::experiment::{self, Setup};

/// Experiment trials per second in the simulator, over `trials` trials.
fn sim_trials_per_sec(trials: u64) -> quorum::Result<f64> {
    let started = Instant::now();
    experiment::trials(&Setup::paper(150, 300), 0, trials)?;
    Ok(trials as f64 / started.elapsed().as_secs_f64())
}

/// On threads: the binary's own run, `--nodes 5 --crash-leader-every 1s --duration
/// 5500ms` (the leader crashed at 1, 2, 3, 4 and 5 s, each restarted half a second
/// later); the time from each crash until a leader of a newer term is elected, in
/// milliseconds, sorted.
fn threads_failovers() -> quorum::Result<Vec<f64>> {
    let cli = <crate::Cli as clap::Parser>::parse_from([
        "ch03-raft-election",
        "--nodes",
        "5",
        "--crash-leader-every",
        "1s",
        "--duration",
        "5500ms",
    ]);
    let scenario = crate::validate(&cli);
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch03-raft-election")?;
    let (outcome, _) = scenario.threads(c.threads_config(), locations, c.tap()?)?;
    let mut failovers: Vec<f64> = outcome
        .failovers()
        .into_iter()
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    failovers.sort_by(f64::total_cmp);
    Ok(failovers)
}

/// Runs the benchmarks and prints their figures.
pub fn run(json: bool) -> quorum::Result<bool> {
    let sim = sim_trials_per_sec(2000)?;
    let failovers = threads_failovers()?;
    let median = failovers
        .get(failovers.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    quorum::harness::bench::print_bench(
        "ch03-raft-election",
        json,
        &[
            ("sim_trials_per_sec", json!(sim)),
            ("threads_failover_ms", json!(failovers)),
        ],
        &[
            format!(
                "simulator: {sim:.0} experiment trials/s (each: a fresh 5-node cluster elects a leader, loses it, elects another)"
            ),
            format!(
                "threads: {} failovers, one crash a second, median {median:.1}ms (150–300ms timeouts, 50ms heartbeats)",
                failovers.len()
            ),
        ],
    )?;
    Ok(true)
}
