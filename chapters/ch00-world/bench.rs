//! `ch00-world bench`: how fast is the world itself, beside what the machine can do?
//!
//! Each figure is measured by running real nodes through the real runtimes, next to a
//! bare baseline measured in the same run:
//!
//! - **simulator events per second**: a cluster of 8 nodes that keep 64 messages each in
//!   flight with random delays (so the event queue really orders), plus a timer per node;
//!   every delivery and every timer is one event. Tracing off.
//! - **threaded messages per second between two nodes**: n1 streams messages to n2, with
//!   a window of acknowledgements so that nothing queues without bound. Measured with
//!   tracing off, with protocol tracing on (each side records one fact per 1024
//!   messages, a range, as a protocol does; a collector thread takes them), and with a
//!   1 ms delay (each message waits in the router thread's heap). The baseline: a bare
//!   crossbeam channel moving the same message type between two threads under the same
//!   flow control, with no runtime at all. The baseline and the runtime (off and traced)
//!   take three turns each, and each figure is the median of its turns. A handler's
//!   messages to one node travel together, in one hop, so the stream's n1, which sends a
//!   thousand messages per acknowledgement, costs its receiver one channel push per
//!   thousand; the **relay** measures the other extreme, one message per handler: two
//!   nodes pass 1024 tokens back and forth, each token sent straight back, beside two
//!   bare threads doing the same over two channels.
//! - **storage**: entries per second of batched appends to a SQLite log (1, 64 and 256
//!   entries per transaction, WAL, `synchronous = FULL`), beside the bare fsync rate of
//!   the same disk.
//! - **peak resident memory** of the whole benchmark, whose threaded runs move millions
//!   of messages and keep no trace.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use quorum::harness::bench::{bare_channel_rate, peak_resident_bytes, print_bench};
use quorum::runtime::{
    CallId, Context, Faults, Message, NoEvent, Node, NodeId, ProtocolEvent, Sim, SimConfig,
    Threads, ThreadsConfig, TraceLevel,
};
use quorum::storage::{measure, Location};

/// The simulator benchmark's node: answers every message with one message to a random
/// peer, so the number in flight stays constant.
struct Juggler {
    nodes: usize,
}

#[derive(Clone, Debug)]
struct Ball;
impl Message for Ball {}

#[derive(Clone, Debug, PartialEq)]
struct Tick;

impl Node for Juggler {
    type Msg = Ball;
    type Timer = Tick;
    type Request = ();
    type Response = ();
    type Event = NoEvent;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        for _ in 0..64 {
            let to = NodeId::from_index(ctx.rng().index(self.nodes));
            ctx.send(to, Ball);
        }
        ctx.set_timer(Tick, Duration::from_millis(10));
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        _from: NodeId,
        msg: Ball,
    ) -> quorum::Result<()> {
        let to = NodeId::from_index(ctx.rng().index(self.nodes));
        ctx.send(to, msg);
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Tick) -> quorum::Result<()> {
        ctx.set_timer(timer, Duration::from_millis(10));
        Ok(())
    }
}

/// The threaded benchmark's node: n1 streams `Data` to n2 in batches, at most `WINDOW`
/// unacknowledged; n2 acknowledges each batch and answers the client once it has
/// received `target` messages.
struct Streamer {
    target: u64,
    received: u64,
    sent: u64,
    acked: u64,
    waiting: Option<CallId>,
}

const BATCH: u64 = 1024;
const WINDOW: u64 = 16 * BATCH;

#[derive(Clone, Debug)]
enum Flow {
    Data,
    Ack(u64),
}
impl Message for Flow {}

/// What a streamer records: one fact per batch of messages, a range, never one per
/// message.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Stream {
    /// n2 has received every message up to `upto`.
    Received { upto: u64 },
    /// n1 learned that n2 has every message up to `upto`.
    Acked { upto: u64 },
}

impl ProtocolEvent for Stream {
    fn name(&self) -> &'static str {
        match self {
            Stream::Received { .. } => "received",
            Stream::Acked { .. } => "acked",
        }
    }
}

