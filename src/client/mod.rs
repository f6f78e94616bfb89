//! Clients: long-lived sessions that find the leader, retry, and record what they saw.
//!
//! A client of a replicated service cannot see inside it. It sends a request to the
//! node it believes leads; the answer may be a reply, a refusal that names the leader
//! ("not leader, try n3"), or nothing at all, because the request or its reply was lost,
//! or the node crashed. So a client here does what a real one must (Ongaro's thesis,
//! chapter 6):
//!
//! - it opens a **session** first, through the log, and numbers its requests 1, 2, 3,
//!   …; a request is named by (session, number), so a retry is recognized as the same
//!   request and applied once ([`crate::app::sessions`]);
//! - it **finds the leader**: it follows a refusal's hint, and without one tries the
//!   nodes in turn;
//! - it **retries** the same request after a timeout: once more to the same node
//!   (silence is more often a lost message than a dead node), then to the next, the
//!   wait doubling with each silence (a refusal resends at once and doubles nothing);
//!   now and then it skips a node, so that clients that lost the same leader spread
//!   out;
//! - it keeps up to `window` requests in flight: one for the **closed loop** whose
//!   histories are checked, more for a **pipelined** client that measures throughput;
//! - it **records** every operation: its call, and its return or, if no answer came
//!   (or its session expired under it), nothing: an unknown outcome
//!   ([`crate::check::history`]).
//!
//! [`Client`] is a pure state machine, like a node: it is handed events (a response, a
//! timer, the time) and returns effects (send this, set that timer), and never touches
//! a clock, a channel or a random number of its own. The runtimes carry its requests and
//! replies across the same faulty network as node messages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::sessions::{AppCommand, Reply, SessionId};
use crate::app::{Command, Workload};
use crate::check::history::Operation;
use crate::runtime::{Faults, Rng};
use crate::types::{ClientId, NodeId, Time};

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Open a session for `client`.
    Open {
        /// The client.
        client: ClientId,
    },
    /// Request `seq` of `session`: `command`. Every reply below `acked` has arrived.
    Op {
        /// The session.
        session: SessionId,
        /// The request's number.
        seq: u64,
        /// Every reply below this number has reached the client.
        acked: u64,
        /// What it asks.
        command: Command,
    },
}

impl Request {
    /// The log entry that carries this request.
    pub fn into_entry(self) -> AppCommand {
        match self {
            Request::Open { client } => AppCommand::Open { client },
            Request::Op {
                session,
                seq,
                acked,
                command,
            } => AppCommand::Request {
                session,
                seq,
                acked,
                command,
            },
        }
    }
}

/// What a node answers a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The request was applied (or had been): here is what the service replied.
    Applied(Reply),
    /// This node does not lead; `leader` is the one it believes does, if any.
    NotLeader {
        /// The leader as this node knows it.
        leader: Option<NodeId>,
    },
}

impl Response {
    /// The answer to a client for what applying its entry replied; `None` when no
    /// client waits for it (a stale duplicate, a no-op).
    pub fn to_client(reply: Reply) -> Option<Response> {
        match reply {
            Reply::Stale { .. } | Reply::Nothing => None,
            reply => Some(Response::Applied(reply)),
        }
    }
}

/// How clients behave.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The nodes of the service, `n1..=nodes`.
    pub nodes: usize,
    /// At most this many requests in flight (1: a closed loop).
    pub window: usize,
    /// How long to wait for an answer before the first retry.
    pub timeout: Duration,
    /// The longest wait between retries: the backoff doubles up to it.
    pub max_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            nodes: 3,
            window: 1,
            timeout: Duration::from_millis(100),
            max_timeout: Duration::from_secs(1),
        }
    }
}

/// What the clients of a run do, in either world.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// How many clients.
    pub clients: usize,
    /// How many operations each calls, one after another (or up to `config.window` at
    /// once).
    pub ops_per_client: usize,
    /// What they ask.
    pub workload: Workload,
    /// On how many keys.
    pub keys: usize,
    /// How each behaves (its window, its timeouts).
    pub config: ClientConfig,
    /// The fates of their requests and replies.
    pub faults: Faults,
    /// Clients cut off from every node, each from one instant to another.
    pub cut_off: Vec<(ClientId, Time, Time)>,
    /// Lose the first reply to every request (on top of `faults`): every request is
    /// then retried at least once, the hardest case for exactly-once.
    pub lose_first_replies: bool,
}

/// What a client asks its runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send `request` to `to`.
    Send {
        /// The node.
        to: NodeId,
        /// The request.
        request: Request,
    },
    /// Call [`Client::on_timer`] with `timer` after `after`.
    SetTimer {
        /// Which timer.
        timer: ClientTimer,
        /// When.
        after: Duration,
    },
}

