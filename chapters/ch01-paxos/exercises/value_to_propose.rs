//! Exercise 1.1: the value a proposer proposes.
//!
//! With promises from a majority in hand, a proposer must not simply propose its own
//! value: some value may already be chosen, and a chosen value must stay chosen. Each
//! promise reports what that acceptor had accepted, if anything. "Paxos Made Simple",
//! section 2.2: the proposer issues a proposal with value v, "where v is the value of
//! the highest-numbered proposal among the responses, or is any value if the responders
//! reported no proposals."
//!
//! `Proposer::on_promise` (src/paxos/proposer.rs) calls this function.
//! Done when `cargo test --features ex1_1 --test exercises ex1_1` passes.

use crate::paxos::{Ballot, Value};
use crate::runtime::NodeId;

/// Given the promises of a majority, the value to send in the accepts: the value of the
/// highest-ballot acceptance among them, or `own` if none reported one.
pub fn value_to_propose(promises: &[(NodeId, Option<(Ballot, Value)>)], own: &Value) -> Value {
    // TODO(ex1.1): pick the value of the highest-ballot acceptance, else `own`.
    let _ = (promises, own);
    todo!("ex1.1: choose the value to propose")
}
