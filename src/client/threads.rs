//! Clients on threads: many logical clients multiplexed over a few OS threads.
//!
//! A client is a pure state machine ([`Client`]), so it needs no thread of its own: a
//! client thread runs a share of the clients, each with its requests in flight, its
//! timers and its history, over one [`ClientPort`]. The thread's loop mirrors a node
//! thread's: fire what is due (client timers, messages held back by a delay), let every
//! client that has room call its next operation, post every gathered request (one
//! envelope per node), then block until answers come or the next timer is due. So 256
//! clients need one or two threads, not 256, and a node thread gets one envelope per
//! client thread and batch, not one per request.
//!
//! The links between clients and nodes are the simulator's (`client::links`): each
//! request and each answer is lost, delayed or doubled as the run's faults draw it, on
//! the client thread, from a generator of the run's seed. The threads are not
//! deterministic (the machine schedules them), so a seed here names the draws, not the
//! run.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::links::Links;
use super::{Client, ClientSpec, ClientTimer, Effect, Request, Response};
use crate::check::history::Operation;
use crate::error::{Error, Result};
use crate::runtime::{Answers, ClientPort, Node, Rng, Threads};
use crate::types::{CallId, ClientId, NodeId, Time};

/// The client threads of a run on threads.
pub struct ClientThreads {
    handles: Vec<JoinHandle<Result<Vec<Operation>>>>,
    /// One message per client thread whose clients are all done (none from a thread
    /// stopped by the deadline first).
    done: Receiver<()>,
    finished: usize,
    stop: Arc<AtomicBool>,
    /// When the run started, by the machine's clock.
    start: Instant,
}

impl ClientThreads {
    /// Starts `spec`'s clients on `threads` client threads (at least one, at most one
    /// per client) against the running cluster `cluster`, drawing their commands and
    /// their links' faults from `seed`. Every client stops at `deadline`, run time:
    /// what is in flight then stays unanswered.
    pub fn start<N>(
        cluster: &Threads<N>,
        spec: &ClientSpec,
        threads: usize,
        seed: u64,
        deadline: Time,
    ) -> Result<ClientThreads>
    where
        N: Node<Request = Request, Response = Response>,
    {
        let threads = threads.clamp(1, spec.clients.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done) = crossbeam_channel::unbounded();
        let mut handles = Vec::with_capacity(threads);
        let start = cluster.client_port().instant(Time::ZERO);
        for t in 0..threads {
            // Thread t runs clients lo..hi, in order of id.
            let (lo, hi) = (spec.clients * t / threads, spec.clients * (t + 1) / threads);
            let driver = Driver::new(
                cluster.client_port(),
                spec,
                lo..hi,
                Rng::derived(seed, 0xc11e + 1 + t as u64),
                stop.clone(),
                deadline,
                done_tx.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("clients{}", t + 1))
                .spawn(move || driver.run());
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    stop.store(true, Relaxed);
                    return Err(Error::Runtime(format!(
                        "could not start a client thread: {e}"
                    )));
                }
            }
        }
        Ok(ClientThreads {
            handles,
            done,
            finished: 0,
            stop,
            start,
        })
    }

    /// Waits until every client is done or run time `until` comes, whichever is first;
    /// whether every client is done.
    pub fn wait_until(&mut self, until: Time) -> bool {
        let deadline = self.start + until.as_duration();
        while self.finished < self.handles.len() {
            match self.done.recv_deadline(deadline) {
                Ok(()) => self.finished += 1,
                Err(_) => return false,
            }
        }
        true
    }

    /// Stops the client threads (what is in flight stays unanswered) and returns every
    /// operation of every client in the order they were called: by call time, and
    /// calls of one instant on one thread in the order that thread made them.
    pub fn finish(self) -> Result<Vec<Operation>> {
        self.stop.store(true, Relaxed);
        let mut history = Vec::new();
        for h in self.handles {
            let ops = h
                .join()
                .map_err(|_| Error::Runtime("a client thread panicked".into()))??;
            history.extend(ops);
        }
        history.sort_by_key(|o| o.call_us); // stable
        Ok(history)
    }
}

/// A request or an answer a delay holds back on the client thread.
enum Held {
    /// Client `.0`'s request to node `.1`.
    Request(usize, NodeId, Request),
    /// Node `.1`'s answer to client `.0`.
    Answer(usize, NodeId, Response),
}

