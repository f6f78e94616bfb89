//! Stable storage: what a node must still know after it crashes and restarts.
//!
//! # Why consensus needs a disk
//!
//! Paxos and Raft are safe because a node keeps its word. A Paxos acceptor that
//! answers `Promise(n)` has promised never to accept a proposal numbered below `n`;
//! a Raft node that grants its vote in term `t` has promised to vote for no one else
//! in `t`. Other nodes count these answers toward a majority, and a majority is only
//! worth something if every member of it keeps its word, including a member that
//! crashed in between and came back with an empty head.
//!
//! So the rule of this module, and of every handler that uses it:
//!
//! > **Write the state to stable storage, and only then send the message that
//! > depends on it.**
//!
//! Raft's Figure 2 says it of `currentTerm`, `votedFor` and `log[]`: "Updated on
//! stable storage before responding to RPCs". Paxos Made Simple (§2.2) asks the same
//! of an acceptor's promise and accepted proposal: it must remember them even if it
//! fails and restarts. What goes wrong when the order is reversed, or the write is
//! skipped:
//!
//! - **A restarted acceptor breaks its promise.** Acceptor A promises ballot 5 to
//!   proposer P, reporting that it has accepted nothing, and crashes before writing
//!   the promise. It restarts remembering nothing and accepts Q's older proposal
//!   (ballot 4, value x), which one more acceptor also accepts: x is chosen. P,
//!   trusting the promise, proposes its own value y with ballot 5, and y is chosen
//!   too. Two values chosen: the one thing Paxos exists to prevent.
//! - **A restarted Raft node votes twice in a term.** Node n3 votes for n1 in term 7
//!   and crashes before writing `voted_for`. It restarts, n2 asks for its vote in
//!   term 7, and n3 grants that too: n1 and n2 can both win term 7, breaking
//!   Election Safety.
//! - **A follower forgets an entry it acknowledged.** The leader counted the
//!   acknowledgement toward a majority and committed the entry; after the restart
//!   the majority that holds it may be one node short, and a new leader without the
//!   entry can be elected and overwrite it, breaking Leader Completeness.
//!
//! Every write here is durable when the call returns, so "write, then send" is
//! simply two lines in that order.
//!
//! # What is stored
//!
//! Two things, enough for every protocol in the book:
//!
//! - **Named values** ([`Storage::put`], [`Storage::get`]): a Paxos acceptor's
//!   promised and accepted ballots, Raft's `current_term` and `voted_for`. Numbers
//!   have helpers ([`Storage::put_u64`], [`Storage::get_u64`]); anything else is
//!   bytes the caller encodes (the protocols use `serde_json`). [`Storage::put_all`]
//!   writes several values atomically: a term and a vote that belong together are
//!   never half written.
//! - **A log** of entries at 1-based, contiguous indexes: Raft's log, Multi-Paxos's
//!   instances. [`Storage::append_log`] writes a run of entries, replacing any suffix
//!   from the first of them, in one transaction.
//!
//! # Two backends
//!
//! A [`Location`] names where one node's state lives; the runtime keeps it for the
//! whole run and calls [`Location::open`] every time it (re)builds the node.
//!
//! - **Memory** ([`Location::memory`]): the simulator's and the tests'. The data is
//!   shared between the `Location` and every handle opened from it, so dropping a
//!   crashed node loses nothing it wrote, just as a real disk would keep it.
//!   [`Location::fork`] copies it for a model checker that branches a run.
//! - **SQLite** ([`Location::sqlite`]): the threaded runtime's, and the real thing.
//!   A write commits a transaction with SQLite's write-ahead log and
//!   `synchronous = FULL`, so it has been fsynced when the call returns. An fsync
//!   costs milliseconds; batching many entries into one `append_log` is how a node
//!   gets throughput.
//!
//! # File layout
//!
//! One file per node, `<data-dir>/n<id>.db` (plus SQLite's `n<id>.db-wal` and
//! `n<id>.db-shm` while it is open), holding four tables:
//!
//! | table | contents |
//! |---|---|
//! | `quorum_schema(version)` | one row: the layout version, [`SCHEMA_VERSION`] |
//! | `quorum_identity(cluster_id, node_id)` | one row: whose state this is |
//! | `meta(key, value)` | the named values |
//! | `log(idx, entry)` | the log, one row per entry |
//!
//! # The checks at open
//!
//! A database that belongs to someone else must never be written to: mixing one
//! cluster's log into another's, or letting n3 boot from n2's votes, breaks exactly
//! the promises above. So opening an existing file first inspects it without
//! changing a byte (SQLite's header, then a read-only `immutable=1` connection) and
//! refuses, naming the file, the problem and the fix, if it is:
//!
//! - not a Quorum database at all (damaged, empty, or some other file),
//! - a SQLite database without Quorum's tables,
//! - written by a newer Quorum (a schema version above [`SCHEMA_VERSION`]),
//! - another cluster's, or another node's.
//!
//! A refused file is left exactly as it was found, and nothing is ever deleted. A
//! file that does not exist is created, with its directory, and its schema and
//! identity are written in one transaction. (If the process dies inside that first
//! open, the file may be left empty; the next open refuses it as damaged rather than
//! guess, and the fix is to move it aside.)

