//! What every chapter's `bench` shares: the report, the machine it ran on, and the
//! baselines a figure is read against.
//!
//! A figure alone says little: 8 million messages a second is fast or slow only beside
//! what the machine can do at all. So each benchmark measures, in the same run, a bare
//! baseline that does the same work without the part being measured (a crossbeam
//! channel without the runtime, an fsync without SQLite), and reports both.

use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::error::Result;

/// The resident memory high-water mark of this process, in bytes (Linux's `VmHWM`), if
/// the system tells it.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The bare baseline of a stream between two threads: one thread sends `messages`
/// values made by `make` over an unbounded crossbeam channel, the other receives them,
/// with the flow control of the runtime's benchmark (the receiver acknowledges every
/// `batch` over a second channel, and the sender keeps at most `window`
/// unacknowledged). Returns messages per second.
pub fn bare_channel_rate<M: Send + 'static>(
    messages: u64,
    batch: u64,
    window: u64,
    make: impl Fn() -> M,
) -> f64 {
    // A batch or window of zero would wait for an acknowledgement that never comes.
    let (batch, window) = (batch.max(1), window.max(1));
    let (data, inbox) = crossbeam_channel::unbounded::<M>();
    let (ack, acks) = crossbeam_channel::unbounded::<u64>();
    let started = Instant::now();
    let receiver = std::thread::spawn(move || {
        let mut received = 0u64;
        while received < messages {
            if inbox.recv().is_err() {
                break;
            }
            received += 1;
            if received.is_multiple_of(batch) || received == messages {
                let _ = ack.send(received);
            }
        }
        received
    });
    let (mut sent, mut acked) = (0u64, 0u64);
    while sent < messages {
        while sent < messages && sent - acked < window {
            if data.send(make()).is_err() {
                break;
            }
            sent += 1;
        }
        match acks.recv() {
            Ok(upto) => acked = acked.max(upto),
            Err(_) => break,
        }
    }
    let received = receiver.join().unwrap_or(0);
    received as f64 / started.elapsed().as_secs_f64()
}

/// What a request/reply benchmark measured: answered requests per second, and the
/// latency from request to reply.
#[derive(Clone, Copy, Debug)]
pub struct RequestRate {
    /// Requests answered per second.
    pub ops_per_sec: f64,
    /// The median latency, in microseconds.
    pub p50_us: f64,
    /// The 99th percentile latency, in microseconds.
    pub p99_us: f64,
}

impl RequestRate {
    /// The rate of `ops` requests answered in `seconds`, with latencies `latencies_ns`.
    pub fn new(ops: usize, seconds: f64, latencies_ns: &mut [u64]) -> RequestRate {
        latencies_ns.sort_unstable();
        let rank = |p: usize| {
            let at = (p * latencies_ns.len()).div_ceil(100).max(1) - 1;
            latencies_ns.get(at).map_or(0.0, |&ns| ns as f64 / 1000.0)
        };
        RequestRate {
            ops_per_sec: ops as f64 / seconds.max(1e-9),
            p50_us: rank(50),
            p99_us: rank(99),
        }
    }
}

/// The bare baseline of a request/reply service: a client thread sends `ops` requests
/// over an unbounded crossbeam channel, each its own message, to a server thread that
/// answers each over another, with at most `in_flight` requests unanswered (1: one
/// request, then its reply, then the next). No runtime, no state machine, no history:
/// what two threads and two channels can do at all.
pub fn bare_request_reply(ops: usize, in_flight: usize) -> RequestRate {
    let in_flight = in_flight.max(1);
    let (to_server, requests) = crossbeam_channel::unbounded::<(usize, Instant)>();
    let (to_client, replies) = crossbeam_channel::unbounded::<(usize, Instant)>();
    let server = std::thread::spawn(move || {
        for request in requests {
            if to_client.send(request).is_err() {
                break;
            }
        }
    });
    let mut latencies = Vec::with_capacity(ops);
    let started = Instant::now();
    let mut sent = 0;
    while latencies.len() < ops {
        while sent < ops && sent - latencies.len() < in_flight {
            if to_server.send((sent, Instant::now())).is_err() {
                break;
            }
            sent += 1;
        }
        match replies.recv() {
            Ok((_, at)) => latencies.push(at.elapsed().as_nanos() as u64),
            Err(_) => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(to_server);
    let _ = server.join();
    RequestRate::new(latencies.len(), seconds, &mut latencies)
}

/// Prints a benchmark's figures: with `json`, one JSON object of `figures` plus the
/// machine's `cores` and the build's `profile`; else a heading naming them, then
/// `lines`, then, in a debug build, the command that measures a release build.
pub fn print_bench(
    program: &str,
    json: bool,
    figures: &[(&str, Value)],
    lines: &[String],
) -> Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if json {
        let mut m = Map::new();
        m.insert("cores".into(), json!(cores));
        m.insert("profile".into(), json!(profile));
        for (key, value) in figures {
            m.insert(key.to_string(), value.clone());
        }
        return super::out::print_json(&Value::Object(m));
    }
    crate::outln!("{program} bench ({profile} build, {cores} cores)");
    for line in lines {
        crate::outln!("  {line}");
    }
    if profile == "debug" {
        crate::outln!(
            "  (a debug build: run `cargo run --release --bin {program} -- bench` for real figures)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_request_reply_answers_every_request() {
        for in_flight in [1, 64] {
            let r = bare_request_reply(2_000, in_flight);
            assert!(r.ops_per_sec > 0.0 && r.p50_us > 0.0 && r.p99_us >= r.p50_us);
        }
    }

    #[test]
    fn the_bare_channel_moves_every_message() {
        assert!(bare_channel_rate(10_000, 64, 1024, || 7u64) > 0.0);
    }

    #[test]
    fn this_process_has_a_peak_resident_size_on_linux() {
        if cfg!(target_os = "linux") {
            let peak = peak_resident_bytes().expect("VmHWM in /proc/self/status");
            assert!(peak > 1 << 20, "{peak} bytes");
        }
    }
}
