//! Clients over the simulated network, and a few smoke tests on threads: sessions,
//! retries and histories, checked for linearizability, against the single server that
//! opens chapter 2.

mod common;

use std::time::Duration;

use quorum::app::{Command, OpKind, Workload};
use quorum::check::history::Operation;
use quorum::check::linearizable::{check, Verdict};
use quorum::client::sim::SimClients;
use quorum::client::ClientConfig;
use quorum::client::ClientSpec;
use quorum::multipaxos::single::{SingleServer, SERVER};
use quorum::runtime::{Action, Faults, NodeId, Sim, SimConfig, Time};

fn spec(workload: Workload, clients: usize, ops: usize, faults: Faults) -> ClientSpec {
    ClientSpec {
        clients,
        ops_per_client: ops,
        workload,
        keys: 2,
        config: ClientConfig {
            nodes: 3,
            window: 1,
            timeout: Duration::from_millis(20),
            max_timeout: Duration::from_millis(200),
        },
        faults,
        cut_off: Vec::new(),
        lose_first_replies: false,
    }
}

fn lossy() -> Faults {
    Faults {
        drop: 0.2,
        delay: (Duration::ZERO, Duration::from_millis(5)),
        duplicate: 0.2,
    }
}

fn single_server(seed: u64, workload: Workload) -> Sim<SingleServer> {
    Sim::new(SimConfig::new(3, seed), move |id, _| {
        Ok(SingleServer::new(id, workload))
    })
    .expect("a sim")
}

#[test]
fn the_single_servers_histories_are_linearizable_under_loss_and_duplication() {
    for seed in common::sweep_range(300) {
        let workload = [Workload::Kv, Workload::Counter, Workload::Fib][seed as usize % 3];
        let mut sim = single_server(seed, workload);
        let mut clients = SimClients::new(spec(workload, 5, 20, lossy()), seed);
        clients.run(&mut sim, Time(60_000_000)).expect("runs");
        assert!(clients.done(), "seed {seed}: the clients did not finish");
        let history = clients.history();
        let report = check(&history, workload, Duration::from_secs(10));
        assert_eq!(
            report.verdict,
            Verdict::Ok,
            "seed {seed} ({workload}): {report:#?}\nreplay: QUORUM_SEED={seed} cargo test --release --test clients the_single_servers"
        );
    }
}

/// The counter on the server counts every acknowledged increment, and at most the
/// unanswered ones besides, and the history checks.
fn assert_each_increment_counted_once(
    seed: u64,
    sim: &Sim<SingleServer>,
    history: &[Operation],
    test: &str,
) {
    let incr = history.iter().filter(|o| o.op == OpKind::Incr);
    let acked = incr.clone().filter(|o| !o.is_unknown()).count() as i64;
    let unknown = incr.filter(|o| o.is_unknown()).count() as i64;
    let count: i64 = sim
        .node(SERVER)
        .expect("the server is up")
        .service()
        .query(&Command::new(OpKind::Read, "0", ""))
        .and_then(|c| c.parse().ok())
        .expect("a count");
    assert!(
        acked <= count && count <= acked + unknown,
        "seed {seed}: {acked} increments acknowledged, {unknown} unanswered, count {count}\nreplay: QUORUM_SEED={seed} cargo test --release --test clients {test}"
    );
    let report = check(history, Workload::Counter, Duration::from_secs(10));
    assert_eq!(report.verdict, Verdict::Ok, "seed {seed}: {report:#?}");
}

#[test]
fn every_first_reply_lost_and_requests_duplicated_yet_each_increment_counts_once() {
    for seed in common::sweep_range(1000) {
        let mut sim = single_server(seed, Workload::Counter);
        let mut s = spec(Workload::Counter, 4, 10, lossy());
        s.keys = 1;
        s.lose_first_replies = true;
        let mut clients = SimClients::new(s, seed);
        clients.run(&mut sim, Time(60_000_000)).expect("runs");
        let history = clients.history();
        assert_each_increment_counted_once(seed, &sim, &history, "every_first_reply");
    }
}

