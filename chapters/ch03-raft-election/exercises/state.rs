//! Exercise 3.3: find the bug.
//!
//! This file is the chapter's Figure 2 state (`src/raft/state.rs`), which
//! `--features ex3_3` builds in its place, with one bug planted in it: a bug of the kind
//! real Raft implementations have shipped. Its tests do not tell you where it is. They
//! run the chapter's sweeps and hand you a failing seed and the violated property.
//! Replay the seed with the command they print, draw it with `--svg run.svg`, read the
//! run in the diagram and in the trace (`--trace run.jsonl`), and find the step where a
//! node does something the rules of the page forbid. Then fix it here.
//!
//! TODO(ex3.3): find the bug, and fix it. Done when
//! `cargo run --bin exercises -- check ex3.3` passes. Stuck?
//! `cargo run --bin exercises -- hint ex3.3`.
//!
//! Figure 2 splits a server's state in three: what every server keeps on stable storage
//! (`currentTerm`, `votedFor`, `log[]`), what every server keeps in memory
//! (`commitIndex`, `lastApplied`), and what a leader keeps in memory about each
//! follower (`nextIndex[]`, `matchIndex[]`, in [`Role::Leader`](super::Role::Leader)).
//! Each field's comment names the chapter that first uses it.
//!
//! The durable fields are written through [`Storage`] *before* any message that
//! depends on them leaves the node: a vote is on disk before the `Vote` is sent, a new
//! term is on disk before the node acts in it. [`RaftState::persist_term_and_vote`]
//! writes both in one transaction, so a crash never leaves a vote for one term beside
//! another term.

use std::path::PathBuf;

use super::Term;
use crate::error::{Error, Result};
use crate::runtime::NodeId;
use crate::storage::{LogEntry, Storage};

/// The storage key of `current_term`.
pub const TERM_KEY: &str = "raft.current_term";
/// The storage key of `voted_for` (absent, or empty: no vote in `current_term`).
pub const VOTE_KEY: &str = "raft.voted_for";

/// One entry of the replicated log: a command for the state machine, and the term in
/// which a leader received it (§5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: Term,
    /// The command, as bytes (chapter 4 gives them meaning).
    pub command: Vec<u8>,
}

impl From<LogEntry> for Entry {
    /// The entry as storage returns it: the payload is the command.
    fn from(entry: LogEntry) -> Entry {
        Entry {
            term: entry.term,
            command: entry.payload.to_vec(),
        }
    }
}

impl From<&Entry> for LogEntry {
    /// The entry as storage keeps it: the term in its own column, the command as the
    /// payload.
    fn from(entry: &Entry) -> LogEntry {
        LogEntry::new(entry.term, entry.command.as_slice())
    }
}

/// Where a log ends: the index and term of its last entry, `(0, 0)` for an empty log.
/// The election restriction (§5.4.1) compares two of these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogPosition {
    /// The term of the last entry (0: the log is empty).
    pub term: Term,
    /// The index of the last entry, 1-based (0: the log is empty).
    pub index: u64,
}

// ANCHOR: up_to_date
impl LogPosition {
    /// Raft §5.4.1, the election restriction: whether a log ending at `self` is at
    /// least as up-to-date as one ending at `other`. "If the logs have last entries with
    /// different terms, then the log with the later term is more up-to-date. If the logs
    /// end with the same term, then whichever log is longer is more up-to-date."
    pub fn at_least_as_up_to_date_as(self, other: LogPosition) -> bool {
        (self.term, self.index) >= (other.term, other.index)
    }
}
// ANCHOR_END: up_to_date

// ANCHOR: state
/// Figure 2's state of a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftState {
    // Persistent state on all servers (updated on stable storage before responding).
    /// `currentTerm` (chapter 3): the latest term this server has seen, 0 at first,
    /// only growing. Persisted before the node acts in a new term.
    pub current_term: Term,
    /// `votedFor` (chapter 3): the candidate this node voted for in `current_term`, if
    /// any. Persisted, with the term, before the vote is sent: one vote per term, even
    /// across a crash.
    pub voted_for: Option<NodeId>,
    /// `log[]` (chapter 4; chapter 3 reads only where it ends): the log entries, index 1
    /// first.
    pub log: Vec<Entry>,

    // Volatile state on all servers.
    /// `commitIndex` (chapter 4): the highest log index known to be committed.
    pub commit_index: u64,
    /// `lastApplied` (chapter 4): the highest log index applied to the state machine.
    pub last_applied: u64,
}
// ANCHOR_END: state

