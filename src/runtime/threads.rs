//! The threaded runtime: the real thing, one OS thread per node.
//!
//! Each node thread owns its node, its timers and its generators. Its crossbeam inbox
//! *is* its event queue: messages, client requests and the harness's orders (crash,
//! restart, stop) all arrive there. Its timers sit in a min-heap the thread owns, and the
//! thread blocks in `recv_deadline(earliest timer)`: it wakes for the next message or the
//! next timer, whichever comes first, and never polls or sleeps.
//!
//! When a node sends, the sender's thread asks the network ([`Network::route`]) what
//! becomes of the message, drawing from its own seeded network generator, and puts an
//! undelayed message straight into the receiver's inbox: one thread hop per message. Only
//! delayed messages go through the router thread, which holds them in a min-heap until
//! they are due. The harness changes partitions under a lock and bumps a version number;
//! each sender re-reads the network only when the version changed.
//!
//! Crash drops the node struct and its timers; the storage location survives, and
//! restart builds a new node from it. Shutdown stops and joins every thread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::id::{ClientId, NodeId};
use super::net::{DropReason, Faults, Network, Route};
use super::node::{Context, Effect, Event, Message, Node};
use super::rng::Rng;
use super::schedule::{Action, Schedule};
use super::sim::Factory;
use super::stats::NodeStats;
use super::time::Time;
use super::timers::{TimerTable, Wake, Woken};
use super::trace::{Record, HARNESS};
use crate::error::{Error, Result};
use crate::storage::Location;

/// How to set up a threaded run.
#[derive(Clone, Debug)]
pub struct ThreadsConfig {
    /// How many nodes, `n1..=nN`.
    pub nodes: usize,
    /// Seeds every node's generators (node `i` draws from its own stream of it).
    pub seed: u64,
    /// The network's random faults.
    pub faults: Faults,
    /// Record the runtime's own events (`send`, `deliver`, …) as well as the protocol's.
    pub trace: bool,
}

/// A closure the harness runs on a node's own thread, to look at the node.
type Inspector<N> = Box<dyn FnOnce(Option<&N>) + Send>;

/// What arrives in a node thread's inbox.
enum Envelope<N: Node> {
    Message {
        from: NodeId,
        msg: N::Msg,
        id: u64,
    },
    Request {
        client: ClientId,
        req: N::Request,
        reply: Sender<N::Response>,
    },
    Crash,
    Restart,
    Inspect(Inspector<N>),
    Stop,
}

/// A delayed message, waiting in the router.
struct Delayed<N: Node> {
    at: Instant,
    seq: u64,
    to: NodeId,
    envelope: Envelope<N>,
}

impl<N: Node> PartialEq for Delayed<N> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<N: Node> Eq for Delayed<N> {}
impl<N: Node> PartialOrd for Delayed<N> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<N: Node> Ord for Delayed<N> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One node's counters, on a cache line of its own so that nodes don't contend.
#[derive(Default)]
#[repr(align(64))]
struct AtomicStats {
    sent: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    delivered: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_delivered: AtomicU64,
    timers_fired: AtomicU64,
}

impl AtomicStats {
    fn load(&self) -> NodeStats {
        NodeStats {
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            duplicated: self.duplicated.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            bytes_delivered: self.bytes_delivered.load(Relaxed),
            timers_fired: self.timers_fired.load(Relaxed),
        }
    }
}

/// What every thread of a run shares.
struct Shared {
    start: Instant,
    net: RwLock<Network>,
    net_version: AtomicU64,
    crashed: Vec<AtomicBool>,
    stats: Vec<AtomicStats>,
    next_msg: AtomicU64,
    trace: bool,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn now(&self) -> Time {
        Time(super::time::micros(self.start.elapsed()))
    }

    fn fail(&self, what: String) {
        log::error!(target: "quorum::harness", "{what}");
        if let Ok(mut e) = self.errors.lock() {
            e.push(what);
        }
    }
}

/// A running cluster of node threads.
pub struct Threads<N: Node> {
    shared: Arc<Shared>,
    inboxes: Vec<Sender<Envelope<N>>>,
    workers: Vec<JoinHandle<()>>,
    router: Option<JoinHandle<()>>,
    records: Receiver<Record>,
    record_tx: Sender<Record>,
    next_client: u64,
}

