//! `ch02-multipaxos bench`: how fast the services answer on threads, beside a bare
//! request/reply over crossbeam measured in the same run, and how fast the
//! linearizability checker decides.
//!
//! The service figures are whole runs of `ch02-multipaxos run`: the single server on
//! its thread, the clients on one thread of their own (sessions, exactly-once, a
//! recorded history), and the history checked at the end. The checker's histories are
//! made up (`harness::histories`): clients that each run one operation at a time,
//! every operation taking effect at a random instant between its call and its return,
//! so the history is linearizable and the checker must find the order, the hardest
//! kind of verdict (an illegal history is often refuted early).

use std::time::Duration;

use serde_json::{json, Value};

use quorum::check::history::Workload;
use quorum::check::linearizable::{check, Verdict};
use quorum::client::{ClientConfig, ClientSpec};
use quorum::harness::bench::{bare_request_reply, RequestRate};
use quorum::harness::histories::{synthetic, Synthetic};
use quorum::multipaxos::run::{Scenario, ServiceKind};
use quorum::runtime::{Faults, Schedule, TraceLevel};

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

/// The single server on threads with `clients` clients, each with up to `window`
/// requests in flight, `ops` operations in all: its rate and latency, and the
/// checker's seconds on its history (which must be linearizable).
fn single_server(clients: usize, window: usize, ops: usize) -> quorum::Result<(RequestRate, f64)> {
    let scenario = Scenario {
        service: ServiceKind::Single,
        nodes: 1,
        faults: Faults::reliable(),
        schedule: Schedule::default(),
        duration: Duration::from_secs(120),
        clients: ClientSpec {
            clients,
            ops_per_client: ops.div_ceil(clients),
            workload: Workload::Kv,
            keys: (clients / 4).max(10),
            config: ClientConfig {
                nodes: 1,
                window,
                ..ClientConfig::default()
            },
            faults: Faults::reliable(),
            cut_off: Vec::new(),
            lose_first_replies: false,
        },
        budget: Duration::from_secs(60),
        client_threads: 1,
    };
    let o = scenario.threads(1, TraceLevel::Off)?;
    if o.report.verdict != Verdict::Ok || o.report.unknown_ops > 0 {
        return Err(quorum::Error::Runtime(format!(
            "the single server's history of {clients} clients was judged {} with {} unanswered",
            o.report.verdict, o.report.unknown_ops
        )));
    }
    let mut latencies: Vec<u64> = o
        .history
        .iter()
        .filter_map(|op| Some((op.return_us? - op.call_us) * 1000))
        .collect();
    let seconds = o.clients_end.as_duration().as_secs_f64();
    let rate = RequestRate::new(latencies.len(), seconds, &mut latencies);
    Ok((rate, o.report.seconds))
}

/// The turn of three with the median rate: two threads that spin on two cores vary
/// from turn to turn.
fn median_of_3(turn: impl Fn() -> RequestRate) -> RequestRate {
    let mut turns = [turn(), turn(), turn()];
    turns.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    turns[1]
}

/// A rate as JSON.
fn rate_json(r: &RequestRate) -> Value {
    json!({"ops_per_sec": r.ops_per_sec.round(), "p50_us": r.p50_us, "p99_us": r.p99_us})
}

/// A rate as words.
fn rate_line(what: &str, r: &RequestRate) -> String {
    format!(
        "{what:<34} {:>10.0} ops/s, latency p50 {:>7.1} us, p99 {:>8.1} us",
        r.ops_per_sec, r.p50_us, r.p99_us
    )
}

/// How many requests each of the 256 pipelined clients keeps in flight.
const WINDOW: usize = 16;

/// Runs the benchmarks and prints their figures.
pub fn run(json: bool) -> quorum::Result<bool> {
    let bare_one = median_of_3(|| bare_request_reply(200_000, 1));
    let (one, one_check) = single_server(1, 1, 50_000)?;
    let bare_many = median_of_3(|| bare_request_reply(2_000_000, 256 * WINDOW));
    let (many, many_check) = single_server(256, WINDOW, 1_000_000)?;
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
    let one_ratio = bare_one.ops_per_sec / one.ops_per_sec;
    quorum::harness::bench::print_bench(
        "ch02-multipaxos",
        json,
        &[
            ("bare_request_reply_1", rate_json(&bare_one)),
            ("single_1_client", rate_json(&one)),
            ("single_1_client_slowdown_vs_bare", json!(one_ratio)),
            ("bare_request_reply_pipelined", rate_json(&bare_many)),
            ("single_256_clients", rate_json(&many)),
            ("single_256_clients_window", json!(WINDOW)),
            ("single_256_clients_check_seconds", json!(many_check)),
            ("check_2000_ops_50_clients_10_keys_seconds", json!(small_s)),
            ("check_2000_ops_states", json!(small_states)),
            ("check_100000_ops_256_clients_100_keys_seconds", json!(large_s)),
            ("check_100000_ops_states", json!(large_states)),
        ],
        &[
            rate_line("bare request/reply, 1 in flight:", &bare_one),
            "  (crossbeam, two threads, each request its own message; median of 3 turns)".to_string(),
            rate_line("single server, 1 client:", &one),
            format!(
                "  ({one_ratio:.2}x the bare request/reply's time per request; history of 50,000 ops checked linearizable in {one_check:.3} s)"
            ),
            rate_line(&format!("bare request/reply, {} in flight:", 256 * WINDOW), &bare_many),
            rate_line(&format!("single server, 256 clients x {WINDOW}:"), &many),
            format!("  (history of 1,000,000 ops checked linearizable in {many_check:.3} s)"),
            format!("checker: {small_s:.3} s for 2,000 kv operations (get, put, append) of 50 clients on 10 keys, 5% unanswered ({small_states} states)"),
            format!("checker: {large_s:.3} s for 100,000 kv operations (get, put, append) of 256 clients on 100 keys, 5% unanswered ({large_states} states)"),
        ],
    )?;
    Ok(true)
}
