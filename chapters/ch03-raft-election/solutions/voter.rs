//! Exercise 3.1, reference solution: the term rule and the RequestVote handler.

use crate::error::Result;
use crate::raft::{Event, LogPosition, Msg, RaftNode};
use crate::runtime::{Context, NodeId};

impl RaftNode {
    // ANCHOR: term_rule
    /// The term rule, once for every message before its handler (§5.1, Figure 2 "Rules
    /// for Servers"). Returns whether the message goes on to its handler.
    pub fn term_rule(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        msg: &Msg,
    ) -> Result<bool> {
        let term = msg.term();
        if term > self.state.current_term && Self::adopts_term(msg) {
            // A newer term: follow it (on disk first), whoever we were. Only that
            // term's leader sends AppendEntries or TimeoutNow.
            let leader =
                matches!(msg, Msg::AppendEntries { .. } | Msg::TimeoutNow { .. }).then_some(from);
            self.become_follower(ctx, term, leader)?;
        } else if term < self.state.current_term {
            // A stale message: answer a request with our term, drop a reply.
            self.answer_stale(ctx, from, msg);
            return Ok(false);
        }
        Ok(true)
    }
    // ANCHOR_END: term_rule

    // ANCHOR: request_vote
    /// A RequestVote of our current term (the term rule has run). Grants the vote if
    /// this node has not voted for another candidate in this term and the candidate's
    /// log is at least as up-to-date as its own (§5.4.1); a granted vote is on disk
    /// before the answer leaves. Returns whether it granted.
    pub fn on_request_vote(
        &mut self,
        ctx: &mut Context<'_, Self>,
        candidate: NodeId,
        last_log: LogPosition,
    ) -> Result<bool> {
        let free = self.state.voted_for.is_none_or(|v| v == candidate);
        let up_to_date = last_log.at_least_as_up_to_date_as(self.state.last_log());
        let granted = free && up_to_date;
        if granted && self.state.voted_for != Some(candidate) {
            self.state.voted_for = Some(candidate);
            self.persist_term_and_vote()?;
            let term = self.state.current_term;
            ctx.trace(Event::Voted { term, candidate });
            ctx.log(format_args!("grants its vote to {candidate}"));
        } else if !granted {
            let why = match free {
                true => "its log is behind ours (§5.4.1)",
                false => "already voted in this term",
            };
            ctx.log(format_args!("refuses {candidate}: {why}"));
        }
        let term = self.state.current_term;
        ctx.send(candidate, Msg::Vote { term, granted });
        Ok(granted)
    }
    // ANCHOR_END: request_vote
}
