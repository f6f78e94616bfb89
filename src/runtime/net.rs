//! The network's fault model, one for both worlds.
//!
//! Faults are the network's business, never the protocol's. When a node sends, the
//! network decides at once, from the sender's seeded generator, what becomes of the
//! message: it is dropped (a partition blocks the link, or bad luck with probability
//! `drop`), or delivered after a delay drawn from `delay`, and perhaps delivered twice
//! (probability `duplicate`), the copy on its own delay so that it may overtake later
//! messages or arrive after them. Deciding at send time means an undelayed message
//! costs one hop on threads, and that the simulator and the threads runtime share this
//! file, so they share the fault model exactly. Both runtimes check the link once more
//! when a message arrives: one still in flight when a partition began is lost with it.

use std::time::Duration;

use super::id::NodeId;
use super::rng::Rng;

/// The random faults of a network: loss, delay, duplication.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Probability in `[0, 1]` that a message is lost.
    pub drop: f64,
    /// Each message is delayed by a uniform draw from `delay.0..=delay.1`.
    pub delay: (Duration, Duration),
    /// Probability in `[0, 1]` that a message is delivered twice.
    pub duplicate: f64,
}

impl Faults {
    /// A perfect network: nothing lost, nothing delayed, nothing duplicated.
    pub fn reliable() -> Faults {
        Faults {
            drop: 0.0,
            delay: (Duration::ZERO, Duration::ZERO),
            duplicate: 0.0,
        }
    }

    /// The unreliable network of the tests' `set_unreliable(true)`: 10% loss, up to
    /// 27 ms of delay (so messages reorder), 2% duplicates.
    pub fn unreliable() -> Faults {
        Faults {
            drop: 0.1,
            delay: (Duration::ZERO, Duration::from_millis(27)),
            duplicate: 0.02,
        }
    }

    /// Whether some message may be delayed at all.
    pub fn delays(&self) -> bool {
        !self.delay.1.is_zero() || self.duplicate > 0.0
    }
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::reliable()
    }
}

/// Why a message was not delivered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DropReason {
    /// A partition blocks the link from sender to receiver.
    Partitioned,
    /// The random loss of [`Faults::drop`].
    Lost,
    /// The receiver was crashed when the message arrived.
    Crashed,
}

impl DropReason {
    /// The reason as a trace field value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Partitioned => "partitioned",
            DropReason::Lost => "lost",
            DropReason::Crashed => "crashed",
        }
    }
}

/// What the network decided for one message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// The message is gone.
    Drop(DropReason),
    /// Deliver after `delay`, and a second copy after `duplicate`, if any.
    Deliver {
        /// The first copy's delay.
        delay: Duration,
        /// The duplicate's delay, if the message is duplicated.
        duplicate: Option<Duration>,
    },
}

/// A link-level view of the cluster: which directed links are blocked, which nodes are
/// slow, and the random faults. Blocks are counted, so two overlapping partitions that
/// both cut a link leave it cut until both have ended.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    faults: Faults,
    /// `blocked[from * nodes + to]`: how many active partitions cut the link `from -> to`.
    blocked: Vec<u16>,
    /// Whether any link is cut: most runs have no partition most of the time, and then
    /// a link needs no looking up.
    any_blocked: bool,
    /// Nodes whose outgoing messages are slowed down (exercise 0.2).
    slow: Vec<bool>,
    /// Whether any node is slow.
    any_slow: bool,
    /// Whether the network is perfect: nothing cut, nothing slow, no random fault. Then
    /// every message is delivered at once, and deciding so draws nothing.
    perfect: bool,
}

impl Network {
    /// A network of `nodes` nodes with the given random faults and no partitions.
    pub fn new(nodes: usize, faults: Faults) -> Network {
        Network {
            nodes,
            faults,
            blocked: vec![0; nodes * nodes],
            any_blocked: false,
            slow: vec![false; nodes],
            any_slow: false,
            perfect: false,
        }
        .settled()
    }

    /// This network with `perfect` brought up to date.
    fn settled(mut self) -> Network {
        self.settle();
        self
    }

