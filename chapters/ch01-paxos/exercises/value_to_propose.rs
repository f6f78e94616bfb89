//! Exercise 1.1: the value a proposer proposes.
//!
//! With promises from a majority in hand, a proposer must not simply propose its own
//! value: some value may already be chosen, and a chosen value must stay chosen. Each
//! promise reports what that acceptor had accepted, if anything. "Paxos Made Simple",
//! section 2.2: the proposer issues a proposal with value v, "where v is the value of
//! the highest-numbered proposal among the responses, or is any value if the responders
//! reported no proposals."
//!
//! `Proposer::on_promise` (src/paxos/proposer.rs) calls this function. The tests give it
//! promises in every order, and run dueling proposers checked for "at most one value
//! chosen" on every step.
//!
//! Done when `cargo test --features ex1_1 --test exercises ex1_1` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.1`.

use crate::paxos::{Ballot, Value};
use crate::runtime::NodeId;

/// Given the promises of a majority, the value to send in the accepts: the value of the
/// highest-ballot acceptance among them, or `own` if none reported one.
pub fn value_to_propose(promises: &[(NodeId, Option<(Ballot, Value)>)], own: &Value) -> Value {
    // TODO(ex1.1): Phase 2's value rule.
    let _ = (promises, own);
    todo!("ex1.1: choose the value to propose")
}
