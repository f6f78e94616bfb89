//! Stable storage in a SQLite file: one file per node, `<data-dir>/n<id>.db`.
//!
//! Durability settings: the write-ahead log (WAL) journal and `synchronous = FULL`,
//! so every committed transaction has been fsynced to the WAL before `COMMIT`
//! returns. An fsync costs milliseconds, which is why `put_all` and `append_log`
//! exist: many values or entries, one transaction, one fsync.
//!
//! Opening follows one rule: a file that exists is inspected without being changed
//! before anything is allowed to write to it. See [`SqliteStore::open`].

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::SCHEMA_VERSION;
use crate::types::NodeId;
use crate::{Error, Result};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables of schema version 1, created in one transaction with the file.
const CREATE_SCHEMA_V1: &str = "
    CREATE TABLE quorum_schema (version INTEGER NOT NULL);
    CREATE TABLE quorum_identity (cluster_id TEXT NOT NULL, node_id INTEGER NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
";

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
    /// directory) if it does not exist.
    ///
    /// An existing file is checked in two read-only steps before it is opened for
    /// writing, so that a refused file is left byte for byte as it was found, with no
    /// `-wal` or `-shm` file created beside it:
    ///
    /// 1. its first 16 bytes must be SQLite's header (an empty file fails here too:
    ///    we never quietly initialise a file we did not create);
    /// 2. opened with SQLite's `immutable=1` (no locks, no journal, no writes), it
    ///    must hold our tables, a schema version this build understands, and the
    ///    identity of this cluster and node.
    pub(super) fn open(path: &Path, cluster_id: &str, node: NodeId) -> Result<SqliteStore> {
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
        let store = if created {
            let store = SqliteStore::create(path, &identity)?;
            log::debug!("storage: created {}", path.display());
            store
        } else {
            check_header(path)?;
            let snapshot = open_immutable(path)?;
            check_contents(&snapshot, path, &identity)?;
            drop(snapshot);
            log::debug!("storage: opened {}", path.display());
            SqliteStore::connect(path)?
        };
        store.set_durability()?;
        // Check again, through the read-write connection. For an existing file this
        // sees what the immutable snapshot could not: transactions still in a `-wal`
        // (say, a newer build's migration, cut short by a crash before the next
        // checkpoint). For a new file it confirms what we just wrote.
        if let Err(refused) = check_contents(&store.conn, path, &identity) {
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
        tx.execute_batch(CREATE_SCHEMA_V1).map_err(&sqlite)?;
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
    // document them. Each write is one IMMEDIATE transaction (it takes the write
    // lock at BEGIN, so a read inside it can't go stale) or a single statement.

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn put_all(&mut self, pairs: &[(&str, &[u8])]) -> Result<()> {
        let sqlite = sqlite_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sqlite)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .map_err(&sqlite)?;
            for (key, value) in pairs {
                upsert.execute(params![key, value]).map_err(&sqlite)?;
            }
        }
        tx.commit().map_err(&sqlite)
    }

    pub(super) fn last_log_index(&self) -> Result<u64> {
        let last = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(idx), 0) FROM log")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
            .map_err(sqlite_error(&self.path))?;
        // Indexes are written from u64s that fit an i64 (see `sql_index`), so the
        // largest one is never negative.
        Ok(u64::try_from(last).unwrap_or(0))
    }

    pub(super) fn log_range(&self, from: u64, to_exclusive: u64) -> Result<Vec<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .and_then(|mut stmt| {
                stmt.query_map([clamped_index(from), clamped_index(to_exclusive)], |row| {
                    row.get(0)
                })?
                .collect()
            })
            .map_err(sqlite_error(&self.path))
    }

    pub(super) fn append_log(&mut self, first: u64, entries: &[Vec<u8>]) -> Result<()> {
        // The new entries end at index first + len - 1, which must fit SQLite's
        // signed 64-bit integer.
        let past_end = u128::from(first) + entries.len() as u128;
        if past_end > i64::MAX as u128 + 1 {
            return Err(Error::Config(format!(
                "append_log of {} entries at index {first} goes past the largest index \
                 SQLite can store ({})",
                entries.len(),
                i64::MAX
            )));
        }
        let sqlite = sqlite_error(&self.path);
        // IMMEDIATE: take the write lock before reading the last index, so no other
        // connection can change the log between the check and the writes.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&sqlite)?;
        let current_last = tx
            .query_row("SELECT COALESCE(MAX(idx), 0) FROM log", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(&sqlite)?;
        super::check_append(first, u64::try_from(current_last).unwrap_or(0))?;
        tx.execute("DELETE FROM log WHERE idx >= ?1", [clamped_index(first)])
            .map_err(&sqlite)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO log (idx, entry) VALUES (?1, ?2)")
                .map_err(&sqlite)?;
            for (offset, entry) in (0u64..).zip(entries) {
                let index = clamped_index(first + offset);
                insert.execute(params![index, entry]).map_err(&sqlite)?;
            }
        }
        tx.commit().map_err(&sqlite)
    }

    pub(super) fn truncate_log(&mut self, from: u64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM log WHERE idx >= ?1")
            .and_then(|mut stmt| stmt.execute([clamped_index(from)]))
            .map(|_| ())
            .map_err(sqlite_error(&self.path))
    }
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

/// A log index as SQLite's signed 64-bit integer. No stored index exceeds
/// `i64::MAX` (`append_log` refuses to write one), so for comparisons a larger
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
fn check_contents(conn: &Connection, path: &Path, expected: &Identity) -> Result<()> {
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
    for table in ["quorum_identity", "meta", "log"] {
        if !has_table(table)? {
            return Err(damaged(
                path,
                &format!("it has no {table} table, which schema v{version} requires"),
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
    Ok(())
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
