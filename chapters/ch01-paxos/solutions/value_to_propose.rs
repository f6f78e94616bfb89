//! Exercise 1.1, reference solution: the value a proposer proposes.

use crate::paxos::{Ballot, Value};
use crate::runtime::NodeId;

/// Phase 2's rule: given the promises of a majority (each with what that acceptor had
/// accepted, if anything), the value of the highest-ballot acceptance among them, or
/// `own` if none of them had accepted anything.
pub fn value_to_propose(promises: &[(NodeId, Option<(Ballot, Value)>)], own: &Value) -> Value {
    promises
        .iter()
        .filter_map(|(_, accepted)| accepted.as_ref())
        .max_by_key(|(ballot, _)| *ballot)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| own.clone())
}
