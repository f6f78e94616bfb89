//! Exercise 3.1: PreVote.
//!
//! A node cut off from the cluster times out again and again. Without PreVote it raises
//! its term each time, and when it comes back its term is far ahead: the first message
//! it sends makes the healthy leader step down, and the cluster holds an election for
//! nothing. With PreVote (§9.6 of Ongaro's thesis), a node that times out first asks
//! "would you vote for me in term T+1?" and raises its term only if a majority says yes.
//!
//! `RaftNode::on_pre_vote` (src/raft/election.rs) calls this to answer the question.
//! Nothing changes on the voter: it answers, that is all. Say yes only if
//! - the asked term is newer than the voter's own,
//! - the voter knows of no live leader (`leader_alive` is true when it leads, or heard
//!   from a leader within the shortest election timeout), and
//! - the asker's log is at least as up-to-date as the voter's (`LogPosition` has a
//!   method for that).
//!
//! Done when `cargo test --features ex3_1 --test exercises ex3_1` passes.

use crate::raft::{LogPosition, Term};

/// Would a voter in `my_term`, whose log ends at `my_log`, vote for a node that asks
/// about `term` with a log ending at `their_log`?
pub fn grant_pre_vote(
    term: Term,
    their_log: LogPosition,
    my_term: Term,
    my_log: LogPosition,
    leader_alive: bool,
) -> bool {
    // TODO(ex3.1): three conditions, all needed.
    let _ = (term, their_log, my_term, my_log, leader_alive);
    todo!("ex3.1: would this voter vote for the asker?")
}
