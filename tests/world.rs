//! Chapter 0: the world. The fault model, the simulator, the harness and the failure
//! detector, tested in the deterministic simulator (and a few smoke tests on threads).

use std::sync::Arc;
use std::time::Duration;

use quorum::detector::{check_properties, Detector, DetectorConfig, Liveness};
use quorum::runtime::cluster::{ms, n, secs};
use quorum::runtime::sim::PendingWhat;
use quorum::runtime::trace::Record;
use quorum::runtime::{
    Action, CallId, Cluster, Context, Faults, Message, NoEvent, Node, NodeId, ProtocolEvent,
    Schedule, Sim, SimConfig, Threads, ThreadsConfig, Time, TraceLevel,
};
use quorum::storage::{Location, Storage};

mod common;
use common::{detector_sim, sweep_range};

// --- A test node: sends what it is told, counts what it gets, persists a counter -----

/// Sends `burst` messages to each peer at start and every `every`; counts deliveries;
/// persists how many messages it has received in total, across restarts.
struct Chatter {
    id: NodeId,
    nodes: usize,
    burst: usize,
    every: Option<Duration>,
    storage: Storage,
    received: u64,
}

#[derive(Clone, Debug, PartialEq)]
struct Note(u64);
impl Message for Note {}

#[derive(Clone, Debug, PartialEq)]
enum T {
    Again,
}

/// What the test nodes record.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Fact {
    /// A message arrived; `total` so far.
    Got { total: u64 },
    /// A timer fired.
    Fired { timer: String },
}

impl ProtocolEvent for Fact {
    fn name(&self) -> &'static str {
        match self {
            Fact::Got { .. } => "got",
            Fact::Fired { .. } => "fired",
        }
    }
}

impl Chatter {
    fn blast(&mut self, ctx: &mut Context<'_, Self>) {
        for peer in NodeId::all(self.nodes) {
            if peer != self.id {
                for i in 0..self.burst {
                    ctx.send(peer, Note(i as u64));
                }
            }
        }
    }
}

impl Node for Chatter {
    type Msg = Note;
    type Timer = T;
    type Request = ();
    type Response = u64;
    type Event = Fact;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        self.received = self.storage.get_u64("received")?.unwrap_or(0);
        self.blast(ctx);
        if let Some(every) = self.every {
            ctx.set_timer(T::Again, every);
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        _from: NodeId,
        _msg: Note,
    ) -> quorum::Result<()> {
        self.received += 1;
        self.storage.put_u64("received", self.received)?;
        ctx.trace(Fact::Got {
            total: self.received,
        });
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _t: T) -> quorum::Result<()> {
        self.blast(ctx);
        if let Some(every) = self.every {
            ctx.set_timer(T::Again, every);
        }
        Ok(())
    }
}

fn chatter_sim(
    nodes: usize,
    seed: u64,
    faults: Faults,
    burst: usize,
    every: Option<Duration>,
) -> Sim<Chatter> {
    let config = SimConfig {
        nodes,
        seed,
        faults,
        trace: TraceLevel::Everything,
    };
    Sim::new(config, move |id, storage| {
        Ok(Chatter {
            id,
            nodes,
            burst,
            every,
            storage,
            received: 0,
        })
    })
    .expect("build sim")
}

fn lossy(drop: f64) -> Faults {
    Faults {
        drop,
        ..Faults::reliable()
    }
}

// --- The fault model ----------------------------------------------------------------

/// The measured drop rate over 100,000 messages is within one percentage point of the
/// configured probability.
#[test]
fn measured_drop_rate_matches_the_configured_one() {
    for (seed, p) in [(1, 0.05), (2, 0.3), (3, 0.5)] {
        let mut sim = chatter_sim(2, seed, lossy(p), 50_000, None);
        sim.run_for(secs(1)).unwrap();
        let s = sim.total_stats();
        assert_eq!(s.sent, 100_000);
        assert_eq!(s.sent, s.delivered + s.dropped);
        let measured = s.dropped as f64 / s.sent as f64;
        assert!(
            (measured - p).abs() < 0.01,
            "drop {p}: measured {measured:.4} (seed {seed})"
        );
    }
}

#[test]
fn a_reliable_network_loses_nothing() {
    let mut sim = chatter_sim(3, 1, Faults::reliable(), 100, None);
    sim.run_for(secs(1)).unwrap();
    let s = sim.total_stats();
    assert_eq!((s.sent, s.delivered, s.dropped), (600, 600, 0));
}

fn delivered_ids(records: &[Record]) -> Vec<(u64, u32, u64)> {
    records
        .iter()
        .filter(|r| r.event == "deliver")
        .map(|r| (r.u64_field("id").unwrap(), r.node.0, r.t_us))
        .collect()
}

fn sends(records: &[Record]) -> Vec<(u64, u32, u32, u64)> {
    records
        .iter()
        .filter(|r| r.event == "send")
        .map(|r| {
            (
                r.u64_field("id").unwrap(),
                r.node.0,
                r.u64_field("to").unwrap() as u32,
                r.t_us,
            )
        })
        .collect()
}

/// Every delivery happens within the delay range after its send.
#[test]
fn delays_stay_within_their_range() {
    let faults = Faults {
        delay: (ms(2), ms(9)),
        ..Faults::reliable()
    };
    let mut sim = chatter_sim(3, 5, faults, 20, Some(ms(10)));
    sim.run_for(secs(1)).unwrap();
    let records = sim.records();
    let sent: std::collections::HashMap<u64, u64> = sends(&records)
        .into_iter()
        .map(|(id, _, _, t)| (id, t))
        .collect();
    let delivered = delivered_ids(&records);
    assert!(delivered.len() > 1000);
    let mut reordered = false;
    let mut last_id_at_receiver = std::collections::HashMap::new();
    for (id, to, t) in delivered {
        let d = t - sent[&id];
        assert!((2_000..=9_000).contains(&d), "message {id} took {d}us");
        if let Some(prev) = last_id_at_receiver.insert(to, id) {
            reordered |= prev > id;
        }
    }
    assert!(reordered, "random delays should reorder some messages");
}

