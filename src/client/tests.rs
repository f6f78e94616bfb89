//! The client against a toy service on a lossy, duplicating network: a leader (n2) that
//! applies through the session table, two followers that refuse with a hint, and a
//! queue of timed events. The runtimes carry clients for real; this checks the
//! client's own rules on their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::*;
use crate::app::sessions::{AppCommand, Service};
use crate::app::{machine, OpKind, Workload};
use crate::check::linearizable::{check, Verdict};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Request number `.2` (of `World::requests`) of client `.0` reaches node `.1`.
    AtNode(usize, NodeId, usize),
    /// Response number `.2` (of `World::responses`) from node `.1` reaches client `.0`.
    AtClient(usize, NodeId, usize),
    /// A client's timer.
    Timer(usize, ClientTimer),
    /// A client calls its next operation.
    Call(usize),
}

struct World {
    clients: Vec<Client>,
    requests: Vec<Request>,
    responses: Vec<Response>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    service: Service,
    index: u64,
    rng: Rng,
    drop: f64,
    duplicate: f64,
    /// Times the service applied an increment.
    applied: u64,
    /// Requests refused because their session had expired.
    expired: u64,
}

impl World {
    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, e)));
    }

    fn carry(&mut self, now: u64, client: usize, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { to, request } => {
                    for _ in 0..self.copies() {
                        self.requests.push(request.clone());
                        let key = self.requests.len() - 1;
                        let delay = self.rng.between(100, 3000);
                        self.push(now + delay, Event::AtNode(client, to, key));
                    }
                }
                Effect::SetTimer { timer, after } => {
                    self.push(now + after.as_micros() as u64, Event::Timer(client, timer));
                }
            }
        }
    }

    /// How many copies the network delivers: 0 (lost), 1, or 2 (duplicated).
    fn copies(&mut self) -> usize {
        if self.rng.chance(self.drop) {
            0
        } else if self.rng.chance(self.duplicate) {
            2
        } else {
            1
        }
    }

    fn node_handles(&mut self, now: u64, client: usize, node: NodeId, request: Request) {
        let response = if node != NodeId(2) {
            let hint = self.rng.chance(0.7).then_some(NodeId(2));
            Some(Response::NotLeader { leader: hint })
        } else {
            self.index += 1;
            let mut entry = request.into_entry();
            let mut sent_seq = None;
            if let AppCommand::Request { seq, acked, .. } = &mut entry {
                sent_seq = Some(*seq);
                if FORGET.with(|f| f.get()) {
                    // Every request a new number: the table never sees a retry.
                    (*seq, *acked) = (1_000_000 + self.index, 0);
                }
            }
            let mut reply = self.service.apply(self.index, now, &entry);
            if let (Reply::Done { seq, .. }, Some(sent)) = (&mut reply, sent_seq) {
                *seq = sent; // answer under the number the client sent
            }
            match reply {
                Reply::Done { applied: true, .. } => self.applied += 1,
                Reply::Expired { .. } => self.expired += 1,
                _ => {}
            }
            Response::to_client(reply)
        };
        if let Some(response) = response {
            for _ in 0..self.copies() {
                self.responses.push(response.clone());
                let key = self.responses.len() - 1;
                let delay = self.rng.between(100, 3000);
                self.push(now + delay, Event::AtClient(client, node, key));
            }
        }
    }
}

/// `clients` closed-loop clients each increment a counter `ops` times over a network
/// that drops and duplicates; returns the world at the end and the merged history.
fn run(
    seed: u64,
    clients: usize,
    ops: usize,
    drop: f64,
    expiry_us: u64,
) -> (World, Vec<Operation>) {
    let config = ClientConfig {
        nodes: 3,
        window: 1,
        timeout: Duration::from_millis(10),
        max_timeout: Duration::from_millis(80),
    };
    let mut w = World {
        clients: (0..clients)
            .map(|i| {
                Client::new(
                    ClientId(i as u64 + 1),
                    config.clone(),
                    NodeId::from_index(i % 3),
                )
            })
            .collect(),
        requests: Vec::new(),
        responses: Vec::new(),
        queue: BinaryHeap::new(),
        seq: 0,
        service: Service::new(machine(Workload::Counter), expiry_us),
        index: 0,
        rng: Rng::new(seed),
        drop,
        duplicate: 0.1,
        applied: 0,
        expired: 0,
    };
    let mut calls = vec![0usize; clients];
    for c in 0..clients {
        w.push(0, Event::Call(c));
    }
    let end = 5_000_000; // 5 s: whatever is still in flight then stays unknown
    while let Some(Reverse((now, _, event))) = w.queue.pop() {
        if now > end {
            break;
        }
        let mut out = Vec::new();
        let c = match event {
            Event::Call(c) => {
                if calls[c] < ops && w.clients[c].can_call() {
                    calls[c] += 1;
                    w.clients[c].call(Time(now), Command::new(OpKind::Incr, "n", ""), &mut out);
                }
                c
            }
            Event::AtNode(c, node, key) => {
                let request = w.requests[key].clone();
                w.node_handles(now, c, node, request);
                c
            }
            Event::AtClient(c, node, key) => {
                let response = w.responses[key].clone();
                let before = w.clients[c].in_flight();
                w.clients[c].on_response(Time(now), node, response, &mut out);
                if w.clients[c].in_flight() < before {
                    w.push(now + 1, Event::Call(c));
                }
                c
            }
            Event::Timer(c, t) => {
                let mut rng = Rng::new(seed ^ now);
                w.clients[c].on_timer(t, &mut rng, &mut out);
                c
            }
        };
        w.carry(now, c, out);
    }
    let history: Vec<Operation> = w
        .clients
        .iter()
        .flat_map(|c| c.history().to_vec())
        .collect();
    (w, history)
}