impl<N: Node> Threads<N> {
    /// Builds every node (node `i` from storage `locations[i]`) and starts one thread per
    /// node plus the router.
    pub fn start(
        config: ThreadsConfig,
        locations: Vec<Location>,
        factory: Factory<N>,
    ) -> Result<Threads<N>> {
        if config.nodes == 0 || locations.len() != config.nodes {
            return Err(Error::Config(format!(
                "a cluster needs at least one node and one storage location per node \
                 (nodes = {}, locations = {})",
                config.nodes,
                locations.len()
            )));
        }
        // Build every node before starting any thread, so a bad data directory fails
        // the whole start cleanly.
        let mut nodes = Vec::with_capacity(config.nodes);
        for (i, location) in locations.iter().enumerate() {
            nodes.push(factory(NodeId::from_index(i), location.open()?)?);
        }
        let net = Network::new(config.nodes, config.faults.clone());
        let shared = Arc::new(Shared {
            start: Instant::now(),
            net: RwLock::new(net.clone()),
            net_version: AtomicU64::new(0),
            crashed: (0..config.nodes).map(|_| AtomicBool::new(false)).collect(),
            stats: (0..config.nodes).map(|_| AtomicStats::default()).collect(),
            next_msg: AtomicU64::new(0),
            trace: config.trace,
            errors: Mutex::new(Vec::new()),
        });
        let (inbox_txs, inbox_rxs): (Vec<_>, Vec<_>) = (0..config.nodes)
            .map(|_| crossbeam_channel::unbounded())
            .unzip();
        let (router_tx, router_rx) = crossbeam_channel::unbounded::<Delayed<N>>();
        let (record_tx, records) = crossbeam_channel::unbounded();

        let router = {
            let inboxes = inbox_txs.clone();
            std::thread::Builder::new()
                .name("router".into())
                .spawn(move || route_delayed(router_rx, inboxes))
                .map_err(|e| Error::Runtime(format!("could not start the router thread: {e}")))?
        };

        let mut workers = Vec::with_capacity(config.nodes);
        for (i, (node, inbox)) in nodes.into_iter().zip(inbox_rxs).enumerate() {
            let id = NodeId::from_index(i);
            let worker = Worker {
                id,
                node: Some(node),
                location: locations[i].clone(),
                factory: factory.clone(),
                inbox,
                peers: inbox_txs.clone(),
                router: router_tx.clone(),
                timers: TimerTable::default(),
                heap: BinaryHeap::new(),
                timer_seq: 0,
                rng: Rng::derived(config.seed, 2 * id.0 as u64),
                net_rng: Rng::derived(config.seed, 2 * id.0 as u64 + 1),
                net: net.clone(),
                net_version: 0,
                shared: shared.clone(),
                effects: Vec::new(),
                clients: Vec::new(),
                records: record_tx.clone(),
                delay_seq: 0,
            };
            let handle = std::thread::Builder::new()
                .name(id.to_string())
                .spawn(move || worker.run())
                .map_err(|e| Error::Runtime(format!("could not start {id}'s thread: {e}")))?;
            workers.push(handle);
        }
        Ok(Threads {
            shared,
            inboxes: inbox_txs,
            workers,
            router: Some(router),
            records,
            record_tx,
            next_client: 0,
        })
    }

    /// Time since the run started.
    pub fn now(&self) -> Time {
        self.shared.now()
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.inboxes.len()
    }

    /// Whether the cluster has no nodes (never: a cluster needs at least one).
    pub fn is_empty(&self) -> bool {
        self.inboxes.is_empty()
    }

    fn inbox(&self, id: NodeId) -> Result<&Sender<Envelope<N>>> {
        let n = self.len();
        let i = id
            .index_in(n)
            .ok_or_else(|| Error::Runtime(format!("there is no node {id} in a cluster of {n}")))?;
        Ok(&self.inboxes[i])
    }

    fn record(&self, node: NodeId, event: Event) {
        if self.shared.trace {
            let _ = self.record_tx.send(Record::new(self.now(), node, &event));
        }
    }