/// With duplication, some messages arrive twice, at about the configured rate.
#[test]
fn duplicates_arrive_twice() {
    let faults = Faults {
        duplicate: 0.1,
        ..Faults::reliable()
    };
    let mut sim = chatter_sim(2, 9, faults, 10_000, None);
    sim.run_for(secs(1)).unwrap();
    let s = sim.total_stats();
    let rate = s.duplicated as f64 / s.sent as f64;
    assert!((rate - 0.1).abs() < 0.01, "duplicate rate {rate}");
    assert_eq!(s.delivered, s.sent + s.duplicated);
}

/// Symmetric partition: no message crosses between the groups while it lasts; messages
/// within a group flow; after it ends, messages cross again.
#[test]
fn a_partitioned_nodes_messages_never_cross() {
    let mut sim = chatter_sim(5, 3, Faults::reliable(), 1, Some(ms(10)));
    let (a, b) = (vec![n(1), n(2)], vec![n(3), n(4), n(5)]);
    sim.schedule_at(
        Time(100_000),
        Action::Partition {
            a: a.clone(),
            b: b.clone(),
            one_way: false,
            on: true,
        },
    )
    .unwrap();
    sim.schedule_at(
        Time(300_000),
        Action::Partition {
            a: a.clone(),
            b: b.clone(),
            one_way: false,
            on: false,
        },
    )
    .unwrap();
    sim.run_for(ms(400)).unwrap();
    let records = sim.records();
    let delivered: std::collections::HashSet<u64> = delivered_ids(&records)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let side = |x: u32| a.contains(&NodeId(x));
    let (mut crossing_during, mut crossing_after, mut within_during) = (0, 0, 0);
    for (id, from, to, t) in sends(&records) {
        let during = (100_000..300_000).contains(&t);
        let crosses = side(from) != side(to);
        if during && crosses {
            crossing_during += 1;
            assert!(
                !delivered.contains(&id),
                "message {id} n{from}->n{to} at {t}us crossed the partition"
            );
        }
        if during && !crosses {
            within_during += 1;
            assert!(
                delivered.contains(&id),
                "message {id} within a group was lost"
            );
        }
        if t >= 300_000 && crosses {
            crossing_after += 1;
            assert!(
                delivered.contains(&id),
                "message {id} after the partition healed was lost"
            );
        }
    }
    assert!(crossing_during > 100 && within_during > 50 && crossing_after > 50);
    let partitioned_drops = records
        .iter()
        .filter(|r| r.str_field("reason") == Some("partitioned"))
        .count();
    assert_eq!(partitioned_drops, crossing_during);
}

/// One-way partition: `1 > 2` cuts n1 -> n2 only.
#[test]
fn a_one_way_partition_cuts_one_direction() {
    let mut cluster = Cluster::with_config(
        SimConfig {
            trace: TraceLevel::Everything,
            ..SimConfig::new(2, 1)
        },
        |id, storage| {
            Ok(Chatter {
                id,
                nodes: 2,
                burst: 1,
                every: Some(ms(10)),
                storage,
                received: 0,
            })
        },
    )
    .unwrap();
    cluster.partition_one_way(&[n(1)], &[n(2)]).unwrap();
    cluster.run_for(ms(200)).unwrap();
    assert_eq!(cluster.stats(n(2)).delivered, 0, "n1 -> n2 is cut");
    assert!(cluster.stats(n(1)).delivered >= 20, "n2 -> n1 still flows");
}

// --- The simulator --------------------------------------------------------------------

fn detector_trace(seed: u64) -> String {
    let faults = Faults {
        drop: 0.1,
        delay: (ms(1), ms(30)),
        duplicate: 0.05,
    };
    let config = SimConfig {
        faults,
        trace: TraceLevel::Everything,
        ..SimConfig::new(5, seed)
    };
    let mut sim = detector_sim(config, DetectorConfig::default());
    sim.schedule_at(Time(1_000_000), Action::Crash(n(2)))
        .unwrap();
    sim.schedule_at(Time(2_000_000), Action::Restart(n(2)))
        .unwrap();
    sim.run_for(secs(3)).unwrap();
    sim.records()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect()
}

/// A seed is a run: the same seed gives a byte-identical trace, another seed another.
#[test]
fn the_same_seed_gives_a_byte_identical_trace() {
    let a = detector_trace(7);
    let b = detector_trace(7);
    let c = detector_trace(8);
    assert!(a.lines().count() > 1000);
    assert_eq!(a, b, "seed 7 twice must give the same trace");
    assert_ne!(a, c, "seeds 7 and 8 must differ");
}