/// The longest a client thread blocks before it looks at its stop flag again.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// One client thread: its clients and everything they wait for.
struct Driver<N: Node<Request = Request, Response = Response>> {
    port: ClientPort<N>,
    spec: ClientSpec,
    clients: Vec<Client>,
    /// How many operations each client has called.
    called: Vec<usize>,
    /// Whether each client is done (all called, none in flight).
    finished: Vec<bool>,
    unfinished: usize,
    /// Clients that may have room for another call.
    ready: Vec<usize>,
    /// Client timers: (when, client, timer).
    timers: Timers,
    /// Requests and answers a delay holds back, by (when due, sequence number).
    held: BTreeMap<(Time, u64), Held>,
    held_seq: u64,
    /// Which client made each call still unanswered.
    calls: HashMap<CallId, usize>,
    /// How many operations this thread's clients have in flight.
    in_flight: usize,
    /// The client of every operation called, in the order they were called.
    called_order: Vec<usize>,
    links: Links,
    /// Whether the links are perfect: no draw per message.
    perfect: bool,
    rng: Rng,
    out: Vec<Effect>,
    stop: Arc<AtomicBool>,
    deadline: Time,
    done: Sender<()>,
}

impl<N: Node<Request = Request, Response = Response>> Driver<N> {
    fn new(
        port: ClientPort<N>,
        spec: &ClientSpec,
        ids: std::ops::Range<usize>,
        rng: Rng,
        stop: Arc<AtomicBool>,
        deadline: Time,
        done: Sender<()>,
    ) -> Driver<N> {
        let clients: Vec<Client> = ids
            .map(|i| {
                let first = NodeId::from_index(i % spec.config.nodes.max(1));
                Client::new(ClientId(i as u64 + 1), spec.config.clone(), first)
            })
            .collect();
        let n = clients.len();
        let links = Links::new(spec);
        Driver {
            port,
            spec: spec.clone(),
            clients,
            called: vec![0; n],
            finished: vec![false; n],
            unfinished: n,
            ready: (0..n).collect(),
            timers: Timers::default(),
            held: BTreeMap::new(),
            held_seq: 0,
            calls: HashMap::new(),
            in_flight: 0,
            called_order: Vec::new(),
            perfect: links.is_perfect(),
            links,
            rng,
            out: Vec::new(),
            stop,
            deadline,
            done,
        }
    }

    // ANCHOR: client_thread
    fn run(mut self) -> Result<Vec<Operation>> {
        loop {
            let now = self.port.now();
            if now >= self.deadline || self.stop.load(Relaxed) {
                break;
            }
            self.fire_due(now)?;
            self.call_ready(now)?;
            self.port.post()?;
            if self.unfinished == 0 {
                break;
            }
            // Block until answers come or the next timer (or held message) is due.
            let wake = [self.timers.next_at(), self.held.keys().next().map(|k| k.0)]
                .into_iter()
                .flatten()
                .fold(self.deadline, Time::min);
            let wake = self.port.instant(wake).min(Instant::now() + STOP_CHECK);
            let Some(answers) = self.wait(wake) else {
                continue;
            };
            // Each envelope's answers returned when it was taken: a stamp read before
            // an answer came could fall before the moment its operation took effect.
            self.take(self.port.now(), answers)?;
            while let Some(answers) = self.port.try_recv() {
                self.take(self.port.now(), answers)?;
            }
        }
        if self.unfinished == 0 {
            let _ = self.done.send(());
        }
        Ok(self.into_history())
    }
    // ANCHOR_END: client_thread

    /// Every operation of this thread's clients, in the order they were called.
    fn into_history(mut self) -> Vec<Operation> {
        // Each client's operations come in its history in the order it called them.
        let mut histories: Vec<_> = self
            .clients
            .iter_mut()
            .map(|c| c.take_history().into_iter())
            .collect();
        let ops = self.called_order.iter();
        ops.filter_map(|&i| histories[i].next()).collect()
    }

    /// The next answers, waiting until `deadline` at most. An answer to a request in
    /// flight often comes within microseconds: look for it a while before blocking,
    /// since a blocked thread takes longer to wake than the answer takes to come.
    fn wait(&self, deadline: Instant) -> Option<Answers<N>> {
        let spun = (self.in_flight > 0)
            .then(|| self.port.spin_recv())
            .flatten();
        spun.or_else(|| self.port.recv_deadline(deadline))
    }

    /// Fires every client timer and releases every held message that is due.
    fn fire_due(&mut self, now: Time) -> Result<()> {
        while let Some((i, timer)) = self.timers.pop_due(now) {
            self.clients[i].on_timer(timer, &mut self.rng, &mut self.out);
            self.carry_out(i, now)?;
        }
        while let Some(entry) = self.held.first_entry().filter(|e| e.key().0 <= now) {
            match entry.remove() {
                Held::Request(i, to, request) => {
                    let call = self.port.request(to, request)?;
                    self.calls.insert(call, i);
                }
                Held::Answer(i, from, response) => self.answer(i, from, response, now)?,
            }
        }
        Ok(())
    }

