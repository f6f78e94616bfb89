//! Exercise 3.4, reference solution: PreVote's answer.

use crate::raft::{LogPosition, Term};

// ANCHOR: grant_pre_vote
/// Would a voter in `my_term`, whose log ends at `my_log`, vote for a node that asks
/// about `term` with a log ending at `their_log`? Only if that term would be newer than
/// ours, no leader is known to be alive, and the asker's log is at least as up-to-date
/// as ours (the same restriction as a real vote, §5.4.1).
pub fn grant_pre_vote(
    term: Term,
    their_log: LogPosition,
    my_term: Term,
    my_log: LogPosition,
    leader_alive: bool,
) -> bool {
    term > my_term && !leader_alive && their_log.at_least_as_up_to_date_as(my_log)
}
// ANCHOR_END: grant_pre_vote
