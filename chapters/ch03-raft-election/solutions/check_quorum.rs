//! Exercise 3.5, reference solution: CheckQuorum.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::raft::majority;
use crate::runtime::{NodeId, Time};

// ANCHOR: leader_has_quorum
/// Whether leader `me` of a cluster of `nodes` still has a majority: itself, and the
/// followers it heard from within `window` before `now` (`heard` holds when each
/// follower last answered).
pub fn leader_has_quorum(
    me: NodeId,
    nodes: usize,
    heard: &BTreeMap<NodeId, Time>,
    now: Time,
    window: Duration,
) -> bool {
    let recent = heard
        .iter()
        .filter(|(&n, &at)| n != me && now.since(at) <= window)
        .count();
    1 + recent >= majority(nodes)
}
// ANCHOR_END: leader_has_quorum
