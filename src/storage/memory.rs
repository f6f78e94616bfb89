//! Stable storage that lives in memory: the simulator's and the tests' backend.
//!
//! "Durable" here means "outlives the node": the data sits behind an `Arc<Mutex<…>>`
//! that the runtime's [`Location`](super::Location) keeps while the node struct is
//! dropped and rebuilt, so a simulated crash loses nothing that was written, exactly
//! as a real crash loses nothing that SQLite had synced. Each write finishes before
//! it returns, so the rule "write, then send" holds here too.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Error, Result};

/// Everything one node has written: named values and the log.
#[derive(Clone, Default)]
struct MemoryData {
    /// Named values (`put`/`get`), for example Raft's current term and vote.
    meta: BTreeMap<String, Vec<u8>>,
    /// The log: the entry at index `i` (1-based) is `log[i - 1]`.
    log: Vec<Vec<u8>>,
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
    /// A deep copy whose later writes are independent of this one's.
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
    // document them. Each holds the lock for its whole work, so a batch is seen
    // by other handles either entirely or not at all.

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.data()?.meta.get(key).cloned())
    }

    pub(super) fn put_all(&mut self, pairs: &[(&str, &[u8])]) -> Result<()> {
        let mut data = self.data()?;
        for (key, value) in pairs {
            data.meta.insert((*key).to_string(), value.to_vec());
        }
        Ok(())
    }

    pub(super) fn last_log_index(&self) -> Result<u64> {
        Ok(self.data()?.log.len() as u64)
    }

    pub(super) fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<Vec<u8>>> {
        let data = self.data()?;
        // Clamp to the indexes that exist, 1..=len; index i lives at position i - 1.
        let len = data.log.len() as u64;
        let start = from.max(1);
        let end = to_exclusive.min(len + 1);
        if start >= end {
            return Ok(Vec::new());
        }
        let (start, end) = (position(start - 1), position(end - 1));
        Ok(data.log[start..end].to_vec())
    }

    pub(super) fn append_log(&mut self, first: u64, entries: &[Vec<u8>]) -> Result<()> {
        let mut data = self.data()?;
        super::check_append(first, data.log.len() as u64)?;
        // `first` is at most len + 1, so `first - 1` is at most len and fits a usize.
        data.log.truncate(position(first - 1));
        data.log.extend(entries.iter().cloned());
        Ok(())
    }

    pub(super) fn truncate_log(&mut self, from: u64) -> Result<()> {
        let mut data = self.data()?;
        data.log.truncate(position(from.saturating_sub(1)));
        Ok(())
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