    /// Carries out a harness action now.
    pub fn apply(&self, action: &Action) -> Result<()> {
        action.check(self.len())?;
        log::info!(target: "quorum::harness", "{} harness: {action}", self.now());
        let change_net = |f: &dyn Fn(&mut Network)| -> Result<()> {
            let mut net =
                self.shared.net.write().map_err(|_| {
                    Error::Runtime("the network lock was poisoned by a panic".into())
                })?;
            f(&mut net);
            self.shared.net_version.fetch_add(1, SeqCst);
            Ok(())
        };
        match action {
            Action::Crash(id) => {
                let inbox = self.inbox(*id)?;
                self.shared.crashed[id.index()].store(true, SeqCst);
                let _ = inbox.send(Envelope::Crash);
            }
            Action::Restart(id) => {
                let inbox = self.inbox(*id)?;
                self.shared.crashed[id.index()].store(false, SeqCst);
                let _ = inbox.send(Envelope::Restart);
            }
            Action::Partition { a, b, one_way, on } => {
                change_net(&|n| n.apply_partition(a, b, *one_way, *on))?;
                self.record(
                    HARNESS,
                    Event::new("partition").with("what", action.to_string()),
                );
            }
            Action::Disconnect(id) => {
                change_net(&|n| n.disconnect(*id))?;
                self.record(
                    HARNESS,
                    Event::new("partition").with("what", action.to_string()),
                );
            }
            Action::Connect(id) => {
                change_net(&|n| n.connect(*id))?;
                self.record(
                    HARNESS,
                    Event::new("partition").with("what", action.to_string()),
                );
            }
            Action::Heal => {
                change_net(&|n| n.heal())?;
                self.record(HARNESS, Event::new("heal"));
            }
            Action::SetFaults(f) => change_net(&|n| n.set_faults(f.clone()))?,
            Action::Slow(id, slow) => {
                change_net(&|n| n.set_slow(*id, *slow))?;
                self.record(*id, Event::new("slow").with("slow", slow));
            }
        }
        Ok(())
    }

    /// Runs for `duration` from the start of the run, carrying out `schedule`'s actions
    /// at their times. The calling thread waits between actions; the nodes run on.
    pub fn run_schedule(&self, schedule: &Schedule, duration: Duration) -> Result<()> {
        let mut actions = schedule.actions.clone();
        actions.sort_by_key(|(at, _)| *at);
        for (at, action) in actions.iter().filter(|(at, _)| *at <= duration) {
            wait_until(self.shared.start + *at);
            self.apply(action)?;
        }
        wait_until(self.shared.start + duration);
        Ok(())
    }

    /// Sends `req` to `node` as a client and waits up to `timeout` for the answer.
    pub fn call(
        &mut self,
        node: NodeId,
        req: N::Request,
        timeout: Duration,
    ) -> Result<N::Response> {
        self.next_client += 1;
        let client = ClientId(self.next_client);
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.inbox(node)?
            .send(Envelope::Request { client, req, reply })
            .map_err(|_| Error::Runtime(format!("{node}'s thread has stopped")))?;
        answer.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => {
                Error::Runtime(format!("{node} did not answer {client} within {timeout:?}"))
            }
            RecvTimeoutError::Disconnected => {
                Error::Runtime(format!("{node} crashed before answering {client}"))
            }
        })
    }

    /// Runs `f` on `node`'s own thread with the node (`None` while it is crashed) and
    /// returns what `f` returns: how the harness reads a node's state on threads.
    pub fn inspect<R: Send + 'static>(
        &self,
        node: NodeId,
        f: impl FnOnce(Option<&N>) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let inspector: Inspector<N> = Box::new(move |n| {
            let _ = tx.send(f(n));
        });
        self.inbox(node)?
            .send(Envelope::Inspect(inspector))
            .map_err(|_| Error::Runtime(format!("{node}'s thread has stopped")))?;
        rx.recv()
            .map_err(|_| Error::Runtime(format!("{node}'s thread stopped while being inspected")))
    }

    /// Message counts and bytes of node `id`.
    pub fn stats(&self, id: NodeId) -> NodeStats {
        self.shared
            .stats
            .get(id.index())
            .map(|s| s.load())
            .unwrap_or_default()
    }

    /// The sum of every node's counts.
    pub fn total_stats(&self) -> NodeStats {
        self.shared
            .stats
            .iter()
            .fold(NodeStats::default(), |a, s| a.plus(&s.load()))
    }

    /// Stops every node thread and the router and waits for them to end. After it, the
    /// message counts are final and [`Threads::take_records`] holds the whole trace. An
    /// error any node thread met during the run (a failed handler, a failed restart, a
    /// panic) is returned here. Calling it again does nothing more.
    pub fn stop(&mut self) -> Result<()> {
        for inbox in &self.inboxes {
            let _ = inbox.send(Envelope::Stop);
        }
        for (i, w) in self.workers.drain(..).enumerate() {
            if w.join().is_err() {
                self.shared
                    .fail(format!("{}'s thread panicked", NodeId::from_index(i)));
            }
        }
        // The router ends once every sender to it is gone, and the workers held them all.
        if let Some(r) = self.router.take() {
            if r.join().is_err() {
                self.shared.fail("the router thread panicked".into());
            }
        }
        let errors = self
            .shared
            .errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        match errors.is_empty() {
            true => Ok(()),
            false => Err(Error::Runtime(errors.join("; "))),
        }
    }

    /// Takes the trace recorded so far, sorted by time: protocol events always, the
    /// runtime's own when the run was configured with `trace: true`.
    pub fn take_records(&mut self) -> Vec<Record> {
        let mut records: Vec<Record> = self.records.try_iter().collect();
        records.sort_by_key(|r| r.t_us);
        records
    }

    /// Stops every thread ([`Threads::stop`]) and returns the whole trace.
    pub fn shutdown(mut self) -> Result<Vec<Record>> {
        self.stop()?;
        Ok(self.take_records())
    }
}

