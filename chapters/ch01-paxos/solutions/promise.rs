//! Exercise 1.2, reference solution: the acceptor's two checks.

use crate::paxos::Ballot;

/// Phase 1b: may an acceptor that has promised `promised` promise `ballot`? Yes unless
/// it promised a higher ballot. (A prepare for the very ballot it promised is a
/// duplicate: promising it again is harmless, and refusing it would stall a proposer
/// whose first promise was lost.)
pub fn may_promise(promised: Ballot, ballot: Ballot) -> bool {
    ballot >= promised
}

/// Phase 2b: may an acceptor that has promised `promised` accept a proposal in
/// `ballot`? Yes unless it promised a higher ballot (P1a).
pub fn may_accept(promised: Ballot, ballot: Ballot) -> bool {
    ballot >= promised
}