/// Controlled mode: the caller picks the next event, may run a later message before an
/// earlier one, and may discard a message (loss).
#[test]
fn controlled_mode_runs_and_discards_any_pending_event() {
    let faults = Faults {
        delay: (ms(1), ms(5)),
        ..Faults::reliable()
    };
    let mut sim = chatter_sim(2, 1, faults, 3, None);
    // Run the two starts.
    for _ in 0..2 {
        let seq = sim.pending()[0].seq;
        sim.step_pending(seq).unwrap();
    }
    let deliveries: Vec<u64> = sim
        .pending()
        .iter()
        .filter(|p| matches!(p.what, PendingWhat::Deliver { .. }))
        .map(|p| p.seq)
        .collect();
    assert_eq!(deliveries.len(), 6);
    // The latest first, then discard the earliest.
    sim.step_pending(*deliveries.last().unwrap()).unwrap();
    sim.discard(deliveries[0]).unwrap();
    assert_eq!(sim.pending().len(), 4);
    assert!(
        sim.step_pending(deliveries[0]).is_err(),
        "a discarded event is gone"
    );
    while sim.step().unwrap() {}
    let s = sim.total_stats();
    assert_eq!((s.delivered, s.dropped), (5, 1));
}

/// Timers: re-arming replaces the deadline, cancelling disarms, a crash kills them.
#[test]
fn timers_rearm_cancel_and_die_with_their_node() {
    #[derive(Clone, Debug, PartialEq)]
    enum Tm {
        A,
        B,
    }
    struct Clock;
    impl Node for Clock {
        type Msg = Note;
        type Timer = Tm;
        type Request = ();
        type Response = ();
        type Event = Fact;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
            ctx.set_timer(Tm::A, ms(10));
            ctx.set_timer(Tm::A, ms(30)); // re-armed: fires once, at 30 ms
            ctx.set_timer(Tm::B, ms(20));
            ctx.cancel_timer(Tm::B); // never fires
            Ok(())
        }
        fn on_message(
            &mut self,
            _: &mut Context<'_, Self>,
            _: NodeId,
            _: Note,
        ) -> quorum::Result<()> {
            Ok(())
        }
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: Tm) -> quorum::Result<()> {
            ctx.trace(Fact::Fired {
                timer: format!("{t:?}"),
            });
            ctx.set_timer(Tm::A, ms(100));
            Ok(())
        }
    }
    let mut sim = Sim::new(SimConfig::new(1, 1), |_, _| Ok(Clock)).unwrap();
    sim.run_for(ms(50)).unwrap();
    let fired: Vec<(u64, String)> = sim
        .records()
        .iter()
        .filter(|r| r.event == "fired")
        .map(|r| (r.t_us, r.str_field("timer").unwrap().to_string()))
        .collect();
    assert_eq!(fired, vec![(30_000, "A".to_string())]);
    sim.apply(Action::Crash(n(1))).unwrap();
    sim.run_for(ms(500)).unwrap();
    assert_eq!(
        sim.records().iter().filter(|r| r.event == "fired").count(),
        1,
        "a crashed node's timer fired"
    );
}

/// A handler whose storage fails is fail-stop: none of its effects leave the node.
#[test]
fn a_failing_handler_is_fail_stop() {
    struct Fails;
    impl Node for Fails {
        type Msg = Note;
        type Timer = T;
        type Request = ();
        type Response = ();
        type Event = NoEvent;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
            ctx.send(NodeId(2), Note(1));
            Err(quorum::Error::Runtime("disk full".into()))
        }
        fn on_message(
            &mut self,
            _: &mut Context<'_, Self>,
            _: NodeId,
            _: Note,
        ) -> quorum::Result<()> {
            Ok(())
        }
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
            Ok(())
        }
    }
    let mut sim = Sim::new(SimConfig::new(2, 1), |_, _| Ok(Fails)).unwrap();
    let failure = sim.step().unwrap_err();
    // The error says which node failed, and keeps what failed under it.
    match &failure {
        quorum::Error::NodeFailed { node, source } => {
            assert_eq!(*node, n(1));
            assert!(matches!(**source, quorum::Error::Runtime(_)), "{source:?}");
        }
        other => panic!("expected NodeFailed, got {other:?}"),
    }
    let err = failure.to_string();
    assert!(
        err.contains("n1 failed") && err.contains("disk full"),
        "{err}"
    );
    assert!(!sim.is_up(n(1)));
    assert_eq!(
        sim.total_stats().sent,
        0,
        "the effects of a failed handler must be discarded"
    );
}

// --- The batching point and timers that cost nothing to re-arm ------------------------

/// A node that queues every request and answers them all at its batching point: each
/// answer is (how many flushes the node has run, how many requests that flush answered).
struct Batcher {
    queued: Vec<CallId>,
    flushes: u64,
}

impl Node for Batcher {
    type Msg = Note;
    type Timer = T;
    type Request = u64;
    type Response = (u64, usize);
    type Event = NoEvent;

    fn on_start(&mut self, _: &mut Context<'_, Self>) -> quorum::Result<()> {
        Ok(())
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: NodeId, _: Note) -> quorum::Result<()> {
        Ok(())
    }
    fn on_timer(&mut self, _: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
        Ok(())
    }
    fn on_request(
        &mut self,
        _: &mut Context<'_, Self>,
        call: CallId,
        _: u64,
    ) -> quorum::Result<()> {
        self.queued.push(call);
        Ok(())
    }
    fn wants_flush(&self) -> bool {
        !self.queued.is_empty()
    }
    fn on_flush(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        self.flushes += 1;
        let batch = self.queued.len();
        for call in self.queued.drain(..) {
            ctx.reply(call, (self.flushes, batch));
        }
        Ok(())
    }
}

fn batcher() -> Batcher {
    Batcher {
        queued: Vec::new(),
        flushes: 0,
    }
}