impl<N: Node> Drop for Threads<N> {
    /// A cluster that goes out of scope (a test's failed assertion, an early return)
    /// stops and joins its threads rather than leaving them heartbeating forever.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Blocks the harness thread until `deadline` (no-op if it has passed).
fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// The router thread: holds delayed messages until they are due.
fn route_delayed<N: Node>(incoming: Receiver<Delayed<N>>, inboxes: Vec<Sender<Envelope<N>>>) {
    let mut heap: BinaryHeap<Delayed<N>> = BinaryHeap::new();
    loop {
        let got = match heap.peek() {
            Some(d) => incoming.recv_deadline(d.at),
            None => incoming.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(d) => heap.push(d),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|d| d.at <= now) {
            if let Some(d) = heap.pop() {
                if let Some(inbox) = inboxes.get(d.to.index()) {
                    let _ = inbox.send(d.envelope);
                }
            }
        }
    }
}

/// A node thread's whole state.
struct Worker<N: Node> {
    id: NodeId,
    node: Option<N>,
    location: Location,
    factory: Factory<N>,
    inbox: Receiver<Envelope<N>>,
    peers: Vec<Sender<Envelope<N>>>,
    router: Sender<Delayed<N>>,
    timers: TimerTable<N::Timer>,
    /// Wake-ups of the node's timers, earliest first (see [`TimerTable`]).
    heap: BinaryHeap<Reverse<Wake>>,
    /// The sequence number of the last timer arming, which orders timers due at once.
    timer_seq: u64,
    /// The protocol's generator (`ctx.rng()`).
    rng: Rng,
    /// The network's generator for this node's sends, apart so that faults don't
    /// change the protocol's random draws.
    net_rng: Rng,
    /// This thread's copy of the network, re-read when `net_version` moves.
    net: Network,
    net_version: u64,
    shared: Arc<Shared>,
    effects: Vec<Effect<N>>,
    /// Clients waiting for an answer from this node.
    clients: Vec<(ClientId, Sender<N::Response>)>,
    records: Sender<Record>,
    delay_seq: u64,
}

impl<N: Node> Worker<N> {
    fn run(mut self) {
        self.dispatch(|n, ctx| n.on_start(ctx));
        loop {
            if self.crash_ordered() {
                self.crash();
            }
            self.fire_due_timers();
            let got = match self.next_deadline() {
                Some(deadline) => self.inbox.recv_deadline(deadline),
                None => self
                    .inbox
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            let envelope = match got {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            match envelope {
                Envelope::Message { from, msg, id } => self.deliver(from, msg, id),
                Envelope::Request { client, req, reply } => {
                    if self.node.is_some() {
                        self.clients.push((client, reply));
                        self.dispatch(|n, ctx| n.on_request(ctx, client, req));
                    }
                    // A crashed node drops the request; the client sees the channel close.
                }
                Envelope::Crash => self.crash(),
                Envelope::Restart => self.restart(),
                Envelope::Inspect(f) => f(self.node.as_ref()),
                Envelope::Stop => return,
            }
        }
    }

    /// The earliest wake-up still worth waking for (stale ones are discarded here).
    fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse(wake)) = self.heap.peek() {
            if self.timers.is_current(wake) {
                return Some(self.shared.start + wake.at.as_duration());
            }
            self.heap.pop();
        }
        None
    }

