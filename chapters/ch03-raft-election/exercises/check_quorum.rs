//! Exercise 3.5: CheckQuorum (an extension).
//!
//! A leader cut off from a majority keeps believing it leads: nothing it hears tells it
//! otherwise, because it hears nothing. Clients that still reach it wait for answers
//! that can never come (in chapter 4, its writes never commit). With CheckQuorum, a
//! leader checks, every shortest election timeout (`election_min`), whether a majority
//! answered it within that window, and steps down to follower if not.
//!
//! `RaftNode::on_check_quorum` (src/raft/election.rs) calls this on a leader, with the
//! window and, in `heard`, when each follower last answered a heartbeat.
//!
//! Done when `cargo test --features ex3_5 --test exercises ex3_5` passes (the tests also
//! cut a leader off from the majority, and it must step down). Stuck?
//! `cargo run --bin exercises -- hint ex3.5`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::runtime::{NodeId, Time};

/// Whether leader `me` of a cluster of `nodes` still hears from a majority, `heard`
/// holding when each follower last answered, `now` the time, `window` how recent an
/// answer must be.
pub fn leader_has_quorum(
    me: NodeId,
    nodes: usize,
    heard: &BTreeMap<NodeId, Time>,
    now: Time,
    window: Duration,
) -> bool {
    // TODO(ex3.5): count the leader and the followers heard from recently.
    let _ = (me, nodes, heard, now, window);
    todo!("ex3.5: does this leader still hear from a majority?")
}