mod memory;
mod sqlite;

use std::path::{Path, PathBuf};

use crate::types::NodeId;
use crate::{Error, Result};

use memory::{MemoryStore, SharedMemory};
use sqlite::SqliteStore;

/// The layout of the SQLite file this build writes, and the newest it can read.
pub const SCHEMA_VERSION: u32 = 1;

/// A handle on one node's durable state. Every write is durable when it returns.
///
/// Open one with [`Location::open`]; drop it when the node crashes or stops.
pub struct Storage {
    backend: Backend,
}

/// The two backends, chosen once at open.
enum Backend {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
}

impl Storage {
    /// The value last written under `key`, or `None` if nothing was.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Memory(store) => store.get(key),
            Backend::Sqlite(store) => store.get(key),
        }
    }

    /// Writes `value` under `key`, replacing any earlier value. Durable when it returns.
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.put_all(&[(key, value)])
    }

    /// Writes every pair in one transaction: after a crash, either all of them are
    /// there or none is. Use it for values that must agree, such as Raft's term and
    /// vote. Durable when it returns.
    pub fn put_all(&mut self, pairs: &[(&str, &[u8])]) -> Result<()> {
        match &mut self.backend {
            Backend::Memory(store) => store.put_all(pairs),
            Backend::Sqlite(store) => store.put_all(pairs),
        }
    }

    /// The number last written under `key` with [`Storage::put_u64`], or `None`.
    ///
    /// A value that is not 8 bytes long was not written by `put_u64`, and is an
    /// `Error::Storage` naming the key.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        let Some(bytes) = self.get(key)? else {
            return Ok(None);
        };
        match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(array) => Ok(Some(u64::from_be_bytes(array))),
            Err(_) => Err(Error::Storage {
                path: PathBuf::from(self.describe()),
                problem: format!(
                    "holds {} bytes under key '{key}', not the 8 bytes of a number",
                    bytes.len()
                ),
                fix: format!(
                    "key '{key}' is read as a number but was written as something else; \
                     write it with put_u64"
                ),
            }),
        }
    }

    /// Writes `value` under `key` as 8 bytes, big-endian. Durable when it returns.
    pub fn put_u64(&mut self, key: &str, value: u64) -> Result<()> {
        self.put(key, &value.to_be_bytes())
    }

    /// The index of the last log entry, or 0 when the log is empty.
    pub fn last_log_index(&self) -> Result<u64> {
        match &self.backend {
            Backend::Memory(store) => store.last_log_index(),
            Backend::Sqlite(store) => store.last_log_index(),
        }
    }

    /// The entry at `index` (1-based), or `None` if the log has none there.
    pub fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.log_range(index, index.saturating_add(1))?.pop())
    }

    /// The entries at indexes `from..to_exclusive`, in order, clamped to the log:
    /// indexes the log does not hold (0, or past [`Storage::last_log_index`]) are
    /// simply not returned, and `from >= to_exclusive` gives an empty list.
    pub fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<Vec<u8>>> {
        match &self.backend {
            Backend::Memory(store) => store.log_range(from, to_exclusive),
            Backend::Sqlite(store) => store.log_range(from, to_exclusive),
        }
    }

    /// Writes `entries` at indexes first, first+1, …, first deleting every entry at
    /// index >= first (Raft's "delete the conflicting entry and all that follow it"),
    /// in one transaction.
    ///
    /// `first` must be between 1 and `last_log_index() + 1`, or the log would have a
    /// gap; otherwise this is an `Error::Config` naming both numbers and nothing is
    /// written. With no entries it is the same as [`Storage::truncate_log`].
    ///
    /// Deleting the suffix is unconditional, so the caller finds the first index
    /// where its new entries really conflict with the log and passes that. A Raft
    /// follower that passed `prev_log_index + 1` blindly would let a delayed, shorter
    /// AppendEntries erase entries a later one had added, entries the leader may
    /// already have counted as committed (Raft §5.3, Figure 2: "If an existing
    /// entry conflicts with a new one ... delete the existing entry and all that
    /// follow it").
    pub fn append_log(&mut self, first: u64, entries: &[Vec<u8>]) -> Result<()> {
        match &mut self.backend {
            Backend::Memory(store) => store.append_log(first, entries),
            Backend::Sqlite(store) => store.append_log(first, entries),
        }
    }

    /// Deletes every log entry at index >= `from`. Durable when it returns.
    pub fn truncate_log(&mut self, from: u64) -> Result<()> {
        match &mut self.backend {
            Backend::Memory(store) => store.truncate_log(from),
            Backend::Sqlite(store) => store.truncate_log(from),
        }
    }

    /// `"memory"`, or the path of the SQLite file: for logs and error messages.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Memory(_) => "memory".to_string(),
            Backend::Sqlite(store) => store.path().display().to_string(),
        }
    }
}

