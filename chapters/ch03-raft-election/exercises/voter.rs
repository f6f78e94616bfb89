//! Exercise 3.1: the voter.
//!
//! Every Raft message carries its sender's term, and every node runs one rule on it
//! before anything else: the term rule. Then a follower asked for its vote decides,
//! once per term, whether to grant it. Write both from the chapter's sections "Terms"
//! and "Voting", and from the Raft paper's Figure 2 ("Rules for Servers", and
//! RequestVote RPC, "Receiver implementation") and §5.4.1.
//!
//! What you have (src/raft/node.rs, src/raft/election.rs, src/raft/state.rs):
//!
//! - `self.state.current_term`, `self.state.voted_for` (whom this node voted for in
//!   `current_term`, if anyone) and `self.state.last_log()` (where its log ends);
//! - `msg.term()`, the term a message carries;
//! - `self.become_follower(ctx, term, leader)?`: follow `term` (a newer term is written
//!   to disk, with no vote in it, before it returns), knowing its leader if `Some`;
//! - `Self::adopts_term(msg)`: whether a newer term in `msg` is one to follow (a PreVote
//!   asks about a term without starting it, exercise 3.4);
//! - `self.answer_stale(ctx, from, msg)`: answers a request of an older term with a
//!   refusal that carries our term, and ignores a reply;
//! - `last_log.at_least_as_up_to_date_as(other)`: §5.4.1's comparison of two logs;
//! - `self.persist_term_and_vote()?`: writes the term and the vote, and returns once the
//!   write is durable;
//! - `ctx.send(to, msg)`, `ctx.trace(event)`. The checker that watches every step learns
//!   of a vote from `Event::Voted` alone: record a vote when, and only when, you give one.
//! - `ctx.log(format_args!(...))`: a line of the run's story under `RUST_LOG=info`
//!   ("grants its vote to n3", "refuses n2: already voted in this term"), which the
//!   chapter's replays read; worth writing, for your own debugging.
//!
//! The election timer is not yours to handle here: the node resets it when your
//! `on_request_vote` returns `true` (Figure 2: granting a vote counts as hearing from a
//! would-be leader).
//!
//! The tests run the chapter's sweeps against your voter (lossy, slow, duplicating
//! networks, partitions, nodes crashing and restarting) with Election Safety and "one
//! vote per term" checked on every step, and the chapter's election-restriction
//! scenario. A broken rule shows up as a named property violated, with the seed and the
//! command that replays it and draws it.
//!
//! Done when `cargo run --bin exercises -- check ex3.1` passes. Stuck?
//! `cargo run --bin exercises -- hint ex3.1`.

use crate::error::Result;
#[allow(unused_imports)] // until your code uses them
use crate::raft::{Event, LogPosition, Msg, RaftNode};
use crate::runtime::{Context, NodeId};

impl RaftNode {
    /// The term rule, once for every message before its handler. Returns whether the
    /// message goes on to its handler (`false`: it was stale, and is dealt with).
    pub fn term_rule(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        msg: &Msg,
    ) -> Result<bool> {
        // TODO(ex3.1): a message of a newer term, and one of an older term: what does
        // Figure 2 say a server does with each? Which messages tell this node who leads
        // the newer term?
        let _ = (ctx, from, msg);
        todo!("ex3.1: the term rule")
    }

    /// A RequestVote of our current term, from `candidate` whose log ends at
    /// `last_log`. Answers it, and returns whether it granted the vote.
    pub fn on_request_vote(
        &mut self,
        ctx: &mut Context<'_, Self>,
        candidate: NodeId,
        last_log: LogPosition,
    ) -> Result<bool> {
        // TODO(ex3.1): two conditions for a grant. The answer (`Msg::Vote`) carries our
        // term; what must be true of the disk before it leaves? The network may deliver
        // the same request twice.
        let _ = (ctx, candidate, last_log);
        todo!("ex3.1: the RequestVote handler")
    }
}