    /// Brings `perfect` up to date after a change.
    fn settle(&mut self) {
        let f = &self.faults;
        self.perfect = !self.any_blocked
            && !self.any_slow
            && f.drop <= 0.0
            && f.delay.0.is_zero()
            && f.delay.1.is_zero()
            && f.duplicate <= 0.0;
    }

    /// The random faults in force.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the random faults.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        self.settle();
    }

    fn link(&self, from: NodeId, to: NodeId) -> Option<usize> {
        let f = from.index_in(self.nodes)?;
        let t = to.index_in(self.nodes)?;
        Some(f * self.nodes + t)
    }

    /// Whether a partition cuts the link `from -> to`.
    #[inline]
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.any_blocked && self.link(from, to).is_some_and(|l| self.blocked[l] > 0)
    }

    /// Cuts the one-way link `from -> to` (once more, if already cut).
    pub fn block(&mut self, from: NodeId, to: NodeId) {
        if let Some(l) = self.link(from, to) {
            self.blocked[l] = self.blocked[l].saturating_add(1);
            self.any_blocked = true;
            self.settle();
        }
    }

    /// Undoes one [`block`](Network::block) of the link `from -> to`.
    pub fn unblock(&mut self, from: NodeId, to: NodeId) {
        if let Some(l) = self.link(from, to) {
            self.blocked[l] = self.blocked[l].saturating_sub(1);
            self.any_blocked = self.blocked.iter().any(|&b| b > 0);
            self.settle();
        }
    }

    /// Applies (`on = true`) or lifts a partition: every link from `a` to `b` is cut,
    /// and every link from `b` to `a` too unless `one_way`.
    pub fn apply_partition(&mut self, a: &[NodeId], b: &[NodeId], one_way: bool, on: bool) {
        for &x in a {
            for &y in b {
                if x == y {
                    continue;
                }
                let mut links = vec![(x, y)];
                if !one_way {
                    links.push((y, x));
                }
                for (from, to) in links {
                    if on {
                        self.block(from, to)
                    } else {
                        self.unblock(from, to)
                    }
                }
            }
        }
    }

    /// Cuts `node` off from everyone, both ways.
    pub fn disconnect(&mut self, node: NodeId) {
        let others: Vec<NodeId> = NodeId::all(self.nodes)
            .into_iter()
            .filter(|&n| n != node)
            .collect();
        self.apply_partition(&[node], &others, false, true);
    }

    /// Restores every link to and from `node`, whatever cut it.
    pub fn connect(&mut self, node: NodeId) {
        for other in NodeId::all(self.nodes) {
            for (from, to) in [(node, other), (other, node)] {
                if let Some(l) = self.link(from, to) {
                    self.blocked[l] = 0;
                }
            }
        }
        self.any_blocked = self.blocked.iter().any(|&b| b > 0);
        self.settle();
    }

    /// Lifts every partition.
    pub fn heal(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = 0);
        self.any_blocked = false;
        self.settle();
    }

    /// Marks `node` slow (or not): its outgoing messages take longer (exercise 0.2).
    pub fn set_slow(&mut self, node: NodeId, slow: bool) {
        if let Some(i) = node.index_in(self.nodes) {
            self.slow[i] = slow;
            self.any_slow = self.slow.iter().any(|&s| s);
            self.settle();
        }
    }

    /// Whether `node` is marked slow.
    pub fn is_slow(&self, node: NodeId) -> bool {
        self.any_slow && node.index_in(self.nodes).is_some_and(|i| self.slow[i])
    }

    /// Decides the fate of one message from `from` to `to`, drawing from `rng`.
    #[inline]
    pub fn route(&self, from: NodeId, to: NodeId, rng: &mut Rng) -> Route {
        if self.perfect {
            // What the steps below decide for a perfect network, without a draw.
            return Route::Deliver {
                delay: Duration::ZERO,
                duplicate: None,
            };
        }
        self.route_with_faults(from, to, rng)
    }

    // ANCHOR: route
    /// [`Network::route`] on a network with faults.
    #[inline(never)]
    fn route_with_faults(&self, from: NodeId, to: NodeId, rng: &mut Rng) -> Route {
        if self.is_blocked(from, to) {
            return Route::Drop(DropReason::Partitioned);
        }
        let f = &self.faults;
        if rng.chance(f.drop) {
            return Route::Drop(DropReason::Lost);
        }
        // No delay draws nothing (`duration_between` of an empty range returns its one
        // value without a draw), so the common no-delay case skips the arithmetic.
        let mut delay = match f.delay.0.is_zero() && f.delay.1.is_zero() {
            true => Duration::ZERO,
            false => rng.duration_between(f.delay.0, f.delay.1),
        };
        let mut duplicate = rng.chance(f.duplicate).then(|| {
            // The copy takes its own path: its own delay plus up to a millisecond (or the
            // delay range) more, so it can arrive after messages sent later.
            let jitter = f.delay.1.max(Duration::from_millis(1));
            rng.duration_between(f.delay.0, f.delay.1)
                + rng.duration_between(Duration::ZERO, jitter)
        });
        if self.is_slow(from) {
            delay = crate::exercises::slow_node::slow_delay(delay);
            duplicate = duplicate.map(crate::exercises::slow_node::slow_delay);
        }
        Route::Deliver { delay, duplicate }
    }
    // ANCHOR_END: route
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<NodeId> {
        v.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn symmetric_partition_cuts_both_ways_and_only_across() {
        let mut net = Network::new(5, Faults::reliable());
        net.apply_partition(&ids(&[1, 2]), &ids(&[3, 4, 5]), false, true);
        assert!(net.is_blocked(NodeId(1), NodeId(3)));
        assert!(net.is_blocked(NodeId(5), NodeId(2)));
        assert!(!net.is_blocked(NodeId(1), NodeId(2)));
        assert!(!net.is_blocked(NodeId(3), NodeId(4)));
        net.apply_partition(&ids(&[1, 2]), &ids(&[3, 4, 5]), false, false);
        assert!(!net.is_blocked(NodeId(1), NodeId(3)));
    }

    #[test]
    fn one_way_partition_cuts_one_direction() {
        let mut net = Network::new(3, Faults::reliable());
        net.apply_partition(&ids(&[1]), &ids(&[2]), true, true);
        assert!(net.is_blocked(NodeId(1), NodeId(2)));
        assert!(!net.is_blocked(NodeId(2), NodeId(1)));
    }

    #[test]
    fn overlapping_partitions_keep_a_link_cut_until_both_end() {
        let mut net = Network::new(3, Faults::reliable());
        net.apply_partition(&ids(&[1]), &ids(&[2, 3]), false, true);
        net.apply_partition(&ids(&[1, 3]), &ids(&[2]), false, true);
        net.apply_partition(&ids(&[1]), &ids(&[2, 3]), false, false);
        assert!(
            net.is_blocked(NodeId(1), NodeId(2)),
            "second partition still cuts 1-2"
        );
        assert!(!net.is_blocked(NodeId(1), NodeId(3)));
    }

    #[test]
    fn disconnect_and_connect() {
        let mut net = Network::new(3, Faults::reliable());
        net.disconnect(NodeId(2));
        assert!(net.is_blocked(NodeId(2), NodeId(1)) && net.is_blocked(NodeId(3), NodeId(2)));
        net.connect(NodeId(2));
        assert!(!net.is_blocked(NodeId(2), NodeId(1)) && !net.is_blocked(NodeId(3), NodeId(2)));
    }

    #[test]
    fn route_respects_the_delay_range() {
        let faults = Faults {
            drop: 0.0,
            delay: (Duration::from_millis(2), Duration::from_millis(5)),
            duplicate: 0.0,
        };
        let net = Network::new(2, faults);
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            match net.route(NodeId(1), NodeId(2), &mut rng) {
                Route::Deliver { delay, duplicate } => {
                    assert!(delay >= Duration::from_millis(2) && delay <= Duration::from_millis(5));
                    assert_eq!(duplicate, None);
                }
                other => panic!("reliable network dropped a message: {other:?}"),
            }
        }
    }
}