    /// Whether the harness has crashed this node and the thread has not yet noticed.
    fn crash_ordered(&self) -> bool {
        self.node.is_some() && self.shared.crashed[self.id.index()].load(SeqCst)
    }

    fn fire_due_timers(&mut self) {
        let now = self.shared.now();
        while let Some(&Reverse(wake)) = self.heap.peek() {
            if wake.at > now || self.crash_ordered() {
                return;
            }
            self.heap.pop();
            let timer = match self.timers.wake(wake) {
                Woken::Fire(timer) => timer,
                Woken::Requeue(due) => {
                    self.heap.push(Reverse(due));
                    continue;
                }
                Woken::Stale => continue,
            };
            {
                self.shared.stats[self.id.index()]
                    .timers_fired
                    .fetch_add(1, Relaxed);
                if self.shared.trace {
                    self.record(Event::new("timer").with("timer", format!("{timer:?}")));
                }
                self.dispatch(|n, ctx| n.on_timer(ctx, timer));
            }
        }
    }

    fn deliver(&mut self, from: NodeId, msg: N::Msg, id: u64) {
        // A message still in flight when a partition began is lost with it, as a packet
        // on a cut cable is: check the link again on arrival.
        self.refresh_net();
        let lost = if self.crash_ordered() || self.node.is_none() {
            Some(DropReason::Crashed)
        } else if self.net.is_blocked(from, self.id) {
            Some(DropReason::Partitioned)
        } else {
            None
        };
        if let Some(reason) = lost {
            if let Some(s) = self.shared.stats.get(from.index()) {
                s.dropped.fetch_add(1, Relaxed);
            }
            if self.shared.trace {
                let e = Event::new("drop")
                    .with("to", self.id)
                    .with("id", id)
                    .with("reason", reason.as_str());
                let _ = self.records.send(Record::new(self.shared.now(), from, &e));
            }
            return;
        }
        let s = &self.shared.stats[self.id.index()];
        s.delivered.fetch_add(1, Relaxed);
        s.bytes_delivered.fetch_add(msg.size() as u64, Relaxed);
        if self.shared.trace {
            self.record(Event::new("deliver").with("from", from).with("id", id));
        }
        self.dispatch(|n, ctx| n.on_message(ctx, from, msg));
    }

    fn crash(&mut self) {
        if self.node.take().is_some() {
            self.timers.clear();
            self.heap.clear();
            self.clients.clear();
            self.record(Event::new("crash"));
        }
    }

    fn restart(&mut self) {
        if self.node.is_some() {
            return;
        }
        let built = self
            .location
            .open()
            .and_then(|storage| (self.factory)(self.id, storage));
        match built {
            Ok(node) => {
                self.node = Some(node);
                self.record(Event::new("restart"));
                self.dispatch(|n, ctx| n.on_start(ctx));
            }
            Err(e) => self
                .shared
                .fail(format!("{} could not restart: {e}", self.id)),
        }
    }

    fn record(&self, event: Event) {
        if self.shared.trace || !super::trace::RUNTIME_EVENTS.contains(&event.name) {
            let _ = self
                .records
                .send(Record::new(self.shared.now(), self.id, &event));
        }
    }

