//! The `Node` trait and the context a node sees the world through.
//!
//! A node is a plain struct that reacts to four kinds of event: it starts, a message
//! arrives, one of its timers fires, a client asks it something. Each handler gets a
//! [`Context`] and nothing else: the time, a way to send, to set and cancel timers, to
//! draw random numbers, to answer clients and to record what happened. The context only
//! *records* these effects; the runtime carries them out after the handler returns, as
//! etcd's raft hands its caller a list of things to do. That is why the same node runs
//! unchanged on real threads and in the simulator.

use std::cell::Cell;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use super::id::{CallId, NodeId};
use super::rng::Rng;
use super::time::Time;
use super::trace::{ProtocolEvent, TraceLevel};
use crate::error::Result;

/// What travels between nodes. A message is cloned when the network duplicates it, and
/// its [`size`](Message::size) feeds the per-node byte counts.
pub trait Message: Clone + Debug + Send + 'static {
    /// An estimate of the message's size on a wire, in bytes. The default is the size of
    /// the value itself; a message that carries a vector (log entries) should add it.
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// A node's named timers. Setting a timer that is already armed re-arms it: a timer is
/// identified by its value, so `Timer::Election` is one timer, and resetting the
/// election timeout is one `ctx.set_timer(Timer::Election, after)` call.
pub trait Timer: Clone + PartialEq + Debug + Send + 'static {}
impl<T: Clone + PartialEq + Debug + Send + 'static> Timer for T {}

/// A protocol participant: a pure reaction to events.
///
/// A node never spawns a thread, reads a clock, sleeps, draws an unseeded random number
/// or touches a channel. It writes its durable state through the storage handle it owns
/// *before* it sends the messages that depend on it.
///
/// A handler that returns an error (its storage failed) is *fail-stop*: the runtime
/// discards every effect the call recorded, so nothing that depended on the failed write
/// leaves the node, and crashes the node.
// ANCHOR: node_trait
pub trait Node: Sized + Send + 'static {
    /// The messages nodes of this kind send each other.
    type Msg: Message;
    /// This node's timers (heartbeat, election timeout, retry, …).
    type Timer: Timer;
    /// The facts this node records with `ctx.trace` (`became_leader`, `voted`, …): an
    /// enum the protocol's checkers read (use [`NoEvent`](super::trace::NoEvent) for
    /// none).
    type Event: ProtocolEvent;

    /// The node has just been built: at the start of a run, or after a restart.
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> Result<()>;

    /// A message from `from` arrived.
    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        msg: Self::Msg,
    ) -> Result<()>;

    /// `timer` fired (it was set and neither re-armed nor cancelled since).
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Self::Timer) -> Result<()>;

    // Below: the client types `Request` and `Response`, and the methods with defaults
    // (`on_request`, `on_flush`, `wants_flush`, `role`).
    // ANCHOR_END: node_trait

    /// What a client may ask (use `()` when clients don't talk to this node).
    type Request: Debug + Send + 'static;
    /// What the node answers a client.
    type Response: Debug + Send + 'static;

    /// A client asks something, in a call the runtime names `call`; answer with
    /// `ctx.reply(call, …)`, now or later.
    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        call: CallId,
        req: Self::Request,
    ) -> Result<()> {
        let _ = (ctx, call, req);
        Ok(())
    }

    // ANCHOR: on_flush
    /// The batching point: the node has handled every event that was ready for it. On
    /// threads that is everything already in its inbox (up to a bound, so that a flood
    /// cannot hold back its timers); in the simulator, its events at the current
    /// instant. Here a node turns what piled up during those handlers into one storage
    /// write and one message per peer, as etcd's Ready loop does: sixty-four commands
    /// that arrived together become one log write and one AppendEntries per follower,
    /// not sixty-four of each. With one event at a time it comes right after that event,
    /// so it adds no delay.
    ///
    /// Called only when [`Node::wants_flush`] says there is something to do; the
    /// default does nothing.
    fn on_flush(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Whether the node has something for its batching point: work that its handlers
    /// queued (commands to append, acknowledgements to send). etcd's `HasReady`. A
    /// node that batches nothing keeps the default, `false`, and the runtimes never
    /// call its `on_flush`.
    fn wants_flush(&self) -> bool {
        false
    }
    // ANCHOR_END: on_flush

    /// A short description of the node's role for log lines, such as `follower t3`;
    /// the runtime prints `n2 follower t3: granted vote to n1`.
    fn role(&self) -> String {
        String::new()
    }
}

