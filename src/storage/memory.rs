//! Stable storage that lives in memory: the simulator's and the tests' backend.
//!
//! "Durable" here means "outlives the node": the data sits behind an `Arc<Mutex<…>>`
//! that the runtime's [`Location`](super::Location) keeps while the node struct is
//! dropped and rebuilt, so a simulated crash loses nothing that was written, exactly
//! as a real crash loses nothing that SQLite had synced. Each write finishes before
//! it returns, so the rule "write, then send" holds here too, and a batch is applied
//! under one lock after being checked whole, so it is all or nothing here as well.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::batch::{self, Batch, LogBounds, Op};
use super::LogEntry;
use crate::{Error, Result};

/// Everything one node has written: named values, the log, and the per-slot table.
#[derive(Clone)]
struct MemoryData {
    /// Named values (`put`/`get`), for example Raft's current term and vote.
    meta: BTreeMap<String, Vec<u8>>,
    /// The index of `log[0]`: the log's first index (1 until a compaction).
    log_start: u64,
    /// The log: the entry at index `i` is `log[i - log_start]`. Payloads are shared
    /// with the batches that wrote them and the readers that read them.
    log: Vec<LogEntry>,
    /// The per-slot table, in slot order.
    slots: BTreeMap<u64, Vec<u8>>,
}

impl Default for MemoryData {
    fn default() -> MemoryData {
        MemoryData {
            meta: BTreeMap::new(),
            log_start: 1,
            log: Vec::new(),
            slots: BTreeMap::new(),
        }
    }
}

impl MemoryData {
    fn bounds(&self) -> LogBounds {
        LogBounds {
            first: self.log_start,
            last: self.log_start - 1 + self.log.len() as u64,
        }
    }

    /// The position in `log` of `index`, which must be `>= log_start`.
    fn offset(&self, index: u64) -> usize {
        position(index - self.log_start)
    }

    /// Applies one operation that [`batch::check`] has accepted.
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Put { key, value } => {
                self.meta.insert(key.clone(), value.clone());
            }
            Op::Append { first, entries } => {
                // `check` keeps `first` within log_start..=last + 1.
                let at = self.offset(*first);
                self.log.truncate(at);
                self.log.extend(entries.iter().cloned());
            }
            Op::Truncate { from } => {
                // `check` keeps `from.max(1)` at or above log_start.
                let at = self.offset((*from).max(1));
                self.log.truncate(at);
            }
            Op::Compact { through } => {
                if *through >= self.log_start {
                    // `check` keeps `through` at or below the last index.
                    let drop = self.offset(*through) + 1;
                    self.log.drain(..drop);
                    self.log_start = *through + 1;
                }
            }
            Op::PutSlot { slot, value } => {
                self.slots.insert(*slot, value.clone());
            }
            Op::DeleteSlots { from, to_exclusive } => {
                if from < to_exclusive {
                    let doomed: Vec<u64> = self
                        .slots
                        .range(*from..*to_exclusive)
                        .map(|(slot, _)| *slot)
                        .collect();
                    for slot in doomed {
                        self.slots.remove(&slot);
                    }
                }
            }
        }
    }
}

/// One node's in-memory data, shared by the [`Location`](super::Location) that names
/// it and by every [`Storage`](super::Storage) handle opened from it.
///
/// The type is public only so that `Location::Memory` can hold it; it has no methods
/// a reader needs.
#[derive(Clone, Default)]
pub struct SharedMemory(Arc<Mutex<MemoryData>>);

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedMemory")
    }
}

impl SharedMemory {
    /// A deep copy whose later writes are independent of this one's. (Log payloads
    /// are immutable and stay shared; every table is copied.)
    pub(super) fn deep_copy(&self) -> Result<SharedMemory> {
        let data = lock(&self.0)?.clone();
        Ok(SharedMemory(Arc::new(Mutex::new(data))))
    }
}

/// A handle on a node's in-memory data.
pub(super) struct MemoryStore {
    shared: SharedMemory,
}

impl MemoryStore {
    /// A handle that reads and writes `shared`.
    pub(super) fn open(shared: &SharedMemory) -> MemoryStore {
        MemoryStore {
            shared: shared.clone(),
        }
    }

    fn data(&self) -> Result<MutexGuard<'_, MemoryData>> {
        lock(&self.shared.0)
    }

    // The operations below back `Storage`'s methods of the same names, which
    // document them.

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.data()?.meta.get(key).cloned())
    }

    /// Checks the whole batch, then applies it, holding the lock throughout: other
    /// handles see all of it or none of it, and a refused batch changes nothing.
    pub(super) fn write(&mut self, batch: &Batch) -> Result<()> {
        let mut data = self.data()?;
        batch::check(batch, data.bounds(), Path::new("memory"))?;
        for op in batch.ops() {
            data.apply(op);
        }
        Ok(())
    }

    pub(super) fn first_log_index(&self) -> Result<u64> {
        Ok(self.data()?.log_start)
    }

    pub(super) fn last_log_index(&self) -> Result<u64> {
        Ok(self.data()?.bounds().last)
    }

    pub(super) fn log_entry(&self, index: u64) -> Result<Option<LogEntry>> {
        let data = self.data()?;
        if index < data.log_start {
            return Ok(None);
        }
        Ok(data.log.get(data.offset(index)).cloned())
    }

    pub(super) fn log_term(&self, index: u64) -> Result<Option<u64>> {
        Ok(self.log_entry(index)?.map(|entry| entry.term))
    }

    pub(super) fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<LogEntry>> {
        let data = self.data()?;
        // Clamp to the indexes that exist, log_start..=last.
        let start = from.max(data.log_start);
        let end = to_exclusive.min(data.bounds().last.saturating_add(1));
        if start >= end {
            return Ok(Vec::new());
        }
        Ok(data.log[data.offset(start)..data.offset(end)].to_vec())
    }

    pub(super) fn slot(&self, slot: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.data()?.slots.get(&slot).cloned())
    }

    pub(super) fn slot_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        if from >= to_exclusive {
            return Ok(Vec::new());
        }
        Ok(self
            .data()?
            .slots
            .range(from..to_exclusive)
            .map(|(slot, value)| (*slot, value.clone()))
            .collect())
    }
}

/// A log position as a `usize`; a position past `usize::MAX` can't exist in a `Vec`,
/// so it becomes `usize::MAX`, which every slice and truncate treats as "the end".
fn position(index: u64) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}

/// Locks the data, turning a poisoned mutex (a thread panicked while holding it,
/// perhaps halfway through a batch) into an error instead of a panic.
fn lock(data: &Mutex<MemoryData>) -> Result<MutexGuard<'_, MemoryData>> {
    data.lock().map_err(|_| Error::Storage {
        path: PathBuf::from("memory"),
        problem: "is unusable: a thread panicked while it held this node's in-memory storage, \
                  so a write may be half done"
            .to_string(),
        fix: "find the panic earlier in the output and fix its cause".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_is_an_error_not_a_panic() {
        let shared = SharedMemory::default();
        let poisoner = shared.clone();
        let outcome = std::thread::spawn(move || {
            let _guard = poisoner.0.lock();
            panic!("deliberate panic while holding the storage lock");
        })
        .join();
        assert!(outcome.is_err(), "the helper thread should have panicked");

        let store = MemoryStore::open(&shared);
        match store.get("term") {
            Err(Error::Storage { problem, .. }) => assert!(problem.contains("panicked")),
            other => panic!("expected Error::Storage, got {other:?}"),
        }
        assert!(shared.deep_copy().is_err());
    }
}
