//! A batch: everything one handler call writes, as one atomic write.
//!
//! A handler that grants a vote, raises its term and appends entries fills one
//! [`Batch`] and hands it to [`Storage::write`](super::Storage::write), which applies
//! every operation in the order they were added, all or nothing, with one fsync.
//!
//! Before anything is written, the whole batch is checked against the log's current
//! bounds ([`LogBounds`]), each operation against the bounds the earlier ones leave:
//! an append right after a truncate in the same batch is judged against the shortened
//! log. A batch that fails the check writes nothing, on either backend. The check is
//! a pure function of the batch and the bounds, so both backends share it.

use std::path::Path;

use super::LogEntry;
use crate::{Error, Result};

/// The largest index or slot SQLite can store: its integers are signed 64-bit.
pub(super) const MAX_INDEX: u64 = i64::MAX as u64;

/// Everything one handler call writes to stable storage, applied by
/// [`Storage::write`](super::Storage::write) in the order the operations were added,
/// in one transaction: after a crash, either all of it is there or none of it.
///
/// ```
/// use quorum::storage::{Batch, Location, LogEntry};
///
/// let mut storage = Location::memory().open()?;
/// let mut batch = Batch::new();
/// batch
///     .put_u64("raft.current_term", 2)
///     .append(1, &[LogEntry::new(2, b"set x 1".to_vec())]);
/// storage.write(&batch)?;
/// assert_eq!(storage.log_term(1)?, Some(2));
/// # Ok::<(), quorum::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
}

/// One operation of a batch; `Batch`'s methods of the same names document them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// A named value.
    Put { key: String, value: Vec<u8> },
    /// Entries at `first`, `first + 1`, …, after deleting every entry at `>= first`.
    Append { first: u64, entries: Vec<LogEntry> },
    /// Delete every entry at `>= from`.
    Truncate { from: u64 },
    /// Discard every entry at `<= through`; the log then starts at `through + 1`.
    Compact { through: u64 },
    /// A value in the per-slot table.
    PutSlot { slot: u64, value: Vec<u8> },
    /// Delete the slots `from..to_exclusive`.
    DeleteSlots { from: u64, to_exclusive: u64 },
}

impl Batch {
    /// An empty batch. Writing it writes nothing and costs no fsync.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Writes `value` under `key`, replacing any earlier value (a later `put` of the
    /// same key in the same batch wins).
    pub fn put(&mut self, key: &str, value: &[u8]) -> &mut Batch {
        self.ops.push(Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        });
        self
    }

    /// Writes `value` under `key` as 8 bytes, big-endian, for
    /// [`Storage::get_u64`](super::Storage::get_u64) to read back.
    pub fn put_u64(&mut self, key: &str, value: u64) -> &mut Batch {
        self.put(key, &value.to_be_bytes())
    }

    /// Writes `entries` at indexes first, first+1, …, first deleting every entry at
    /// index >= first (Raft's "delete the conflicting entry and all that follow it").
    ///
    /// `first` must be between [`first_log_index`](super::Storage::first_log_index)
    /// and `last_log_index() + 1` as the earlier operations of the batch leave them,
    /// or the log would have a gap or rewrite compacted entries; the new entries must
    /// end at or below `i64::MAX`. Otherwise the whole batch is refused. With no
    /// entries it is the same as [`Batch::truncate`]. The entries' payloads are
    /// shared with the caller, not copied, until the batch is written.
    ///
    /// Deleting the suffix is unconditional, so the caller finds the first index
    /// where its new entries really conflict with the log and passes that. A Raft
    /// follower that passed `prev_log_index + 1` blindly would let a delayed, shorter
    /// AppendEntries erase entries a later one had added, entries the leader may
    /// already have counted as committed (Raft §5.3, Figure 2: "If an existing
    /// entry conflicts with a new one ... delete the existing entry and all that
    /// follow it").
    pub fn append(&mut self, first: u64, entries: &[LogEntry]) -> &mut Batch {
        self.ops.push(Op::Append {
            first,
            entries: entries.to_vec(),
        });
        self
    }

    /// Deletes every log entry at index >= `from` (none past the end: then it does
    /// nothing). Index 0 holds no entry, so `truncate(0)` is `truncate(1)`. Entries
    /// below [`first_log_index`](super::Storage::first_log_index) were compacted, and
    /// compacted entries are committed: a truncate that reaches below it is refused.
    pub fn truncate(&mut self, from: u64) -> &mut Batch {
        self.ops.push(Op::Truncate { from });
        self
    }

    /// Discards every log entry at index <= `through`, once a snapshot holds what
    /// they did (log compaction, Raft §7): the log then starts at `through + 1`,
    /// and the next append must be there or later. Compacting past the log's last
    /// entry is refused; compacting what is already compacted does nothing (the
    /// start never moves back).
    pub fn compact(&mut self, through: u64) -> &mut Batch {
        self.ops.push(Op::Compact { through });
        self
    }

    /// Writes `value` in the per-slot table at `slot`, replacing any earlier value.
    /// Slots need not be contiguous (a Multi-Paxos acceptor may accept slot 9 before
    /// slot 7); a slot above `i64::MAX` is refused.
    pub fn put_slot(&mut self, slot: u64, value: &[u8]) -> &mut Batch {
        self.ops.push(Op::PutSlot {
            slot,
            value: value.to_vec(),
        });
        self
    }

    /// Deletes the per-slot values at slots `from..to_exclusive` (those that exist).
    pub fn delete_slots(&mut self, from: u64, to_exclusive: u64) -> &mut Batch {
        self.ops.push(Op::DeleteSlots { from, to_exclusive });
        self
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Removes every operation, so the batch can be filled again.
    pub fn clear(&mut self) {
        self.ops.clear();
    }

    /// The operations, in the order they were added.
    pub(super) fn ops(&self) -> &[Op] {
        &self.ops
    }
}

