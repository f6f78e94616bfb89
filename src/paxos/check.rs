//! Paxos's safety properties, checked on every step.
//!
//! The checker reads the protocol's events (`proposed`, `accepted`, `chosen`) and keeps
//! the history a single node cannot see: every acceptance ever made. From it, a value is
//! *chosen* when a majority of all acceptors accepted it in the same ballot. That is the
//! true definition, so it holds the nodes to it even when a rule is broken and the nodes
//! themselves count wrongly. The properties ("Paxos Made Simple", §2.1):
//!
//! - **at most one value chosen**;
//! - **only a proposed value is chosen**;
//! - **a learner learns only the chosen value** (a learner that announces a value no
//!   majority accepted in one ballot has learned something false).
//!
//! And at the end of a run whose faults have healed, the liveness property: **every
//! learner learns the chosen value** ([`Agreement::check_all_learned`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{majority, Ballot, Event, Value};
use crate::check::Violation;
use crate::runtime::{NodeId, Time};

/// The property names, as the book and the violations print them.
pub const AT_MOST_ONE_CHOSEN: &str = "at most one value chosen";
/// See the module documentation.
pub const ONLY_PROPOSED_CHOSEN: &str = "only a proposed value is chosen";
/// See the module documentation.
pub const LEARN_ONLY_CHOSEN: &str = "a learner learns only the chosen value";
/// See the module documentation.
pub const ALL_LEARN: &str = "every learner learns the chosen value";

/// The checker's memory of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    /// A majority of all acceptors.
    quorum: usize,
    /// Every value a proposer proposed.
    proposed: BTreeSet<Value>,
    /// Every acceptance ever made: (ballot, value) -> the acceptors that accepted it.
    pub(super) accepted: BTreeMap<(Ballot, Value), BTreeSet<NodeId>>,
    /// Every (ballot, value) a majority accepted.
    pub(super) chosen: BTreeSet<(Ballot, Value)>,
    /// What each learner announced it learned.
    learned: BTreeMap<NodeId, Value>,
}

impl Agreement {
    /// A checker for a cluster of `nodes` acceptors.
    pub fn new(nodes: usize) -> Agreement {
        Agreement {
            quorum: majority(nodes),
            ..Agreement::default()
        }
    }

    /// Every value chosen so far (more than one is a violation).
    pub fn chosen_values(&self) -> BTreeSet<Value> {
        self.chosen.iter().map(|(_, v)| v.clone()).collect()
    }

    // ANCHOR: observe
    /// Takes in one protocol event of `node` at `t`; returns the violations it reveals.
    pub fn observe(&mut self, t: Time, node: NodeId, event: &Event) -> Vec<Violation> {
        let mut found = Vec::new();
        match event {
            Event::Proposed { value } => {
                self.proposed.insert(value.clone());
            }
            Event::Accepted { ballot, value } => {
                let ballot = *ballot;
                let voters = self.accepted.entry((ballot, value.clone())).or_default();
                voters.insert(node);
                if voters.len() >= self.quorum && !self.chosen.contains(&(ballot, value.clone())) {
                    found = self.newly_chosen(t, ballot, value);
                }
            }
            Event::Learned { value, .. } => {
                if !self.chosen.iter().any(|(_, v)| v == value) {
                    found.push(Violation::new(
                        t,
                        LEARN_ONLY_CHOSEN,
                        format!("{node} learned {value}, which no majority accepted in one ballot"),
                    ));
                }
                self.learned.insert(node, value.clone());
            }
            Event::Prepare { .. } | Event::Promised { .. } | Event::Rejected { .. } => {}
        }
        found
    }
    // ANCHOR_END: observe

    /// `value` has just been accepted by a majority in `ballot`, at `t`: it is chosen.
    /// Returns the violations that reveals: another value chosen before it, or a value
    /// nobody proposed.
    fn newly_chosen(&mut self, t: Time, ballot: Ballot, value: &Value) -> Vec<Violation> {
        let mut found = Vec::new();
        let before = self.chosen_values();
        self.chosen.insert((ballot, value.clone()));
        let others: Vec<&str> = before
            .iter()
            .filter(|v| *v != value)
            .map(|v| v.as_str())
            .collect();
        if !others.is_empty() {
            let were = if others.len() == 1 { "was" } else { "were" };
            found.push(Violation::new(
                t,
                AT_MOST_ONE_CHOSEN,
                format!(
                    "{value} chosen in ballot {ballot}, after {} {were} chosen",
                    others.join(" and ")
                ),
            ));
        }
        if !self.proposed.contains(value) {
            found.push(Violation::new(
                t,
                ONLY_PROPOSED_CHOSEN,
                format!("{value} was chosen in ballot {ballot} but nobody proposed it"),
            ));
        }
        found
    }

