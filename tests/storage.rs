//! Stable storage: what a node writes survives it, and a database that is not this
//! node's is refused without being touched.
//!
//! Most scenarios run on both backends (`memory::…` and `sqlite::…`); the refusals
//! at open are SQLite's alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use quorum::runtime::NodeId;
use quorum::storage::{Location, Storage};
use quorum::Error;

// ---------------------------------------------------------------------------------
// Harness: a scratch directory per test, and a location per backend.
// ---------------------------------------------------------------------------------

/// A fresh directory under the system's temp dir, removed when dropped.
struct TestDir {
    path: PathBuf,
}

impl TestDir {
    fn new(test: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "quorum-storage-test-{}-{test}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create the test directory");
        TestDir { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// One node's storage location, with the directory (if any) that holds it.
struct Fixture {
    location: Location,
    _dir: Option<TestDir>,
}

impl Fixture {
    fn memory() -> Fixture {
        Fixture {
            location: Location::memory(),
            _dir: None,
        }
    }

    fn sqlite(test: &str) -> Fixture {
        let dir = TestDir::new(test);
        Fixture {
            location: Location::sqlite(&dir.path, "test-cluster", NodeId(1)),
            _dir: Some(dir),
        }
    }

    fn open(&self) -> Storage {
        self.location.open().expect("open storage")
    }
}

/// Runs each named scenario once per backend, as `memory::name` and `sqlite::name`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $scenario() { super::$scenario(&super::Fixture::memory()); } )*
        }
        mod sqlite {
            $( #[test] fn $scenario() {
                super::$scenario(&super::Fixture::sqlite(stringify!($scenario)));
            } )*
        }
    };
}

on_both_backends!(
    a_value_reads_back_and_an_overwrite_replaces_it,
    numbers_round_trip_as_eight_big_endian_bytes,
    a_value_of_the_wrong_length_is_not_a_number,
    put_all_writes_every_pair,
    the_log_grows_at_contiguous_indexes,
    append_log_replaces_the_suffix_from_its_first_index,
    truncate_log_deletes_from_an_index_on,
    log_range_is_clamped_to_the_log,
    append_log_refuses_to_leave_a_gap,
    a_restarted_node_sees_everything_it_wrote,
    a_second_handle_sees_the_first_ones_writes,
);

fn vecs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|item| item.as_bytes().to_vec()).collect()
}

fn log_of(storage: &Storage) -> Vec<Vec<u8>> {
    let last = storage.last_log_index().unwrap();
    storage.log_range(1, last + 1).unwrap()
}

// ---------------------------------------------------------------------------------
// Named values
// ---------------------------------------------------------------------------------

fn a_value_reads_back_and_an_overwrite_replaces_it(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.get("voted_for").unwrap(), None);

    storage.put("voted_for", b"n2").unwrap();
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n2".to_vec()));

    storage.put("voted_for", b"n3").unwrap();
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n3".to_vec()));

    storage.put("empty", b"").unwrap();
    assert_eq!(storage.get("empty").unwrap(), Some(Vec::new()));
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n3".to_vec()));
}

fn numbers_round_trip_as_eight_big_endian_bytes(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.get_u64("current_term").unwrap(), None);

    for term in [0, 1, 7, u64::from(u32::MAX) + 1, u64::MAX] {
        storage.put_u64("current_term", term).unwrap();
        assert_eq!(storage.get_u64("current_term").unwrap(), Some(term));
    }
    storage
        .put_u64("current_term", 0x0102_0304_0506_0708)
        .unwrap();
    assert_eq!(
        storage.get("current_term").unwrap(),
        Some(vec![1, 2, 3, 4, 5, 6, 7, 8])
    );
}

fn a_value_of_the_wrong_length_is_not_a_number(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.put("current_term", b"seven").unwrap();
    let err = storage.get_u64("current_term").unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("'current_term'"), "{message}");
    assert!(message.contains("5 bytes"), "{message}");
    assert!(message.contains(&storage.describe()), "{message}");
}