/// A client's timer: the wait for an answer to one request (or to its session's
/// opening, `seq` 0), on one attempt. A timer of an earlier attempt, or of a request
/// answered since, is stale and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientTimer {
    /// The request (0: opening the session).
    pub seq: u64,
    /// The attempt it times.
    pub attempt: u32,
}

/// A request on its way: sent, or waiting for the session to open.
#[derive(Clone, Debug)]
struct InFlight {
    command: Command,
    /// Its operation in the history.
    recorded: usize,
    /// How many times it has been sent.
    attempt: u32,
    /// How many of its waits ran out: the backoff's exponent. A redirect ("not leader,
    /// try n3") resends at once and waits as long as before; only silence doubles the
    /// wait.
    timeouts: u32,
}

/// One client: its session, its requests in flight, what it has seen.
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    config: ClientConfig,
    /// The open session, if any.
    session: Option<SessionId>,
    /// Whether a session is being opened.
    opening: bool,
    /// Every send of an opening so far, over all sessions: what names an opening's
    /// timer, so that a timer of an earlier opening is never taken for a later one's.
    open_attempt: u32,
    /// Waits of the current opening that ran out, for its backoff.
    open_timeouts: u32,
    /// The highest session given up (expired): a late answer opening it, or an older
    /// one, is not adopted.
    retired: SessionId,
    /// The next request's number in the session.
    next_seq: u64,
    /// Requests in flight, by number.
    in_flight: BTreeMap<u64, InFlight>,
    /// The node it believes leads.
    target: NodeId,
    /// Every operation it made, in the order it called them.
    history: Vec<Operation>,
}

impl Client {
    /// Client `id`, first trying node `first` (spread clients over the nodes so that
    /// not all of them start at one).
    pub fn new(id: ClientId, config: ClientConfig, first: NodeId) -> Client {
        Client {
            id,
            config,
            session: None,
            opening: false,
            open_attempt: 0,
            open_timeouts: 0,
            retired: 0,
            next_seq: 1,
            in_flight: BTreeMap::new(),
            target: first,
            history: Vec::new(),
        }
    }

    /// Its id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Whether it may call another operation now (its window has room).
    pub fn can_call(&self) -> bool {
        self.in_flight.len() < self.config.window.max(1)
    }

    /// How many of its operations are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What it has seen: every operation called, with its return if one came.
    pub fn history(&self) -> &[Operation] {
        &self.history
    }

    /// Calls operation number `*called` of `spec`'s workload at `now`, if the client
    /// has one left and room for it (`called` counts what it has called); whether it
    /// called. Both runtimes' clients draw their commands here.
    pub(crate) fn call_next(
        &mut self,
        called: &mut usize,
        spec: &ClientSpec,
        now: Time,
        rng: &mut Rng,
        out: &mut Vec<Effect>,
    ) -> bool {
        if *called >= spec.ops_per_client || !self.can_call() {
            return false;
        }
        let command = workload::command(spec.workload, spec.keys, self.id.0, *called as u64, rng);
        *called += 1;
        self.call(now, command, out);
        true
    }

    /// Its history, taken out (for a run that has ended).
    pub fn take_history(&mut self) -> Vec<Operation> {
        std::mem::take(&mut self.history)
    }

    /// Calls `command` at `now`: records the call and sends the request, or opens the
    /// session first. The caller checks [`Client::can_call`] first.
    pub fn call(&mut self, now: Time, command: Command, out: &mut Vec<Effect>) {
        self.history.push(Operation {
            client: self.id.0,
            op: command.op,
            key: command.key.clone(),
            value: command.value.clone(),
            expected: command.expected.clone(),
            output: String::new(),
            call_us: now.as_micros(),
            return_us: None,
        });
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.insert(
            seq,
            InFlight {
                command,
                recorded: self.history.len() - 1,
                attempt: 0,
                timeouts: 0,
            },
        );
        match self.session {
            Some(_) => self.send(seq, out),
            None if !self.opening => self.open(out),
            None => {} // the opening is under way; the request goes once it is open
        }
    }

