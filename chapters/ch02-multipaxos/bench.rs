//! `ch02-multipaxos bench`: how fast the linearizability checker decides.
//!
//! The histories are made up (`harness::histories`): clients that each run one
//! operation at a time, every operation taking effect at a random instant between its
//! call and its return, so the history is linearizable and the checker must find the
//! order, the hardest kind of verdict (an illegal history is often refuted early).

use std::time::Duration;

use serde_json::json;

use quorum::check::history::Workload;
use quorum::check::linearizable::{check, Verdict};
use quorum::harness::histories::{synthetic, Synthetic};

/// One timed check: its seconds and the states it went through.
fn time_check(spec: &Synthetic) -> quorum::Result<(f64, usize)> {
    let ops = synthetic(spec, 1);
    let report = check(&ops, spec.workload, Duration::from_secs(60));
    if report.verdict != Verdict::Ok {
        return Err(quorum::Error::Runtime(format!(
            "a made-up linearizable history was judged {}: a checker bug",
            report.verdict
        )));
    }
    let states = report.keys.iter().map(|k| k.states).sum();
    Ok((report.seconds, states))
}

/// Runs the benchmarks and prints their figures.
pub fn run(json: bool) -> quorum::Result<bool> {
    let kv = |ops, clients, keys| Synthetic {
        workload: Workload::Kv,
        clients,
        ops,
        keys,
        unanswered: 0.05,
        max_latency_us: 200,
        deletes_and_cas: false,
    };
    let (small_s, small_states) = time_check(&kv(2_000, 50, 10))?;
    let (large_s, large_states) = time_check(&kv(100_000, 256, 100))?;
    quorum::harness::bench::print_bench(
        "ch02-multipaxos",
        json,
        &[
            ("check_2000_ops_50_clients_10_keys_seconds", json!(small_s)),
            ("check_2000_ops_states", json!(small_states)),
            ("check_100000_ops_256_clients_100_keys_seconds", json!(large_s)),
            ("check_100000_ops_states", json!(large_states)),
        ],
        &[
            format!("checker: {small_s:.3} s for 2,000 kv operations (get, put, append) of 50 clients on 10 keys, 5% unanswered ({small_states} states)"),
            format!("checker: {large_s:.3} s for 100,000 kv operations (get, put, append) of 256 clients on 100 keys, 5% unanswered ({large_states} states)"),
        ],
    )?;
    Ok(true)
}