fn put_all_writes_every_pair(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.put("voted_for", b"old").unwrap();
    storage
        .put_all(&[
            ("current_term", &8u64.to_be_bytes()),
            ("voted_for", b"n2"),
            ("note", b"first"),
            ("note", b"second"),
        ])
        .unwrap();
    assert_eq!(storage.get_u64("current_term").unwrap(), Some(8));
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n2".to_vec()));
    assert_eq!(
        storage.get("note").unwrap(),
        Some(b"second".to_vec()),
        "a key given twice keeps the later value"
    );
    storage.put_all(&[]).unwrap();
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n2".to_vec()));
}

// ---------------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------------

fn the_log_grows_at_contiguous_indexes(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.last_log_index().unwrap(), 0);
    assert_eq!(storage.log_entry(1).unwrap(), None);

    storage.append_log(1, &vecs(&["a", "b"])).unwrap();
    storage.append_log(3, &vecs(&["c"])).unwrap();

    assert_eq!(storage.last_log_index().unwrap(), 3);
    assert_eq!(storage.log_entry(1).unwrap(), Some(b"a".to_vec()));
    assert_eq!(storage.log_entry(3).unwrap(), Some(b"c".to_vec()));
    assert_eq!(storage.log_entry(4).unwrap(), None);
    assert_eq!(log_of(&storage), vecs(&["a", "b", "c"]));
}

/// Raft Figure 2, AppendEntries step 3: "If an existing entry conflicts with a new
/// one ..., delete the existing entry and all that follow it".
fn append_log_replaces_the_suffix_from_its_first_index(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b", "c", "d"])).unwrap();

    storage.append_log(2, &vecs(&["B"])).unwrap();
    assert_eq!(storage.last_log_index().unwrap(), 2, "c and d are gone");
    assert_eq!(log_of(&storage), vecs(&["a", "B"]));
    assert_eq!(storage.log_entry(3).unwrap(), None);

    storage.append_log(2, &vecs(&["x", "y", "z"])).unwrap();
    assert_eq!(log_of(&storage), vecs(&["a", "x", "y", "z"]));

    storage.append_log(3, &[]).unwrap();
    assert_eq!(
        log_of(&storage),
        vecs(&["a", "x"]),
        "no entries: a truncate"
    );
}

fn truncate_log_deletes_from_an_index_on(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b", "c"])).unwrap();

    storage.truncate_log(10).unwrap();
    assert_eq!(
        log_of(&storage),
        vecs(&["a", "b", "c"]),
        "past the end: no-op"
    );

    storage.truncate_log(3).unwrap();
    assert_eq!(log_of(&storage), vecs(&["a", "b"]));

    storage.truncate_log(1).unwrap();
    assert_eq!(storage.last_log_index().unwrap(), 0);
    assert_eq!(storage.log_entry(1).unwrap(), None);

    storage.append_log(1, &vecs(&["again"])).unwrap();
    storage.truncate_log(0).unwrap();
    assert_eq!(storage.last_log_index().unwrap(), 0, "0 deletes everything");
}

