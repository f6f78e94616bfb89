//! Exercise 3.3: leadership transfer.
//!
//! An operator wants to restart the leader's machine, or to move leadership nearer to
//! the clients. Waiting for an election timeout after the leader stops costs hundreds
//! of milliseconds with no leader; a transfer (§3.10 of Ongaro's thesis) costs one
//! round trip: the leader tells its chosen successor `TimeoutNow`, and the successor
//! starts an election at once, in a higher term, so everyone follows it.
//!
//! Two functions. `transfer_leadership` runs on the node a client asked
//! (`Request::Transfer(to)`), and answers it:
//! - only a leader can transfer (`node.role` is `Role::Leader(..)`); anyone else answers
//!   `Response::Refused` with a sentence that names the leader it knows (`node.leader`);
//! - `to` must be another node of the cluster (`NodeId::index_in`);
//! - `to`'s log must have caught up (`leader.match_index[to]` at least the leader's last
//!   index, `node.state.last_log().index`), else it could not win;
//! - then send `Msg::TimeoutNow { term }` to `to` and answer `Response::Transferring`.
//!
//! `on_timeout_now` runs on the successor (`RaftNode::on_message` calls it, after the
//! term rule): unless it leads, it starts an election now (`node.start_election(ctx)`),
//! skipping PreVote.
//!
//! Done when `cargo test --features ex3_3 --test exercises ex3_3` passes.

use crate::error::Result;
use crate::raft::node::{RaftNode, Response};
use crate::runtime::{Context, NodeId};

/// A client asks this node to hand its leadership to `to`.
pub fn transfer_leadership(
    node: &mut RaftNode,
    ctx: &mut Context<'_, RaftNode>,
    to: NodeId,
) -> Response {
    // TODO(ex3.3): check, then send TimeoutNow.
    let _ = (node, ctx, to);
    todo!("ex3.3: hand leadership to `to`")
}

/// The leader of our term asks us to campaign now.
pub fn on_timeout_now(node: &mut RaftNode, ctx: &mut Context<'_, RaftNode>) -> Result<()> {
    // TODO(ex3.3): campaign at once.
    let _ = (node, ctx);
    todo!("ex3.3: start an election now")
}