    /// Sends (again) request `seq` to the node it believes leads, and times it.
    fn send(&mut self, seq: u64, out: &mut Vec<Effect>) {
        // Every request below the lowest one in flight has been answered.
        let acked = self
            .in_flight
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_seq);
        let (Some(session), Some(f)) = (self.session, self.in_flight.get_mut(&seq)) else {
            return;
        };
        f.attempt += 1;
        let (attempt, timeouts, command) = (f.attempt, f.timeouts, f.command.clone());
        out.push(Effect::Send {
            to: self.target,
            request: Request::Op {
                session,
                seq,
                acked,
                command,
            },
        });
        out.push(Effect::SetTimer {
            timer: ClientTimer { seq, attempt },
            after: self.wait(timeouts),
        });
    }

    /// Asks (again) for a session.
    fn open(&mut self, out: &mut Vec<Effect>) {
        self.opening = true;
        self.open_attempt += 1;
        out.push(Effect::Send {
            to: self.target,
            request: Request::Open { client: self.id },
        });
        out.push(Effect::SetTimer {
            timer: ClientTimer {
                seq: 0,
                attempt: self.open_attempt,
            },
            after: self.wait(self.open_timeouts),
        });
    }

    /// How long to wait after `timeouts` waits ran out: the timeout, doubled for each,
    /// capped.
    fn wait(&self, timeouts: u32) -> Duration {
        let doubled = self.config.timeout.saturating_mul(1 << timeouts.min(16));
        doubled.min(self.config.max_timeout)
    }

    /// The node after the current target, in turn.
    fn next_node(&mut self) {
        self.target = NodeId::from_index((self.target.index() + 1) % self.config.nodes.max(1));
    }

    /// A response from `from` arrived at `now`.
    pub fn on_response(
        &mut self,
        now: Time,
        from: NodeId,
        response: Response,
        out: &mut Vec<Effect>,
    ) {
        match response {
            Response::NotLeader { leader } => {
                // Follow the hint, or try the next node; resend what this node refused.
                match leader {
                    Some(l) if l != from => self.target = l,
                    _ => self.next_node(),
                }
                self.resend_all(out);
            }
            Response::Applied(Reply::Opened { client, session }) => {
                if client != self.id || self.session.is_some() || session <= self.retired {
                    return; // a duplicate answer, another client's, or a session given up
                }
                self.session = Some(session);
                self.opening = false;
                self.open_timeouts = 0;
                self.target = from;
                let waiting: Vec<u64> = self.in_flight.keys().copied().collect();
                for seq in waiting {
                    self.send(seq, out);
                }
            }
            Response::Applied(Reply::Done {
                session,
                seq,
                output,
                ..
            }) => {
                if Some(session) != self.session {
                    return;
                }
                if let Some(f) = self.in_flight.remove(&seq) {
                    let op = &mut self.history[f.recorded];
                    op.output = output;
                    op.return_us = Some(now.as_micros());
                    self.target = from;
                }
            }
            Response::Applied(Reply::Expired { session, seq }) => {
                if Some(session) != self.session || !self.in_flight.contains_key(&seq) {
                    return;
                }
                // The session is gone: whether its requests in flight were applied,
                // nobody can say. They stay unknown in the history; the client opens a
                // new session for what it calls next.
                // Request numbers go on rising in the next session, so that no timer of
                // this one can be taken for one of the next.
                self.in_flight.clear();
                self.retired = self.retired.max(session);
                self.session = None;
                self.opening = false;
            }
            Response::Applied(Reply::Stale { .. } | Reply::Nothing) => {}
        }
    }

    /// Sends every request in flight again (or the opening), to the current target.
    fn resend_all(&mut self, out: &mut Vec<Effect>) {
        if self.session.is_none() {
            if self.opening {
                self.open(out);
            }
            return;
        }
        let seqs: Vec<u64> = self.in_flight.keys().copied().collect();
        for seq in seqs {
            self.send(seq, out);
        }
    }

    /// `timer` fired: if its request is still unanswered on that attempt, try the next
    /// node. `rng` spreads the retries of many clients.
    pub fn on_timer(&mut self, timer: ClientTimer, rng: &mut Rng, out: &mut Vec<Effect>) {
        let current = match timer.seq {
            0 => self.opening && self.open_attempt == timer.attempt,
            seq => self
                .in_flight
                .get(&seq)
                .is_some_and(|f| f.attempt == timer.attempt),
        };
        if !current {
            return;
        }
        let timeouts = match timer.seq {
            0 => &mut self.open_timeouts,
            seq => match self.in_flight.get_mut(&seq) {
                Some(f) => &mut f.timeouts,
                None => return,
            },
        };
        *timeouts += 1;
        // Silence is more often a lost message than a dead node: ask the same node once
        // more, and only then move on (now and then skipping one, so that clients that
        // lost the same leader do not all land on the same next node).
        if (*timeouts).is_multiple_of(2) {
            self.next_node();
            if rng.chance(0.25) {
                self.next_node();
            }
        }
        match timer.seq {
            0 => self.open(out),
            seq => self.send(seq, out),
        }
    }
}

mod links;
pub mod sim;
pub mod threads;
pub mod workload;

#[cfg(test)]
mod tests;
