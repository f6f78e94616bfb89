//! Chapter 0's node: a heartbeat failure detector.
//!
//! Before any consensus, the simplest distributed program that has to live with the
//! world: every node tells every other node "I am alive" every `heartbeat` interval, and
//! suspects a peer it has not heard from for `timeout`. It is the seed of every leader
//! election to come (a Raft follower is a failure detector of its leader).
//!
//! It shows each part of the world at work:
//!
//! - **timers**: `Timer::Heartbeat` re-arms itself, starting at a random phase drawn from
//!   `ctx.rng()` so that nodes started together don't beat in lockstep; each peer has a
//!   `Timer::Suspect(peer)`
//!   that every heartbeat from that peer re-arms, so it fires only after `timeout` of
//!   silence;
//! - **messages and faults**: a lost or delayed heartbeat, a partition, a crash all look
//!   the same from here: silence. A failure detector cannot tell a crashed node from a
//!   slow or cut-off one, which is why it *suspects* and does not *know*;
//! - **storage**: each start bumps the node's `incarnation`, written to stable storage
//!   before the first heartbeat, so peers can tell a restarted node from one that was
//!   merely silent.
//!
//! Two properties describe a failure detector (Chandra and Toueg, 1996): *completeness*
//! (a crashed node is eventually suspected by every live node) and *accuracy* (a live
//! node is not suspected). Timeouts buy completeness for certain and accuracy only while
//! the network is timely; exercise 0.3 makes the timeout adapt to the network.
//!
//! The two handlers that decide, what a heartbeat changes and what silence does, are
//! the reader's to write: exercise 0.1, `exercises::detector` (reference solution in
//! `chapters/ch00-world/solutions/detector.rs`).

pub mod run;

use std::time::Duration;

use crate::error::Result;
use crate::runtime::{CallId, Context, Message, Node, NodeId, ProtocolEvent, Time};
use crate::storage::Storage;

/// How a detector behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// How often a node heartbeats its peers.
    pub heartbeat: Duration,
    /// How long a peer may be silent before it is suspected (the floor, when adaptive).
    pub timeout: Duration,
    /// Adapt each peer's timeout to the gaps observed between its heartbeats (ex0.3).
    pub adaptive: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            heartbeat: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            adaptive: false,
        }
    }
}

/// The detector's one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// "I am alive": the sender's incarnation (how many times it has started) and the
    /// heartbeat's number within that incarnation.
    Heartbeat {
        /// How many times the sender has started.
        incarnation: u64,
        /// This heartbeat's number, from 1, within the incarnation.
        seq: u64,
    },
}

impl Message for Msg {}

/// What a detector records about itself (the `timeline` of the chapter binary).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The node started, for the `incarnation`-th time (persisted first).
    Started {
        /// How many times it has started.
        incarnation: u64,
    },
    /// The node now suspects `peer`: silent for a whole timeout.
    Suspect {
        /// The suspected peer.
        peer: NodeId,
    },
    /// A heartbeat showed that `peer` restarted since it was last heard.
    Restarted {
        /// The peer.
        peer: NodeId,
        /// Its new incarnation.
        incarnation: u64,
    },
    /// The node trusts `peer` again: a heartbeat came after all.
    Trust {
        /// The peer trusted again.
        peer: NodeId,
    },
}

impl ProtocolEvent for Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Started { .. } => "started",
            Event::Suspect { .. } => "suspect",
            Event::Restarted { .. } => "restarted",
            Event::Trust { .. } => "trust",
        }
    }
}

/// The detector's timers.
#[derive(Clone, Debug, PartialEq)]
pub enum Timer {
    /// Time to heartbeat every peer.
    Heartbeat,
    /// The peer has been silent for its whole timeout.
    Suspect(NodeId),
}

/// The last gaps between heartbeats from one peer: what an adaptive timeout learns from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GapHistory {
    /// The most recent gaps, oldest first, at most [`GapHistory::WINDOW`] of them.
    pub gaps: Vec<Duration>,
}

impl GapHistory {
    /// How many gaps are remembered.
    pub const WINDOW: usize = 32;

    /// Remembers one more gap, forgetting the oldest beyond the window.
    pub fn push(&mut self, gap: Duration) {
        if self.gaps.len() == Self::WINDOW {
            self.gaps.remove(0);
        }
        self.gaps.push(gap);
    }

    /// The mean gap, in microseconds (0 with no gaps).
    pub fn mean_us(&self) -> f64 {
        if self.gaps.is_empty() {
            return 0.0;
        }
        self.gaps.iter().map(|g| g.as_micros() as f64).sum::<f64>() / self.gaps.len() as f64
    }