#[test]
fn the_naive_replication_loses_acknowledged_writes_and_the_checker_says_so() {
    use quorum::multipaxos::naive::Naive;
    let mut illegal = Vec::new();
    for seed in 0..100 {
        let workload = Workload::Kv;
        let config = SimConfig {
            faults: lossy(),
            ..SimConfig::new(3, seed)
        };
        let mut sim = Sim::new(config, move |id, _| Ok(Naive::new(id, workload))).expect("a sim");
        // The primary crashes 1 s in; its backup takes over with whatever copies
        // reached it.
        sim.schedule_at(Time(1_000_000), Action::Crash(NodeId(1)))
            .expect("a crash");
        let mut clients = SimClients::new(spec(workload, 5, 30, lossy()), seed);
        clients.run(&mut sim, Time(60_000_000)).expect("runs");
        let report = check(&clients.history(), workload, Duration::from_secs(10));
        assert_ne!(report.verdict, Verdict::Unknown, "seed {seed}: undecided");
        if report.verdict == Verdict::Illegal {
            illegal.push(seed);
        }
    }
    assert!(
        illegal.len() >= 5,
        "only seeds {illegal:?} of 100 found the naive replication out"
    );
}

#[test]
fn pipelined_clients_with_every_first_reply_lost_still_count_each_increment_once() {
    for seed in common::sweep_range(300) {
        let mut sim = single_server(seed, Workload::Counter);
        let mut s = spec(Workload::Counter, 3, 40, lossy());
        s.keys = 1;
        s.config.window = 8;
        s.lose_first_replies = true;
        let mut clients = SimClients::new(s, seed);
        clients.run(&mut sim, Time(60_000_000)).expect("runs");
        let history = clients.history();
        let concurrent = history.iter().any(|a| {
            history
                .iter()
                .filter(|b| b.client == a.client && b.call_us < a.call_us)
                .any(|b| b.return_us.is_none_or(|r| r > a.call_us))
        });
        assert!(
            concurrent,
            "seed {seed}: no client ever had two requests in flight"
        );
        assert_each_increment_counted_once(seed, &sim, &history, "pipelined");
    }
}

/// The single server on threads (n1, and two nodes that redirect) with `s`'s clients
/// on `client_threads` threads: the history, and the server's count of key "0".
fn on_threads(s: ClientSpec, client_threads: usize, seed: u64) -> (Vec<Operation>, i64) {
    use quorum::client::threads::ClientThreads;
    use quorum::runtime::{Threads, ThreadsConfig, TraceLevel};
    use quorum::storage::Location;
    let workload = s.workload;
    let config = ThreadsConfig {
        nodes: 3,
        seed,
        faults: Faults::reliable(),
        trace: TraceLevel::Off,
    };
    let locations = (0..3).map(|_| Location::memory()).collect();
    let factory = std::sync::Arc::new(move |id, _| Ok(SingleServer::new(id, workload)));
    let mut cluster = Threads::start(config, locations, factory).expect("a cluster");
    let deadline = Time(60_000_000);
    let mut clients =
        ClientThreads::start(&cluster, &s, client_threads, seed, deadline).expect("client threads");
    assert!(
        clients.wait_until(deadline),
        "the clients did not finish in 60 s"
    );
    let history = clients.finish().expect("a history");
    let count = cluster
        .inspect(SERVER, |n| {
            n.and_then(|n| n.service().query(&Command::new(OpKind::Read, "0", "")))
        })
        .expect("inspected")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    cluster.stop().expect("stops");
    (history, count)
}

#[test]
fn threads_many_clients_on_few_threads_see_a_linearizable_history() {
    // 200 clients on 2 threads, each opening a session at a node chosen in turn (two
    // of three redirect), then calling one operation at a time.
    let mut s = spec(Workload::Kv, 200, 20, Faults::reliable());
    s.keys = 50;
    let (history, _) = on_threads(s, 2, 1);
    assert_eq!(history.len(), 200 * 20);
    assert!(
        history.iter().all(|o| !o.is_unknown()),
        "every operation answered"
    );
    assert!(
        history.windows(2).all(|w| w[0].call_us <= w[1].call_us),
        "the history lists operations in the order they were called"
    );
    let report = check(&history, Workload::Kv, Duration::from_secs(10));
    assert_eq!(report.verdict, Verdict::Ok, "{report:#?}");
}

#[test]
fn threads_lossy_links_lose_no_increment_and_count_none_twice() {
    // Every first reply lost, and a fifth of requests and replies lost or doubled, on
    // the client threads' links: every request is retried at least once.
    let mut s = spec(Workload::Counter, 8, 25, lossy());
    s.keys = 1;
    s.config.window = 4;
    s.lose_first_replies = true;
    let (history, count) = on_threads(s, 2, 7);
    let incr = history.iter().filter(|o| o.op == OpKind::Incr);
    let acked = incr.clone().filter(|o| !o.is_unknown()).count() as i64;
    let unknown = incr.filter(|o| o.is_unknown()).count() as i64;
    assert!(
        acked > 0 && acked <= count && count <= acked + unknown,
        "{acked} increments acknowledged, {unknown} unanswered, count {count}"
    );
    let report = check(&history, Workload::Counter, Duration::from_secs(10));
    assert_eq!(report.verdict, Verdict::Ok, "{report:#?}");
}

