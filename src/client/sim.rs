//! Clients in the simulator: many logical clients whose requests and replies cross the
//! same faulty network as node messages, on the simulator's virtual clock.
//!
//! The simulator runs the nodes; [`SimClients`] runs the clients beside it, with a queue
//! of its own (client timers, replies on their way back, the next call of each client)
//! merged with the simulator's by time. A request's fate is drawn as a node message's
//! is, from the run's fault settings: lost, delayed, or delivered twice; so is a
//! reply's. A client can also be cut off for a while (a partition between it and every
//! node). Every draw comes from a generator seeded by the run's seed, so a seed still
//! replays the whole run, clients included.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

use super::links::Links;
use super::{Client, ClientSpec, ClientTimer, Effect, Request, Response};
use crate::check::history::Operation;
use crate::error::Result;
use crate::runtime::{Node, Rng, Sim};
use crate::types::{CallId, ClientId, NodeId, Time};

/// A client-side event.
#[derive(Debug)]
enum Ev {
    /// Client `.0` calls its next operation.
    Call(usize),
    /// A response from node `.1` reaches client `.0`.
    Reply(usize, NodeId, Response),
    /// A client's timer fires.
    Timer(usize, ClientTimer),
}

/// The clients of one simulated run.
pub struct SimClients {
    spec: ClientSpec,
    clients: Vec<Client>,
    called: Vec<usize>,
    queue: BinaryHeap<Reverse<(Time, u64)>>,
    events: BTreeMap<u64, Ev>,
    seq: u64,
    rng: Rng,
    /// Which client made each call still unanswered.
    calls: HashMap<CallId, usize>,
    /// Every operation called, as (client, its place in that client's history), in
    /// the order they were called.
    called_order: Vec<(usize, usize)>,
    links: Links,
}

impl SimClients {
    /// The clients of `spec`, drawing from a generator of `seed` (a stream of its own,
    /// apart from the nodes').
    pub fn new(spec: ClientSpec, seed: u64) -> SimClients {
        let clients = (0..spec.clients)
            .map(|i| {
                let first = NodeId::from_index(i % spec.config.nodes.max(1));
                Client::new(ClientId(i as u64 + 1), spec.config.clone(), first)
            })
            .collect();
        let mut c = SimClients {
            called: vec![0; spec.clients],
            links: Links::new(&spec),
            spec,
            clients,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            rng: Rng::derived(seed, 0xc11e),
            calls: HashMap::new(),
            called_order: Vec::new(),
        };
        for i in 0..c.clients.len() {
            for _ in 0..c.spec.config.window.max(1) {
                c.push(Time::ZERO, Ev::Call(i));
            }
        }
        c
    }

    fn push(&mut self, at: Time, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, ev);
    }

    /// When the next client event is due.
    fn next_at(&self) -> Option<Time> {
        self.queue.peek().map(|Reverse((t, _))| *t)
    }

    /// Every operation of every client, in the order they were called.
    pub fn history(&self) -> Vec<Operation> {
        let ops = self.called_order.iter();
        ops.map(|&(i, k)| self.clients[i].history()[k].clone())
            .collect()
    }

    /// Whether every client has called all its operations and has none in flight.
    pub fn done(&self) -> bool {
        self.clients
            .iter()
            .zip(&self.called)
            .all(|(c, &n)| n >= self.spec.ops_per_client && c.in_flight() == 0)
    }

    /// Runs `sim` and the clients together until `deadline`, or until every client is
    /// done.
    pub fn run<N>(&mut self, sim: &mut Sim<N>, deadline: Time) -> Result<()>
    where
        N: Node<Request = Request, Response = Response>,
    {
        loop {
            if self.done() {
                return Ok(());
            }
            let client_at = self.next_at().filter(|&t| t <= deadline);
            let node_at = sim.next_event_at().filter(|&t| t <= deadline);
            match (client_at, node_at) {
                (None, None) => {
                    sim.run_until(deadline)?;
                    return Ok(());
                }
                (Some(c), n) if n.is_none_or(|n| c < n) => {
                    sim.run_until(c)?;
                    self.step(sim, c)?;
                }
                _ => {
                    sim.step()?;
                }
            }
            self.collect_replies(sim);
        }
    }

    /// Carries the nodes' answers back toward their clients.
    fn collect_replies<N>(&mut self, sim: &mut Sim<N>)
    where
        N: Node<Request = Request, Response = Response>,
    {
        for reply in sim.take_replies() {
            let Some(&i) = self.calls.get(&reply.call) else {
                continue;
            };
            self.calls.remove(&reply.call);
            let id = self.clients[i].id();
            for at in self
                .links
                .reply(id, reply.at, &reply.response, &mut self.rng)
            {
                self.push(at, Ev::Reply(i, reply.node, reply.response.clone()));
            }
        }
    }

    /// Runs the client event due at `now`.
    fn step<N>(&mut self, sim: &mut Sim<N>, now: Time) -> Result<()>
    where
        N: Node<Request = Request, Response = Response>,
    {
        let Some(Reverse((_, seq))) = self.queue.pop() else {
            return Ok(());
        };
        let Some(ev) = self.events.remove(&seq) else {
            return Ok(());
        };
        let mut out = Vec::new();
        let i = match ev {
            Ev::Call(i) => {
                let (spec, rng) = (&self.spec, &mut self.rng);
                if self.clients[i].call_next(&mut self.called[i], spec, now, rng, &mut out) {
                    self.called_order
                        .push((i, self.clients[i].history().len() - 1));
                }
                i
            }
            Ev::Reply(i, node, response) => {
                let before = self.clients[i].in_flight();
                self.clients[i].on_response(now, node, response, &mut out);
                for _ in self.clients[i].in_flight()..before {
                    // A moment to think (up to a millisecond) before the next call, so
                    // that even on a network without delay, calls have an order.
                    let think = Duration::from_micros(self.rng.between(1, 1000));
                    self.push(now + think, Ev::Call(i));
                }
                i
            }
            Ev::Timer(i, timer) => {
                self.clients[i].on_timer(timer, &mut self.rng, &mut out);
                i
            }
        };
        for effect in out {
            match effect {
                Effect::Send { to, request } => {
                    let id = self.clients[i].id();
                    for at in self.links.request(id, now, &mut self.rng) {
                        let call = sim.request_at(at, to, request.clone())?;
                        self.calls.insert(call, i);
                    }
                }
                Effect::SetTimer { timer, after } => self.push(now + after, Ev::Timer(i, timer)),
            }
        }
        Ok(())
    }
}