/// Where a log starts and ends: the entries it holds are `first..=last`, and an empty
/// log has `last == first - 1` (a fresh log: first 1, last 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LogBounds {
    /// The index of the first entry held, or where the next one goes if none is.
    pub(super) first: u64,
    /// The index of the last entry held (`first - 1` when none is).
    pub(super) last: u64,
}

impl LogBounds {
    /// The bounds of a log that starts at `first` and whose largest index is `max`
    /// (`None`: it holds no entry).
    pub(super) fn new(first: u64, max: Option<u64>) -> LogBounds {
        LogBounds {
            first,
            last: max.unwrap_or(first.saturating_sub(1)),
        }
    }
}

/// Checks every operation of `batch` against the bounds the earlier ones leave,
/// starting from `bounds`; returns the bounds after the whole batch. `path` names the
/// storage in the refusal (a file, or `memory`).
pub(super) fn check(batch: &Batch, mut bounds: LogBounds, path: &Path) -> Result<LogBounds> {
    for op in batch.ops() {
        bounds = after(op, bounds).map_err(|(problem, fix)| Error::Storage {
            path: path.to_path_buf(),
            problem: format!("refused a batch: {problem}"),
            fix: format!("{fix}; nothing in the batch was written"),
        })?;
    }
    Ok(bounds)
}