fn log_range_is_clamped_to_the_log(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b", "c", "d"])).unwrap();

    assert_eq!(storage.log_range(2, 4).unwrap(), vecs(&["b", "c"]));
    assert_eq!(
        storage.log_range(0, 2).unwrap(),
        vecs(&["a"]),
        "index 0 holds nothing"
    );
    assert_eq!(storage.log_range(3, 99).unwrap(), vecs(&["c", "d"]));
    assert_eq!(storage.log_range(1, u64::MAX).unwrap().len(), 4);
    assert_eq!(storage.log_range(3, 3).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(storage.log_range(4, 2).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(storage.log_range(5, 9).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(storage.log_entry(0).unwrap(), None);
    assert_eq!(storage.log_entry(u64::MAX).unwrap(), None);
}

fn append_log_refuses_to_leave_a_gap(fixture: &Fixture) {
    let mut storage = fixture.open();

    let err = storage.append_log(2, &vecs(&["a"])).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("index 2") && message.contains("index 0"),
        "{message}"
    );

    let err = storage.append_log(0, &vecs(&["a"])).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");

    storage.append_log(1, &vecs(&["a", "b"])).unwrap();
    let err = storage.append_log(4, &vecs(&["d"])).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("index 4") && message.contains("index 2"),
        "{message}"
    );
    assert_eq!(
        log_of(&storage),
        vecs(&["a", "b"]),
        "a refused append writes nothing"
    );

    storage.append_log(3, &vecs(&["c"])).unwrap();
    assert_eq!(storage.last_log_index().unwrap(), 3);
}

// ---------------------------------------------------------------------------------
// Crash and restart
// ---------------------------------------------------------------------------------

/// The crash-restart property: the node struct (and its handle) is dropped, the
/// runtime opens the same location again, and every write is still there.
fn a_restarted_node_sees_everything_it_wrote(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.put_u64("current_term", 4).unwrap();
    storage.put("voted_for", b"n3").unwrap();
    storage.append_log(1, &vecs(&["a", "b", "c"])).unwrap();
    storage.append_log(3, &vecs(&["C", "d"])).unwrap();
    drop(storage);

    let mut storage = fixture.open();
    assert_eq!(storage.get_u64("current_term").unwrap(), Some(4));
    assert_eq!(storage.get("voted_for").unwrap(), Some(b"n3".to_vec()));
    assert_eq!(storage.last_log_index().unwrap(), 4);
    assert_eq!(log_of(&storage), vecs(&["a", "b", "C", "d"]));

    // And the restarted node goes on writing where it left off.
    storage.put_u64("current_term", 5).unwrap();
    storage.truncate_log(4).unwrap();
    drop(storage);
    let storage = fixture.open();
    assert_eq!(storage.get_u64("current_term").unwrap(), Some(5));
    assert_eq!(log_of(&storage), vecs(&["a", "b", "C"]));
}

fn a_second_handle_sees_the_first_ones_writes(fixture: &Fixture) {
    let mut first = fixture.open();
    let second = fixture.open();
    first.put("voted_for", b"n1").unwrap();
    first.append_log(1, &vecs(&["a"])).unwrap();
    assert_eq!(second.get("voted_for").unwrap(), Some(b"n1".to_vec()));
    assert_eq!(second.last_log_index().unwrap(), 1);
}

// ---------------------------------------------------------------------------------
// Memory only
// ---------------------------------------------------------------------------------

#[test]
fn memory_describes_itself_as_memory() {
    assert_eq!(Location::memory().open().unwrap().describe(), "memory");
}

#[test]
fn a_clone_of_a_memory_location_shares_its_data() {
    let location = Location::memory();
    let clone = location.clone();
    location.open().unwrap().put("k", b"v").unwrap();
    assert_eq!(clone.open().unwrap().get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_forked_memory_location_is_independent() {
    let original = Location::memory();
    let mut storage = original.open().unwrap();
    storage.put_u64("current_term", 1).unwrap();
    storage.append_log(1, &vecs(&["a"])).unwrap();

    let fork = original.fork().unwrap();
    let mut forked = fork.open().unwrap();
    assert_eq!(forked.get_u64("current_term").unwrap(), Some(1), "a copy");
    assert_eq!(log_of(&forked), vecs(&["a"]));

    forked.put_u64("current_term", 2).unwrap();
    forked.append_log(2, &vecs(&["fork"])).unwrap();
    storage.append_log(2, &vecs(&["original"])).unwrap();
    storage.put("only_in_original", b"x").unwrap();

    let storage = original.open().unwrap();
    let forked = fork.open().unwrap();
    assert_eq!(storage.get_u64("current_term").unwrap(), Some(1));
    assert_eq!(forked.get_u64("current_term").unwrap(), Some(2));
    assert_eq!(log_of(&storage), vecs(&["a", "original"]));
    assert_eq!(log_of(&forked), vecs(&["a", "fork"]));
    assert_eq!(forked.get("only_in_original").unwrap(), None);
}

#[test]
fn a_sqlite_location_cannot_be_forked() {
    let location = Location::sqlite(Path::new("/nonexistent/data"), "c", NodeId(1));
    let err = location.fork().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("can't be forked"), "{err}");
    assert!(
        !Path::new("/nonexistent/data").exists(),
        "fork touched the disk"
    );
}

// ---------------------------------------------------------------------------------
// SQLite: layout, creation, durability
// ---------------------------------------------------------------------------------

fn sqlite_path(location: &Location) -> PathBuf {
    match location {
        Location::Sqlite { path, .. } => path.clone(),
        Location::Memory(_) => panic!("not a SQLite location"),
    }
}

#[test]
fn each_node_has_its_own_file_named_after_it_created_at_first_open() {
    let dir = TestDir::new("layout");
    let data_dir = dir.path.join("missing").join("data");
    let location = Location::sqlite(&data_dir, "layout", NodeId(3));
    let path = sqlite_path(&location);
    assert_eq!(path, data_dir.join("n3.db"));
    assert!(
        !data_dir.exists(),
        "Location::sqlite must not touch the disk"
    );

    let storage = location.open().unwrap();
    assert!(path.is_file(), "open creates the directory and the file");
    assert_eq!(storage.describe(), path.display().to_string());
    drop(storage);

    let db = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = db
        .query_row("SELECT version FROM quorum_schema", [], |row| row.get(0))
        .unwrap();
    let identity: (String, i64) = db
        .query_row(
            "SELECT cluster_id, node_id FROM quorum_identity",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, i64::from(quorum::storage::SCHEMA_VERSION));
    assert_eq!(identity, ("layout".to_string(), 3));
}

#[test]
fn a_data_dir_that_cannot_be_created_is_an_io_error_naming_it() {
    let dir = TestDir::new("blocked");
    let blocker = dir.path.join("a-file");
    fs::write(&blocker, b"not a directory").unwrap();
    let data_dir = blocker.join("data");

    let err = Location::sqlite(&data_dir, "c", NodeId(1))
        .open()
        .err()
        .unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&data_dir.display().to_string()),
        "{err}"
    );
}

