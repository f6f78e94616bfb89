//! Exercise 3.6, reference solution: leadership transfer.

use crate::error::Result;
use crate::raft::node::{RaftNode, Response, Role};
use crate::raft::Msg;
use crate::runtime::{Context, NodeId};

// ANCHOR: transfer_leadership
/// A client asks this node to hand its leadership to `to`. Only a leader can, only to
/// another node of the cluster, and only to one whose log is as long as its own (else
/// `to` could not win, §5.4.1). The leader then tells `to` to campaign at once.
pub fn transfer_leadership(
    node: &mut RaftNode,
    ctx: &mut Context<'_, RaftNode>,
    to: NodeId,
) -> Response {
    let term = node.term();
    let Role::Leader(leader) = &node.role else {
        return Response::Refused(format!(
            "{} is not the leader of term {term}; ask {}",
            node.id(),
            node.leader
                .map_or("the leader (none known yet)".to_string(), |l| l.to_string())
        ));
    };
    if to == node.id() || to.index_in(node.config().nodes).is_none() {
        return Response::Refused(format!(
            "{to} is not another node of this cluster; name one of its followers"
        ));
    }
    let last = node.state.last_log().index;
    let matched = leader.match_index.get(&to).copied().unwrap_or(0);
    if matched < last {
        return Response::Refused(format!(
            "{to}'s log matches up to {matched}, the leader's ends at {last}; retry once it has caught up"
        ));
    }
    ctx.send(to, Msg::TimeoutNow { term });
    Response::Transferring { to, term }
}
// ANCHOR_END: transfer_leadership

// ANCHOR: on_timeout_now
/// The leader of our term asks us to campaign now: start an election at once, without
/// waiting for a timeout and without PreVote (every voter still hears from the leader,
/// so a PreVote would be refused).
pub fn on_timeout_now(node: &mut RaftNode, ctx: &mut Context<'_, RaftNode>) -> Result<()> {
    if node.is_leader() {
        return Ok(());
    }
    let next = node.term() + 1;
    ctx.log(format_args!(
        "TimeoutNow from the leader: campaigns in term {next}"
    ));
    node.start_election(ctx)
}
// ANCHOR_END: on_timeout_now
