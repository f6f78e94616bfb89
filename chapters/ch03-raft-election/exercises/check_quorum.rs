//! Exercise 3.2: CheckQuorum.
//!
//! A leader cut off from a majority keeps believing it leads: nothing it hears tells it
//! otherwise, because it hears nothing. Clients that still reach it wait for answers
//! that can never come (in chapter 4, its writes never commit). With CheckQuorum, a
//! leader checks once per election timeout whether a majority answered it during that
//! time, and steps down to follower if not.
//!
//! `RaftNode::on_check_quorum` (src/raft/election.rs) calls this on a leader. The
//! leader counts itself; `heard` says when each follower last answered a heartbeat.
//! `crate::raft::majority` and `Time::since` do the arithmetic.
//!
//! Done when `cargo test --features ex3_2 --test exercises ex3_2` passes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::runtime::{NodeId, Time};

/// Whether leader `me` of a cluster of `nodes` still has a majority: itself, and the
/// followers it heard from within `window` before `now`.
pub fn leader_has_quorum(
    me: NodeId,
    nodes: usize,
    heard: &BTreeMap<NodeId, Time>,
    now: Time,
    window: Duration,
) -> bool {
    // TODO(ex3.2): count the leader and the followers heard from recently.
    let _ = (me, nodes, heard, now, window);
    todo!("ex3.2: does this leader still hear from a majority?")
}
