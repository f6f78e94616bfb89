//! Exercise 3.2, reference solution: the candidate starts an election and counts its
//! votes into a win.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::raft::{majority, Event, RaftNode, Role};
use crate::runtime::{Context, NodeId};

impl RaftNode {
    // ANCHOR: start_election
    /// Starts an election (§5.2): a new term, a vote for itself (both on disk before
    /// anyone is asked), a fresh random timeout, and a RequestVote to every other node.
    pub fn start_election(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        self.state.current_term += 1;
        self.state.voted_for = Some(self.id);
        self.persist_term_and_vote()?;
        self.role = Role::Candidate {
            votes: BTreeSet::from([self.id]),
            answered: BTreeSet::from([self.id]),
        };
        self.leader = None;
        self.heard_from_leader = None;
        let term = self.state.current_term;
        ctx.trace(Event::BecameCandidate { term });
        self.reset_election_timer(ctx);
        self.request_votes(ctx);
        self.maybe_win(ctx);
        Ok(())
    }
    // ANCHOR_END: start_election

    // ANCHOR: on_vote
    /// A vote of our current term (the term rule has run): a candidate counts it, and
    /// wins with a majority.
    pub fn on_vote(&mut self, ctx: &mut Context<'_, Self>, voter: NodeId, granted: bool) {
        if let Role::Candidate { votes, answered } = &mut self.role {
            answered.insert(voter);
            if granted {
                votes.insert(voter);
            }
        }
        self.maybe_win(ctx);
    }

    /// A candidate with votes from a majority, itself included, becomes leader.
    pub fn maybe_win(&mut self, ctx: &mut Context<'_, Self>) {
        let won = match &self.role {
            Role::Candidate { votes, .. } => votes.len() >= majority(self.config.nodes),
            _ => false,
        };
        if won {
            self.become_leader(ctx);
        }
    }
    // ANCHOR_END: on_vote
}