impl Streamer {
    fn pump(&mut self, ctx: &mut Context<'_, Self>) {
        while self.sent < self.target && self.sent - self.acked < WINDOW {
            self.sent += 1;
            ctx.send(NodeId(2), Flow::Data);
        }
    }
}

impl Node for Streamer {
    type Msg = Flow;
    type Timer = ();
    type Request = ();
    type Response = u64;
    type Event = Stream;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        if ctx.me() == NodeId(1) {
            self.pump(ctx);
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        msg: Flow,
    ) -> quorum::Result<()> {
        match msg {
            Flow::Data => {
                self.received += 1;
                if self.received.is_multiple_of(BATCH) || self.received == self.target {
                    ctx.trace(Stream::Received {
                        upto: self.received,
                    });
                    ctx.send(from, Flow::Ack(self.received));
                }
                if self.received == self.target {
                    if let Some(client) = self.waiting.take() {
                        ctx.reply(client, self.received);
                    }
                }
            }
            Flow::Ack(upto) => {
                self.acked = self.acked.max(upto);
                ctx.trace(Stream::Acked { upto });
                self.pump(ctx);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Self>, _timer: ()) -> quorum::Result<()> {
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        client: CallId,
        _req: (),
    ) -> quorum::Result<()> {
        if self.received >= self.target {
            ctx.reply(client, self.received);
        } else {
            self.waiting = Some(client);
        }
        Ok(())
    }
}

/// The relay benchmark's node: n1 and n2 pass `TOKENS` tokens back and forth, and
/// every token that arrives is sent straight back, one message per handler, until each
/// node has received `target / 2`. Nothing a handler sends can travel with anything
/// else: this is the cost of one message, hop for hop.
struct Relay {
    target: u64,
    received: u64,
    waiting: Option<CallId>,
}

/// How many tokens the relay keeps in flight.
const TOKENS: u64 = 1024;

#[derive(Clone, Debug)]
struct Token;
impl Message for Token {}

impl Node for Relay {
    type Msg = Token;
    type Timer = ();
    type Request = ();
    type Response = u64;
    type Event = NoEvent;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        if ctx.me() == NodeId(1) {
            for _ in 0..TOKENS {
                ctx.send(NodeId(2), Token);
            }
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        token: Token,
    ) -> quorum::Result<()> {
        self.received += 1;
        if self.received + TOKENS <= self.target / 2 {
            ctx.send(from, token);
        }
        if self.received == self.target / 2 {
            if let Some(client) = self.waiting.take() {
                ctx.reply(client, self.received);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Self>, _timer: ()) -> quorum::Result<()> {
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        client: CallId,
        _req: (),
    ) -> quorum::Result<()> {
        if self.received >= self.target / 2 {
            ctx.reply(client, self.received);
        } else {
            self.waiting = Some(client);
        }
        Ok(())
    }
}

/// Relayed messages per second on threads over about `messages` messages (both ways).
fn threads_relay_per_sec(messages: u64) -> quorum::Result<f64> {
    let config = ThreadsConfig {
        nodes: 2,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Off,
    };
    let factory = Arc::new(move |_: NodeId, _| {
        Ok(Relay {
            target: messages,
            received: 0,
            waiting: None,
        })
    });
    let started = Instant::now();
    let mut threads = Threads::start(
        config,
        vec![Location::memory(), Location::memory()],
        factory,
    )?;
    let received = threads.call(NodeId(2), (), Duration::from_secs(600))?;
    let secs = started.elapsed().as_secs_f64();
    threads.stop()?;
    Ok(2.0 * received as f64 / secs)
}

/// The bare baseline of the relay: two threads pass `TOKENS` values back and forth over
/// two crossbeam channels, each value received sent straight back, until each thread
/// has received `messages / 2`. Returns messages per second (both ways).
fn bare_relay_per_sec(messages: u64) -> f64 {
    let half = messages / 2;
    let (to_b, at_b) = crossbeam_channel::unbounded::<Token>();
    let (to_a, at_a) = crossbeam_channel::unbounded::<Token>();
    let started = Instant::now();
    let b = std::thread::spawn(move || {
        let mut received = 0u64;
        while received < half {
            let Ok(token) = at_b.recv() else { break };
            received += 1;
            if received + TOKENS <= half && to_a.send(token).is_err() {
                break;
            }
        }
        received
    });
    for _ in 0..TOKENS {
        let _ = to_b.send(Token);
    }
    let mut received = 0u64;
    while received + TOKENS < half {
        let Ok(token) = at_a.recv() else { break };
        received += 1;
        if received + TOKENS <= half && to_b.send(token).is_err() {
            break;
        }
    }
    let got = b.join().unwrap_or(0);
    2.0 * got as f64 / started.elapsed().as_secs_f64()
}

/// Simulator events per second over `events` events, tracing off.
fn sim_events_per_sec(events: u64) -> quorum::Result<(f64, u64)> {
    let nodes = 8;
    let config = SimConfig {
        nodes,
        seed: 1,
        faults: Faults {
            drop: 0.0,
            delay: (Duration::from_micros(100), Duration::from_millis(5)),
            duplicate: 0.0,
        },
        trace: TraceLevel::Off,
    };
    let mut sim = Sim::new(config, move |_, _| Ok(Juggler { nodes }))?;
    let started = Instant::now();
    while sim.steps() < events && sim.step()? {}
    let secs = started.elapsed().as_secs_f64();
    Ok((sim.steps() as f64 / secs, sim.steps()))
}

/// Threaded messages per second from n1 to n2 over `messages` messages, each delayed
/// by `delay` (zero: the direct path; more: through the router), recording as `level`
/// asks; the facts recorded go to a collector that counts them. Returns the rate and
/// how many facts were recorded.
fn threads_messages_per_sec(
    messages: u64,
    delay: Duration,
    level: TraceLevel,
) -> quorum::Result<(f64, u64)> {
    let config = ThreadsConfig {
        nodes: 2,
        seed: 1,
        faults: Faults {
            delay: (delay, delay),
            ..Faults::reliable()
        },
        trace: level,
    };
    let factory = Arc::new(move |_: NodeId, _| {
        Ok(Streamer {
            target: messages,
            received: 0,
            sent: 0,
            acked: 0,
            waiting: None,
        })
    });
    let facts = Arc::new(AtomicU64::new(0));
    let counted = facts.clone();
    let started = Instant::now();
    let mut threads = Threads::start_observed(
        config,
        vec![Location::memory(), Location::memory()],
        factory,
        move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        },
    )?;
    let received = threads.call(NodeId(2), (), Duration::from_secs(600))?;
    let secs = started.elapsed().as_secs_f64();
    threads.stop()?;
    Ok((received as f64 / secs, facts.load(Ordering::Relaxed)))
}

/// How many turns the bare channel and the runtime take, each.
const ROUNDS: usize = 3;

/// The median of `values` (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// How many fsyncs and transactions the storage figures time, each.
const STORAGE_ROUNDS: u32 = 200;

/// The storage figures in `dir`: the bare fsync rate, and entries per second of batched
/// appends at 1, 64 and 256 entries per transaction.
fn storage_rates(dir: &Path) -> quorum::Result<(f64, Vec<(usize, f64)>)> {
    let fsyncs = measure::fsync_rate(dir, STORAGE_ROUNDS)?;
    let mut appends = Vec::new();
    for per_tx in [1, 64, 256] {
        appends.push((
            per_tx,
            measure::append_rate(dir, per_tx, STORAGE_ROUNDS as usize)?,
        ));
    }
    Ok((fsyncs, appends))
}

/// A part of the benchmark, to measure alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Simulator events per second.
    Sim,
    /// Threaded messages per second, and the bare channel.
    Threads,
    /// Storage entries per second, and the bare fsync rate.
    Storage,
}

/// Runs the benchmarks (every part, or `only` one) and prints their figures; the
/// storage figures are measured in `dir` (on the disk that is to be measured).
pub fn run(
    events: u64,
    messages: u64,
    only: Option<Part>,
    dir: &Path,
    json: bool,
) -> quorum::Result<bool> {
    let measures = |part| only.is_none_or(|o| o == part);
    let mut figures = Vec::new();
    let mut lines = Vec::new();
    if measures(Part::Sim) {
        let (sim_rate, sim_events) = sim_events_per_sec(events)?;
        figures.push(("sim_events", json!(sim_events)));
        figures.push(("sim_events_per_sec", json!(sim_rate.round())));
        lines.push(format!(
            "simulator:      {sim_rate:>12.0} events/s   ({sim_events} events, 8 nodes, tracing off)"
        ));
    }
    if measures(Part::Threads) {
        // The bare channel and the runtime take turns, ROUNDS times each, and each
        // figure is the median of its rounds: two threads on a shared machine vary from
        // one second to the next, and taking turns exposes both to the same moments.
        let (mut bares, mut offs, mut traceds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bare_relays, mut relays) = (Vec::new(), Vec::new());
        let mut facts = 0;
        for _ in 0..ROUNDS {
            bares.push(bare_channel_rate(messages, BATCH, WINDOW, || Flow::Data));
            offs.push(threads_messages_per_sec(messages, Duration::ZERO, TraceLevel::Off)?.0);
            let (rate, recorded) =
                threads_messages_per_sec(messages, Duration::ZERO, TraceLevel::Protocol)?;
            traceds.push(rate);
            facts = recorded;
            bare_relays.push(bare_relay_per_sec(messages));
            relays.push(threads_relay_per_sec(messages)?);
        }
        let (bare, off, traced) = (median(bares), median(offs), median(traceds));
        let (bare_relay, relay) = (median(bare_relays), median(relays));
        let (routed, _) =
            threads_messages_per_sec(messages, Duration::from_millis(1), TraceLevel::Off)?;
        figures.extend([
            ("threads_messages", json!(messages)),
            ("bare_channel_messages_per_sec", json!(bare.round())),
            ("threads_messages_per_sec", json!(off.round())),
            ("threads_traced_messages_per_sec", json!(traced.round())),
            ("threads_traced_facts", json!(facts)),
            ("threads_routed_messages_per_sec", json!(routed.round())),
            ("bare_relay_messages_per_sec", json!(bare_relay.round())),
            ("threads_relay_messages_per_sec", json!(relay.round())),
        ]);
        lines.extend([
            format!("bare channel:   {bare:>12.0} messages/s (crossbeam, two threads, the same flow control; medians of {ROUNDS} turns each)"),
            format!(
                "threads:        {off:>12.0} messages/s ({messages} messages, n1 -> n2, tracing off: {:.2}x the bare channel)",
                off / bare
            ),
            format!("  traced:       {traced:>12.0} messages/s (protocol tracing on: {facts} facts, one per 1024 messages)"),
            format!("  routed:       {routed:>12.0} messages/s (a 1 ms delay: through the router)"),
            format!("bare relay:     {bare_relay:>12.0} messages/s (crossbeam, {TOKENS} values passed back and forth, one at a time)"),
            format!(
                "threads relay:  {relay:>12.0} messages/s (the same on two nodes, one message per handler: {:.2}x the bare relay)",
                relay / bare_relay
            ),
        ]);
    }
    if measures(Part::Storage) {
        let (fsyncs, appends) = storage_rates(dir)?;
        figures.push(("fsyncs_per_sec", json!(fsyncs.round())));
        lines.push(format!(
            "bare fsync:     {fsyncs:>12.0} fsyncs/s   ({STORAGE_ROUNDS} on a file in {})",
            dir.display()
        ));
        for &(per_tx, rate) in &appends {
            let key: &'static str = match per_tx {
                1 => "storage_entries_per_sec_1",
                64 => "storage_entries_per_sec_64",
                _ => "storage_entries_per_sec_256",
            };
            figures.push((key, json!(rate.round())));
            lines.push(format!(
                "  storage:      {rate:>12.0} entries/s  ({per_tx} per transaction, SQLite WAL, synchronous=FULL)"
            ));
        }
    }
    let peak_mb = peak_resident_bytes().map(|b| b as f64 / (1024.0 * 1024.0));
    figures.push((
        "peak_resident_mb",
        json!(peak_mb.map(|m| (m * 10.0).round() / 10.0)),
    ));
    if let Some(mb) = peak_mb {
        lines.push(format!("peak resident:  {mb:>12.1} MB"));
    }
    print_bench("ch00-world", json, &figures, &lines)?;
    Ok(true)
}
