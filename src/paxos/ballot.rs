//! Ballots and quorums: the two small pieces of arithmetic Paxos rests on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runtime::NodeId;

/// A ballot (Lamport's "proposal number"): a round, made unique by the proposer's id.
/// Ballots are totally ordered, round first, so two proposers never use the same one
/// and any two can be compared.
///
/// A ballot is written `3.n2` everywhere: printed, in traces and diagrams, and in an
/// acceptor's stored state (serialized as that string).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

impl FromStr for Ballot {
    type Err = String;

    /// Reads `3.n2`, the [`Display`](fmt::Display) form.
    fn from_str(s: &str) -> Result<Ballot, String> {
        let bad = || format!("'{s}' is not a ballot; a ballot is written ROUND.nNODE, e.g. 3.n2");
        let (round, node) = s.split_once(".n").ok_or_else(bad)?;
        Ok(Ballot {
            round: round.parse().map_err(|_| bad())?,
            node: NodeId(node.parse().map_err(|_| bad())?),
        })
    }
}

impl Serialize for Ballot {
    /// As the string `3.n2`, so that a trace says `"ballot":"3.n2"`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ballot {
    /// From `"3.n2"`, or from `{"round":3,"node":2}`, the form acceptor state stored
    /// before ballots were written as text.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ballot, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            Fields { round: u64, node: NodeId },
        }
        match Written::deserialize(d)? {
            Written::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Written::Fields { round, node } => Ok(Ballot { round, node }),
        }
    }
}

pub use crate::check::majority;

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

    #[test]
    fn a_ballot_is_written_as_text_and_read_back() {
        let b = Ballot::new(3, NodeId(2));
        assert_eq!(serde_json::to_value(b).unwrap(), serde_json::json!("3.n2"));
        assert_eq!(serde_json::from_str::<Ballot>("\"3.n2\"").unwrap(), b);
        assert_eq!("0.n0".parse::<Ballot>(), Ok(Ballot::NONE));
        let old = serde_json::json!({"round": 3, "node": 2});
        assert_eq!(serde_json::from_value::<Ballot>(old).unwrap(), b);
        for bad in ["3", "3.2", "x.n2", "3.nx", "-1.n2"] {
            let err = bad.parse::<Ballot>().unwrap_err();
            assert!(err.contains("ROUND.nNODE"), "{bad}: {err}");
        }
    }

    /// A trace record carrying a ballot draws it as `1.n2` in a space-time diagram,
    /// not as its fields.
    #[test]
    fn a_diagram_labels_a_ballot_as_it_is_printed() {
        use crate::runtime::trace::{Fact, Observed};
        use crate::runtime::Time;
        use crate::viz::{render, SvgOptions};
        let record = Observed {
            at: Time(0),
            node: NodeId(2),
            what: Fact::Protocol(super::super::Event::Prepare {
                ballot: Ballot::new(1, NodeId(2)),
            }),
        }
        .record();
        assert_eq!(record.str_field("ballot"), Some("1.n2"));
        let svg = render(&[record], 3, &SvgOptions::default());
        assert!(svg.contains(">prepare ballot=1.n2</text>"), "{svg}");
        assert!(
            svg.contains("prepare { ballot: 1.n2 }"),
            "hover text: {svg}"
        );
        assert!(!svg.contains("&quot;round&quot;"), "no raw fields: {svg}");
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
