//! `ch03-raft-election bench`: how fast the simulator runs elections.
//!
//! One figure per runtime. Simulator: trials of the chapter's experiment per second
//! (a fresh five-node cluster elects a leader, the leader is crashed, a new one is
//! elected: at least two elections per trial). Threads: elections cost real time (an election
//! timeout of 150–300 ms), so what is timed on threads is the failover itself, by
//! `ch03-raft-election --crash-leader-every`; the bench reports it for a 5 s run.

use std::time::{Duration, Instant};

use serde_json::json;

use quorum::raft::experiment::{self, Setup};
use quorum::raft::{run, RaftConfig};
use quorum::runtime::{Action, Faults, Threads, ThreadsConfig};
use quorum::storage::Location;

/// Experiment trials per second in the simulator, over `trials` trials.
fn sim_trials_per_sec(trials: u64) -> quorum::Result<f64> {
    let started = Instant::now();
    experiment::trials(&Setup::paper(150, 300), 0, trials)?;
    Ok(trials as f64 / started.elapsed().as_secs_f64())
}

/// On threads: a 5-node cluster whose leader is crashed every second for `crashes`
/// seconds (and restarted half a second later); the time from each crash until a node
/// reports leading a newer term, in milliseconds, sorted.
fn threads_failovers(crashes: u32) -> quorum::Result<Vec<f64>> {
    let config = ThreadsConfig {
        nodes: 5,
        seed: 1,
        faults: Faults::reliable(),
        trace: true,
    };
    let locations = (0..5).map(|_| Location::memory()).collect();
    let mut threads = Threads::start(config, locations, run::factory(&RaftConfig::new(5)))?;
    let started = Instant::now();
    let mut crash_times = Vec::new();
    for k in 1..=crashes {
        std::thread::sleep((Duration::from_secs(k as u64)).saturating_sub(started.elapsed()));
        let leader = crate::threads_leader(&threads, 5)?;
        if let Some((id, term)) = leader {
            crash_times.push((threads.now(), term));
            threads.apply(&Action::Crash(id))?;
            std::thread::sleep(Duration::from_millis(500));
            threads.apply(&Action::Restart(id))?;
        }
    }
    std::thread::sleep(Duration::from_millis(400));
    threads.stop()?;
    let records = threads.take_records();
    let mut failovers: Vec<f64> = crash_times
        .iter()
        .filter_map(|&(at, term)| {
            records
                .iter()
                .find(|r| {
                    r.event == "became_leader"
                        && r.t_us > at.as_micros()
                        && r.u64_field("term").is_some_and(|t| t > term)
                })
                .map(|r| (r.t_us - at.as_micros()) as f64 / 1000.0)
        })
        .collect();
    failovers.sort_by(f64::total_cmp);
    Ok(failovers)
}

/// Runs the benchmarks and prints their figures.
pub fn run(json: bool) -> quorum::Result<bool> {
    let sim = sim_trials_per_sec(2000)?;
    let failovers = threads_failovers(5)?;
    let median = failovers
        .get(failovers.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    quorum::cli::print_bench(
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
                "threads: {} failovers in a 5 s run, median {median:.1}ms (150–300ms timeouts, 50ms heartbeats)",
                failovers.len()
            ),
        ],
    )?;
    Ok(true)
}