/// The threaded runtime opens a node's storage and hands it to the node's thread.
#[test]
fn a_handle_moves_to_a_node_thread_and_its_writes_outlive_it() {
    let fixture = Fixture::sqlite("thread");
    let location = fixture.location.clone();
    let node_thread = std::thread::spawn(move || {
        let mut storage = location.open().unwrap();
        storage.put_u64("incarnation", 1).unwrap();
        storage
            .append_log(1, &vecs(&["from the node thread"]))
            .unwrap();
    });
    node_thread.join().expect("node thread");
    let storage = fixture.open();
    assert_eq!(storage.get_u64("incarnation").unwrap(), Some(1));
    assert_eq!(log_of(&storage), vecs(&["from the node thread"]));
}

/// A real crash (kill -9, power loss) leaves the file as the last fsync left it:
/// the newest commits in `n1.db-wal`, not yet copied into `n1.db`. Copying both
/// files while the node still has them open is exactly such a disk image; opening
/// the copy must replay the WAL and find every write, and the checks at open
/// (which read `n1.db` alone) must accept it.
#[test]
fn a_crash_image_with_commits_still_in_the_wal_loses_nothing() {
    let dir = TestDir::new("crash-image");
    let live = Location::sqlite(&dir.path.join("live"), "crash", NodeId(1));
    let mut storage = live.open().unwrap();
    storage.put_u64("current_term", 9).unwrap();
    storage.put("voted_for", b"n2").unwrap();
    storage.append_log(1, &vecs(&["a", "b"])).unwrap();

    let image_dir = dir.path.join("image");
    fs::create_dir_all(&image_dir).unwrap();
    let live_path = sqlite_path(&live);
    let live_wal = sibling(&live_path, "-wal");
    assert!(
        fs::metadata(&live_wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "the scenario needs commits in the WAL"
    );
    fs::copy(&live_path, image_dir.join("n1.db")).unwrap();
    fs::copy(&live_wal, image_dir.join("n1.db-wal")).unwrap();

    let image = Location::sqlite(&image_dir, "crash", NodeId(1));
    let restarted = image.open().unwrap();
    assert_eq!(restarted.get_u64("current_term").unwrap(), Some(9));
    assert_eq!(restarted.get("voted_for").unwrap(), Some(b"n2".to_vec()));
    assert_eq!(log_of(&restarted), vecs(&["a", "b"]));
    drop(storage);
}

/// A directory name full of characters that mean something in a URI: the
/// read-only check at open must still read this file, and no other.
#[test]
fn a_data_dir_with_uri_characters_in_its_name_reopens() {
    let dir = TestDir::new("uri");
    let data_dir = dir.path.join("what? #1 100%41 &mode=rw");
    let location = Location::sqlite(&data_dir, "uri", NodeId(1));
    location.open().unwrap().put("k", b"v").unwrap();

    let storage = location.open().unwrap();
    assert_eq!(storage.get("k").unwrap(), Some(b"v".to_vec()));
    drop(storage);

    // And a refusal there reads the right file too.
    let foreign = Location::sqlite(&data_dir, "other", NodeId(1));
    let err = foreign.open().err().unwrap();
    assert!(
        err.to_string().contains("belongs to cluster 'uri'"),
        "{err}"
    );
}

/// "One transaction" observed: a test-only trigger makes SQLite refuse the last
/// pair, and the earlier pairs of the batch must not be there either.
#[test]
fn a_failed_put_all_writes_nothing() {
    let fixture = Fixture::sqlite("put-all-atomic");
    fixture.open().put("a", b"before").unwrap();
    refuse_inserts(&fixture.location, "meta", "NEW.key = 'poison'");

    let mut storage = fixture.open();
    let err = storage
        .put_all(&[("a", b"after"), ("b", b"new"), ("poison", b"x")])
        .unwrap_err();
    assert!(matches!(err, Error::Sqlite { .. }), "{err:?}");
    assert_eq!(storage.get("a").unwrap(), Some(b"before".to_vec()));
    assert_eq!(storage.get("b").unwrap(), None);
    drop(storage);
    assert_eq!(fixture.open().get("b").unwrap(), None);
}

/// The delete of the old suffix and the writes of the new entries are one
/// transaction: when a write fails, the old suffix is still there.
#[test]
fn a_failed_append_log_keeps_the_old_suffix() {
    let fixture = Fixture::sqlite("append-atomic");
    fixture
        .open()
        .append_log(1, &vecs(&["a", "b", "c"]))
        .unwrap();
    refuse_inserts(&fixture.location, "log", "NEW.idx = 3");

    let mut storage = fixture.open();
    let err = storage.append_log(2, &vecs(&["B", "C"])).unwrap_err();
    assert!(matches!(err, Error::Sqlite { .. }), "{err:?}");
    assert_eq!(log_of(&storage), vecs(&["a", "b", "c"]));
}

/// Adds a trigger that makes SQLite abort any insert into `table` when `condition`.
fn refuse_inserts(location: &Location, table: &str, condition: &str) {
    let db = rusqlite::Connection::open(sqlite_path(location)).unwrap();
    db.execute_batch(&format!(
        "CREATE TRIGGER test_refuse BEFORE INSERT ON {table} WHEN {condition}
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
    ))
    .unwrap();
}

// ---------------------------------------------------------------------------------
// SQLite: refusals at open. Each one names the file, says what is wrong, and
// leaves the file exactly as it was, with no -wal or -shm file created beside it.
// ---------------------------------------------------------------------------------

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `location`, expecting a refusal containing `phrase`, and checks that the
/// file and its `-wal`/`-shm` siblings are exactly as they were before.
fn assert_refused_untouched(location: &Location, phrase: &str) -> String {
    let path = sqlite_path(location);
    let bytes_before = fs::read(&path).unwrap();
    let siblings_before = [sibling(&path, "-wal"), sibling(&path, "-shm")].map(|p| p.exists());

    let err = match location.open() {
        Ok(_) => panic!("{} was opened but should have been refused", path.display()),
        Err(err) => err,
    };
    let message = err.to_string();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(phrase),
        "expected '{phrase}' in: {message}"
    );

    assert!(
        fs::read(&path).unwrap() == bytes_before,
        "{} changed",
        path.display()
    );
    let siblings_after = [sibling(&path, "-wal"), sibling(&path, "-shm")].map(|p| p.exists());
    assert_eq!(
        siblings_after, siblings_before,
        "-wal/-shm existence changed"
    );
    message
}