    /// Lets every client with room call its next operations.
    fn call_ready(&mut self, now: Time) -> Result<()> {
        let ready = std::mem::take(&mut self.ready);
        for &i in &ready {
            while self.clients[i].call_next(
                &mut self.called[i],
                &self.spec,
                now,
                &mut self.rng,
                &mut self.out,
            ) {
                self.in_flight += 1;
                self.called_order.push(i);
                self.carry_out(i, now)?;
            }
            self.settle(i);
        }
        self.ready = ready;
        self.ready.clear();
        Ok(())
    }

    /// Hands each answer of `answers` to its client, across the client's link.
    fn take(&mut self, now: Time, answers: Answers<N>) -> Result<()> {
        let from = answers.from;
        for (call, response) in answers.answers {
            let Some(i) = self.calls.remove(&call) else {
                continue;
            };
            if self.perfect {
                self.answer(i, from, response, now)?;
                continue;
            }
            let id = self.clients[i].id();
            let arrivals: Vec<Time> = self
                .links
                .reply(id, now, &response, &mut self.rng)
                .collect();
            for at in arrivals {
                self.hold(at, Held::Answer(i, from, response.clone()));
            }
        }
        Ok(())
    }

    /// Client `i` receives `response` from `from`.
    fn answer(&mut self, i: usize, from: NodeId, response: Response, now: Time) -> Result<()> {
        let before = self.clients[i].in_flight();
        self.clients[i].on_response(now, from, response, &mut self.out);
        let after = self.clients[i].in_flight();
        if after < before {
            self.in_flight -= before - after;
            self.ready.push(i);
        }
        self.carry_out(i, now)?;
        self.settle(i);
        Ok(())
    }

    /// Carries out client `i`'s effects: requests across its link, timers.
    fn carry_out(&mut self, i: usize, now: Time) -> Result<()> {
        let mut out = std::mem::take(&mut self.out);
        for effect in out.drain(..) {
            match effect {
                Effect::Send { to, request } if self.perfect => {
                    let call = self.port.request(to, request)?;
                    self.calls.insert(call, i);
                }
                Effect::Send { to, request } => {
                    let id = self.clients[i].id();
                    let arrivals: Vec<Time> = self.links.request(id, now, &mut self.rng).collect();
                    for at in arrivals {
                        self.hold(at, Held::Request(i, to, request.clone()));
                    }
                }
                Effect::SetTimer { timer, after } => self.timers.set(now, after, i, timer),
            }
        }
        self.out = out;
        Ok(())
    }

    /// Holds `what` until `at` (the next pass over due messages releases it, even if
    /// `at` is now).
    fn hold(&mut self, at: Time, what: Held) {
        self.held_seq += 1;
        self.held.insert((at, self.held_seq), what);
    }

    /// Counts client `i` as done once it has called everything and awaits nothing.
    fn settle(&mut self, i: usize) {
        if !self.finished[i]
            && self.called[i] >= self.spec.ops_per_client
            && self.clients[i].in_flight() == 0
        {
            self.finished[i] = true;
            self.unfinished -= 1;
        }
    }
}

/// Timers of one length of wait, in time order: (when, client, timer).
type TimerQueue = std::collections::VecDeque<(Time, usize, ClientTimer)>;

/// Client timers, kept in one queue per length of wait. Every timer of one length is
/// set later than the one before, so each queue is already in time order: setting a
/// timer is a push, and the next one due is the earliest of a few queue heads. (Nearly
/// every timer outlives its request, so there are as many as requests in a timeout's
/// worth of time.)
#[derive(Default)]
struct Timers {
    queues: Vec<(Duration, TimerQueue)>,
}

impl Timers {
    /// Client `i`'s `timer`, set at `now`, fires after `after`.
    fn set(&mut self, now: Time, after: Duration, i: usize, timer: ClientTimer) {
        let at = now + after;
        match self.queues.iter_mut().find(|(d, _)| *d == after) {
            Some((_, q)) => q.push_back((at, i, timer)),
            None => self.queues.push((after, [(at, i, timer)].into())),
        }
    }

    /// When the next timer is due.
    fn next_at(&self) -> Option<Time> {
        self.queues
            .iter()
            .filter_map(|(_, q)| q.front().map(|t| t.0))
            .min()
    }

    /// The next timer due by `now`, if any, taken out.
    fn pop_due(&mut self, now: Time) -> Option<(usize, ClientTimer)> {
        let (_, q) = self
            .queues
            .iter_mut()
            .filter(|(_, q)| q.front().is_some_and(|t| t.0 <= now))
            .min_by_key(|(_, q)| q.front().map(|t| t.0))?;
        q.pop_front().map(|(_, i, timer)| (i, timer))
    }
}