    /// Calls one handler (if the node is up) and carries out its effects. A handler
    /// that fails is fail-stop: its effects are discarded and the node is crashed.
    fn dispatch(&mut self, handler: impl FnOnce(&mut N, &mut Context<'_, N>) -> Result<()>) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let now = self.shared.now();
        let mut effects = std::mem::take(&mut self.effects);
        match handler(
            node,
            &mut Context::new(self.id, now, &mut self.rng, &mut effects),
        ) {
            Ok(()) => {
                for effect in effects.drain(..) {
                    self.carry_out(now, effect);
                }
            }
            Err(e) => {
                effects.clear();
                self.shared
                    .fail(format!("{} failed and was crashed: {e}", self.id));
                self.crash();
            }
        }
        self.effects = effects;
    }

    fn carry_out(&mut self, now: Time, effect: Effect<N>) {
        match effect {
            Effect::Send { to, msg } => self.send(to, msg),
            Effect::SetTimer { timer, after } => {
                self.timer_seq += 1;
                if let Some(wake) = self.timers.arm(timer, now + after, self.timer_seq) {
                    self.heap.push(Reverse(wake));
                }
            }
            Effect::CancelTimer(timer) => self.timers.cancel(&timer),
            Effect::Reply { client, response } => {
                if self.shared.trace {
                    let e = Event::new("reply")
                        .with("client", client)
                        .with("response", format!("{response:?}"));
                    self.record(e);
                }
                if let Some(pos) = self.clients.iter().position(|(c, _)| *c == client) {
                    let (_, reply) = self.clients.swap_remove(pos);
                    let _ = reply.send(response);
                }
            }
            Effect::Trace(event) => {
                let _ = self.records.send(Record::new(now, self.id, &event));
            }
            Effect::Log(text) => {
                let role = self.node.as_ref().map(|n| n.role()).unwrap_or_default();
                log::info!(target: "quorum::node", "{now} {} {role}: {text}", self.id);
            }
        }
    }

    // ANCHOR: threads_send
    /// Puts one message on the network: decide its fate here, on the sender's thread,
    /// and hand an undelayed message straight to the receiver's inbox.
    fn send(&mut self, to: NodeId, msg: N::Msg) {
        if to.0 == 0 || to.index() >= self.peers.len() {
            let n = self.peers.len();
            self.shared.fail(format!(
                "{} sent {msg:?} to {to}, which is not in this cluster of {n}",
                self.id
            ));
            return;
        }
        self.refresh_net();
        let stats = &self.shared.stats[self.id.index()];
        stats.sent.fetch_add(1, Relaxed);
        stats.bytes_sent.fetch_add(msg.size() as u64, Relaxed);
        let id = match self.shared.trace {
            true => self.shared.next_msg.fetch_add(1, Relaxed) + 1,
            false => 0,
        };
        if self.shared.trace {
            let e = Event::new("send")
                .with("to", to)
                .with("id", id)
                .with("msg", format!("{msg:?}"));
            self.record(e);
        }
        match self.net.route(self.id, to, &mut self.net_rng) {
            Route::Drop(reason) => {
                stats.dropped.fetch_add(1, Relaxed);
                if self.shared.trace {
                    let e = Event::new("drop")
                        .with("to", to)
                        .with("id", id)
                        .with("reason", reason.as_str());
                    self.record(e);
                }
            }
            Route::Deliver { delay, duplicate } => {
                if let Some(extra) = duplicate {
                    stats.duplicated.fetch_add(1, Relaxed);
                    let copy = Envelope::Message {
                        from: self.id,
                        msg: msg.clone(),
                        id,
                    };
                    self.send_after(to, extra, copy);
                }
                let envelope = Envelope::Message {
                    from: self.id,
                    msg,
                    id,
                };
                if delay.is_zero() {
                    let _ = self.peers[to.index()].send(envelope);
                } else {
                    self.send_after(to, delay, envelope);
                }
            }
        }
    }
    // ANCHOR_END: threads_send

    /// Re-reads the network if the harness changed it since this thread last looked.
    fn refresh_net(&mut self) {
        let version = self.shared.net_version.load(SeqCst);
        if version != self.net_version {
            if let Ok(net) = self.shared.net.read() {
                self.net = net.clone();
                self.net_version = version;
            }
        }
    }

    fn send_after(&mut self, to: NodeId, delay: Duration, envelope: Envelope<N>) {
        self.delay_seq += 1;
        let d = Delayed {
            at: Instant::now() + delay,
            seq: self.delay_seq,
            to,
            envelope,
        };
        let _ = self.router.send(d);
    }
}
