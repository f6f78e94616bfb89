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
//! simply two lines in that order: write the batch, then send.
//!
//! # What is stored
//!
//! Three things, enough for every protocol in the book:
//!
//! - **Named values** ([`Storage::get`], [`Storage::get_u64`]): a Paxos acceptor's
//!   promised and accepted ballots, Raft's `current_term` and `voted_for`. Numbers
//!   are 8 bytes, big-endian; anything else is bytes the caller encodes (the
//!   protocols use `serde_json`).
//! - **A log** of [`LogEntry`]s, each a term and a payload, at contiguous indexes
//!   from [`Storage::first_log_index`] to [`Storage::last_log_index`]: Raft's log.
//!   A fresh log starts at 1 and ends at 0; compaction ([`Batch::compact`]) discards
//!   a prefix that a snapshot holds, and the log then starts after it. The term is
//!   kept beside the payload, so [`Storage::log_term`] answers Raft's most frequent
//!   question ("what is the term at index i?") without reading the payload.
//! - **A per-slot table** ([`Storage::slot`], [`Storage::slot_range`]): values at
//!   slot numbers that need not be contiguous, for a Multi-Paxos acceptor that
//!   accepts slot 9 before it has heard of slot 7.
//!
//! # Batches: one handler call, one transaction, one fsync
//!
//! Everything one handler call writes goes to disk as one [`Batch`], with one call
//! to [`Storage::write`]: a Raft follower that raises its term, records its vote and
//! appends entries fills one batch and writes it once. The batch is one SQLite
//! transaction, and two things follow:
//!
//! - **All or nothing.** After a crash, either every operation of the batch is
//!   there or none is: a term and a vote that belong together are never half
//!   written, nor is a log whose old suffix was deleted but whose new entries were
//!   not yet written. Before anything is written, the whole batch is checked (an
//!   append must not leave a gap in the log, a compaction must not pass its end, and
//!   so on, each operation against what the earlier ones leave); a batch that fails
//!   the check, or fails midway, leaves storage exactly as it was.
//! - **One fsync.** A commit is durable only once it has been flushed to the disk
//!   with fsync, which costs milliseconds (about 4 ms, 250 a second, on the machines
//!   this book was measured on), while the writes themselves cost microseconds. One
//!   transaction per handler call pays that price once however much the handler
//!   wrote, and a leader that gathers a thousand commands into one append pays it
//!   once for all of them: durable throughput comes from batching. [`measure`]
//!   measures both figures on your disk.
//!
//! The convenience methods ([`Storage::put`], [`Storage::put_u64`],
//! [`Storage::put_all`], [`Storage::append_log`], [`Storage::truncate_log`]) are
//! one-operation batches.
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
//!   A batch commits a transaction with SQLite's write-ahead log and
//!   `synchronous = FULL`, so it has been fsynced when the call returns.
//!
//! # File layout (schema version 2)
//!
//! One file per node, `<data-dir>/n<id>.db` (plus SQLite's `n<id>.db-wal` and
//! `n<id>.db-shm` while it is open), holding six tables:
//!
//! | table | contents |
//! |---|---|
//! | `quorum_schema(version)` | one row: the layout version, [`SCHEMA_VERSION`] |
//! | `quorum_identity(cluster_id, node_id)` | one row: whose state this is |
//! | `meta(key, value)` | the named values |
//! | `log(idx, term, payload)` | the log, one row per entry, keyed by index |
//! | `log_start(idx)` | one row: the log's first index (1 until a compaction), kept even when the log is empty |
//! | `slots(slot, value)` | the per-slot table, one row per slot written, keyed by slot |
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
//! - another cluster's, or another node's,
//! - a schema-v1 file that can't be migrated (below).
//!
//! A refused file is left exactly as it was found, and nothing is ever deleted. A
//! file that does not exist is created, with its directory, and its schema and
//! identity are written in one transaction. (If the process dies inside that first
//! open, the file may be left empty; the next open refuses it as damaged rather than
//! guess, and the fix is to move it aside.)
//!
//! # Files of schema version 1 are migrated
//!
//! Schema v1 had neither `log_start` nor `slots`, and its log rows were
//! `log(idx, entry)`: one blob per entry. A v1 file that passes the checks above
//! (it is this cluster's and this node's) is migrated to v2 when it is opened, in
//! one transaction. Refusing it instead was considered and rejected: the file holds
//! promises and votes that other nodes have counted on, and a refusal would leave
//! the reader one way forward, deleting them, which is exactly what consensus
//! forbids (the three failures above). The migration is exact because v1's one
//! writer of log rows was Raft (chapter 3), which stored each entry as its term in
//! 8 big-endian bytes followed by the command: the first 8 bytes become the `term`
//! column and the rest the `payload`. Named values are kept as they are.
//!
//! The migration is one IMMEDIATE transaction (create the new log table, copy the
//! rows splitting out the terms, replace the old log table, write the log start, 1,
//! and the slots table, set the version to 2), so a crash anywhere inside it leaves
//! a valid v1 file, which the next open migrates, or a valid v2 file. A v1 log row
//! shorter than 8 bytes was not written by Quorum's Raft and can't be split: such a
//! file is refused, naming the row, and left byte for byte as it was. A v1 file of
//! another cluster or node is refused by the identity check and never migrated.