/// The simulator flushes a node once its events at the current instant are done: 64
/// requests that arrive together are answered by one flush, at the instant they
/// arrived; one request at a time is answered at once, one flush each.
#[test]
fn sixty_four_requests_at_one_instant_reach_one_flush_in_the_simulator() {
    let mut sim = Sim::new(SimConfig::new(1, 1), |_, _| Ok(batcher())).unwrap();
    sim.run_for(ms(1)).unwrap();
    let before = sim.flushes();
    for i in 0..64 {
        sim.request(n(1), i).unwrap();
    }
    sim.run_for(ms(1)).unwrap();
    let replies = sim.take_replies();
    assert_eq!(replies.len(), 64);
    assert_eq!(
        sim.flushes() - before,
        1,
        "64 requests of one instant, one flush"
    );
    assert!(replies
        .iter()
        .all(|r| r.response.1 == 64 && r.at == Time(1000)));
    for i in 0..3 {
        let asked = sim.now();
        sim.request(n(1), i).unwrap();
        sim.run_for(ms(1)).unwrap();
        let r = sim.take_replies();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].response.1, 1, "one request, a batch of one");
        assert_eq!(r[0].at, asked, "the batching point adds no delay");
    }
}

/// On threads a node drains what its inbox holds before it flushes: 64 requests that
/// pile up while it is paused are answered by one flush.
#[test]
fn sixty_four_requests_that_arrive_together_reach_one_flush_on_threads() {
    let config = ThreadsConfig {
        nodes: 1,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Protocol,
    };
    let factory: quorum::runtime::sim::Factory<Batcher> = Arc::new(|_, _| Ok(batcher()));
    let mut threads = Threads::start(config, vec![Location::memory()], factory).unwrap();
    let paused = threads.pause(n(1)).unwrap();
    let replies = threads.send_requests(n(1), (0..64).collect()).unwrap();
    drop(paused);
    let answers = replies.wait(secs(10)).unwrap();
    assert_eq!(answers.len(), 64);
    let flushes: std::collections::BTreeSet<u64> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        flushes.len(),
        1,
        "64 requests answered by flushes {flushes:?}"
    );
    assert!(answers.iter().all(|a| a.1 == 64), "{answers:?}");
    // One at a time, each is answered by a flush of its own.
    for i in 0..3 {
        assert_eq!(threads.call(n(1), i, secs(10)).unwrap().1, 1);
    }
    threads.stop().unwrap();
}

/// A client thread's port gathers requests and posts them as one envelope per node, and
/// the node answers them all in one envelope at its batching point: 200 requests from
/// one port cost each side one hop, not 200.
#[test]
fn a_client_port_posts_gathered_requests_at_once_and_gets_answers_in_one_envelope() {
    let config = ThreadsConfig {
        nodes: 1,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Off,
    };
    let factory: quorum::runtime::sim::Factory<Batcher> = Arc::new(|_, _| Ok(batcher()));
    let threads = Threads::start(config, vec![Location::memory()], factory).unwrap();
    let mut port = threads.client_port();
    let calls: Vec<_> = (0..200).map(|i| port.request(n(1), i).unwrap()).collect();
    assert!(
        port.recv_deadline(std::time::Instant::now() + ms(50))
            .is_none(),
        "nothing is sent before the post"
    );
    port.post().unwrap();
    let answers = port
        .recv_deadline(std::time::Instant::now() + secs(10))
        .unwrap();
    assert_eq!(answers.from, n(1));
    let answered: Vec<_> = answers.answers.iter().map(|(c, _)| *c).collect();
    assert_eq!(answered, calls, "every answer, in one envelope, in order");
    assert!(answers.answers.iter().all(|(_, a)| a.1 == 200), "one flush");
    assert!(port.request(n(2), 0).is_err(), "a node the cluster lacks");
    let mut threads = threads;
    threads.stop().unwrap();
}

/// Re-arming a timer for later adds nothing to the event queue: a node that pushes its
/// timeout back on every one of 10,000 messages leaves the queue as long as it was, and
/// the timeout fires once, at the last deadline, as if every re-arm had been queued.
#[test]
fn rearming_a_timer_for_later_queues_nothing() {
    struct Patient {
        fired: Vec<Time>,
    }
    impl Node for Patient {
        type Msg = Note;
        type Timer = T;
        type Request = ();
        type Response = ();
        type Event = NoEvent;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
            ctx.set_timer(T::Again, ms(100));
            if ctx.me() == n(1) {
                ctx.send(n(2), Note(0));
            }
            Ok(())
        }
        fn on_message(
            &mut self,
            ctx: &mut Context<'_, Self>,
            from: NodeId,
            Note(k): Note,
        ) -> quorum::Result<()> {
            // Push the timeout back 100 ms from now, then pass the note on.
            ctx.set_timer(T::Again, ms(100));
            if k < 10_000 {
                ctx.send(from, Note(k + 1));
            }
            Ok(())
        }
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
            self.fired.push(ctx.now());
            Ok(())
        }
    }
    let config = SimConfig {
        faults: Faults {
            delay: (Duration::from_micros(10), Duration::from_micros(10)),
            ..Faults::reliable()
        },
        ..SimConfig::new(2, 1)
    };
    let mut sim = Sim::new(config, |_, _| Ok(Patient { fired: Vec::new() })).unwrap();
    sim.run_for(ms(50)).unwrap();
    let longest = sim.queued();
    let mut most = 0;
    while sim.now() < Time(100_000) && sim.step().unwrap() {
        most = most.max(sim.queued());
    }
    assert!(
        most <= longest + 1,
        "the queue grew from {longest} to {most} entries while timers were re-armed"
    );
    sim.run_for(secs(1)).unwrap();
    // Notes take 10 us: n1 gets the odd ones, the last at 100.000 ms, and n2 the even
    // ones, the last (k = 10,000) at 100.010 ms. Each node's timer fires once, 100 ms
    // after its last note.
    let fired: Vec<Vec<Time>> = sim.live_nodes().map(|(_, p)| p.fired.clone()).collect();
    assert_eq!(fired, vec![vec![Time(200_000)], vec![Time(200_010)]]);
}

