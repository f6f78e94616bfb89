//! What a correct service answers: a sequential specification for each workload.
//!
//! A history is linearizable when its operations can be put in one order, consistent
//! with real time, in which each one does to the state what this model says and
//! returns what it says. The model sees one key at a time: operations on different keys
//! never interact, so the checker splits a history by key (as Porcupine does) and
//! checks each part on its own (linearizability is *local*: Herlihy and Wing's
//! Theorem 1).

use std::sync::Arc;

use super::history::{amount, OpKind, Operation, Workload};

/// The state of one key of the service, as the model keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// A key-value key's value (`""` when absent), shared: the search keeps many copies
    /// of each state, and a read must not copy a long value.
    Text(Arc<str>),
    /// A counter's count (wrapping at the bounds of `i64`).
    Count(i64),
    /// The Fibonacci sequence: the next number to give, and the one after it
    /// (wrapping at 2^64).
    Fib(u64, u64),
}

/// The state of every key before any operation.
pub fn initial(workload: Workload) -> State {
    match workload {
        Workload::Kv => State::Text(Arc::from("")),
        Workload::Counter => State::Count(0),
        Workload::Fib => State::Fib(0, 1),
    }
}

/// The state after `op` is applied to `state`, if `op` may return what it returned
/// there (an operation whose answer never came may return anything); `None` if not.
pub fn step(state: &State, op: &Operation) -> Option<State> {
    let known = !op.is_unknown();
    let answered = |expected: &str| !known || op.output == expected;
    match (state, op.op) {
        (State::Text(v), OpKind::Get) => answered(v).then(|| state.clone()),
        (State::Text(_), OpKind::Put) => Some(State::Text(Arc::from(op.value.as_str()))),
        (State::Text(v), OpKind::Append) => {
            Some(State::Text(Arc::from([&**v, op.value.as_str()].concat())))
        }
        (State::Text(_), OpKind::Delete) => Some(State::Text(Arc::from(""))),
        (State::Text(v), OpKind::Cas) => {
            let matches = op.expected.as_deref() == Some(&**v);
            if !answered(if matches { "ok" } else { "fail" }) {
                return None;
            }
            Some(match matches {
                true => State::Text(Arc::from(op.value.as_str())),
                false => state.clone(),
            })
        }
        (State::Count(c), OpKind::Incr | OpKind::Decr) => {
            let by = amount(&op.value)?;
            let after = match op.op {
                OpKind::Incr => c.wrapping_add(by),
                _ => c.wrapping_sub(by),
            };
            answered(&after.to_string()).then_some(State::Count(after))
        }
        (State::Count(c), OpKind::Read) => answered(&c.to_string()).then(|| state.clone()),
        (State::Fib(a, b), OpKind::Next) => {
            answered(&a.to_string()).then_some(State::Fib(*b, a.wrapping_add(*b)))
        }
        // An operation of another workload: no correct service answers it here.
        _ => None,
    }
}

/// Whether `op` is a read (`get`, `read`): it never changes the state, whatever it
/// returns.
pub fn reads_only(op: &Operation) -> bool {
    matches!(op.op, OpKind::Get | OpKind::Read)
}

/// Whether `op`, applied in any state, leaves the state as it was: a read, or a cas
/// that answered `fail`. Leaving such an operation out of a history cannot make a
/// linearizable history illegal, which is what lets the checker shrink a failing one.
pub fn preserves_state(op: &Operation) -> bool {
    match op.op {
        OpKind::Get | OpKind::Read => true,
        OpKind::Cas => !op.is_unknown() && op.output == "fail",
        _ => false,
    }
}
