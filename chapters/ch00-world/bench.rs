//! `ch00-world bench`: how fast is the world itself?
//!
//! Two figures, both measured by running real nodes through the real runtimes:
//!
//! - **simulator events per second**: a cluster of 8 nodes that keep 64 messages each in
//!   flight with random delays (so the event queue really orders), plus a timer per node;
//!   every delivery and every timer is one event.
//! - **threaded messages per second between two nodes**: n1 streams messages to n2, with
//!   a window of acknowledgements so that nothing queues without bound. Measured twice:
//!   undelayed (each message goes from n1's thread straight into n2's inbox) and with a
//!   1 ms delay (each message waits in the router thread's heap, one more hop).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use quorum::runtime::{
    ClientId, Context, Faults, Message, NoEvent, Node, NodeId, Sim, SimConfig, Threads,
    ThreadsConfig, TraceLevel,
};
use quorum::storage::Location;

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
    waiting: Option<ClientId>,
}

const BATCH: u64 = 1024;
const WINDOW: u64 = 16 * BATCH;

#[derive(Clone, Debug)]
enum Flow {
    Data,
    Ack(u64),
}
impl Message for Flow {}

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
    type Event = NoEvent;

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
        client: ClientId,
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

/// Simulator events per second over `events` events.
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
/// by `delay` (zero: the direct path; more: through the router).
fn threads_messages_per_sec(messages: u64, delay: Duration) -> quorum::Result<f64> {
    let config = ThreadsConfig {
        nodes: 2,
        seed: 1,
        faults: Faults {
            delay: (delay, delay),
            ..Faults::reliable()
        },
        trace: TraceLevel::Off,
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
    let started = Instant::now();
    let mut threads = Threads::start(
        config,
        vec![Location::memory(), Location::memory()],
        factory,
    )?;
    let received = threads.call(NodeId(2), (), Duration::from_secs(120))?;
    let secs = started.elapsed().as_secs_f64();
    threads.shutdown()?;
    Ok(received as f64 / secs)
}

/// Runs both benchmarks and prints their figures.
pub fn run(events: u64, messages: u64, json: bool) -> quorum::Result<bool> {
    let (sim_rate, sim_events) = sim_events_per_sec(events)?;
    let thread_rate = threads_messages_per_sec(messages, Duration::ZERO)?;
    let routed_rate = threads_messages_per_sec(messages, Duration::from_millis(1))?;
    quorum::harness::bench::print_bench(
        "ch00-world",
        json,
        &[
            ("sim_events", json!(sim_events)),
            ("sim_events_per_sec", json!(sim_rate.round())),
            ("threads_messages", json!(messages)),
            ("threads_messages_per_sec", json!(thread_rate.round())),
            (
                "threads_routed_messages_per_sec",
                json!(routed_rate.round()),
            ),
        ],
        &[
            format!("simulator: {sim_rate:>12.0} events/s   ({sim_events} events, 8 nodes)"),
            format!("threads:   {thread_rate:>12.0} messages/s ({messages} messages, n1 -> n2)"),
        ],
    )?;
    Ok(true)
}