mod batch;
pub mod measure;
mod memory;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::types::NodeId;
use crate::{Error, Result};

pub use batch::Batch;
use memory::{MemoryStore, SharedMemory};
use sqlite::{MigrationProbe, SqliteStore};

/// The layout of the SQLite file this build writes, and the newest it can read.
/// Files of version 1 are migrated to it when they are opened.
pub const SCHEMA_VERSION: u32 = 2;

/// One log entry: the term of the leader that created it, and its payload (for Raft,
/// the command). The payload is shared: cloning an entry, or handing the same entries
/// to a batch and to several followers, copies a pointer, not the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The term in which a leader created the entry (Raft §5.3).
    pub term: u64,
    /// The entry's bytes, which the protocol gives meaning.
    pub payload: Arc<[u8]>,
}

impl LogEntry {
    /// An entry of `term` holding `payload`.
    pub fn new(term: u64, payload: impl Into<Arc<[u8]>>) -> LogEntry {
        LogEntry {
            term,
            payload: payload.into(),
        }
    }
}

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
    /// Writes every operation of `batch`, in the order they were added, as one atomic
    /// write: one transaction, one fsync. Durable when it returns.
    ///
    /// The whole batch is checked first, each operation against the log as the
    /// earlier ones leave it (see [`Batch`]'s methods for the rules); if one fails
    /// the check, this is an `Error::Storage` naming the numbers, and nothing is
    /// written. If the write itself fails, nothing is written either. An empty batch
    /// writes nothing.
    pub fn write(&mut self, batch: &Batch) -> Result<()> {
        match &mut self.backend {
            Backend::Memory(store) => store.write(batch),
            Backend::Sqlite(store) => store.write(batch),
        }
    }

    /// The value last written under `key`, or `None` if nothing was.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Memory(store) => store.get(key),
            Backend::Sqlite(store) => store.get(key),
        }
    }

    /// Writes `value` under `key`, replacing any earlier value: a batch of one
    /// [`Batch::put`]. Durable when it returns.
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.write(Batch::new().put(key, value))
    }

    /// Writes every pair in one batch: after a crash, either all of them are there or
    /// none is. Use it for values that must agree, such as Raft's term and vote.
    /// Durable when it returns.
    pub fn put_all(&mut self, pairs: &[(&str, &[u8])]) -> Result<()> {
        let mut batch = Batch::new();
        for (key, value) in pairs {
            batch.put(key, value);
        }
        self.write(&batch)
    }

    /// The number last written under `key` with [`Storage::put_u64`] (or
    /// [`Batch::put_u64`]), or `None`.
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

    /// Writes `value` under `key` as 8 bytes, big-endian: a batch of one
    /// [`Batch::put_u64`]. Durable when it returns.
    pub fn put_u64(&mut self, key: &str, value: u64) -> Result<()> {
        self.write(Batch::new().put_u64(key, value))
    }

    /// The index of the first entry the log holds, or `last_log_index() + 1` when it
    /// holds none: 1 for a fresh log, `n + 1` after [`Batch::compact`]`(n)`.
    pub fn first_log_index(&self) -> Result<u64> {
        match &self.backend {
            Backend::Memory(store) => store.first_log_index(),
            Backend::Sqlite(store) => store.first_log_index(),
        }
    }

    /// The index of the last log entry, or `first_log_index() - 1` when the log holds
    /// none (0 for a fresh log).
    pub fn last_log_index(&self) -> Result<u64> {
        match &self.backend {
            Backend::Memory(store) => store.last_log_index(),
            Backend::Sqlite(store) => store.last_log_index(),
        }
    }

    /// The entry at `index`, or `None` if the log holds none there (0, compacted, or
    /// past the end).
    pub fn log_entry(&self, index: u64) -> Result<Option<LogEntry>> {
        match &self.backend {
            Backend::Memory(store) => store.log_entry(index),
            Backend::Sqlite(store) => store.log_entry(index),
        }
    }

    /// The term of the entry at `index`, or `None` if the log holds none there. It
    /// reads the term alone, not the payload (in SQLite,
    /// `SELECT term FROM log WHERE idx = ?`).
    pub fn log_term(&self, index: u64) -> Result<Option<u64>> {
        match &self.backend {
            Backend::Memory(store) => store.log_term(index),
            Backend::Sqlite(store) => store.log_term(index),
        }
    }

    /// The entries at indexes `from..to_exclusive`, in order, clamped to the log:
    /// indexes the log does not hold (0, compacted, or past
    /// [`Storage::last_log_index`]) are simply not returned, and `from >= to_exclusive`
    /// gives an empty list.
    pub fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<LogEntry>> {
        match &self.backend {
            Backend::Memory(store) => store.log_range(from, to_exclusive),
            Backend::Sqlite(store) => store.log_range(from, to_exclusive),
        }
    }

    /// Writes `entries` at indexes first, first+1, …, first deleting every entry at
    /// index >= first: a batch of one [`Batch::append`], whose rules apply (`first`
    /// between [`Storage::first_log_index`] and `last_log_index() + 1`, or an
    /// `Error::Storage` naming the numbers, and nothing is written). With no entries
    /// it is the same as [`Storage::truncate_log`].
    ///
    /// Deleting the suffix is unconditional, so the caller finds the first index
    /// where its new entries really conflict with the log and passes that. A Raft
    /// follower that passed `prev_log_index + 1` blindly would let a delayed, shorter
    /// AppendEntries erase entries a later one had added, entries the leader may
    /// already have counted as committed (Raft §5.3, Figure 2: "If an existing
    /// entry conflicts with a new one ... delete the existing entry and all that
    /// follow it").
    pub fn append_log(&mut self, first: u64, entries: &[LogEntry]) -> Result<()> {
        self.write(Batch::new().append(first, entries))
    }

    /// Deletes every log entry at index >= `from`: a batch of one [`Batch::truncate`].
    /// Durable when it returns.
    pub fn truncate_log(&mut self, from: u64) -> Result<()> {
        self.write(Batch::new().truncate(from))
    }

    /// The value at `slot` in the per-slot table, or `None` if none was written there.
    pub fn slot(&self, slot: u64) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Memory(store) => store.slot(slot),
            Backend::Sqlite(store) => store.slot(slot),
        }
    }

    /// The slots in `from..to_exclusive` that hold a value, with their values, in slot
    /// order (in SQLite, one range scan of the table's key).
    pub fn slot_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        match &self.backend {
            Backend::Memory(store) => store.slot_range(from, to_exclusive),
            Backend::Sqlite(store) => store.slot_range(from, to_exclusive),
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
    /// Quorum's, newer, or another cluster's or node's is refused unchanged, and a
    /// schema-v1 file of this cluster and node is migrated to v2.
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

    /// **For crash tests only.** [`Location::open`] for a SQLite file, except that if
    /// the file is migrated from schema v1, the migration runs with a page cache of
    /// `cache_pages` pages and calls `hook` after each of its steps, with the step's
    /// name: while its transaction is open, and once more after the commit. A test
    /// copies the database and its `-wal` and `-shm` files in the hook, each copy a
    /// disk image of a crash at that point; a tiny cache makes SQLite spill
    /// uncommitted pages into the `-wal`, so the images hold a half-written
    /// transaction. Nothing else differs from `open`. A memory location has nothing
    /// to migrate: `Error::Config`.
    #[doc(hidden)]
    pub fn open_migrating_with_hook(
        &self,
        cache_pages: i64,
        hook: &mut dyn FnMut(&str),
    ) -> Result<Storage> {
        match self {
            Location::Memory(_) => Err(Error::Config(
                "only a SQLite location has a file to migrate; use Location::sqlite".to_string(),
            )),
            Location::Sqlite {
                path,
                cluster_id,
                node,
            } => {
                let probe = MigrationProbe { cache_pages, hook };
                let store = SqliteStore::open_probed(path, cluster_id, *node, Some(probe))?;
                Ok(Storage {
                    backend: Backend::Sqlite(store),
                })
            }
        }
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