/// The check `append_log` makes before writing anything: `first` is a 1-based index
/// no further than one past the end of a log that ends at `last`.
fn check_append(first: u64, last: u64) -> Result<()> {
    if first == 0 {
        return Err(Error::Config(
            "append_log at index 0: log indexes start at 1".to_string(),
        ));
    }
    if first > last.saturating_add(1) {
        return Err(Error::Config(format!(
            "append_log at index {first} would leave a gap: the log ends at index {last}, \
             so the next entry goes at index {} or earlier",
            last.saturating_add(1)
        )));
    }
    Ok(())
}

/// Where one node's durable state lives; the runtimes keep one per node and open it
/// again after a crash, so a restarted node sees what it had written before.
#[derive(Clone, Debug)]
pub enum Location {
    /// In memory, shared by every handle opened from this `Location` (and its clones).
    Memory(SharedMemory),
    /// A SQLite file, checked at open to belong to this cluster and node.
    Sqlite {
        /// The database file, `<data-dir>/n<id>.db`.
        path: PathBuf,
        /// The cluster the file must belong to.
        cluster_id: String,
        /// The node whose state the file must hold.
        node: NodeId,
    },
}

impl Location {
    /// Fresh, empty memory storage.
    pub fn memory() -> Location {
        Location::Memory(SharedMemory::default())
    }

    /// `<dir>/n<id>.db`; does not touch the disk.
    pub fn sqlite(dir: &Path, cluster_id: &str, node: NodeId) -> Location {
        Location::Sqlite {
            path: dir.join(format!("{node}.db")),
            cluster_id: cluster_id.to_string(),
            node,
        }
    }

    /// Open a handle. Memory: shares the same data (a crash loses nothing written).
    /// Sqlite: opens/creates the file (creating `dir` if missing) with the checks
    /// described in the [module documentation](self): a file that is damaged, not
    /// Quorum's, newer, or another cluster's or node's is refused unchanged.
    pub fn open(&self) -> Result<Storage> {
        let backend = match self {
            Location::Memory(shared) => Backend::Memory(MemoryStore::open(shared)),
            Location::Sqlite {
                path,
                cluster_id,
                node,
            } => Backend::Sqlite(SqliteStore::open(path, cluster_id, *node)?),
        };
        Ok(Storage { backend })
    }

    /// Memory only: a deep copy with independent data (used by a model checker that
    /// branches a simulation). For Sqlite returns Error::Config saying it can't be
    /// forked.
    pub fn fork(&self) -> Result<Location> {
        match self {
            Location::Memory(shared) => Ok(Location::Memory(shared.deep_copy()?)),
            Location::Sqlite { path, .. } => Err(Error::Config(format!(
                "the SQLite storage at {} can't be forked: only memory storage can be \
                 copied, so branch simulations with Location::memory()",
                path.display()
            ))),
        }
    }
}

/// A data directory claimed by this process: no other process can claim it until this
/// value is dropped (or the process ends, however it ends).
///
/// A node's database is the node's memory, and two processes running clusters over
/// the same directory would each take the other's acceptor state for its own: one
/// would break the promises the other made. So the chapter binaries claim
/// `--data-dir` before they open anything in it. The claim is an exclusive lock on
/// the file `quorum.lock` in the directory, which the operating system releases when
/// the process ends, so a crashed run never leaves a stale claim behind.
#[derive(Debug)]
pub struct DirClaim {
    _lock: std::fs::File,
}

/// The name of the lock file [`claim_dir`] holds in a data directory.
pub const LOCK_FILE: &str = "quorum.lock";

/// Claims `dir` for this process (creating it if need be), or refuses with an error
/// that says another process holds it. Claiming a directory this process already
/// holds is refused too: one claim per run.
pub fn claim_dir(dir: &Path) -> Result<DirClaim> {
    std::fs::create_dir_all(dir).map_err(|source| Error::io(dir, source))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::io(&path, source))?;
    match file.try_lock() {
        Ok(()) => Ok(DirClaim { _lock: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Storage {
            path,
            problem: format!(
                "{} is in use by another run: another process is running a cluster in it \
                 (or this process claimed it already)",
                dir.display()
            ),
            fix: "wait for that run to finish, or give this run another --data-dir".to_string(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::io(&path, source)),
    }
}