// --- Crash and restart: storage survives ---------------------------------------------

/// A restarted node sees the storage it had before the crash (in memory).
#[test]
fn a_restarted_node_sees_its_storage_from_before_the_crash() {
    let mut cluster = Cluster::new(3, 4, |id, storage| {
        Ok(Chatter {
            id,
            nodes: 3,
            burst: 1,
            every: Some(ms(10)),
            storage,
            received: 0,
        })
    })
    .unwrap();
    cluster.run_for(ms(105)).unwrap();
    let before = cluster.node(n(2)).unwrap().received;
    assert!(before >= 20);
    cluster.crash(n(2)).unwrap();
    assert!(cluster.node(n(2)).is_none());
    cluster.run_for(ms(100)).unwrap();
    cluster.restart(n(2)).unwrap();
    assert_eq!(
        cluster.node(n(2)).unwrap().received,
        before,
        "restart lost durable state"
    );
}

/// The same on SQLite: the detector's incarnation survives crashes on disk, and a second
/// run over the same directory continues where the first stopped.
#[test]
fn incarnations_survive_crashes_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("quorum-world-incarnation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let locations = |_| {
        NodeId::all(3)
            .into_iter()
            .map(|id| Location::sqlite(&dir, "world-test", id))
            .collect()
    };
    let factory: quorum::runtime::sim::Factory<Detector> =
        Arc::new(|id, s| Ok(Detector::new(id, 3, DetectorConfig::default(), s)));
    let mut sim = Sim::with_storage(SimConfig::new(3, 1), locations(()), factory.clone()).unwrap();
    sim.run_for(ms(300)).unwrap();
    sim.apply(Action::Crash(n(3))).unwrap();
    sim.run_for(ms(800)).unwrap();
    assert!(sim.node(n(1)).unwrap().suspects_peer(n(3)));
    sim.apply(Action::Restart(n(3))).unwrap();
    assert_eq!(sim.node(n(3)).unwrap().incarnation(), 2);
    sim.run_for(ms(300)).unwrap();
    assert!(
        !sim.node(n(1)).unwrap().suspects_peer(n(3)),
        "n3 is back and heartbeating"
    );
    assert!(sim
        .records()
        .iter()
        .any(|r| r.event == "restarted" && r.u64_field("peer") == Some(3)));
    drop(sim);
    let sim = Sim::with_storage(SimConfig::new(3, 2), locations(()), factory).unwrap();
    let mut sim = sim;
    sim.run_for(ms(1)).unwrap();
    let incarnations: Vec<u64> = sim
        .ids()
        .iter()
        .map(|&id| sim.node(id).unwrap().incarnation())
        .collect();
    assert_eq!(incarnations, vec![2, 2, 3]);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- The failure detector, with the harness ------------------------------------------

fn detectors(nodes: usize, seed: u64) -> Cluster<Detector> {
    Cluster::new(nodes, seed, move |id, s| {
        Ok(Detector::new(id, nodes, DetectorConfig::default(), s))
    })
    .unwrap()
}

fn everyone_suspects(c: &Sim<Detector>, peer: NodeId) -> bool {
    c.live_nodes()
        .all(|(id, d)| id == peer || d.suspects_peer(peer))
}

// ANCHOR: scenario_crash
#[test]
fn every_live_node_suspects_a_crashed_one_within_its_timeout() {
    let mut cluster = detectors(5, 1);
    cluster.run_for(secs(1)).unwrap();
    assert!(
        cluster.live_nodes().all(|(_, d)| d.suspects().is_empty()),
        "no suspicion on a reliable network"
    );
    cluster.crash(n(3)).unwrap();
    let crashed_at = cluster.now();
    assert!(cluster
        .run_until(|c| everyone_suspects(c, n(3)), secs(2))
        .unwrap());
    let took = cluster.now() - crashed_at;
    // Silent for a timeout after the last heartbeat, which came at most a heartbeat ago.
    assert!(took <= ms(500), "took {took:?}");
    assert!(took > ms(400), "suspected too early: {took:?}");
}
// ANCHOR_END: scenario_crash

#[test]
fn a_partition_is_suspected_on_both_sides_and_forgiven_when_healed() {
    let mut cluster = detectors(5, 2);
    cluster.run_for(ms(500)).unwrap();
    cluster
        .partition(&[n(1), n(2)], &[n(3), n(4), n(5)])
        .unwrap();
    cluster.run_for(secs(1)).unwrap();
    assert_eq!(
        cluster.node(n(1)).unwrap().suspects(),
        vec![n(3), n(4), n(5)]
    );
    assert_eq!(cluster.node(n(4)).unwrap().suspects(), vec![n(1), n(2)]);
    cluster.heal().unwrap();
    assert!(cluster
        .run_until(
            |c| c.live_nodes().all(|(_, d)| d.suspects().is_empty()),
            ms(300)
        )
        .unwrap());
}