/// The bounds after `op`, or why `op` can't be applied to a log with `bounds`
/// (the problem and the fix).
fn after(op: &Op, bounds: LogBounds) -> std::result::Result<LogBounds, (String, String)> {
    let LogBounds { first: start, last } = bounds;
    match op {
        Op::Put { .. } | Op::DeleteSlots { .. } => Ok(bounds),
        Op::PutSlot { slot, .. } => {
            if *slot > MAX_INDEX {
                return Err((
                    format!(
                        "its put_slot at slot {slot} is past the largest slot SQLite can \
                         store ({MAX_INDEX})"
                    ),
                    format!("use slots up to {MAX_INDEX}"),
                ));
            }
            Ok(bounds)
        }
        Op::Append { first, entries } => {
            let first = *first;
            if first == 0 {
                return Err((
                    "its append at index 0 names no entry: log indexes start at 1".to_string(),
                    format!("append at index {} or later", start.max(1)),
                ));
            }
            if first < start {
                return Err((
                    format!(
                        "its append at index {first} is below the log's first index, {start}: \
                         the entries before {start} were compacted, and compacted entries \
                         are committed"
                    ),
                    format!("append at index {start} or later"),
                ));
            }
            if first > last.saturating_add(1) {
                return Err((
                    format!(
                        "its append at index {first} would leave a gap: the log ends at index \
                         {last}, so the next entry goes at index {} or earlier",
                        last.saturating_add(1)
                    ),
                    "find where the new entries really start, and append there".to_string(),
                ));
            }
            let count = entries.len() as u64;
            let new_last = first - 1 + count;
            if u128::from(first) + u128::from(count) > u128::from(MAX_INDEX) + 1 {
                return Err((
                    format!(
                        "its append of {count} entries at index {first} goes past the largest \
                         index SQLite can store ({MAX_INDEX})"
                    ),
                    format!("keep log indexes at or below {MAX_INDEX}"),
                ));
            }
            Ok(LogBounds {
                first: start,
                last: new_last,
            })
        }
        Op::Truncate { from } => {
            let from = (*from).max(1);
            if from < start {
                return Err((
                    format!(
                        "its truncate from index {from} reaches below the log's first index, \
                         {start}: the entries before {start} were compacted, and compacted \
                         entries are committed"
                    ),
                    format!("truncate from index {start} or later"),
                ));
            }
            Ok(LogBounds {
                first: start,
                last: last.min(from - 1),
            })
        }
        Op::Compact { through } => {
            let through = *through;
            if through >= MAX_INDEX {
                return Err((
                    format!(
                        "its compact through index {through} would start the log past the \
                         largest index SQLite can store ({MAX_INDEX})"
                    ),
                    format!("compact through index {} at most", MAX_INDEX - 1),
                ));
            }
            if through > last {
                return Err((
                    format!(
                        "its compact through index {through} goes past the end of the log, \
                         which ends at index {last}"
                    ),
                    format!("compact only entries the log holds: through index {last} at most"),
                ));
            }
            if through < start {
                // Already compacted: nothing to do, and the start never moves back.
                return Ok(bounds);
            }
            Ok(LogBounds {
                first: through + 1,
                last,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<LogEntry> {
        (0..n).map(|_| LogEntry::new(1, Vec::new())).collect()
    }

    fn bounds(first: u64, last: u64) -> LogBounds {
        LogBounds { first, last }
    }

    fn checked(batch: &Batch, start: LogBounds) -> std::result::Result<LogBounds, String> {
        check(batch, start, Path::new("memory")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_fresh_log_starts_at_one_and_ends_at_zero() {
        assert_eq!(LogBounds::new(1, None), bounds(1, 0));
        assert_eq!(LogBounds::new(101, None), bounds(101, 100));
        assert_eq!(LogBounds::new(101, Some(150)), bounds(101, 150));
    }

    #[test]
    fn each_operation_is_judged_against_what_the_earlier_ones_leave() {
        let mut batch = Batch::new();
        batch
            .truncate(3)
            .append(3, &entries(2))
            .compact(4)
            .append(5, &[]);
        assert_eq!(checked(&batch, bounds(1, 6)), Ok(bounds(5, 4)));

        // The same append without the truncate before it is fine too (it replaces
        // the suffix), but an append past the truncated end is a gap.
        let mut batch = Batch::new();
        batch.truncate(3).append(4, &entries(1));
        let err = checked(&batch, bounds(1, 6)).unwrap_err();
        assert!(err.contains("index 4 would leave a gap"), "{err}");
        assert!(err.contains("ends at index 2"), "{err}");
        assert!(err.contains("nothing in the batch was written"), "{err}");
    }

    #[test]
    fn compaction_moves_the_start_and_refuses_to_pass_the_end() {
        let mut batch = Batch::new();
        batch.compact(100);
        assert_eq!(checked(&batch, bounds(1, 100)), Ok(bounds(101, 100)));

        let mut batch = Batch::new();
        batch.compact(101);
        let err = checked(&batch, bounds(1, 100)).unwrap_err();
        assert!(err.contains("compact through index 101"), "{err}");
        assert!(err.contains("ends at index 100"), "{err}");

        let mut batch = Batch::new();
        batch.compact(50);
        assert_eq!(
            checked(&batch, bounds(101, 120)),
            Ok(bounds(101, 120)),
            "already compacted: the start does not move back"
        );
    }

    #[test]
    fn nothing_below_the_start_is_appended_or_truncated() {
        let mut batch = Batch::new();
        batch.append(100, &entries(1));
        let err = checked(&batch, bounds(101, 100)).unwrap_err();
        assert!(
            err.contains("index 100 is below the log's first index, 101"),
            "{err}"
        );

        let mut batch = Batch::new();
        batch.truncate(0);
        assert!(checked(&batch, bounds(101, 120)).is_err());
        assert_eq!(checked(&batch, bounds(1, 5)), Ok(bounds(1, 0)), "0 is 1");
    }

    #[test]
    fn indexes_and_slots_stop_at_sqlites_largest_integer() {
        let mut batch = Batch::new();
        batch.append(MAX_INDEX, &entries(1));
        assert_eq!(
            checked(&batch, bounds(MAX_INDEX, MAX_INDEX - 1)),
            Ok(bounds(MAX_INDEX, MAX_INDEX))
        );
        batch.append(MAX_INDEX, &entries(2));
        let err = checked(&batch, bounds(MAX_INDEX, MAX_INDEX - 1)).unwrap_err();
        assert!(err.contains(&format!("({MAX_INDEX})")), "{err}");

        let mut batch = Batch::new();
        batch
            .put_slot(MAX_INDEX, b"ok")
            .put_slot(MAX_INDEX + 1, b"no");
        let err = checked(&batch, bounds(1, 0)).unwrap_err();
        assert!(err.contains(&format!("slot {}", MAX_INDEX + 1)), "{err}");
    }

    #[test]
    fn an_empty_batch_changes_nothing() {
        let batch = Batch::new();
        assert!(batch.is_empty());
        assert_eq!(checked(&batch, bounds(7, 9)), Ok(bounds(7, 9)));
    }
}
