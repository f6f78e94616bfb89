//! Exercise 3.4: PreVote (an extension).
//!
//! A node cut off from the cluster times out again and again. Without PreVote it raises
//! its term each time, and when it comes back its term is far ahead: the first message
//! it sends makes the healthy leader step down, and the cluster holds an election for
//! nothing. With PreVote (§9.6 of Ongaro's thesis), a node that times out first asks
//! "would you vote for me in term T+1?" and raises its term only if a majority says yes.
//!
//! `RaftNode::on_pre_vote` (src/raft/election.rs) calls this to answer the question;
//! nothing changes on the voter, which only answers. Say yes only when an election in
//! `term` could rightly go ahead and this voter would vote in it: think of what a real
//! vote checks, of what the term rule would do with `term`, and of what PreVote exists
//! to protect. `leader_alive` is true when the voter leads, or heard from a leader within
//! the shortest election timeout.
//!
//! Done when `cargo test --features ex3_4 --test exercises ex3_4` passes (one test has a
//! node rejoin a stable cluster, which must keep its leader and its term). Stuck?
//! `cargo run --bin exercises -- hint ex3.4`.

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
    // TODO(ex3.4): would this voter vote for the asker in `term`?
    let _ = (term, their_log, my_term, my_log, leader_alive);
    todo!("ex3.4: would this voter vote for the asker?")
}
