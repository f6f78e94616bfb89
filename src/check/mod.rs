//! Properties, checked rather than hoped for.
//!
//! A property has a name ("at most one value chosen", "Election Safety", "linearizable")
//! and is checked on every step of every simulated run: the simulator calls each check
//! after each event, and a check that fails records a [`Violation`] with the time and a
//! sentence a reader can follow. The chapter binaries print violations in `--json` and
//! the tests assert there are none.
//!
//! Random runs find the violations that are likely; model checking finds the rest, for
//! a small configuration, by exploring every state. [`explore`] holds the parts of an
//! exhaustive explorer that know no protocol (fingerprints, the renamings of
//! interchangeable nodes, the set of states explored with covering and sleep sets);
//! each chapter's explorer (chapter 1's is `paxos::explore`) brings its states and
//! moves. Like the rest of this module, it imports no protocol and not the runtime.
//!
//! A replicated service is judged by what its clients saw: [`history`] is the record
//! of their operations (calls, returns, or no answer), [`model`] what a correct service
//! answers, and [`linearizable`] the checker that decides whether one correct copy,
//! acting at one instant inside each operation, explains the whole history.

pub mod explore;
pub mod history;
pub mod linearizable;
pub mod model;

use serde::Serialize;

use crate::types::Time;

/// A property that did not hold, and where.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// When it was seen, in microseconds since the run began.
    pub t_us: u64,
    /// The property's name, as the book names it.
    pub property: String,
    /// What was seen, in a sentence.
    pub detail: String,
}

impl Violation {
    /// A violation of `property` seen at `t`.
    pub fn new(t: Time, property: &str, detail: impl Into<String>) -> Violation {
        Violation {
            t_us: t.as_micros(),
            property: property.to_string(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} violated at {}: {}",
            self.property,
            Time(self.t_us),
            self.detail
        )
    }
}

// ANCHOR: majority
/// The size of a majority of `n` nodes: any two majorities share a node, which is the
/// whole of Paxos's safety, and of Raft's Election Safety, in one line.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}
// ANCHOR_END: majority
