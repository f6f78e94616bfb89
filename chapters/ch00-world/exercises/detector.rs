//! Exercise 0.1: the failure detector.
//!
//! Every node heartbeats its peers, and suspects a peer it has not heard from for a
//! whole timeout. Write the two handlers that decide: what a heartbeat changes, and
//! what silence does. The rules are in the chapter's section "A heartbeat failure
//! detector" and its subsections on timers and messages.
//!
//! What you have (src/detector/mod.rs):
//!
//! - `self.peers` (every other node) and `self.views`, indexed like `peers`: for each
//!   peer a `PeerView` with `last_heard`, `incarnation`, `last_seq`, `suspected` and
//!   `gaps` (the history of gaps between its heartbeats, `gaps.push(gap)`, read by
//!   exercise 0.3's adaptive timeout);
//! - `self.timeout_for(peer)`: how long `peer` may stay silent;
//! - `ctx.now()`, `ctx.set_timer(Timer::Suspect(peer), after)` (arming a timer that is
//!   already armed moves its deadline), `ctx.trace(event)` with `Event::Suspect`,
//!   `Event::Trust` and `Event::Restarted`.
//!
//! A peer that restarts comes back with a higher incarnation and numbers its heartbeats
//! from 1 again. The network may duplicate a heartbeat, deliver one late, or deliver one
//! sent before the peer's crash after one sent after its restart.
//!
//! The tests run the chapter's sweeps against your detector (crashes that last, crashes
//! with restarts, partitions that heal, a lossy, duplicating network) and check the
//! detector's two properties at the end of every run: completeness (every crashed node
//! is suspected) and accuracy (no live, timely node is). A mistake shows up as a property
//! violated, with the seed and the command that replays it.
//!
//! Done when `cargo run --bin exercises -- check ex0.1` passes. Stuck?
//! `cargo run --bin exercises -- hint ex0.1`.

#[allow(unused_imports)] // until your code uses them
use crate::detector::{Detector, Event, GapHistory, Timer};
use crate::runtime::{Context, NodeId};

impl Detector {
    /// A heartbeat from `from`, number `seq` of its incarnation `incarnation`.
    pub fn on_heartbeat(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        incarnation: u64,
        seq: u64,
    ) {
        // TODO(ex0.1): which heartbeats say nothing new? For the others: what does this
        // node now know about `from`, and when must it next suspect it? A suspected
        // peer that is heard from again is trusted again.
        let _ = (ctx, from, incarnation, seq);
        todo!("ex0.1: a heartbeat arrives")
    }

    /// `peer`'s suspect timer fired: nothing was heard from it for a whole timeout.
    pub fn on_silence(&mut self, ctx: &mut Context<'_, Self>, peer: NodeId) {
        // TODO(ex0.1): record a suspicion once, not at every timeout.
        let _ = (ctx, peer);
        todo!("ex0.1: a peer is silent")
    }
}