/// Node `node`'s database for `cluster`, in `dir`, as a crash left it: its newest
/// commits still in the `-wal` beside it. An open that wrote anything, or merely
/// opened it read-write and closed it (SQLite then checkpoints the WAL into the
/// main file), would change both files, so a refusal of it shows the checks read
/// without touching. `prepare` may change the live database first.
fn crashed_node_db(
    dir: &Path,
    cluster: &str,
    node: NodeId,
    prepare: impl FnOnce(&rusqlite::Connection),
) -> Location {
    let live = Location::sqlite(&dir.join("live"), cluster, node);
    let mut storage = live.open().unwrap();
    storage.put_u64("current_term", 3).unwrap();
    drop(storage);

    let live_path = sqlite_path(&live);
    let db = rusqlite::Connection::open(&live_path).unwrap();
    prepare(&db);
    drop(db);
    let db = rusqlite::Connection::open(&live_path).unwrap();
    db.execute(
        "INSERT INTO log (idx, entry) VALUES (1, ?1)",
        [b"in the wal".as_slice()],
    )
    .unwrap();

    let image = Location::sqlite(dir, cluster, node);
    let image_path = sqlite_path(&image);
    fs::copy(&live_path, &image_path).unwrap();
    fs::copy(sibling(&live_path, "-wal"), sibling(&image_path, "-wal")).unwrap();
    assert!(fs::metadata(sibling(&image_path, "-wal")).unwrap().len() > 0);
    image
}

