//! Exercise 3.6: leadership transfer (an extension).
//!
//! An operator wants to restart the leader's machine, or to move leadership nearer to
//! the clients. Waiting for an election timeout after the leader stops costs hundreds
//! of milliseconds with no leader; a transfer (§3.10 of Ongaro's thesis) costs one
//! round trip: the leader tells its chosen successor `TimeoutNow`, and the successor
//! starts an election at once, in a higher term, so everyone follows it.
//!
//! Two functions. `transfer_leadership` runs on the node a client asked
//! (`Request::Transfer(to)`) and answers it: `Response::Transferring` once `TimeoutNow`
//! is on its way, or `Response::Refused` with a sentence that says why. Refuse what
//! could not work: a transfer asked of a node that does not lead (the sentence names
//! the leader it knows, if any), a transfer to itself or to a node outside the cluster,
//! and a transfer to a follower whose log has not caught up with the leader's (it could
//! not win; the sentence names it). `on_timeout_now` runs on the successor, after the
//! term rule (`RaftNode::on_message` calls it): campaign now, unless it already leads.
//!
//! Done when `cargo test --features ex3_6 --test exercises ex3_6` passes. Stuck?
//! `cargo run --bin exercises -- hint ex3.6`.

use crate::error::Result;
use crate::raft::node::{RaftNode, Response};
use crate::runtime::{Context, NodeId};

/// A client asks this node to hand its leadership to `to`.
pub fn transfer_leadership(
    node: &mut RaftNode,
    ctx: &mut Context<'_, RaftNode>,
    to: NodeId,
) -> Response {
    // TODO(ex3.6): check, then send TimeoutNow.
    let _ = (node, ctx, to);
    todo!("ex3.6: hand leadership to `to`")
}

/// The leader of our term asks us to campaign now.
pub fn on_timeout_now(node: &mut RaftNode, ctx: &mut Context<'_, RaftNode>) -> Result<()> {
    // TODO(ex3.6): campaign at once.
    let _ = (node, ctx);
    todo!("ex3.6: start an election now")
}