#[test]
fn a_disconnected_node_suspects_everyone_until_reconnected() {
    let mut cluster = detectors(3, 3);
    cluster.run_for(ms(200)).unwrap();
    cluster.disconnect(n(1)).unwrap();
    cluster.run_for(secs(1)).unwrap();
    assert_eq!(cluster.node(n(1)).unwrap().suspects(), vec![n(2), n(3)]);
    assert!(cluster.node(n(2)).unwrap().suspects_peer(n(1)));
    assert!(!cluster.node(n(2)).unwrap().suspects_peer(n(3)));
    cluster.connect(n(1)).unwrap();
    cluster.run_for(ms(300)).unwrap();
    assert!(cluster.live_nodes().all(|(_, d)| d.suspects().is_empty()));
    let s = cluster.stats(n(1));
    assert!(s.sent > 0 && s.dropped > 0 && s.bytes_sent > 0 && s.delivered > 0);
}

#[test]
fn an_unreliable_network_causes_false_suspicions_a_fixed_timeout_cannot_avoid() {
    let mut cluster = Cluster::new(3, 4, |id, s| {
        let config = DetectorConfig {
            heartbeat: ms(20),
            timeout: ms(45),
            adaptive: false,
        };
        Ok(Detector::new(id, 3, config, s))
    })
    .unwrap();
    cluster.set_unreliable(true).unwrap();
    cluster.run_for(secs(5)).unwrap();
    let suspicions = cluster
        .records()
        .iter()
        .filter(|r| r.event == "suspect")
        .count();
    assert!(
        suspicions > 0,
        "10% loss and 27ms delays must fool a 45ms timeout"
    );
    cluster.set_unreliable(false).unwrap();
    cluster.run_for(ms(200)).unwrap();
    assert!(cluster.live_nodes().all(|(_, d)| d.suspects().is_empty()));
}

// --- A randomized sweep ----------------------------------------------------------------