impl RaftState {
    /// The durable state in `storage` (a fresh node's is term 0, no vote, empty log).
    pub fn load(storage: &Storage) -> Result<RaftState> {
        let current_term = storage.get_u64(TERM_KEY)?.unwrap_or(0);
        let voted_for = match storage.get(VOTE_KEY)? {
            None => None,
            Some(bytes) if bytes.is_empty() => None,
            Some(bytes) => match <[u8; 4]>::try_from(bytes.as_slice()) {
                Ok(id) => Some(NodeId(u32::from_be_bytes(id))),
                Err(_) => {
                    return Err(Error::Storage {
                        path: PathBuf::from(storage.describe()),
                        problem: format!(
                            "holds {} bytes under '{VOTE_KEY}', not the 4 bytes of a node id",
                            bytes.len()
                        ),
                        fix: "the file was not written by this program's Raft; move it away and start the node afresh".into(),
                    })
                }
            },
        };
        // `log[i - 1]` is the entry at index i: this chapter's Raft never compacts,
        // so its log starts at 1.
        let first = storage.first_log_index()?;
        if first != 1 {
            return Err(Error::Storage {
                path: PathBuf::from(storage.describe()),
                problem: format!(
                    "holds a log compacted up to index {}, and this Raft reads only logs \
                     that start at index 1",
                    first - 1
                ),
                fix: "the log was compacted by another program; move the file away and start the node afresh".into(),
            });
        }
        let last = storage.last_log_index()?;
        let log = storage
            .log_range(1, last + 1)?
            .into_iter()
            .map(Entry::from)
            .collect();
        Ok(RaftState {
            current_term,
            voted_for,
            log,
            commit_index: 0,
            last_applied: 0,
        })
    }

    /// Writes `current_term` and `voted_for` in one transaction: both or neither
    /// survive a crash.
    pub fn persist_term_and_vote(&self, storage: &mut Storage) -> Result<()> {
        // Every write waits for the disk: skip the ones that change nothing.
        if storage.get_u64(TERM_KEY)? == Some(self.current_term) {
            return Ok(());
        }
        let term = self.current_term.to_be_bytes();
        let vote = self.voted_for.map(|n| n.0.to_be_bytes().to_vec());
        storage.put_all(&[
            (TERM_KEY, &term),
            (VOTE_KEY, vote.as_deref().unwrap_or(&[])),
        ])
    }

    /// Where the log ends.
    pub fn last_log(&self) -> LogPosition {
        LogPosition {
            term: self.log.last().map_or(0, |e| e.term),
            index: self.log.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Location;

    fn pos(term: Term, index: u64) -> LogPosition {
        LogPosition { term, index }
    }

    /// Raft §5.4.1: a later last term wins whatever the lengths; with equal last terms,
    /// the longer log wins; equal logs are each as up-to-date as the other.
    #[test]
    fn election_restriction_compares_last_term_then_length() {
        assert!(pos(3, 1).at_least_as_up_to_date_as(pos(2, 9)));
        assert!(!pos(2, 9).at_least_as_up_to_date_as(pos(3, 1)));
        assert!(pos(2, 5).at_least_as_up_to_date_as(pos(2, 4)));
        assert!(!pos(2, 4).at_least_as_up_to_date_as(pos(2, 5)));
        assert!(pos(2, 4).at_least_as_up_to_date_as(pos(2, 4)));
        assert!(pos(0, 0).at_least_as_up_to_date_as(pos(0, 0)));
        assert!(!pos(0, 0).at_least_as_up_to_date_as(pos(1, 1)));
    }

    #[test]
    fn term_vote_and_log_survive_a_reload() {
        let mut storage = Location::memory().open().unwrap();
        let entries = [Entry {
            term: 1,
            command: b"x".to_vec(),
        }];
        storage
            .append_log(1, &entries.iter().map(LogEntry::from).collect::<Vec<_>>())
            .unwrap();
        let state = RaftState {
            current_term: 7,
            voted_for: Some(NodeId(3)),
            ..RaftState::default()
        };
        state.persist_term_and_vote(&mut storage).unwrap();
        let back = RaftState::load(&storage).unwrap();
        assert_eq!(back.current_term, 7);
        assert_eq!(back.voted_for, Some(NodeId(3)));
        assert_eq!(back.log, entries);
        assert_eq!(back.last_log(), pos(1, 1));
        // A new term without a vote clears the vote on disk too.
        let state = RaftState {
            current_term: 8,
            voted_for: None,
            ..back
        };
        state.persist_term_and_vote(&mut storage).unwrap();
        assert_eq!(RaftState::load(&storage).unwrap().voted_for, None);
    }

    #[test]
    fn a_compacted_log_is_refused_naming_where_it_starts() {
        let mut storage = Location::memory().open().unwrap();
        let entry = LogEntry::new(1, b"x".as_slice());
        storage.append_log(1, &[entry.clone(), entry]).unwrap();
        storage
            .write(crate::storage::Batch::new().compact(1))
            .unwrap();
        let e = RaftState::load(&storage).unwrap_err().to_string();
        assert!(e.contains("compacted up to index 1"), "{e}");
    }

    #[test]
    fn a_damaged_vote_is_refused_with_the_key_named() {
        let mut storage = Location::memory().open().unwrap();
        storage.put(VOTE_KEY, b"xy").unwrap();
        let e = RaftState::load(&storage).unwrap_err().to_string();
        assert!(e.contains(VOTE_KEY), "{e}");
    }
}