    /// The sample standard deviation of the gaps, in microseconds (0 with fewer than two).
    pub fn std_dev_us(&self) -> f64 {
        if self.gaps.len() < 2 {
            return 0.0;
        }
        let mean = self.mean_us();
        let var = self
            .gaps
            .iter()
            .map(|g| (g.as_micros() as f64 - mean).powi(2))
            .sum::<f64>()
            / (self.gaps.len() - 1) as f64;
        var.sqrt()
    }
}

/// What a node knows about one peer.
#[derive(Clone, Debug, Default)]
pub struct PeerView {
    /// When the last heartbeat from this peer arrived (`None`: never).
    pub last_heard: Option<Time>,
    /// The peer's incarnation as of its last heartbeat (0: never heard).
    pub incarnation: u64,
    /// The number of the newest heartbeat heard in that incarnation: an older or equal
    /// one is a duplicate or was overtaken, and says nothing new.
    pub last_seq: u64,
    /// Whether this node currently suspects the peer.
    pub suspected: bool,
    /// Gaps between the peer's heartbeats, for the adaptive timeout.
    pub gaps: GapHistory,
}

/// A heartbeat failure detector node.
pub struct Detector {
    /// Every other node of the cluster.
    pub(crate) peers: Vec<NodeId>,
    /// Intervals and timeouts.
    pub(crate) config: DetectorConfig,
    /// Stable storage: holds `incarnation`.
    storage: Storage,
    /// How many times this node has started; persisted before the first heartbeat.
    incarnation: u64,
    /// The number of the last heartbeat sent in this incarnation.
    seq: u64,
    /// What this node knows of each peer, indexed like `peers`.
    pub(crate) views: Vec<PeerView>,
}

impl Detector {
    /// Node `id` of a cluster of `nodes`, with its storage.
    pub fn new(id: NodeId, nodes: usize, config: DetectorConfig, storage: Storage) -> Detector {
        let peers: Vec<NodeId> = NodeId::all(nodes)
            .into_iter()
            .filter(|&p| p != id)
            .collect();
        let views = vec![PeerView::default(); peers.len()];
        Detector {
            peers,
            config,
            storage,
            incarnation: 0,
            seq: 0,
            views,
        }
    }

    /// The peers this node suspects now, in id order.
    pub fn suspects(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .zip(&self.views)
            .filter(|(_, v)| v.suspected)
            .map(|(p, _)| *p)
            .collect()
    }

    /// Whether this node suspects `peer`.
    pub fn suspects_peer(&self, peer: NodeId) -> bool {
        self.view(peer).is_some_and(|v| v.suspected)
    }

    /// What this node knows of `peer`.
    pub fn view(&self, peer: NodeId) -> Option<&PeerView> {
        self.peers
            .iter()
            .position(|&p| p == peer)
            .map(|i| &self.views[i])
    }

    /// This node's incarnation: how many times it has started.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The timeout this node applies to `peer` now.
    pub fn timeout_for(&self, peer: NodeId) -> Duration {
        match (self.config.adaptive, self.view(peer)) {
            (true, Some(v)) => crate::exercises::adaptive_timeout::adaptive_timeout(
                &v.gaps,
                self.config.heartbeat,
                self.config.timeout,
            ),
            _ => self.config.timeout,
        }
    }
}

impl Node for Detector {
    type Msg = Msg;
    type Timer = Timer;
    type Request = ();
    type Response = Vec<NodeId>;
    type Event = Event;

    // ANCHOR: on_start
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        // Durable first: the new incarnation is on disk before any heartbeat carries it.
        self.incarnation = self.storage.get_u64("incarnation")?.unwrap_or(0) + 1;
        self.storage.put_u64("incarnation", self.incarnation)?;
        self.seq = 0;
        ctx.trace(Event::Started {
            incarnation: self.incarnation,
        });
        ctx.log(format_args!("started, incarnation {}", self.incarnation));
        // Start the rhythm at a random point of the first interval, drawn from the run's
        // seeded generator, so that nodes started together don't all heartbeat in the
        // same instant (and a different seed gives a different run).
        let phase = ctx
            .rng()
            .duration_between(Duration::ZERO, self.config.heartbeat);
        ctx.set_timer(Timer::Heartbeat, phase);
        for &peer in &self.peers {
            ctx.set_timer(Timer::Suspect(peer), self.timeout_for(peer));
        }
        Ok(())
    }
    // ANCHOR_END: on_start

    // ANCHOR: on_timer
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) -> Result<()> {
        match timer {
            Timer::Heartbeat => {
                self.seq += 1;
                let beat = Msg::Heartbeat {
                    incarnation: self.incarnation,
                    seq: self.seq,
                };
                for &peer in &self.peers {
                    ctx.send(peer, beat.clone());
                }
                ctx.set_timer(Timer::Heartbeat, self.config.heartbeat);
            }
            // Silence: the reader's code decides (exercise 0.1).
            Timer::Suspect(peer) => self.on_silence(ctx, peer),
        }
        Ok(())
    }
    // ANCHOR_END: on_timer

    // ANCHOR: on_message
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: NodeId, msg: Msg) -> Result<()> {
        // A heartbeat: the reader's code decides what it changes (exercise 0.1).
        let Msg::Heartbeat { incarnation, seq } = msg;
        self.on_heartbeat(ctx, from, incarnation, seq);
        Ok(())
    }
    // ANCHOR_END: on_message

    /// A client asks whom this node suspects.
    fn on_request(&mut self, ctx: &mut Context<'_, Self>, call: CallId, _req: ()) -> Result<()> {
        ctx.reply(call, self.suspects());
        Ok(())
    }

    fn role(&self) -> String {
        format!("inc{}", self.incarnation)
    }
}