/// Random fault schedules: whatever happens during the run, once faults heal the
/// detector is complete (every crashed node suspected) and accurate (no live node
/// suspected).
#[test]
fn sweep_detector_is_complete_and_accurate_once_faults_heal() {
    let mut failures = Vec::new();
    // QUORUM_SEEDS sets how many seeds (the long setting is 10000); QUORUM_SEED=N runs one.
    for seed in sweep_range(200) {
        let mut r = quorum::runtime::Rng::new(seed);
        let nodes = 3 + r.index(4);
        let faults = Faults {
            drop: r.between(0, 30) as f64 / 100.0,
            delay: (ms(0), ms(r.between(0, 50))),
            duplicate: r.between(0, 10) as f64 / 100.0,
        };
        let mut schedule = Schedule::default();
        let victim = NodeId::from_index(r.index(nodes));
        schedule.at(ms(r.between(100, 2000)), Action::Crash(victim));
        if r.chance(0.5) {
            schedule.at(ms(r.between(2100, 3000)), Action::Restart(victim));
        }
        let cut = NodeId::from_index(r.index(nodes));
        schedule.at(ms(r.between(0, 1500)), Action::Disconnect(cut));
        schedule.at(ms(r.between(1600, 3000)), Action::Connect(cut));
        schedule.at(ms(3000), Action::SetFaults(Faults::reliable()));
        let config = SimConfig {
            faults,
            ..SimConfig::new(nodes, seed)
        };
        let mut sim = detector_sim(config, DetectorConfig::default());
        sim.schedule(&schedule).unwrap();
        let end = Time::ZERO + secs(5);
        sim.run_until(end).unwrap();
        let suspects: Vec<_> = sim
            .ids()
            .into_iter()
            .map(|id| sim.node(id).map(|d| d.suspects()))
            .collect();
        let liveness = Liveness::from_schedule(nodes, &schedule, end);
        let violations = check_properties(end, &suspects, &liveness, ms(700), true);
        if let Some(v) = violations.first() {
            failures.push(format!("seed {seed}: {v}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed (replay one: QUORUM_SEED=<seed> cargo test --test world sweep):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// --- Smoke tests on real threads -------------------------------------------------------

/// A run stops even while one of its nodes is paused, and even while another keeps a
/// timer due at every instant: neither holds the thread that must read `Stop`.
#[test]
fn threads_stop_ends_a_pause_and_a_timer_that_is_always_due() {
    struct Busy;
    impl Node for Busy {
        type Msg = Note;
        type Timer = T;
        type Request = ();
        type Response = ();
        type Event = NoEvent;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
            if ctx.me() == n(2) {
                ctx.set_timer(T::Again, Duration::ZERO);
            }
            Ok(())
        }
        fn on_message(
            &mut self,
            _: &mut Context<'_, Self>,
            _: NodeId,
            _: Note,
        ) -> quorum::Result<()> {
            Ok(())
        }
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
            ctx.set_timer(T::Again, Duration::ZERO);
            Ok(())
        }
    }
    let config = ThreadsConfig {
        nodes: 2,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Off,
    };
    let factory: quorum::runtime::sim::Factory<Busy> = Arc::new(|_, _| Ok(Busy));
    let locations = (0..2).map(|_| Location::memory()).collect();
    let mut threads = Threads::start(config, locations, factory).unwrap();
    let paused = threads.pause(n(1)).unwrap();
    threads.run_schedule(&Schedule::default(), ms(50)).unwrap();
    // Ends: n1's pause and n2's endless timer both give way to the stop.
    threads.stop().unwrap();
    assert!(threads.stats(n(2)).timers_fired > 0);
    drop(paused);
}

/// On threads, a handler's messages to one node travel together, in one hop (in groups
/// of at most `MAX_BATCH`): however they travel, each link delivers every message, in
/// the order it was sent. n1 and n3 each send 2,500 numbered messages to n2 from one
/// handler, and n2 checks that each sender's numbers arrive complete and in order.
#[test]
fn threads_deliver_a_handlers_messages_complete_and_in_order() {
    /// n2 answers its client once it has received all 5,000.
    struct Burst {
        next: std::collections::BTreeMap<NodeId, u64>,
        out_of_order: u64,
        waiting: Option<CallId>,
    }
    impl Burst {
        fn answer(&mut self, ctx: &mut Context<'_, Self>) {
            let received: u64 = self.next.values().sum();
            if received == 5000 {
                if let Some(call) = self.waiting.take() {
                    ctx.reply(call, (received, self.out_of_order));
                }
            }
        }
    }
    impl Node for Burst {
        type Msg = Note;
        type Timer = T;
        type Request = ();
        type Response = (u64, u64);
        type Event = NoEvent;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
            if ctx.me() != n(2) {
                for k in 0..2500 {
                    ctx.send(n(2), Note(k));
                }
            }
            Ok(())
        }
        fn on_message(
            &mut self,
            ctx: &mut Context<'_, Self>,
            from: NodeId,
            Note(k): Note,
        ) -> quorum::Result<()> {
            let next = self.next.entry(from).or_default();
            if k != *next {
                self.out_of_order += 1;
            }
            *next = k + 1;
            self.answer(ctx);
            Ok(())
        }
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
            Ok(())
        }
        fn on_request(
            &mut self,
            ctx: &mut Context<'_, Self>,
            call: CallId,
            _: (),
        ) -> quorum::Result<()> {
            self.waiting = Some(call);
            self.answer(ctx);
            Ok(())
        }
    }
    let config = ThreadsConfig {
        nodes: 3,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Off,
    };
    let factory: quorum::runtime::sim::Factory<Burst> = Arc::new(|_, _| {
        Ok(Burst {
            next: Default::default(),
            out_of_order: 0,
            waiting: None,
        })
    });
    let locations = (0..3).map(|_| Location::memory()).collect();
    let mut threads = Threads::start(config, locations, factory).unwrap();
    let answer = threads.call(n(2), (), secs(10)).unwrap();
    threads.stop().unwrap();
    assert_eq!(answer, (5000, 0), "(messages received, out of order)");
    assert_eq!(threads.stats(n(2)).delivered, 5000);
    assert_eq!(threads.total_stats().sent, 5000);
}

/// A cluster of detectors on real threads, heartbeating every `heartbeat`.
fn detector_threads(
    nodes: usize,
    heartbeat: u64,
    timeout: u64,
    trace: TraceLevel,
) -> Threads<Detector> {
    let config = ThreadsConfig {
        nodes,
        seed: 1,
        faults: Faults::reliable(),
        trace,
    };
    let cfg = DetectorConfig {
        heartbeat: ms(heartbeat),
        timeout: ms(timeout),
        adaptive: false,
    };
    let factory: quorum::runtime::sim::Factory<Detector> =
        Arc::new(move |id, s| Ok(Detector::new(id, nodes, cfg.clone(), s)));
    let locations = (0..nodes).map(|_| Location::memory()).collect();
    Threads::start(config, locations, factory).unwrap()
}

#[test]
fn threads_every_live_node_suspects_a_crashed_node() {
    let mut threads = detector_threads(4, 20, 100, TraceLevel::Everything);
    let mut schedule = Schedule::default();
    schedule.at(ms(100), Action::Crash(n(2)));
    threads.run_schedule(&schedule, ms(400)).unwrap();
    for id in [n(1), n(3), n(4)] {
        let s = threads
            .inspect(id, |d: Option<&Detector>| d.map(|d| d.suspects()))
            .unwrap();
        assert_eq!(s, Some(vec![n(2)]), "{id}");
    }
    let n2_up = threads
        .inspect(n(2), |d: Option<&Detector>| d.is_some())
        .unwrap();
    assert!(!n2_up, "n2 was crashed");
    threads.stop().unwrap(); // every thread has ended: the counts are final
    let stats = threads.total_stats();
    let records = threads.take_records();
    assert!(stats.sent > 0 && stats.delivered > 0);
    assert!(records.iter().any(|r| r.event == "crash" && r.node == n(2)));
    assert_eq!(
        records.iter().filter(|r| r.event == "send").count() as u64,
        stats.sent
    );
}

#[test]
fn threads_partition_blocks_and_restart_keeps_storage() {
    let mut threads = detector_threads(3, 10, 60, TraceLevel::Protocol);
    let mut schedule = Schedule::default();
    schedule.at(
        ms(20),
        Action::Partition {
            a: vec![n(1)],
            b: vec![n(2), n(3)],
            one_way: false,
            on: true,
        },
    );
    schedule.at(ms(50), Action::Crash(n(3)));
    schedule.at(ms(100), Action::Restart(n(3)));
    threads.run_schedule(&schedule, ms(250)).unwrap();
    let s1 = threads.call(n(1), (), secs(5)).unwrap();
    assert_eq!(s1, vec![n(2), n(3)], "n1 is cut off from both");
    let s2 = threads.call(n(2), (), secs(5)).unwrap();
    assert_eq!(s2, vec![n(1)], "n2 hears n3 again after its restart");
    let inc = threads
        .inspect(n(3), |d: Option<&Detector>| d.map(|d| d.incarnation()))
        .unwrap();
    assert_eq!(inc, Some(2), "a restarted node is rebuilt from its storage");
    threads.shutdown().unwrap();
}

// --- Crash semantics and bad input, in both worlds ---------------------------------------

/// Arms one timer, on its first start only (remembered in storage), and records it if it
/// fires. A restarted node never arms it again, so a wake-up after a restart could only
/// come from the crashed incarnation's timer, which must have died with it.
struct OneShot {
    storage: Storage,
    fail_on_message: bool,
    greet: bool,
}

impl Node for OneShot {
    type Msg = Note;
    type Timer = T;
    type Request = ();
    type Response = ();
    type Event = Fact;
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> quorum::Result<()> {
        if self.storage.get_u64("armed")?.is_none() {
            self.storage.put_u64("armed", 1)?;
            ctx.set_timer(T::Again, ms(100));
        }
        if self.greet {
            ctx.send(NodeId(2), Note(0));
        }
        Ok(())
    }
    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        _: Note,
    ) -> quorum::Result<()> {
        ctx.send(from, Note(1));
        if self.fail_on_message {
            return Err(quorum::Error::Runtime("disk full".into()));
        }
        Ok(())
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: T) -> quorum::Result<()> {
        ctx.trace(Fact::Fired {
            timer: "Again".into(),
        });
        Ok(())
    }
}

