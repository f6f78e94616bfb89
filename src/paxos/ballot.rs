//! Ballots and quorums: the two small pieces of arithmetic Paxos rests on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::runtime::NodeId;

/// A ballot (Lamport's "proposal number"): a round, made unique by the proposer's id.
/// Ballots are totally ordered, round first, so two proposers never use the same one
/// and any two can be compared.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    /// The round: a proposer's next ballot has a round above every round it has seen.
    pub round: u64,
    /// The proposer that owns the ballot, which breaks ties between equal rounds.
    pub node: NodeId,
}

impl Ballot {
    /// The ballot below every real one: what an acceptor has promised before it has
    /// promised anything.
    pub const NONE: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };

    /// Ballot `round` of proposer `node`.
    pub fn new(round: u64, node: NodeId) -> Ballot {
        Ballot { round, node }
    }
}

impl fmt::Debug for Ballot {
    /// As [`Display`](fmt::Display): `3.n2`, so that messages in traces stay readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Default for Ballot {
    fn default() -> Ballot {
        Ballot::NONE
    }
}

impl fmt::Display for Ballot {
    /// `3.n2`: round 3 of proposer n2.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node)
    }
}

// ANCHOR: majority
/// The size of a majority of `n` acceptors: any two majorities share an acceptor, which
/// is the whole of Paxos's safety in one line.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}
// ANCHOR_END: majority

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_order_by_round_then_node() {
        let b = |r, n| Ballot::new(r, NodeId(n));
        assert!(b(1, 2) > b(1, 1));
        assert!(b(2, 1) > b(1, 9));
        assert!(Ballot::NONE < b(1, 1));
        assert_eq!(b(3, 2).to_string(), "3.n2");
    }

    /// Any two majorities of the same acceptors intersect: checked exhaustively for
    /// clusters of up to 7 acceptors.
    #[test]
    fn two_majorities_always_share_an_acceptor() {
        for n in 1..=7usize {
            let q = majority(n);
            let sets: Vec<u32> = (0u32..1 << n)
                .filter(|s| s.count_ones() as usize == q)
                .collect();
            for a in &sets {
                for b in &sets {
                    assert_ne!(a & b, 0, "n={n}: majorities {a:b} and {b:b} are disjoint");
                }
            }
            // And one fewer is not enough (for n >= 2): two disjoint sets exist.
            if n >= 2 {
                let small = q - 1;
                assert!(2 * small <= n, "n={n}: {small} is still a majority");
            }
        }
    }
}