/// Who was up at the end of a run, and since when: what the end-of-run checks need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Liveness {
    /// Up at the end, last started at this time.
    UpSince(Time),
    /// Down at the end, crashed at this time.
    DownSince(Time),
}

impl Liveness {
    /// Each node's liveness at `end`, from the crash and restart actions of a schedule.
    pub fn from_schedule(
        nodes: usize,
        schedule: &crate::runtime::Schedule,
        end: Time,
    ) -> Vec<Liveness> {
        use crate::runtime::Action;
        let mut live = vec![Liveness::UpSince(Time::ZERO); nodes];
        let mut actions: Vec<_> = schedule
            .actions
            .iter()
            .filter(|(at, _)| Time::ZERO + *at <= end)
            .collect();
        actions.sort_by_key(|(at, _)| *at);
        for (at, action) in actions {
            let t = Time::ZERO + *at;
            match action {
                Action::Crash(n) if matches!(live[n.index()], Liveness::UpSince(_)) => {
                    live[n.index()] = Liveness::DownSince(t)
                }
                Action::Restart(n) if matches!(live[n.index()], Liveness::DownSince(_)) => {
                    live[n.index()] = Liveness::UpSince(t)
                }
                _ => {}
            }
        }
        live
    }
}

/// Checks a failure detector's two properties at the end of a run, for every pair of
/// nodes whose state has been stable for at least `settle` (a timeout, plus a heartbeat,
/// plus twice the longest delay, since a duplicate may arrive that late, plus any slack
/// the runtime needs: [`run::Scenario::settle_and_timely`](crate::detector::run::Scenario::settle_and_timely)): `suspects[i]` is node i's suspect list, `None` if it is down.
///
/// - *Completeness*: every live node suspects every node that crashed and stayed down.
/// - *Accuracy* (only when `timely`: no loss, no partition, delays well under the
///   timeout): no live node suspects another live node.
pub fn check_properties(
    end: Time,
    suspects: &[Option<Vec<NodeId>>],
    liveness: &[Liveness],
    settle: Duration,
    timely: bool,
) -> Vec<crate::check::Violation> {
    let settled = |t: Time| end.since(t) >= settle;
    let mut violations = Vec::new();
    for (o, list) in suspects.iter().enumerate() {
        let (Some(list), Liveness::UpSince(o_up)) = (list, liveness[o]) else {
            continue;
        };
        if !settled(o_up) {
            continue;
        }
        let observer = NodeId::from_index(o);
        for (p, state) in liveness.iter().enumerate() {
            let peer = NodeId::from_index(p);
            if peer == observer {
                continue;
            }
            let suspected = list.contains(&peer);
            violations.extend(judge(
                end, observer, peer, *state, suspected, settle, timely,
            ));
        }
    }
    violations
}

// ANCHOR: check_detector
/// What `observer`, up and settled at `end`, may believe of `peer`, whose liveness is
/// `state`: a violation of completeness or accuracy, or nothing.
fn judge(
    end: Time,
    observer: NodeId,
    peer: NodeId,
    state: Liveness,
    suspected: bool,
    settle: Duration,
    timely: bool,
) -> Option<crate::check::Violation> {
    use crate::check::Violation;
    let settled = |t: Time| end.since(t) >= settle;
    match state {
        Liveness::DownSince(t) if settled(t) && !suspected => Some(Violation::new(
            end,
            "completeness",
            format!("{observer} does not suspect {peer}, which crashed at {t}"),
        )),
        Liveness::UpSince(t) if timely && settled(t) && suspected => Some(Violation::new(
            end,
            "accuracy",
            format!("{observer} suspects {peer}, which is up and timely since {t}"),
        )),
        _ => None,
    }
}
// ANCHOR_END: check_detector