/// One thing a handler asked the world to do. The runtime carries effects out in the
/// order they were recorded.
#[derive(Debug)]
pub enum Effect<N: Node> {
    /// Put `msg` on the network to `to`.
    Send {
        /// The destination.
        to: NodeId,
        /// The message.
        msg: N::Msg,
    },
    /// Arm (or re-arm) `timer` to fire after `after`.
    SetTimer {
        /// Which timer.
        timer: N::Timer,
        /// How long from now.
        after: Duration,
    },
    /// Disarm `timer` (nothing happens if it is not armed).
    CancelTimer(N::Timer),
    /// Answer the call `call`.
    Reply {
        /// The call it answers.
        call: CallId,
        /// The answer.
        response: N::Response,
    },
    /// Record a protocol fact.
    Trace(N::Event),
    /// A human log line, printed with the node's id and role in front.
    Log(String),
}

/// The world as one handler call sees it.
pub struct Context<'a, N: Node> {
    me: NodeId,
    /// The handler's time, once known: given (the simulator's clock), or read from
    /// `clock` when the handler first asks.
    now: Cell<Option<Time>>,
    /// On threads: when the run began, to read the machine's clock from.
    clock: Option<Instant>,
    rng: &'a mut Rng,
    effects: &'a mut Vec<Effect<N>>,
    tracing: TraceLevel,
}

impl<'a, N: Node> Context<'a, N> {
    /// A context for one handler call of node `me` at time `now`. Runtimes (and unit tests
    /// of a single node) build these; `effects` receives what the handler asks for.
    /// Protocol events are recorded; see [`Context::with_tracing`].
    pub fn new(me: NodeId, now: Time, rng: &'a mut Rng, effects: &'a mut Vec<Effect<N>>) -> Self {
        Context {
            me,
            now: Cell::new(Some(now)),
            clock: None,
            rng,
            effects,
            tracing: TraceLevel::Protocol,
        }
    }

    /// A context whose time is read from the machine's clock (as time since `start`)
    /// the first time the handler asks, and is the same for the rest of the handler: how
    /// the threaded runtime spares the clock read to handlers that never ask.
    pub fn reading_clock(
        me: NodeId,
        start: Instant,
        rng: &'a mut Rng,
        effects: &'a mut Vec<Effect<N>>,
    ) -> Self {
        Context {
            me,
            now: Cell::new(None),
            clock: Some(start),
            rng,
            effects,
            tracing: TraceLevel::Protocol,
        }
    }

    /// The handler's time, if it asked for it (or it was given).
    pub fn seen_now(&self) -> Option<Time> {
        self.now.get()
    }

    /// The same context, recording as much as `level` asks: at [`TraceLevel::Off`]
    /// `trace` records nothing.
    pub fn with_tracing(mut self, level: TraceLevel) -> Self {
        self.tracing = level;
        self
    }

    // ANCHOR: context
    /// Sends `msg` to `to`. The network may drop, delay or duplicate it.
    pub fn send(&mut self, to: NodeId, msg: N::Msg) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Arms `timer` to fire after `after`, replacing its earlier deadline if it was armed.
    pub fn set_timer(&mut self, timer: N::Timer, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Disarms `timer`.
    pub fn cancel_timer(&mut self, timer: N::Timer) {
        self.effects.push(Effect::CancelTimer(timer));
    }

    /// Answers the call `call`: one request a client made of this node.
    pub fn reply(&mut self, call: CallId, response: N::Response) {
        self.effects.push(Effect::Reply { call, response });
    }

    /// Records a protocol fact (`became_leader`, `voted`, `chosen`, …), if anyone
    /// listens: at [`TraceLevel::Off`] it costs nothing.
    pub fn trace(&mut self, event: N::Event) {
        if self.tracing > TraceLevel::Off {
            self.effects.push(Effect::Trace(event));
        }
    }
    // ANCHOR_END: context

    /// The node this handler runs on.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// The current time (virtual in the simulator, real on threads).
    pub fn now(&self) -> Time {
        if let Some(t) = self.now.get() {
            return t;
        }
        let t = self.clock.map_or(Time::ZERO, |start| {
            Time(super::time::micros(start.elapsed()))
        });
        self.now.set(Some(t));
        t
    }

    /// The run's seeded random number generator: the only randomness a node may use.
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// How much of the run is being recorded: a node whose event would be costly to
    /// build (the commands of a range it applied) builds it only when it is wanted.
    pub fn tracing(&self) -> TraceLevel {
        self.tracing
    }

    /// Logs a line of the run's story at info level, as `n2 follower t3: {text}`. The text
    /// is formatted only when info logging is on: `ctx.log(format_args!("voted for {c}"))`.
    pub fn log(&mut self, text: std::fmt::Arguments<'_>) {
        if log::log_enabled!(target: "quorum::node", log::Level::Info) {
            self.effects.push(Effect::Log(text.to_string()));
        }
    }
}
