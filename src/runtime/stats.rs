//! Per-node message counts, the same in both worlds.

use serde::Serialize;

/// What one node sent and received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Messages this node put on the network.
    pub sent: u64,
    /// Of those, how many never arrived (partitioned, lost, or the receiver was down).
    pub dropped: u64,
    /// Of those, how many the network delivered twice.
    pub duplicated: u64,
    /// Messages delivered to this node.
    pub delivered: u64,
    /// Bytes this node sent (by [`Message::size`](super::Message::size)).
    pub bytes_sent: u64,
    /// Bytes delivered to this node.
    pub bytes_delivered: u64,
    /// Timers of this node that fired.
    pub timers_fired: u64,
}

impl NodeStats {
    /// The field-by-field sum of two counts.
    pub fn plus(&self, o: &NodeStats) -> NodeStats {
        NodeStats {
            sent: self.sent + o.sent,
            dropped: self.dropped + o.dropped,
            duplicated: self.duplicated + o.duplicated,
            delivered: self.delivered + o.delivered,
            bytes_sent: self.bytes_sent + o.bytes_sent,
            bytes_delivered: self.bytes_delivered + o.bytes_delivered,
            timers_fired: self.timers_fired + o.timers_fired,
        }
    }
}