#[test]
fn a_timer_armed_before_a_crash_never_fires_after_the_restart() {
    let mut sim = Sim::new(SimConfig::new(1, 1), |_, storage| {
        Ok(OneShot {
            storage,
            fail_on_message: false,
            greet: false,
        })
    })
    .unwrap();
    sim.run_for(ms(50)).unwrap();
    sim.apply(Action::Crash(n(1))).unwrap();
    sim.run_for(ms(10)).unwrap();
    sim.apply(Action::Restart(n(1))).unwrap();
    sim.run_for(ms(200)).unwrap();
    assert!(
        !sim.records().iter().any(|r| r.event == "fired"),
        "the crashed incarnation's timer fired"
    );
}

#[test]
fn threads_a_timer_armed_before_a_crash_never_fires_after_the_restart() {
    let config = ThreadsConfig {
        nodes: 1,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Protocol,
    };
    let factory: quorum::runtime::sim::Factory<OneShot> = Arc::new(|_, storage| {
        Ok(OneShot {
            storage,
            fail_on_message: false,
            greet: false,
        })
    });
    let mut threads = Threads::start(config, vec![Location::memory()], factory).unwrap();
    let mut schedule = Schedule::default();
    schedule.at(ms(30), Action::Crash(n(1)));
    schedule.at(ms(40), Action::Restart(n(1)));
    threads.run_schedule(&schedule, ms(200)).unwrap();
    threads.stop().unwrap();
    assert!(!threads.take_records().iter().any(|r| r.event == "fired"));
}

#[test]
fn threads_a_failing_handler_is_fail_stop() {
    let config = ThreadsConfig {
        nodes: 2,
        seed: 1,
        faults: Faults::reliable(),
        trace: TraceLevel::Everything,
    };
    // n1 greets n2 at start; n2 replies and then fails, so its reply must never leave it.
    let factory: quorum::runtime::sim::Factory<OneShot> = Arc::new(|id, storage| {
        Ok(OneShot {
            storage,
            fail_on_message: id == NodeId(2),
            greet: id == NodeId(1),
        })
    });
    let mut threads = Threads::start(
        config,
        vec![Location::memory(), Location::memory()],
        factory,
    )
    .unwrap();
    threads.run_schedule(&Schedule::default(), ms(100)).unwrap();
    let n2_up = threads
        .inspect(n(2), |node: Option<&OneShot>| node.is_some())
        .unwrap();
    assert!(!n2_up, "a node whose handler failed is crashed");
    let err = threads.stop().unwrap_err().to_string();
    assert!(
        err.contains("n2 failed") && err.contains("disk full"),
        "{err}"
    );
    assert_eq!(
        threads.stats(n(1)).delivered,
        0,
        "the failed handler's reply escaped"
    );
    assert_eq!(threads.stats(n(2)).sent, 0);
}

#[test]
fn messages_in_flight_when_a_partition_begins_are_lost_with_it() {
    let faults = Faults {
        delay: (ms(0), ms(50)),
        ..Faults::reliable()
    };
    let mut sim = chatter_sim(2, 11, faults, 1, Some(ms(5)));
    sim.schedule_at(Time(100_000), Action::Disconnect(n(2)))
        .unwrap();
    sim.run_for(ms(300)).unwrap();
    let records = sim.records();
    let late = records
        .iter()
        .filter(|r| r.event == "deliver" && r.t_us >= 100_000)
        .count();
    assert_eq!(late, 0, "a message crossed the partition after it began");
    let cut_in_flight = records
        .iter()
        .filter(|r| {
            r.event == "drop" && r.str_field("reason") == Some("partitioned") && r.t_us > 100_000
        })
        .count();
    assert!(
        cut_in_flight > 0,
        "some messages were in flight at 100 ms and must be dropped on arrival"
    );
}

#[test]
fn actions_naming_no_node_of_the_cluster_are_refused() {
    let mut cluster = detectors(3, 1);
    for bad in [NodeId(0), n(4)] {
        assert!(cluster.disconnect(bad).is_err(), "disconnect({bad})");
        assert!(cluster.crash(bad).is_err(), "crash({bad})");
        assert!(
            cluster.partition(&[n(1)], &[bad]).is_err(),
            "partition with {bad}"
        );
        assert!(cluster.node(bad).is_none(), "node({bad})");
        assert!(cluster.request(bad, ()).is_err(), "request({bad})");
    }
    cluster.run_for(secs(1)).unwrap();
    assert!(
        cluster.live_nodes().all(|(_, d)| d.suspects().is_empty()),
        "a refused action changed nothing"
    );
    let threads = detector_threads(2, 10, 50, TraceLevel::Protocol);
    assert!(threads.apply(&Action::Disconnect(NodeId(0))).is_err());
    assert!(threads.apply(&Action::Crash(n(3))).is_err());
}
