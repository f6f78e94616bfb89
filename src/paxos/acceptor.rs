//! The acceptor: the memory of Paxos.
//!
//! An acceptor keeps two facts, both on stable storage: the highest ballot it has
//! *promised*, and the ballot and value it last *accepted*. Its rules ("Paxos Made
//! Simple", §2.2):
//!
//! - **P1a.** It accepts a proposal numbered `b` unless it has promised a ballot above `b`.
//! - On `prepare(b)` with `b` not below any ballot it has promised, it promises `b` and
//!   reports what it has accepted.
//!
//! Both facts are written to storage *before* the reply that reveals them is sent. An
//! acceptor that promised, crashed and came back without its promise could accept a
//! lower ballot it swore to refuse; one that forgot an acceptance could let a new
//! proposer choose a different value over a value already chosen (`--break no-persist`).
//!
//! This file holds the acceptor's state and the tools its handlers use. The rules and
//! the two handlers, `may_promise`, `may_accept`, `on_prepare` and `on_accept`, are
//! exercise 1.1: the reference solution is `chapters/ch01-paxos/solutions/acceptor.rs`,
//! and `--features ex1_1` builds the reader's `chapters/ch01-paxos/exercises/acceptor.rs`
//! in its place.

use serde::{Deserialize, Serialize};

use super::{Ballot, Event, Msg, PaxosConfig, Rule, Value};
use crate::error::Result;
use crate::runtime::{Context, NodeId};
use crate::storage::Storage;

use super::PaxosNode;

/// An acceptor's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acceptor {
    /// The highest ballot this acceptor has promised (or accepted); it refuses anything
    /// below. Persisted before the promise is sent.
    pub promised: Ballot,
    /// The ballot and value this acceptor last accepted, if any. Persisted before the
    /// acceptance is announced.
    pub accepted: Option<(Ballot, Value)>,
}

/// The storage key of the acceptor's state.
pub(super) const KEY: &str = "paxos.acceptor";

impl Acceptor {
    /// The acceptor's state as its storage holds it (a fresh acceptor if it holds none).
    pub fn load(storage: &Storage) -> Result<Acceptor> {
        match storage.get(KEY)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| crate::Error::Storage {
                path: std::path::PathBuf::from(storage.describe()),
                problem: format!("holds an unreadable acceptor state under '{KEY}' ({e})"),
                fix: "this database was not written by this chapter's acceptor; move it away \
                      and start the node with an empty --data-dir"
                    .into(),
            }),
            None => Ok(Acceptor::default()),
        }
    }

    /// Writes the state to storage (unless `no-persist` is broken). Returns when the
    /// write is durable.
    pub fn persist(&self, storage: &mut Storage, config: &PaxosConfig) -> Result<()> {
        if config.breaks(Rule::NoPersist) {
            return Ok(());
        }
        let bytes = serde_json::to_vec(self).map_err(|e| crate::Error::Storage {
            path: storage.describe().into(),
            problem: format!("the acceptor's state could not be encoded ({e})"),
            fix: "report this: a ballot and a string always encode".into(),
        })?;
        storage.put(KEY, &bytes)
    }

    /// Refuses `ballot` from `from`, saying which higher ballot was promised, so that
    /// the proposer can retry above it.
    pub fn refuse(&self, ctx: &mut Context<'_, PaxosNode>, from: NodeId, ballot: Ballot) {
        let promised = self.promised;
        ctx.trace(Event::Rejected { ballot, promised });
        ctx.send(from, Msg::Nack { ballot, promised });
    }

    /// A learner asks what this acceptor has accepted: tell it again.
    pub fn on_query(&self, ctx: &mut Context<'_, PaxosNode>, from: NodeId) {
        if let Some((ballot, value)) = &self.accepted {
            ctx.send(
                from,
                Msg::Accepted {
                    ballot: *ballot,
                    value: value.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Location;

    /// Unreadable acceptor state is a storage fault, named with the storage and key.
    #[test]
    fn an_unreadable_state_is_a_storage_error_naming_the_key() {
        let mut storage = Location::memory().open().unwrap();
        storage.put(KEY, b"not json").unwrap();
        let err = Acceptor::load(&storage).unwrap_err();
        assert!(matches!(err, crate::Error::Storage { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.starts_with("memory: "), "{message}");
        assert!(message.contains(KEY), "{message}");
    }
}
