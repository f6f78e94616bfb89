//! Stable storage in a SQLite file: one file per node, `<data-dir>/n<id>.db`.
//!
//! Durability settings: the write-ahead log (WAL) journal and `synchronous = FULL`,
//! so every committed transaction has been fsynced to the WAL before `COMMIT`
//! returns. An fsync costs milliseconds, which is why [`SqliteStore::write`] takes a
//! whole [`Batch`]: everything one handler call wrote, in one IMMEDIATE transaction,
//! with one fsync.
//!
//! Opening follows one rule: a file that exists is inspected without being changed
//! before anything is allowed to write to it. See [`SqliteStore::open`]. The one
//! write an open may make is the migration of a schema-v1 file of this cluster and
//! node to schema v2 ([`SqliteStore::migrate_v1`]), in one transaction, so that a
//! crash inside it leaves a v1 file (which the next open migrates) or a v2 file.
//!
//! Numbers: log indexes and slots are `u64`s no larger than `i64::MAX` (a batch that
//! would write a larger one is refused), stored as SQLite's signed integers. A term
//! is a `u64` stored bit for bit in a signed integer, so every term reads back as it
//! was written (one above `i64::MAX` shows as negative in the `sqlite3` shell).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::batch::{self, Batch, LogBounds, Op, MAX_INDEX};
use super::{LogEntry, SCHEMA_VERSION};
use crate::types::NodeId;
use crate::{Error, Result};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables of schema version 2, created in one transaction with the file (the
/// version and identity rows are written beside them).
const CREATE_SCHEMA_V2: &str = "
    CREATE TABLE quorum_schema (version INTEGER NOT NULL);
    CREATE TABLE quorum_identity (cluster_id TEXT NOT NULL, node_id INTEGER NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, payload BLOB NOT NULL);
    CREATE TABLE log_start (idx INTEGER NOT NULL);
    INSERT INTO log_start (idx) VALUES (1);
    CREATE TABLE slots (slot INTEGER PRIMARY KEY, value BLOB NOT NULL);
";

/// The tables each schema version holds besides `quorum_schema`, and the columns of
/// its `log` table: what the checks at open require of a file of that version.
fn layout(version: i64) -> (&'static [&'static str], &'static [&'static str]) {
    if version == 1 {
        (&["quorum_identity", "meta", "log"], &["idx", "entry"])
    } else {
        (
            &["quorum_identity", "meta", "log", "log_start", "slots"],
            &["idx", "term", "payload"],
        )
    }
}

/// For crash tests: how [`SqliteStore::migrate_v1`] runs so that a test can copy the
/// files between its steps (see `Location::open_migrating_with_hook`).
pub(super) struct MigrationProbe<'a> {
    /// The page cache, in pages, for the migration: a tiny one makes SQLite spill
    /// uncommitted pages into the `-wal` while the transaction is open.
    pub(super) cache_pages: i64,
    /// Called after each step of the migration, with the step's name, while the
    /// transaction is open, and once more after the commit.
    pub(super) hook: &'a mut dyn FnMut(&str),
}

/// Who a database belongs to: the cluster and node it was created for.
struct Identity<'a> {
    cluster_id: &'a str,
    node: NodeId,
}