#[test]
fn another_clusters_database_is_refused_untouched() {
    let dir = TestDir::new("foreign-cluster");
    let alpha = crashed_node_db(&dir.path, "alpha", NodeId(1), |_| {});
    let beta = Location::sqlite(&dir.path, "beta", NodeId(1));
    let message = assert_refused_untouched(&beta, "belongs to cluster 'alpha', not 'beta'");
    assert!(
        message.contains("--data-dir"),
        "the fix is named: {message}"
    );

    let storage = alpha.open().unwrap();
    assert_eq!(
        storage.get_u64("current_term").unwrap(),
        Some(3),
        "still alpha's"
    );
    assert_eq!(storage.log_entry(1).unwrap(), Some(b"in the wal".to_vec()));
}

#[test]
fn another_nodes_database_is_refused_untouched() {
    let dir = TestDir::new("wrong-node");
    let n2 = crashed_node_db(&dir.path, "c", NodeId(2), |_| {});
    // Someone copies n2's files into n3's place.
    let n3 = Location::sqlite(&dir.path, "c", NodeId(3));
    let (n2_path, n3_path) = (sqlite_path(&n2), sqlite_path(&n3));
    fs::copy(&n2_path, &n3_path).unwrap();
    fs::copy(sibling(&n2_path, "-wal"), sibling(&n3_path, "-wal")).unwrap();
    assert_refused_untouched(&n3, "holds n2's state, not n3's");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = TestDir::new("newer-schema");
    let location = crashed_node_db(&dir.path, "c", NodeId(1), |db| {
        db.execute("UPDATE quorum_schema SET version = 2", [])
            .unwrap();
    });
    let message = assert_refused_untouched(
        &location,
        "was written by a newer Quorum (schema v2; this build reads up to v1)",
    );
    assert!(
        message.contains("newer build"),
        "the fix is named: {message}"
    );
}