#[test]
fn retried_increments_are_applied_once_and_the_history_is_linearizable() {
    for seed in 0..200 {
        let (w, history) = run(seed, 4, 15, 0.2, u64::MAX);
        let acked = history.iter().filter(|o| !o.is_unknown()).count() as u64;
        let unknown = history.len() as u64 - acked;
        assert!(
            acked <= w.applied && w.applied <= acked + unknown,
            "seed {seed}: {acked} increments acknowledged, {unknown} unknown, but {} applied",
            w.applied
        );
        assert!(acked > 0, "seed {seed}: nothing got through");
        let report = check(&history, Workload::Counter, Duration::from_secs(10));
        assert_eq!(report.verdict, Verdict::Ok, "seed {seed}: {report:#?}");
    }
}

#[test]
fn without_the_session_table_a_retry_is_applied_twice_and_the_checker_sees_it() {
    // A service that forgets replies (every request looks new) applies retries again:
    // the counter runs ahead of what clients were told, and the histories show it.
    let mut caught = 0;
    for seed in 0..50 {
        let (w, history) = run_forgetful(seed);
        let acked = history.iter().filter(|o| !o.is_unknown()).count() as u64;
        let unknown = history.len() as u64 - acked;
        if w.applied > acked + unknown {
            let report = check(&history, Workload::Counter, Duration::from_secs(10));
            assert_eq!(
                report.verdict,
                Verdict::Illegal,
                "seed {seed}: applied twice, yet {report:#?}"
            );
            caught += 1;
        }
    }
    assert!(
        caught > 10,
        "only {caught} of 50 lossy runs applied a retry twice"
    );
}

/// `run`, against a leader that defeats its session table: it gives every request it
/// receives a fresh number, so a retry looks new and is applied again (and answers
/// under the number the client sent).
fn run_forgetful(seed: u64) -> (World, Vec<Operation>) {
    FORGET.with(|f| f.set(true));
    let result = run(seed, 4, 15, 0.2, u64::MAX);
    FORGET.with(|f| f.set(false));
    result
}

thread_local! {
    /// Whether the toy leader renumbers requests, defeating the session table.
    static FORGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[test]
fn an_expired_session_leaves_its_request_unknown_and_a_new_session_carries_on() {
    // Sessions expire after 40 ms of log time: a client whose retries back off to 80 ms
    // (its leader unreachable for a while) finds its session gone.
    let mut expired_runs = 0;
    for seed in 0..100 {
        let (w, history) = run(seed, 3, 10, 0.3, 40_000);
        let acked = history.iter().filter(|o| !o.is_unknown()).count() as u64;
        let unknown = history.len() as u64 - acked;
        assert!(
            acked <= w.applied && w.applied <= acked + unknown,
            "seed {seed}"
        );
        let report = check(&history, Workload::Counter, Duration::from_secs(10));
        assert_eq!(report.verdict, Verdict::Ok, "seed {seed}: {report:#?}");
        expired_runs += usize::from(w.expired > 0);
    }
    assert!(
        expired_runs > 10,
        "sessions expired in only {expired_runs} of 100 runs"
    );
}

#[test]
fn a_late_answer_opening_a_session_given_up_is_not_adopted() {
    let mut c = Client::new(ClientId(1), ClientConfig::default(), NodeId(1));
    let mut out = Vec::new();
    let incr = || Command::new(OpKind::Incr, "n", "");
    c.call(Time(0), incr(), &mut out);
    let opened = |session| {
        Response::Applied(Reply::Opened {
            client: ClientId(1),
            session,
        })
    };
    c.on_response(Time(1), NodeId(1), opened(5), &mut out);
    c.on_response(
        Time(2),
        NodeId(1),
        Response::Applied(Reply::Expired { session: 5, seq: 1 }),
        &mut out,
    );
    assert_eq!(
        c.history()[0].return_us,
        None,
        "an expired request stays unanswered"
    );
    out.clear();
    c.call(Time(3), incr(), &mut out);
    // A duplicate of the old opening arrives late: it must not be taken for the new one.
    c.on_response(Time(4), NodeId(1), opened(5), &mut out);
    let sessions = |out: &[Effect]| -> Vec<u64> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Send {
                    request: Request::Op { session, .. },
                    ..
                } => Some(*session),
                _ => None,
            })
            .collect()
    };
    assert!(
        sessions(&out).is_empty(),
        "sent under the expired session: {out:?}"
    );
    c.on_response(Time(5), NodeId(1), opened(9), &mut out);
    assert_eq!(sessions(&out), [9], "{out:?}");
}
