//! Names for the things a run talks about: nodes and clients.

use std::fmt;

/// A node of the cluster. Ids are 1-based, as in the papers' figures, and print as
/// `n1`, `n2`, …
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position in a 0-based array of the cluster's nodes. Only for an id
    /// already known to be in the cluster; [`NodeId::index_in`] checks.
    pub fn index(self) -> usize {
        (self.0 as usize).saturating_sub(1)
    }

    /// The node's position in a cluster of `nodes`, or `None` if the id names no node
    /// of that cluster (0, or above `nodes`).
    pub fn index_in(self, nodes: usize) -> Option<usize> {
        let i = self.0 as usize;
        (1..=nodes).contains(&i).then(|| i - 1)
    }

    /// The node at 0-based position `index`.
    pub fn from_index(index: usize) -> NodeId {
        NodeId(index as u32 + 1)
    }

    /// The ids `n1..=nN` of a cluster of `n` nodes.
    pub fn all(n: usize) -> Vec<NodeId> {
        (0..n).map(NodeId::from_index).collect()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// One call into a node: a request as the runtime carries it. The runtime mints a
/// `CallId` for each request it delivers, and the node answers with
/// `ctx.reply(call, response)`. A retry of the same request is a new call: which
/// client made it, and which of its requests it is, is the [`ClientId`] and sequence
/// number the request itself carries.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CallId(pub u64);

/// A client: one party that calls operations, over sessions the service opens for it
/// (`app::sessions`). A request is named by its session and its number in it, so a
/// request retried after a timeout, or sent again to a new leader, is recognized as the
/// same request and applied once.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call{}", self.0)
    }
}