    /// At the end of a run whose faults have healed: every live learner (`learned[i]`
    /// is node i's learned value, `None` if it learned nothing; crashed nodes are left
    /// out by the caller) learned, and learned the one chosen value.
    pub fn check_all_learned(
        &self,
        t: Time,
        learned: &[(NodeId, Option<Value>)],
    ) -> Vec<Violation> {
        let chosen = self.chosen_values();
        learned
            .iter()
            .filter_map(|(node, v)| match v {
                None => Some(Violation::new(
                    t,
                    ALL_LEARN,
                    format!("{node} learned nothing"),
                )),
                Some(v) if !chosen.contains(v) => Some(Violation::new(
                    t,
                    ALL_LEARN,
                    format!("{node} learned {v}, which was not chosen"),
                )),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(ballot: Ballot, value: &str) -> Event {
        Event::Accepted {
            ballot,
            value: value.into(),
        }
    }

    fn proposed(value: &str) -> Event {
        Event::Proposed {
            value: value.into(),
        }
    }

    #[test]
    fn two_values_chosen_in_two_ballots_is_a_violation() {
        let mut a = Agreement::new(3);
        let (b1, b2) = (Ballot::new(1, NodeId(1)), Ballot::new(1, NodeId(2)));
        for v in ["v1", "v2"] {
            a.observe(Time(0), NodeId(1), &proposed(v));
        }
        assert!(a
            .observe(Time(1), NodeId(1), &accepted(b1, "v1"))
            .is_empty());
        assert!(
            a.observe(Time(2), NodeId(2), &accepted(b1, "v1"))
                .is_empty(),
            "v1 chosen: fine"
        );
        assert!(a
            .observe(Time(3), NodeId(2), &accepted(b2, "v2"))
            .is_empty());
        let found = a.observe(Time(4), NodeId(3), &accepted(b2, "v2"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].property, AT_MOST_ONE_CHOSEN);
        assert!(found[0]
            .detail
            .ends_with("v2 chosen in ballot 1.n2, after v1 was chosen"));

        // v1 again, in a third ballot: the violation names only the other value.
        let b3 = Ballot::new(2, NodeId(1));
        a.observe(Time(5), NodeId(1), &accepted(b3, "v1"));
        let found = a.observe(Time(6), NodeId(3), &accepted(b3, "v1"));
        assert!(
            found[0]
                .detail
                .ends_with("v1 chosen in ballot 2.n1, after v2 was chosen"),
            "{}",
            found[0]
        );
        let b4 = Ballot::new(3, NodeId(3));
        a.observe(Time(7), NodeId(1), &accepted(b4, "v3"));
        let found = a.observe(Time(8), NodeId(2), &accepted(b4, "v3"));
        assert!(
            found[0].detail.ends_with("after v1 and v2 were chosen"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn acceptances_in_different_ballots_do_not_add_up() {
        let mut a = Agreement::new(3);
        a.observe(Time(0), NodeId(1), &proposed("v1"));
        a.observe(
            Time(1),
            NodeId(1),
            &accepted(Ballot::new(1, NodeId(1)), "v1"),
        );
        a.observe(
            Time(2),
            NodeId(2),
            &accepted(Ballot::new(2, NodeId(1)), "v1"),
        );
        assert!(a.chosen_values().is_empty());
        let found = a.observe(
            Time(3),
            NodeId(3),
            &Event::Learned {
                ballot: Ballot::new(2, NodeId(1)),
                value: "v1".into(),
            },
        );
        assert_eq!(found[0].property, LEARN_ONLY_CHOSEN);
    }

    #[test]
    fn an_unproposed_value_chosen_is_a_violation() {
        let mut a = Agreement::new(1);
        let found = a.observe(
            Time(0),
            NodeId(1),
            &accepted(Ballot::new(1, NodeId(1)), "ghost"),
        );
        assert_eq!(found[0].property, ONLY_PROPOSED_CHOSEN);
    }

    #[test]
    fn liveness_at_the_end() {
        let mut a = Agreement::new(1);
        a.observe(Time(0), NodeId(1), &proposed("v1"));
        a.observe(
            Time(0),
            NodeId(1),
            &accepted(Ballot::new(1, NodeId(1)), "v1"),
        );
        let ok = a.check_all_learned(Time(9), &[(NodeId(1), Some("v1".into()))]);
        assert!(ok.is_empty());
        let bad = a.check_all_learned(Time(9), &[(NodeId(1), None)]);
        assert_eq!(bad[0].property, ALL_LEARN);
    }
}
