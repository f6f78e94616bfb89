//! Leader election's safety properties, checked on every simulated step.
//!
//! The checker reads the nodes' events and keeps what no single node can see: every
//! election ever won, and every vote ever given, across crashes. The properties:
//!
//! - **Election Safety** (Figure 3): "at most one leader can be elected in a given term";
//! - **one vote per term** (§5.2): a node never votes for two candidates in one term,
//!   even across a crash and restart (a candidate's vote for itself counts).

use std::collections::BTreeMap;

use super::{Event, Term};
use crate::check::Violation;
use crate::runtime::{NodeId, Time};

/// The property that at most one leader is elected in a given term (Figure 3), as the
/// book and the violations print it.
pub const ELECTION_SAFETY: &str = "Election Safety";
/// The property that no node votes for two candidates in one term, across crashes
/// (§5.2); a candidate's vote for itself counts.
pub const ONE_VOTE_PER_TERM: &str = "one vote per term";

/// The checker's memory of a run.
#[derive(Clone, Debug, Default)]
pub struct ElectionSafety {
    /// The winner of each term's election, with when it won.
    leaders: BTreeMap<Term, (NodeId, Time)>,
    /// Every vote given: (voter, term) -> candidate.
    votes: BTreeMap<(NodeId, Term), NodeId>,
    /// How many elections were started (`became_candidate` events).
    elections: u64,
}

/// One election won: who, which term, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Elected {
    /// The term.
    pub term: Term,
    /// The leader.
    pub node: NodeId,
    /// When it won, in microseconds since the run began.
    pub elected_at_us: u64,
}

impl ElectionSafety {
    /// A checker that has seen nothing yet.
    pub fn new() -> ElectionSafety {
        ElectionSafety::default()
    }

    // ANCHOR: observe
    /// Takes in one event of `node` at `t`; returns the violations it reveals.
    pub fn observe(&mut self, t: Time, node: NodeId, event: &Event) -> Vec<Violation> {
        let mut found = Vec::new();
        // A candidate's vote for itself counts as its vote in the term.
        let (term, candidate) = match *event {
            Event::BecameLeader { term } => return self.became_leader(t, node, term),
            Event::BecameCandidate { term } => {
                self.elections += 1;
                (term, node)
            }
            Event::Voted { term, candidate } => (term, candidate),
            Event::SteppedDown { .. } | Event::PreVote { .. } => return found,
        };
        match self.votes.get(&(node, term)) {
            Some(first) if *first != candidate => found.push(Violation::new(
                t,
                ONE_VOTE_PER_TERM,
                format!("{node} voted for {first} and then for {candidate} in term {term}"),
            )),
            Some(_) => {}
            None => {
                self.votes.insert((node, term), candidate);
            }
        }
        found
    }
    // ANCHOR_END: observe

    /// `node` became leader of `term` at `t`: a violation of Election Safety if another
    /// node won that term first.
    fn became_leader(&mut self, t: Time, node: NodeId, term: Term) -> Vec<Violation> {
        match self.leaders.get(&term) {
            Some((first, _)) if *first != node => vec![Violation::new(
                t,
                ELECTION_SAFETY,
                format!("{node} became leader of term {term}, which {first} already won"),
            )],
            Some(_) => Vec::new(),
            None => {
                self.leaders.insert(term, (node, t));
                Vec::new()
            }
        }
    }

    /// Every election won, in term order.
    pub fn leaders(&self) -> Vec<Elected> {
        self.leaders
            .iter()
            .map(|(&term, &(node, at))| Elected {
                term,
                node,
                elected_at_us: at.as_micros(),
            })
            .collect()
    }

    /// How many elections were started.
    pub fn elections(&self) -> u64 {
        self.elections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(term: u64) -> Event {
        Event::BecameLeader { term }
    }

    #[test]
    fn two_leaders_in_one_term_break_election_safety() {
        let mut c = ElectionSafety::new();
        assert!(c.observe(Time(1), NodeId(1), &leader(1)).is_empty());
        assert!(c.observe(Time(2), NodeId(2), &leader(2)).is_empty());
        // The same leader again (a duplicate event) is not a second leader.
        assert!(c.observe(Time(3), NodeId(2), &leader(2)).is_empty());
        let v = c.observe(Time(4), NodeId(3), &leader(2));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].property, ELECTION_SAFETY);
        assert!(v[0]
            .detail
            .contains("n3 became leader of term 2, which n2 already won"));
        assert_eq!(c.leaders().len(), 2);
    }

    #[test]
    fn a_second_vote_in_a_term_is_caught_and_a_candidate_votes_for_itself() {
        let mut c = ElectionSafety::new();
        let voted = |term: u64, for_: u32| Event::Voted {
            term,
            candidate: NodeId(for_),
        };
        assert!(c.observe(Time(1), NodeId(1), &voted(1, 2)).is_empty());
        assert!(c.observe(Time(2), NodeId(1), &voted(1, 2)).is_empty());
        assert_eq!(c.observe(Time(3), NodeId(1), &voted(1, 3)).len(), 1);
        let candidate = Event::BecameCandidate { term: 2 };
        assert!(c.observe(Time(4), NodeId(1), &candidate).is_empty());
        let v = c.observe(Time(5), NodeId(1), &voted(2, 3));
        assert_eq!(v.len(), 1);
        assert!(v[0]
            .detail
            .contains("n1 voted for n1 and then for n3 in term 2"));
        assert_eq!(c.elections(), 1);
    }
}
