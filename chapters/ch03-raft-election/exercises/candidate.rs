//! Exercise 3.2: the candidate.
//!
//! A follower that hears from no leader for a whole election timeout campaigns: it
//! starts a new term and asks everyone for a vote. Write how it starts an election and
//! how it counts the answers into a win, from the chapter's sections "Starting an
//! election" and "Winning, and holding on", and the Raft paper's §5.2 and Figure 2 ("Rules for Servers", Candidates).
//!
//! What you have (src/raft/node.rs, src/raft/election.rs, src/raft/state.rs):
//!
//! - `self.state.current_term` and `self.state.voted_for`, and
//!   `self.persist_term_and_vote()?`, which writes both and returns once they are
//!   durable;
//! - `self.role`: `Role::Candidate { votes, answered }` holds who voted for this node in
//!   its current term and who answered at all (the others are asked again);
//! - `self.leader` and `self.heard_from_leader`, which a new term leaves unknown;
//! - `self.reset_election_timer(ctx)`: a fresh random timeout;
//! - `self.request_votes(ctx)`: a RequestVote to every node that has not answered yet,
//!   and the timer that asks again;
//! - `self.become_leader(ctx)`: becomes leader of the current term and sends the first
//!   heartbeats;
//! - `majority(self.config.nodes)`, `ctx.trace(Event::BecameCandidate { term })`.
//!
//! The term rule (exercise 3.1) has run before `on_vote` is called: the vote is of this
//! node's current term, though the node may no longer be a candidate in it.
//!
//! The tests run the chapter's sweeps against your candidate, with Election Safety
//! checked on every step, and ask that elections end. A broken rule shows up as a named
//! property violated (or elections that never end), with the seed and the command that
//! replays it and draws it.
//!
//! Done when `cargo run --bin exercises -- check ex3.2` passes. Stuck?
//! `cargo run --bin exercises -- hint ex3.2`.

#[allow(unused_imports)] // until your code uses them
use std::collections::BTreeSet;

use crate::error::Result;
#[allow(unused_imports)]
use crate::raft::{majority, Event, RaftNode, Role};
use crate::runtime::{Context, NodeId};

impl RaftNode {
    /// Starts an election: this node's election timeout passed with no leader heard.
    pub fn start_election(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        // TODO(ex3.2): the new term, and the vote this node gives itself: where must
        // they be before anyone is asked? Then the candidate's role, a fresh timeout,
        // and the requests. Can a cluster of one win at once?
        let _ = ctx;
        todo!("ex3.2: start an election")
    }

    /// `voter` answered our RequestVote of the current term: `granted` or not.
    pub fn on_vote(&mut self, ctx: &mut Context<'_, Self>, voter: NodeId, granted: bool) {
        // TODO(ex3.2): only a candidate counts. Each voter once.
        let _ = (ctx, voter, granted);
        todo!("ex3.2: count a vote")
    }

    /// A candidate with votes from a majority becomes leader.
    pub fn maybe_win(&mut self, ctx: &mut Context<'_, Self>) {
        // TODO(ex3.2): a majority of what, exactly? Does this node's own vote count?
        let _ = ctx;
        todo!("ex3.2: a win")
    }
}