/// A service that is linearizable but answers out of order: reads at once, writes a
/// little later (0 to 100 us, as a write that needs a replication round would).
struct Lagging {
    service: quorum::app::sessions::Service,
    applied: u64,
    next: u64,
    pending: std::collections::HashMap<u64, (quorum::runtime::CallId, quorum::client::Request)>,
}

impl Lagging {
    fn apply(
        &mut self,
        ctx: &mut quorum::runtime::Context<'_, Self>,
        call: quorum::runtime::CallId,
        req: quorum::client::Request,
    ) {
        self.applied += 1;
        let entry = req.into_entry();
        let reply = self
            .service
            .apply(self.applied, ctx.now().as_micros(), &entry);
        if let Some(r) = quorum::client::Response::to_client(reply) {
            ctx.reply(call, r);
        }
    }
}

impl quorum::runtime::Node for Lagging {
    type Msg = quorum::multipaxos::single::Never;
    type Timer = u64;
    type Event = quorum::runtime::trace::NoEvent;
    type Request = quorum::client::Request;
    type Response = quorum::client::Response;

    fn on_start(&mut self, _: &mut quorum::runtime::Context<'_, Self>) -> quorum::Result<()> {
        Ok(())
    }

    fn on_message(
        &mut self,
        _: &mut quorum::runtime::Context<'_, Self>,
        _: NodeId,
        m: Self::Msg,
    ) -> quorum::Result<()> {
        match m {}
    }

    fn on_timer(
        &mut self,
        ctx: &mut quorum::runtime::Context<'_, Self>,
        t: u64,
    ) -> quorum::Result<()> {
        if let Some((call, req)) = self.pending.remove(&t) {
            self.apply(ctx, call, req);
        }
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut quorum::runtime::Context<'_, Self>,
        call: quorum::runtime::CallId,
        req: quorum::client::Request,
    ) -> quorum::Result<()> {
        let read = matches!(&req, quorum::client::Request::Op { command, .. } if command.op == OpKind::Get);
        if read {
            self.apply(ctx, call, req);
            return Ok(());
        }
        self.next += 1;
        let lag = Duration::from_micros(ctx.rng().index(100) as u64);
        ctx.set_timer(self.next, lag);
        self.pending.insert(self.next, (call, req));
        Ok(())
    }
}

#[test]
fn threads_stamp_each_answer_when_it_is_taken_so_out_of_order_answers_check() {
    // Six client threads share two cores with the server: a thread that stamped a
    // whole drain of answers with the instant it woke would give some a return before
    // their write took effect, and a correct service would be judged illegal.
    use quorum::client::threads::ClientThreads;
    use quorum::runtime::{Threads, ThreadsConfig, TraceLevel};
    use quorum::storage::Location;
    for seed in 0..30u64 {
        let config = ThreadsConfig {
            nodes: 1,
            seed,
            faults: Faults::reliable(),
            trace: TraceLevel::Off,
        };
        let factory = std::sync::Arc::new(|_, _| {
            Ok(Lagging {
                service: quorum::app::sessions::Service::new(
                    quorum::app::machine(Workload::Kv),
                    60_000_000,
                ),
                applied: 0,
                next: 0,
                pending: Default::default(),
            })
        });
        let mut cluster = Threads::start(config, vec![Location::memory()], factory).unwrap();
        // Two clients per key, so that a debug build (slower, so larger batches) still
        // decides every history well within the budget.
        let mut s = spec(Workload::Kv, 120, 50, Faults::reliable());
        s.keys = 60;
        s.config.nodes = 1;
        s.config.timeout = Duration::from_millis(500);
        let deadline = Time(60_000_000);
        let mut clients = ClientThreads::start(&cluster, &s, 6, seed, deadline).unwrap();
        assert!(clients.wait_until(deadline), "seed {seed}: not done");
        let history = clients.finish().unwrap();
        cluster.stop().unwrap();
        let report = check(&history, Workload::Kv, Duration::from_secs(30));
        assert_eq!(report.verdict, Verdict::Ok, "seed {seed}: {report:#?}");
    }
}