/// A newer build that migrated the schema and crashed before a checkpoint leaves
/// the new version only in the `-wal`, which the read-only first check can't see.
/// The second check, through the read-write connection, still refuses.
#[test]
fn a_newer_schema_still_in_the_wal_is_refused() {
    let dir = TestDir::new("newer-in-wal");
    let live = Location::sqlite(&dir.path.join("live"), "c", NodeId(1));
    drop(live.open().unwrap());
    let live_path = sqlite_path(&live);
    let db = rusqlite::Connection::open(&live_path).unwrap();
    db.execute("UPDATE quorum_schema SET version = 2", [])
        .unwrap();

    let image = Location::sqlite(&dir.path, "c", NodeId(1));
    let image_path = sqlite_path(&image);
    fs::copy(&live_path, &image_path).unwrap();
    fs::copy(sibling(&live_path, "-wal"), sibling(&image_path, "-wal")).unwrap();
    drop(db);

    let wal = sibling(&image_path, "-wal");
    let (db_before, wal_before) = (fs::read(&image_path).unwrap(), fs::read(&wal).unwrap());
    let err = image.open().err().unwrap();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(err.to_string().contains("newer Quorum (schema v2"), "{err}");
    assert_eq!(
        fs::read(&image_path).unwrap(),
        db_before,
        "the refused database was changed"
    );
    assert_eq!(
        fs::read(&wal).ok(),
        Some(wal_before),
        "the refused database's -wal was checkpointed or removed"
    );
}

#[test]
fn random_bytes_are_refused_untouched() {
    let dir = TestDir::new("random");
    let location = Location::sqlite(&dir.path, "c", NodeId(1));
    fs::write(sqlite_path(&location), pseudo_random_bytes(4096, 7)).unwrap();
    assert_refused_untouched(
        &location,
        "is not a Quorum database (damaged, or some other file)",
    );
}

/// The right 16-byte header, garbage after it: SQLite itself says it is no database.
#[test]
fn a_damaged_database_is_refused_untouched() {
    let dir = TestDir::new("damaged");
    let location = Location::sqlite(&dir.path, "c", NodeId(1));
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(pseudo_random_bytes(8192, 11));
    fs::write(sqlite_path(&location), bytes).unwrap();
    let message = assert_refused_untouched(
        &location,
        "is not a Quorum database (damaged, or some other file)",
    );
    assert!(message.contains("never deletes"), "{message}");
}

#[test]
fn an_empty_file_is_refused_untouched() {
    let dir = TestDir::new("empty");
    let location = Location::sqlite(&dir.path, "c", NodeId(1));
    fs::write(sqlite_path(&location), b"").unwrap();
    let message = assert_refused_untouched(
        &location,
        "is not a Quorum database (damaged, or some other file)",
    );
    assert!(message.contains("empty"), "{message}");
    assert_eq!(fs::metadata(sqlite_path(&location)).unwrap().len(), 0);
}

#[test]
fn a_sqlite_database_that_is_not_quorums_is_refused_untouched() {
    let dir = TestDir::new("not-quorum");
    let location = Location::sqlite(&dir.path, "c", NodeId(1));
    let db = rusqlite::Connection::open(sqlite_path(&location)).unwrap();
    db.execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
        .unwrap();
    drop(db);
    assert_refused_untouched(&location, "is a SQLite database but not a Quorum one");
}

/// A deterministic byte stream (xorshift64), so a failure replays exactly.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