/// An open connection to one node's database file.
pub(super) struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database at `path` for `node` of `cluster_id`, creating it (and its
    /// directory) if it does not exist, and migrating it if it is a schema-v1 file.
    ///
    /// An existing file is checked in two read-only steps before it is opened for
    /// writing, so that a refused file is left byte for byte as it was found, with no
    /// `-wal` or `-shm` file created beside it:
    ///
    /// 1. its first 16 bytes must be SQLite's header (an empty file fails here too:
    ///    we never quietly initialise a file we did not create);
    /// 2. opened with SQLite's `immutable=1` (no locks, no journal, no writes), it
    ///    must hold our tables, a schema version this build understands, and the
    ///    identity of this cluster and node; a v1 file's log rows must also be long
    ///    enough to hold the term the migration splits out of them.
    ///
    /// Only then is it opened read-write, checked once more through that connection
    /// (which also sees what a `-wal` holds), and, if it is still a v1 file, migrated.
    pub(super) fn open(path: &Path, cluster_id: &str, node: NodeId) -> Result<SqliteStore> {
        SqliteStore::open_probed(path, cluster_id, node, None)
    }

    /// [`SqliteStore::open`], with crash tests' `probe` on the migration if one runs.
    pub(super) fn open_probed(
        path: &Path,
        cluster_id: &str,
        node: NodeId,
        probe: Option<MigrationProbe<'_>>,
    ) -> Result<SqliteStore> {
        let identity = Identity { cluster_id, node };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| Error::io(dir, source))?;
        }
        // `create_new` is O_EXCL: of two processes racing to create the file, exactly
        // one creates it; the other finds it existing and checks it.
        let created = match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(source) => return Err(Error::io(path, source)),
        };
        let mut store = if created {
            let store = SqliteStore::create(path, &identity)?;
            log::debug!("storage: created {}", path.display());
            store
        } else {
            check_header(path)?;
            let snapshot = open_immutable(path)?;
            if check_contents(&snapshot, path, &identity)? == 1 {
                check_v1_log(&snapshot, path)?;
            }
            drop(snapshot);
            log::debug!("storage: opened {}", path.display());
            SqliteStore::connect(path)?
        };
        store.set_durability()?;
        // Check again, through the read-write connection. For an existing file this
        // sees what the immutable snapshot could not: transactions still in a `-wal`
        // (say, a newer build's migration, cut short by a crash before the next
        // checkpoint). For a new file it confirms what we just wrote.
        let outcome = check_contents(&store.conn, path, &identity).and_then(|version| {
            if version == 1 {
                store.migrate_v1(probe)
            } else {
                Ok(())
            }
        });
        if let Err(refused) = outcome {
            // Closing a connection checkpoints the `-wal` into the main file and deletes
            // it; a refused database must be left as it was found, so forbid that.
            let _ = store.conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            );
            return Err(refused);
        }
        Ok(store)
    }

    /// Migrates a schema-v1 file to schema v2, in one IMMEDIATE transaction:
    ///
    /// 1. check (again, now seeing any `-wal`) that every v1 log row is long enough
    ///    to split, before writing anything;
    /// 2. create the new log table, `log_v2 (idx, term, payload)`;
    /// 3. copy every v1 row into it, splitting the row's first 8 bytes (the term,
    ///    big-endian: v1's one writer of log rows was Raft, whose entries were encoded
    ///    so) from the rest (the command, now the payload);
    /// 4. drop the v1 `log` table and rename `log_v2` to `log`;
    /// 5. create `log_start` holding 1 (v1 never compacted) and the empty `slots`;
    /// 6. set the schema version to 2, and commit.
    ///
    /// Named values in `meta` are kept as they are. A crash before the commit leaves
    /// the v1 file (the WAL frames of an uncommitted transaction are ignored when
    /// the file is next opened), and the next open migrates it again; a crash after
    /// leaves the v2 file. (One moment remains in which the main file alone, which
    /// the read-only check at open reads, is not a consistent snapshot: a crash in
    /// the middle of the checkpoint that first copies the migrated pages from the
    /// `-wal` into it. The identity pages are not among them, so such a file can't be
    /// taken for another node's; at worst it is refused as damaged, untouched, with
    /// its `-wal` intact.)
    ///
    /// A crash test's `probe` sets the page cache for the migration (restored after
    /// it) and is called after each step.
    fn migrate_v1(&mut self, probe: Option<MigrationProbe<'_>>) -> Result<()> {
        let Some(probe) = probe else {
            return self.migration_steps(&mut |_| {});
        };
        let cache: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |row| row.get(0))
            .map_err(sqlite_error(&self.path))?;
        self.conn
            .pragma_update(None, "cache_size", probe.cache_pages)
            .map_err(sqlite_error(&self.path))?;
        let outcome = self.migration_steps(probe.hook);
        self.conn
            .pragma_update(None, "cache_size", cache)
            .map_err(sqlite_error(&self.path))?;
        outcome
    }

    /// The steps of [`SqliteStore::migrate_v1`], calling `hook` after each.
    fn migration_steps(&mut self, hook: &mut dyn FnMut(&str)) -> Result<()> {
        let path = self.path.as_path();
        let sqlite = sqlite_error(path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sqlite)?;
        // Another connection may have migrated the file between our checks and this
        // write lock: then there is nothing left to do.
        let version: i64 = tx
            .query_row("SELECT version FROM quorum_schema", [], |row| row.get(0))
            .map_err(&sqlite)?;
        if version != 1 {
            return Ok(());
        }
        check_v1_log(&tx, path)?;
        tx.execute_batch(
            "CREATE TABLE log_v2 (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, \
             payload BLOB NOT NULL)",
        )
        .map_err(&sqlite)?;
        hook("created log_v2");
        let mut rows = 0u64;
        {
            let mut read = tx
                .prepare("SELECT idx, entry FROM log ORDER BY idx")
                .map_err(&sqlite)?;
            let mut insert = tx
                .prepare("INSERT INTO log_v2 (idx, term, payload) VALUES (?1, ?2, ?3)")
                .map_err(&sqlite)?;
            let mut cursor = read.query([]).map_err(&sqlite)?;
            while let Some(row) = cursor.next().map_err(&sqlite)? {
                let index: i64 = row.get(0).map_err(&sqlite)?;
                let entry: Vec<u8> = row.get(1).map_err(&sqlite)?;
                let Some((term, payload)) = entry.split_first_chunk::<8>() else {
                    // `check_v1_log` found no such row in this same transaction.
                    return Err(short_v1_row(path, index, entry.len()));
                };
                insert
                    .execute(params![
                        index,
                        term_to_sql(u64::from_be_bytes(*term)),
                        payload
                    ])
                    .map_err(&sqlite)?;
                rows += 1;
            }
        }
        hook("copied the log rows into log_v2, terms split out");
        tx.execute_batch("DROP TABLE log").map_err(&sqlite)?;
        hook("dropped the v1 log table");
        tx.execute_batch("ALTER TABLE log_v2 RENAME TO log")
            .map_err(&sqlite)?;
        hook("renamed log_v2 to log");
        tx.execute_batch(
            "CREATE TABLE log_start (idx INTEGER NOT NULL);
             INSERT INTO log_start (idx) VALUES (1);",
        )
        .map_err(&sqlite)?;
        hook("wrote the log start");
        tx.execute_batch("CREATE TABLE slots (slot INTEGER PRIMARY KEY, value BLOB NOT NULL)")
            .map_err(&sqlite)?;
        hook("created the slots table");
        tx.execute("UPDATE quorum_schema SET version = ?1", [SCHEMA_VERSION])
            .map_err(&sqlite)?;
        hook("set the schema version to 2");
        tx.commit().map_err(&sqlite)?;
        hook("committed");
        log::info!(
            "storage: migrated {} from schema v1 to v{SCHEMA_VERSION} ({rows} log rows)",
            path.display()
        );
        Ok(())
    }

    /// The path of the database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A read-write connection to an existing file, with a busy timeout.
    ///
    /// URI parsing is off: the path is a path, whatever characters it holds.
    fn connect(path: &Path) -> Result<SqliteStore> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| refusal(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error(path))?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Initialises the empty file this call has just created at `path`.
    ///
    /// If that fails, the file is removed again, but only while it is still empty:
    /// a failed open leaves the directory as it found it. (A process that dies in
    /// here leaves an empty file, which the next open refuses rather than guess.)
    fn create(path: &Path, identity: &Identity) -> Result<SqliteStore> {
        let result = SqliteStore::connect(path).and_then(|mut store| {
            store.create_schema(identity)?;
            Ok(store)
        });
        match result {
            Ok(store) => {
                sync_parent_dir(path)?;
                Ok(store)
            }
            Err(err) => {
                if fs::metadata(path).is_ok_and(|meta| meta.len() == 0) {
                    let _ = fs::remove_file(path);
                }
                Err(err)
            }
        }
    }

    /// Writes the tables, the schema version and the identity, all or nothing.
    ///
    /// This runs in SQLite's default rollback-journal mode, before the switch to
    /// WAL, so the schema and identity land in the main file itself. They never
    /// change afterwards, so the immutable check at every later open (which reads
    /// the main file and ignores any `-wal`) always finds them, even after a crash
    /// that left the newest writes in the `-wal`.
    fn create_schema(&mut self, identity: &Identity) -> Result<()> {
        let sqlite = sqlite_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sqlite)?;
        tx.execute_batch(CREATE_SCHEMA_V2).map_err(&sqlite)?;
        tx.execute(
            "INSERT INTO quorum_schema (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )
        .map_err(&sqlite)?;
        tx.execute(
            "INSERT INTO quorum_identity (cluster_id, node_id) VALUES (?1, ?2)",
            params![identity.cluster_id, identity.node.0],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)
    }

    /// WAL journal, every commit fsynced, and on macOS a real flush to the platter
    /// (`fullfsync`; other systems ignore it).
    fn set_durability(&self) -> Result<()> {
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sqlite_error(&self.path))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Storage {
                path: self.path.clone(),
                problem: format!("could not use SQLite's WAL journal here (got '{mode}')"),
                fix: "put --data-dir on a local file system".to_string(),
            });
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite_error(&self.path))?;
        self.conn
            .pragma_update(None, "fullfsync", "ON")
            .map_err(sqlite_error(&self.path))
    }

    // The operations below back `Storage`'s methods of the same names, which
    // document them.

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(sqlite_error(&self.path))
    }

    /// Writes the whole batch in one IMMEDIATE transaction (it takes the write lock
    /// at BEGIN, so the bounds read inside it can't go stale), checking it against
    /// the log's bounds before writing anything. If the check or any statement fails,
    /// the transaction is rolled back and the file is as it was. One commit, one fsync.
    pub(super) fn write(&mut self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let sqlite = sqlite_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sqlite)?;
        let bounds = read_bounds(&tx).map_err(&sqlite)?;
        batch::check(batch, bounds, &self.path)?;
        for op in batch.ops() {
            apply(&tx, op).map_err(&sqlite)?;
        }
        tx.commit().map_err(&sqlite)
    }

    pub(super) fn first_log_index(&self) -> Result<u64> {
        Ok(read_bounds(&self.conn)
            .map_err(sqlite_error(&self.path))?
            .first)
    }

    pub(super) fn last_log_index(&self) -> Result<u64> {
        Ok(read_bounds(&self.conn)
            .map_err(sqlite_error(&self.path))?
            .last)
    }

    pub(super) fn log_entry(&self, index: u64) -> Result<Option<LogEntry>> {
        let Ok(index) = i64::try_from(index) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT term, payload FROM log WHERE idx = ?1")
            .and_then(|mut stmt| stmt.query_row([index], entry_from_row).optional())
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn log_term(&self, index: u64) -> Result<Option<u64>> {
        let Ok(index) = i64::try_from(index) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT term FROM log WHERE idx = ?1")
            .and_then(|mut stmt| stmt.query_row([index], |row| row.get(0)).optional())
            .map(|term| term.map(term_from_sql))
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<LogEntry>> {
        let Some((low, high)) = sql_range(from, to_exclusive) else {
            return Ok(Vec::new());
        };
        self.conn
            .prepare_cached(
                "SELECT term, payload FROM log WHERE idx BETWEEN ?1 AND ?2 ORDER BY idx",
            )
            .and_then(|mut stmt| stmt.query_map([low, high], entry_from_row)?.collect())
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn slot(&self, slot: u64) -> Result<Option<Vec<u8>>> {
        let Ok(slot) = i64::try_from(slot) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT value FROM slots WHERE slot = ?1")
            .and_then(|mut stmt| stmt.query_row([slot], |row| row.get(0)).optional())
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn slot_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let Some((low, high)) = sql_range(from, to_exclusive) else {
            return Ok(Vec::new());
        };
        self.conn
            .prepare_cached(
                "SELECT slot, value FROM slots WHERE slot BETWEEN ?1 AND ?2 ORDER BY slot",
            )
            .and_then(|mut stmt| {
                stmt.query_map([low, high], |row| {
                    Ok((index_from_sql(row.get(0)?), row.get(1)?))
                })?
                .collect()
            })
            .map_err(sqlite_error(&self.path))
    }
}

/// The log's bounds: its first index (the one row of `log_start`) and its largest.
fn read_bounds(conn: &Connection) -> rusqlite::Result<LogBounds> {
    let first: i64 = conn
        .prepare_cached("SELECT idx FROM log_start")?
        .query_row([], |row| row.get(0))?;
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(idx) FROM log")?
        .query_row([], |row| row.get(0))?;
    Ok(LogBounds::new(
        index_from_sql(first).max(1),
        max.map(index_from_sql),
    ))
}

/// Applies one operation that [`batch::check`] has accepted, inside `tx`.
fn apply(tx: &Connection, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::Put { key, value } => {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        }
        Op::Append { first, entries } => {
            tx.prepare_cached("DELETE FROM log WHERE idx >= ?1")?
                .execute([clamped_index(*first)])?;
            let mut insert =
                tx.prepare_cached("INSERT INTO log (idx, term, payload) VALUES (?1, ?2, ?3)")?;
            for (index, entry) in (*first..).zip(entries) {
                insert.execute(params![
                    clamped_index(index),
                    term_to_sql(entry.term),
                    &entry.payload[..]
                ])?;
            }
        }
        Op::Truncate { from } => {
            // No stored index is above MAX_INDEX: truncating from there deletes nothing,
            // as in memory.
            if *from <= MAX_INDEX {
                tx.prepare_cached("DELETE FROM log WHERE idx >= ?1")?
                    .execute([clamped_index(*from)])?;
            }
        }
        Op::Compact { through } => {
            let through = clamped_index(*through);
            tx.prepare_cached("DELETE FROM log WHERE idx <= ?1")?
                .execute([through])?;
            // The start moves forward only: compacting what is already compacted
            // changes nothing.
            tx.prepare_cached("UPDATE log_start SET idx = ?1 + 1 WHERE idx <= ?1")?
                .execute([through])?;
        }
        Op::PutSlot { slot, value } => {
            tx.prepare_cached(
                "INSERT INTO slots (slot, value) VALUES (?1, ?2)
                 ON CONFLICT (slot) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![clamped_index(*slot), value])?;
        }
        Op::DeleteSlots { from, to_exclusive } => {
            if let Some((low, high)) = sql_range(*from, *to_exclusive) {
                tx.prepare_cached("DELETE FROM slots WHERE slot BETWEEN ?1 AND ?2")?
                    .execute([low, high])?;
            }
        }
    }
    Ok(())
}

/// A log row `(term, payload)` as a [`LogEntry`].
fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogEntry> {
    Ok(LogEntry {
        term: term_from_sql(row.get(0)?),
        payload: row.get::<_, Arc<[u8]>>(1)?,
    })
}

/// A term as SQLite's signed 64-bit integer: the same 64 bits, so every `u64`
/// round-trips through [`term_from_sql`].
fn term_to_sql(term: u64) -> i64 {
    i64::from_ne_bytes(term.to_ne_bytes())
}

/// The term a `term` column holds (see [`term_to_sql`]).
fn term_from_sql(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

/// An index or slot read back from SQLite. Every one was written from a `u64` no
/// larger than `i64::MAX` (a batch that would write a larger one is refused), so it
/// is never negative; 0 stands in for the impossible.
fn index_from_sql(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// `from..to_exclusive` as SQLite's inclusive `BETWEEN low AND high`, or `None` when
/// it holds no index SQLite can store. (An exclusive end can't reach `i64::MAX`
/// itself, so the range is made inclusive before it is clamped.)
fn sql_range(from: u64, to_exclusive: u64) -> Option<(i64, i64)> {
    if from >= to_exclusive || from > MAX_INDEX {
        return None;
    }
    Some((clamped_index(from), clamped_index(to_exclusive - 1)))
}

/// Maps a rusqlite error on the file at `path` to the crate's error.
fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a newly created file's directory entry durable: without this, a power
/// failure soon after creation could lose the whole file, and with it every vote
/// and promise written to it. (Unix only; elsewhere opening a directory fails.)
fn sync_parent_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        fs::File::open(dir)
            .and_then(|handle| handle.sync_all())
            .map_err(|source| Error::io(dir, source))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A log index or slot as SQLite's signed 64-bit integer. No stored index exceeds
/// `i64::MAX` (a batch that would write one is refused), so for comparisons a larger
/// `u64` may stand in as `i64::MAX`.
fn clamped_index(index: u64) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

/// Step 1 of the checks at open: the file starts with SQLite's 16-byte header.
fn check_header(path: &Path) -> Result<()> {
    let mut file = fs::File::open(path).map_err(|source| Error::io(path, source))?;
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    file.by_ref()
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(|source| Error::io(path, source))?;
    if header.is_empty() {
        return Err(damaged(path, "it is empty (0 bytes)"));
    }
    if header != SQLITE_HEADER {
        return Err(damaged(path, "it does not start with SQLite's file header"));
    }
    Ok(())
}

/// A read-only connection that promises SQLite the file cannot change, so SQLite
/// takes no locks and writes nothing: no journal-mode switch, no `-wal`, no `-shm`.
fn open_immutable(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(immutable_uri(path), flags).map_err(|e| refusal(path, e))
}

/// `file:<percent-encoded path>?immutable=1`.
///
/// Every byte but letters, digits, `-._~` and `/` is percent-encoded, so a `?`,
/// `#` or `%` in a directory name can't end the path or start a parameter.
fn immutable_uri(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut uri = String::from("file:");
    if path.is_absolute() {
        // `file:///abs/path`; on Windows `file:///C:/dir/...`.
        uri.push_str("//");
        if !bytes.starts_with(b"/") {
            uri.push('/');
        }
    }
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(char::from(byte))
            }
            b'\\' if cfg!(windows) => uri.push('/'),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Step 2 of the checks at open (and the check after the read-write open): our
/// tables, a schema version this build reads, and this cluster's and node's identity.
/// Returns the schema version: 1 (to be migrated) or 2.
fn check_contents(conn: &Connection, path: &Path, expected: &Identity) -> Result<i64> {
    let has_table = |name: &str| -> Result<bool> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count > 0)
        .map_err(|e| refusal(path, e))
    };
    if !has_table("quorum_schema")? {
        return Err(Error::Storage {
            path: path.to_path_buf(),
            problem: "is a SQLite database but not a Quorum one".to_string(),
            fix: "leave it where it is and choose another --data-dir for Quorum".to_string(),
        });
    }

    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM quorum_schema")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| refusal(path, e))?;
    let version = match versions[..] {
        [version] => version,
        _ => {
            return Err(damaged(
                path,
                &format!("its quorum_schema table has {} rows, not 1", versions.len()),
            ))
        }
    };
    if version > i64::from(SCHEMA_VERSION) {
        return Err(Error::Storage {
            path: path.to_path_buf(),
            problem: format!(
                "was written by a newer Quorum (schema v{version}; this build reads up to \
                 v{SCHEMA_VERSION})"
            ),
            fix: "run a newer build of Quorum, or choose another --data-dir".to_string(),
        });
    }
    if version < 1 {
        return Err(damaged(
            path,
            &format!("it records schema v{version}, which no Quorum writes"),
        ));
    }
    let (tables, log_columns) = layout(version);
    for table in tables {
        if !has_table(table)? {
            return Err(damaged(
                path,
                &format!("it has no {table} table, which schema v{version} requires"),
            ));
        }
    }
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('log') ORDER BY cid")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| refusal(path, e))?;
    if columns != log_columns {
        return Err(damaged(
            path,
            &format!(
                "its log table has the columns ({}), not the ({}) of schema v{version}",
                columns.join(", "),
                log_columns.join(", ")
            ),
        ));
    }
    if version >= 2 {
        let starts: i64 = conn
            .query_row("SELECT count(*) FROM log_start", [], |row| row.get(0))
            .map_err(|e| refusal(path, e))?;
        if starts != 1 {
            return Err(damaged(
                path,
                &format!("its log_start table has {starts} rows, not 1"),
            ));
        }
    }

    let identities: Vec<(String, i64)> = conn
        .prepare("SELECT cluster_id, node_id FROM quorum_identity")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(|e| refusal(path, e))?;
    let (cluster_id, node_id) = match &identities[..] {
        [(cluster_id, node_id)] => (cluster_id, *node_id),
        _ => {
            return Err(damaged(
                path,
                &format!(
                    "its quorum_identity table has {} rows, not 1",
                    identities.len()
                ),
            ))
        }
    };
    if cluster_id != expected.cluster_id {
        return Err(Error::Storage {
            path: path.to_path_buf(),
            problem: format!(
                "belongs to cluster '{cluster_id}', not '{}'",
                expected.cluster_id
            ),
            fix: "give each cluster its own fresh --data-dir".to_string(),
        });
    }
    if node_id != i64::from(expected.node.0) {
        // A node id that does not fit a NodeId is printed as the raw number.
        let holder = u32::try_from(node_id)
            .map(|id| NodeId(id).to_string())
            .unwrap_or_else(|_| format!("node {node_id}"));
        return Err(Error::Storage {
            path: path.to_path_buf(),
            problem: format!("holds {holder}'s state, not {}'s", expected.node),
            fix: format!(
                "each node keeps its own file, n<id>.db; don't copy or rename them between \
                 nodes (move this one aside, or open it as {holder})"
            ),
        });
    }
    Ok(version)
}

/// The check a schema-v1 file passes before it is migrated: every log row holds at
/// least the 8 bytes of the term the migration splits out of it.
fn check_v1_log(conn: &Connection, path: &Path) -> Result<()> {
    let short: Option<(i64, i64)> = conn
        .query_row(
            "SELECT idx, length(entry) FROM log WHERE length(entry) < 8 ORDER BY idx LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|e| refusal(path, e))?;
    match short {
        Some((index, len)) => Err(short_v1_row(path, index, usize::try_from(len).unwrap_or(0))),
        None => Ok(()),
    }
}

/// The refusal to migrate a v1 file whose log row at `index` is `len` bytes long.
fn short_v1_row(path: &Path, index: i64, len: usize) -> Error {
    Error::Storage {
        path: path.to_path_buf(),
        problem: format!(
            "is a schema-v1 database that can't be migrated to v{SCHEMA_VERSION}: its log \
             entry at index {index} holds {len} bytes, fewer than the 8 bytes of the term \
             every v1 entry starts with"
        ),
        fix: "the file was left unchanged; that entry was not written by Quorum's Raft, so \
              move the file (and any -wal and -shm files beside it) aside to keep it, and \
              start this node with an empty --data-dir"
            .to_string(),
    }
}

/// The refusal for a file that is not a readable Quorum database; `detail` says why.
fn damaged(path: &Path, detail: &str) -> Error {
    Error::Storage {
        path: path.to_path_buf(),
        problem: format!("is not a Quorum database (damaged, or some other file): {detail}"),
        fix: "move it (and any -wal and -shm files beside it) somewhere else to keep it, or \
              choose another --data-dir; Quorum never deletes a database"
            .to_string(),
    }
}

/// Maps an error met while opening or checking a file: SQLite's "corrupt" and "not a
/// database" become the damaged-file refusal, anything else stays a SQLite error.
fn refusal(path: &Path, source: rusqlite::Error) -> Error {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            damaged(path, &format!("SQLite says: {source}"))
        }
        _ => Error::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_uses_the_wal_and_syncs_every_commit() {
        /// Removes the test's directory even when an assertion fails.
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("quorum-sqlite-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let _cleanup = Cleanup(dir.clone());

        let store = SqliteStore::open(&dir.join("n1.db"), "unit", NodeId(1)).unwrap();
        let pragma = |name: &str| -> String {
            store
                .conn
                .pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
                .map(|value| format!("{value:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        assert_eq!(pragma("synchronous"), "Integer(2)", "2 is FULL");
        assert_ne!(pragma("busy_timeout"), "Integer(0)");
    }

    #[test]
    fn the_immutable_uri_escapes_everything_that_could_end_the_path() {
        let uri = immutable_uri(Path::new("/tmp/a b/we?ird#%/n1.db"));
        assert_eq!(uri, "file:///tmp/a%20b/we%3Fird%23%25/n1.db?immutable=1");
        assert_eq!(
            immutable_uri(Path::new("data/n2.db")),
            "file:data/n2.db?immutable=1"
        );
    }
}
