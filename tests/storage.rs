//! Stable storage: what a node writes survives it, and a database that is not this
//! node's is refused without being touched.
//!
//! Most scenarios run on both backends (`memory::…` and `sqlite::…`); the refusals
//! at open, and the migration of schema-v1 files, are SQLite's alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use quorum::raft::{Entry, RaftState};
use quorum::runtime::NodeId;
use quorum::storage::{Batch, Location, LogEntry, Storage};
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
    a_batch_applies_its_operations_in_order,
    an_append_right_after_a_truncate_in_one_batch_is_judged_on_the_shortened_log,
    a_refused_batch_writes_nothing,
    each_entry_keeps_its_term_beside_its_payload,
    compaction_moves_the_first_index_and_survives_a_restart,
    compaction_and_truncation_respect_the_log_bounds,
    slots_are_sparse_and_read_back_in_slot_order,
    slots_past_sqlites_largest_integer_are_refused,
    the_largest_index_behaves_alike_on_both_backends,
);

/// Entries of term 1 whose payloads are `items`.
fn vecs(items: &[&str]) -> Vec<LogEntry> {
    items.iter().map(|item| entry(1, item)).collect()
}

fn entry(term: u64, payload: &str) -> LogEntry {
    LogEntry::new(term, payload.as_bytes())
}

/// The whole log, from its first index to its last.
fn log_of(storage: &Storage) -> Vec<LogEntry> {
    let last = storage.last_log_index().unwrap();
    storage.log_range(1, last + 1).unwrap()
}

/// The log as `(index, term, payload)` triples, the way a reader would write it down.
fn rows_of(storage: &Storage) -> Vec<(u64, u64, String)> {
    let first = storage.first_log_index().unwrap();
    (first..)
        .zip(log_of(storage))
        .map(|(index, e)| {
            (
                index,
                e.term,
                String::from_utf8_lossy(&e.payload).into_owned(),
            )
        })
        .collect()
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
    assert_eq!(storage.log_entry(1).unwrap(), Some(entry(1, "a")));
    assert_eq!(storage.log_entry(3).unwrap(), Some(entry(1, "c")));
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
    assert_eq!(storage.log_range(3, 3).unwrap(), Vec::<LogEntry>::new());
    assert_eq!(storage.log_range(4, 2).unwrap(), Vec::<LogEntry>::new());
    assert_eq!(storage.log_range(5, 9).unwrap(), Vec::<LogEntry>::new());
    assert_eq!(storage.log_entry(0).unwrap(), None);
    assert_eq!(storage.log_entry(u64::MAX).unwrap(), None);
}

fn append_log_refuses_to_leave_a_gap(fixture: &Fixture) {
    let mut storage = fixture.open();

    let err = storage.append_log(2, &vecs(&["a"])).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("index 2") && message.contains("index 0"),
        "{message}"
    );
    assert!(message.contains(&storage.describe()), "{message}");

    let err = storage.append_log(0, &vecs(&["a"])).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(err.to_string().contains("index 0"), "{err}");

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
// Batches, terms, compaction, slots
// ---------------------------------------------------------------------------------

/// Past the largest index SQLite stores, both backends agree: truncating from there
/// deletes nothing, and compacting through the largest index (which would start the
/// log past every index) is refused, naming it, and changes nothing.
fn the_largest_index_behaves_alike_on_both_backends(fixture: &Fixture) {
    let max = i64::MAX as u64;
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b"])).unwrap();
    storage.truncate_log(max.saturating_add(5)).unwrap();
    assert_eq!(
        log_of(&storage),
        vecs(&["a", "b"]),
        "truncating past every index"
    );
    let mut batch = Batch::new();
    batch.compact(max);
    let err = storage.write(&batch).unwrap_err().to_string();
    assert!(err.contains("largest index"), "{err}");
    assert_eq!(
        storage.first_log_index().unwrap(),
        1,
        "a refused compaction changes nothing"
    );
}

/// One handler call's writes: a new term, a vote, a conflicting suffix replaced, and
/// an accepted slot, as one batch.
fn a_batch_applies_its_operations_in_order(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage
        .append_log(1, &[entry(1, "a"), entry(1, "b"), entry(1, "c")])
        .unwrap();

    let mut batch = Batch::new();
    batch
        .put_u64("current_term", 3)
        .put("voted_for", b"n2")
        .append(2, &[entry(3, "B")])
        .put("voted_for", b"n3")
        .put_slot(9, b"nine")
        .append(3, &[entry(3, "C"), entry(3, "D")]);
    assert_eq!(batch.len(), 6);
    storage.write(&batch).unwrap();

    assert_eq!(storage.get_u64("current_term").unwrap(), Some(3));
    assert_eq!(
        storage.get("voted_for").unwrap(),
        Some(b"n3".to_vec()),
        "the later put of a key wins"
    );
    assert_eq!(
        rows_of(&storage),
        [(1, 1, "a"), (2, 3, "B"), (3, 3, "C"), (4, 3, "D")].map(|(i, t, p)| (i, t, p.to_string()))
    );
    assert_eq!(storage.slot(9).unwrap(), Some(b"nine".to_vec()));

    // An empty batch writes nothing, and a cleared batch is empty.
    batch.clear();
    assert!(batch.is_empty());
    storage.write(&batch).unwrap();
    assert_eq!(storage.last_log_index().unwrap(), 4);
}

fn an_append_right_after_a_truncate_in_one_batch_is_judged_on_the_shortened_log(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b", "c", "d"])).unwrap();

    let mut batch = Batch::new();
    batch.truncate(2).append(2, &vecs(&["x"]));
    storage.write(&batch).unwrap();
    assert_eq!(log_of(&storage), vecs(&["a", "x"]));

    // Appending at 3 is fine on the log as it is (it ends at 2), but not after a
    // truncate from 2 in the same batch: that would leave a gap at 2.
    let mut batch = Batch::new();
    batch.truncate(2).append(3, &vecs(&["y"]));
    let err = storage.write(&batch).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("append at index 3"), "{message}");
    assert!(message.contains("ends at index 1"), "{message}");
    assert_eq!(
        log_of(&storage),
        vecs(&["a", "x"]),
        "the truncate did not happen"
    );
}

/// All or nothing: the valid operations before a refused one are not written either.
fn a_refused_batch_writes_nothing(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.put_u64("current_term", 1).unwrap();
    storage.append_log(1, &vecs(&["a", "b"])).unwrap();

    let mut batch = Batch::new();
    batch
        .put_u64("current_term", 2)
        .truncate(2)
        .put_slot(1, b"one")
        .compact(1)
        .append(5, &vecs(&["gap"]));
    let err = storage.write(&batch).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("index 5") && message.contains("ends at index 1"),
        "{message}"
    );
    assert!(
        message.contains("nothing in the batch was written"),
        "{message}"
    );

    assert_eq!(storage.get_u64("current_term").unwrap(), Some(1));
    assert_eq!(log_of(&storage), vecs(&["a", "b"]));
    assert_eq!(storage.first_log_index().unwrap(), 1);
    assert_eq!(storage.slot(1).unwrap(), None);
}

fn each_entry_keeps_its_term_beside_its_payload(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.log_term(1).unwrap(), None);
    let big = u64::MAX - 1;
    storage
        .append_log(1, &[entry(1, "a"), entry(2, ""), entry(big, "c")])
        .unwrap();

    assert_eq!(storage.log_term(1).unwrap(), Some(1));
    assert_eq!(storage.log_term(2).unwrap(), Some(2));
    assert_eq!(
        storage.log_term(3).unwrap(),
        Some(big),
        "every u64 term round-trips"
    );
    assert_eq!(storage.log_term(0).unwrap(), None);
    assert_eq!(storage.log_term(4).unwrap(), None);
    assert_eq!(storage.log_term(u64::MAX).unwrap(), None);
    assert_eq!(storage.log_entry(2).unwrap(), Some(entry(2, "")));
    assert_eq!(
        storage.log_range(2, 4).unwrap(),
        vec![entry(2, ""), entry(big, "c")]
    );
}

/// Log compaction: after `compact(3)` of a log ending at 5, the log holds 4 and 5;
/// after compacting everything it is empty but still knows where it starts, even
/// across a restart, and the next append must go there.
fn compaction_moves_the_first_index_and_survives_a_restart(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.first_log_index().unwrap(), 1);
    assert_eq!(storage.last_log_index().unwrap(), 0);
    storage
        .append_log(1, &vecs(&["a", "b", "c", "d", "e"]))
        .unwrap();

    storage.write(Batch::new().compact(3)).unwrap();
    assert_eq!(storage.first_log_index().unwrap(), 4);
    assert_eq!(storage.last_log_index().unwrap(), 5);
    assert_eq!(storage.log_entry(3).unwrap(), None);
    assert_eq!(storage.log_term(3).unwrap(), None);
    assert_eq!(storage.log_range(1, 99).unwrap(), vecs(&["d", "e"]));
    assert_eq!(rows_of(&storage)[0].0, 4);

    storage.write(Batch::new().compact(5)).unwrap();
    drop(storage);
    let mut storage = fixture.open();
    assert_eq!(storage.first_log_index().unwrap(), 6);
    assert_eq!(storage.last_log_index().unwrap(), 5);
    assert_eq!(log_of(&storage), Vec::<LogEntry>::new());

    let err = storage.append_log(5, &vecs(&["old"])).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("index 5 is below the log's first index, 6"),
        "{err}"
    );
    let err = storage.append_log(7, &vecs(&["gap"])).unwrap_err();
    assert!(
        err.to_string().contains("index 7 would leave a gap"),
        "{err}"
    );
    storage.append_log(6, &vecs(&["f"])).unwrap();
    assert_eq!(rows_of(&storage), vec![(6, 1, "f".to_string())]);
}

fn compaction_and_truncation_respect_the_log_bounds(fixture: &Fixture) {
    let mut storage = fixture.open();
    storage.append_log(1, &vecs(&["a", "b", "c"])).unwrap();

    let err = storage.write(Batch::new().compact(4)).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("compact through index 4") && message.contains("ends at index 3"),
        "{message}"
    );
    assert_eq!(storage.first_log_index().unwrap(), 1);

    storage.write(Batch::new().compact(2)).unwrap();
    storage.write(Batch::new().compact(1)).unwrap();
    assert_eq!(
        storage.first_log_index().unwrap(),
        3,
        "compacting what is compacted does nothing"
    );

    let err = storage.truncate_log(2).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(
        err.to_string().contains("below the log's first index, 3"),
        "{err}"
    );
    storage.truncate_log(3).unwrap();
    assert_eq!(storage.first_log_index().unwrap(), 3);
    assert_eq!(storage.last_log_index().unwrap(), 2, "empty: first - 1");
}

/// A Multi-Paxos acceptor accepts slot 9 before slot 7.
fn slots_are_sparse_and_read_back_in_slot_order(fixture: &Fixture) {
    let mut storage = fixture.open();
    assert_eq!(storage.slot(7).unwrap(), None);
    let mut batch = Batch::new();
    batch
        .put_slot(9, b"nine")
        .put_slot(7, b"seven")
        .put_slot(100, b"hundred")
        .put_slot(0, b"zero");
    storage.write(&batch).unwrap();
    storage.write(Batch::new().put_slot(7, b"SEVEN")).unwrap();

    assert_eq!(storage.slot(8).unwrap(), None);
    assert_eq!(storage.slot(7).unwrap(), Some(b"SEVEN".to_vec()));
    let all = storage.slot_range(0, u64::MAX).unwrap();
    let slots: Vec<u64> = all.iter().map(|(slot, _)| *slot).collect();
    assert_eq!(slots, [0, 7, 9, 100]);
    assert_eq!(
        storage.slot_range(7, 100).unwrap(),
        vec![(7, b"SEVEN".to_vec()), (9, b"nine".to_vec())]
    );
    assert_eq!(storage.slot_range(9, 9).unwrap(), Vec::new());
    assert_eq!(storage.slot_range(50, 8).unwrap(), Vec::new());

    storage.write(Batch::new().delete_slots(1, 100)).unwrap();
    let slots: Vec<u64> = storage
        .slot_range(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|(slot, _)| slot)
        .collect();
    assert_eq!(slots, [0, 100]);
    assert_eq!(
        storage.last_log_index().unwrap(),
        0,
        "slots are not the log"
    );
}

fn slots_past_sqlites_largest_integer_are_refused(fixture: &Fixture) {
    let max = i64::MAX as u64;
    let mut storage = fixture.open();
    storage.write(Batch::new().put_slot(max, b"last")).unwrap();
    assert_eq!(
        storage.slot_range(max, u64::MAX).unwrap(),
        vec![(max, b"last".to_vec())]
    );
    let err = storage
        .write(Batch::new().put_slot(max + 1, b"too far"))
        .unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("slot {}", max + 1)),
        "{err}"
    );
    storage
        .write(Batch::new().delete_slots(0, u64::MAX))
        .unwrap();
    assert_eq!(
        storage.slot(max).unwrap(),
        None,
        "u64::MAX reaches the last slot"
    );
    // (A log can only grow one entry at a time from 1, so no test can bring one near
    // i64::MAX; the check for appends is unit-tested in `storage::batch`.)
    assert_eq!(storage.log_range(max, u64::MAX).unwrap(), Vec::new());
    assert_eq!(storage.log_entry(max + 1).unwrap(), None);
}

// ---------------------------------------------------------------------------------
// Memory only
// ---------------------------------------------------------------------------------

/// Payloads are shared, not copied: what a reader gets back is the very allocation
/// the writer handed in.
#[test]
fn memory_shares_payloads_instead_of_copying_them() {
    let mut storage = Location::memory().open().unwrap();
    let payload: Arc<[u8]> = Arc::from(vec![7u8; 1000]);
    let written = LogEntry {
        term: 1,
        payload: payload.clone(),
    };
    storage.append_log(1, &[written]).unwrap();
    let read = storage.log_entry(1).unwrap().unwrap();
    assert!(Arc::ptr_eq(&read.payload, &payload));
    assert!(Arc::ptr_eq(
        &storage.log_range(1, 2).unwrap()[0].payload,
        &payload
    ));
}

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
    drop(db);
    let image = read_image(&path).unwrap();
    assert_eq!(image.version, 2, "a new file is written in schema v2");
    assert!(image.rows.is_empty() && image.meta.is_empty());
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

/// A batch that SQLite refuses halfway (its last operation) leaves everything the
/// earlier operations did undone: the named values, the log, its start, the slots.
#[test]
fn a_batch_that_fails_midway_writes_nothing() {
    let fixture = Fixture::sqlite("batch-atomic");
    let mut storage = fixture.open();
    storage.put_u64("current_term", 1).unwrap();
    storage.append_log(1, &vecs(&["a", "b", "c"])).unwrap();
    storage.write(Batch::new().put_slot(1, b"one")).unwrap();
    drop(storage);
    refuse_inserts(&fixture.location, "slots", "NEW.slot = 13");

    let mut storage = fixture.open();
    let mut batch = Batch::new();
    batch
        .put_u64("current_term", 2)
        .compact(1)
        .append(3, &[entry(2, "C"), entry(2, "D")])
        .delete_slots(0, 10)
        .put_slot(13, b"refused");
    let err = storage.write(&batch).unwrap_err();
    assert!(matches!(err, Error::Sqlite { .. }), "{err:?}");
    drop(storage);

    let storage = fixture.open();
    assert_eq!(storage.get_u64("current_term").unwrap(), Some(1));
    assert_eq!(storage.first_log_index().unwrap(), 1);
    assert_eq!(log_of(&storage), vecs(&["a", "b", "c"]));
    assert_eq!(storage.slot(1).unwrap(), Some(b"one".to_vec()));
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
        "INSERT INTO log (idx, term, payload) VALUES (1, 4, ?1)",
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
    assert_eq!(storage.log_entry(1).unwrap(), Some(entry(4, "in the wal")));
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
        db.execute("UPDATE quorum_schema SET version = 3", [])
            .unwrap();
    });
    let message = assert_refused_untouched(
        &location,
        "was written by a newer Quorum (schema v3; this build reads up to v2)",
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
    db.execute("UPDATE quorum_schema SET version = 3", [])
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
    assert!(err.to_string().contains("newer Quorum (schema v3"), "{err}");
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

// ---------------------------------------------------------------------------------
// SQLite: schema-v1 files are migrated to v2 when they are opened. The files under
// tests/data/v1/ were written by the release that used schema v1 (their README says
// what each holds); each test works on a copy and never touches them.
// ---------------------------------------------------------------------------------

/// `tests/data/v1/<fixture>/<node>.db`.
fn v1_fixture(fixture: &str, node: NodeId) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/v1")
        .join(fixture)
        .join(format!("{node}.db"))
}

/// What a database holds, read through a plain connection (which replays any
/// `-wal`), with its layout checked to be exactly schema v1's or exactly v2's.
#[derive(Debug, PartialEq)]
struct Image {
    version: i64,
    /// The named values, by key.
    meta: Vec<(String, Vec<u8>)>,
    /// The log as (index, term, payload): v1 rows split as Raft encoded them.
    rows: Vec<(u64, u64, Vec<u8>)>,
}

/// Reads the database at `path`, or says why it is neither a valid v1 file nor a
/// valid v2 file. The connection may change the file (it checkpoints on close):
/// use it on a file no longer needed as it was, or on a copy.
fn read_image(path: &Path) -> Result<Image, String> {
    let db = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    let strings = |sql: &str| -> Result<Vec<String>, String> {
        db.prepare(sql)
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(|e| format!("{sql}: {e}"))
    };
    let tables = strings(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )?;
    let version: i64 = db
        .query_row("SELECT version FROM quorum_schema", [], |row| row.get(0))
        .map_err(|e| format!("no version: {e}"))?;
    let log_columns = strings("SELECT name FROM pragma_table_info('log') ORDER BY cid")?;
    let (want_tables, want_columns): (&[&str], &[&str]) = match version {
        1 => (
            &["log", "meta", "quorum_identity", "quorum_schema"],
            &["idx", "entry"],
        ),
        2 => (
            &[
                "log",
                "log_start",
                "meta",
                "quorum_identity",
                "quorum_schema",
                "slots",
            ],
            &["idx", "term", "payload"],
        ),
        other => return Err(format!("version {other}")),
    };
    if tables != want_tables || log_columns != want_columns {
        return Err(format!(
            "version {version} with tables {tables:?} and log columns {log_columns:?}"
        ));
    }
    let meta = db
        .prepare("SELECT key, value FROM meta ORDER BY key")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| e.to_string())?;
    let rows = if version == 1 {
        let raw: Vec<(i64, Vec<u8>)> = db
            .prepare("SELECT idx, entry FROM log ORDER BY idx")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(|e| e.to_string())?;
        raw.into_iter()
            .map(|(index, entry)| {
                let (term, payload) = entry.split_at(8);
                let term = u64::from_be_bytes(term.try_into().unwrap());
                (index as u64, term, payload.to_vec())
            })
            .collect()
    } else {
        let start: Vec<i64> = db
            .prepare("SELECT idx FROM log_start")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(|e| e.to_string())?;
        let slots: i64 = db
            .query_row("SELECT count(*) FROM slots", [], |row| row.get(0))
            .map_err(|e| e.to_string())?;
        if start != [1] || slots != 0 {
            return Err(format!("v2 with log_start {start:?} and {slots} slots"));
        }
        db.prepare("SELECT idx, term, payload FROM log ORDER BY idx")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)? as u64,
                        row.get::<_, i64>(1)? as u64,
                        row.get(2)?,
                    ))
                })?
                .collect()
            })
            .map_err(|e| e.to_string())?
    };
    Ok(Image {
        version,
        meta,
        rows,
    })
}

/// The schema version of the file at `path`, read without changing it.
fn version_untouched(path: &Path) -> i64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    rusqlite::Connection::open_with_flags(uri, flags)
        .unwrap()
        .query_row("SELECT version FROM quorum_schema", [], |row| row.get(0))
        .unwrap()
}

/// Copies fixture `<fixture>/<node>.db` into a fresh directory and opens it with this
/// build, which migrates it; `check` reads what it must hold. Then the file says
/// version 2 in v2's layout, a reopen reads the same again, and the fixture itself
/// is exactly as it was, with nothing created beside it.
fn migrate_fixture(fixture: &str, cluster: &str, node: NodeId, check: impl Fn(&Storage)) {
    let original = v1_fixture(fixture, node);
    let original_bytes = fs::read(&original).unwrap();
    let dir = TestDir::new(&format!("v1-{fixture}-{node}"));
    let location = Location::sqlite(&dir.path, cluster, node);
    let path = sqlite_path(&location);
    fs::copy(&original, &path).unwrap();
    assert_eq!(version_untouched(&path), 1, "the fixture is a v1 file");
    let v1 = read_image(&dir_copy(&path, &dir.path.join("v1-copy"))).unwrap();

    let storage = location.open().unwrap();
    check(&storage);
    drop(storage);
    let v2 = read_image(&path).unwrap();
    assert_eq!(v2.version, 2, "the file now says version 2");
    assert_eq!(
        (v2.meta, v2.rows),
        (v1.meta, v1.rows),
        "named values kept, log rows split"
    );

    let storage = location.open().unwrap();
    check(&storage);
    drop(storage);

    assert!(
        fs::read(&original).unwrap() == original_bytes,
        "the fixture changed"
    );
    for suffix in ["-wal", "-shm"] {
        assert!(
            !sibling(&original, suffix).exists(),
            "{suffix} beside the fixture"
        );
    }
}

/// Copies the database at `path` and its `-wal` and `-shm` (those that exist) into
/// the directory `to`, as `n1.db`: a disk image. Returns the copy's path.
fn dir_copy(path: &Path, to: &Path) -> PathBuf {
    fs::create_dir_all(to).unwrap();
    let copy = to.join("n1.db");
    fs::copy(path, &copy).unwrap();
    for suffix in ["-wal", "-shm"] {
        if sibling(path, suffix).exists() {
            fs::copy(sibling(path, suffix), sibling(&copy, suffix)).unwrap();
        }
    }
    copy
}

#[test]
fn the_chapter_0_v1_file_keeps_its_incarnation() {
    migrate_fixture("ch00-world", "ch00-world", NodeId(1), |storage| {
        assert_eq!(storage.get_u64("incarnation").unwrap(), Some(1));
    });
}

#[test]
fn the_chapter_1_v1_files_keep_the_acceptors_promise_and_acceptance() {
    let acceptor = br#"{"promised":"1.n2","accepted":["1.n2","v2"]}"#;
    for node in [NodeId(1), NodeId(2)] {
        migrate_fixture("ch01-paxos", "ch01-paxos", node, |storage| {
            assert_eq!(
                storage.get("paxos.acceptor").unwrap(),
                Some(acceptor.to_vec())
            );
            let state = quorum::paxos::acceptor::Acceptor::load(storage).unwrap();
            assert_eq!(state.promised.round, 1);
            assert_eq!(state.promised.node, NodeId(2));
            assert!(state.accepted.is_some());
        });
    }
    migrate_fixture("ch01-paxos", "ch01-paxos", NodeId(2), |storage| {
        assert_eq!(storage.get_u64("paxos.proposer.round").unwrap(), Some(1));
    });
}

#[test]
fn the_chapter_3_v1_files_keep_term_and_vote() {
    for (node, vote) in [(1, 2), (2, 2), (3, 3)] {
        migrate_fixture(
            "ch03-raft-election",
            "ch03-raft-election",
            NodeId(node),
            |storage| {
                let state = RaftState::load(storage).unwrap();
                assert_eq!(state.current_term, 1);
                assert_eq!(state.voted_for, Some(NodeId(vote)));
                assert!(state.log.is_empty());
                assert_eq!(storage.first_log_index().unwrap(), 1);
                assert_eq!(storage.last_log_index().unwrap(), 0);
            },
        );
    }
}

/// v1's log rows were Raft's encoding, the term in 8 big-endian bytes and then the
/// command: after the migration the term is its own column and the command the payload.
#[test]
fn the_raft_log_v1_file_keeps_its_five_entries_with_their_terms() {
    migrate_fixture("raft-log", "v1-fixture", NodeId(1), |storage| {
        assert_eq!(storage.get_u64("raft.current_term").unwrap(), Some(2));
        assert_eq!(storage.first_log_index().unwrap(), 1);
        assert_eq!(storage.last_log_index().unwrap(), 5);
        let terms: Vec<_> = (1..=5).map(|i| storage.log_term(i).unwrap()).collect();
        assert_eq!(terms, [1, 1, 1, 2, 2].map(Some));
        assert_eq!(storage.log_entry(4).unwrap(), Some(entry(2, "cmd4")));
        let state = RaftState::load(storage).unwrap();
        assert_eq!(state.current_term, 2);
        assert_eq!(state.voted_for, Some(NodeId(1)));
        let want: Vec<Entry> = (1..=5u64)
            .map(|i| Entry {
                term: if i <= 3 { 1 } else { 2 },
                command: format!("cmd{i}").into_bytes(),
            })
            .collect();
        assert_eq!(state.log, want);
    });
}

/// A migrated file is a v2 file like any other: it takes batches and keeps them.
#[test]
fn a_migrated_file_goes_on_as_a_v2_file() {
    let dir = TestDir::new("v1-goes-on");
    let location = Location::sqlite(&dir.path, "v1-fixture", NodeId(1));
    fs::copy(v1_fixture("raft-log", NodeId(1)), sqlite_path(&location)).unwrap();
    let mut storage = location.open().unwrap();
    let mut batch = Batch::new();
    batch
        .put_u64("raft.current_term", 3)
        .append(5, &[entry(3, "cmd5'"), entry(3, "cmd6")])
        .compact(2)
        .put_slot(4, b"four");
    storage.write(&batch).unwrap();
    drop(storage);
    let storage = location.open().unwrap();
    assert_eq!(storage.first_log_index().unwrap(), 3);
    assert_eq!(
        rows_of(&storage),
        [
            (3, 1, "cmd3"),
            (4, 2, "cmd4"),
            (5, 3, "cmd5'"),
            (6, 3, "cmd6")
        ]
        .map(|(i, t, p)| (i, t, p.to_string()))
    );
    assert_eq!(storage.slot(4).unwrap(), Some(b"four".to_vec()));
}

/// A v1 row shorter than the 8 bytes of a term can't be split: the file is refused,
/// the row named, and nothing is changed or created.
#[test]
fn a_v1_file_with_a_short_log_row_is_refused_untouched() {
    let dir = TestDir::new("v1-short-row");
    let location = Location::sqlite(&dir.path, "v1-fixture", NodeId(1));
    let path = sqlite_path(&location);
    fs::copy(v1_fixture("raft-log", NodeId(1)), &path).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "INSERT INTO log (idx, entry) VALUES (6, ?1)",
        [b"short".as_slice()],
    )
    .unwrap();
    drop(db); // checkpoints the row into the file and removes the -wal
    assert!(!sibling(&path, "-wal").exists());

    let message = assert_refused_untouched(
        &location,
        "its log entry at index 6 holds 5 bytes, fewer than the 8 bytes of the term",
    );
    assert!(message.contains("schema-v1"), "{message}");
    assert!(
        message.contains("left unchanged"),
        "the fix is named: {message}"
    );
    assert_eq!(version_untouched(&path), 1, "not migrated");
}

/// The same short row, still in the `-wal` of a crashed v1 node: the read-only check
/// can't see it, so the migration checks again, inside its transaction, before it
/// writes anything; the file and its `-wal` are left as they were.
#[test]
fn a_short_v1_row_still_in_the_wal_is_refused_before_anything_is_written() {
    let dir = TestDir::new("v1-short-row-wal");
    let live = dir.path.join("live");
    fs::create_dir_all(&live).unwrap();
    let live_path = live.join("n1.db");
    fs::copy(v1_fixture("raft-log", NodeId(1)), &live_path).unwrap();
    let db = rusqlite::Connection::open(&live_path).unwrap();
    db.execute(
        "INSERT INTO log (idx, entry) VALUES (6, ?1)",
        [b"short".as_slice()],
    )
    .unwrap();
    let image = Location::sqlite(&dir.path, "v1-fixture", NodeId(1));
    let image_path = sqlite_path(&image);
    fs::copy(&live_path, &image_path).unwrap();
    fs::copy(sibling(&live_path, "-wal"), sibling(&image_path, "-wal")).unwrap();
    drop(db);

    let wal = sibling(&image_path, "-wal");
    let (db_before, wal_before) = (fs::read(&image_path).unwrap(), fs::read(&wal).unwrap());
    let err = image.open().err().unwrap();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(err.to_string().contains("index 6 holds 5 bytes"), "{err}");
    assert!(
        fs::read(&image_path).unwrap() == db_before,
        "the database changed"
    );
    assert!(fs::read(&wal).unwrap() == wal_before, "the -wal changed");
    assert_eq!(version_untouched(&image_path), 1);
}

/// A v1 file of another cluster, or of another node, is refused by the identity
/// check before anything else: left as it was, and still a v1 file.
#[test]
fn a_v1_file_of_another_cluster_or_node_is_refused_untouched_and_not_migrated() {
    let dir = TestDir::new("v1-foreign");
    let other_cluster = Location::sqlite(&dir.path, "other", NodeId(1));
    let path = sqlite_path(&other_cluster);
    fs::copy(v1_fixture("ch03-raft-election", NodeId(1)), &path).unwrap();
    assert_refused_untouched(
        &other_cluster,
        "belongs to cluster 'ch03-raft-election', not 'other'",
    );
    assert_eq!(version_untouched(&path), 1, "not migrated");

    // Someone copies n1's v1 file into n2's place.
    let n2 = Location::sqlite(&dir.path, "ch03-raft-election", NodeId(2));
    let n2_path = sqlite_path(&n2);
    fs::copy(v1_fixture("ch03-raft-election", NodeId(1)), &n2_path).unwrap();
    assert_refused_untouched(&n2, "holds n1's state, not n2's");
    assert_eq!(version_untouched(&n2_path), 1, "not migrated");
}

/// The migration's steps, in the order the crash-test hook reports them.
const MIGRATION_STEPS: [&str; 8] = [
    "created log_v2",
    "copied the log rows into log_v2, terms split out",
    "dropped the v1 log table",
    "renamed log_v2 to log",
    "wrote the log start",
    "created the slots table",
    "set the schema version to 2",
    "committed",
];

/// The migration is one transaction, so a crash anywhere inside it is harmless: a
/// disk image taken between any two of its steps is a valid v1 file holding exactly
/// what the file held before (and the next open migrates it), and one taken just
/// after the commit is a valid v2 file holding the same. The log is made large and
/// the page cache tiny, so SQLite spills uncommitted pages into the `-wal` while the
/// transaction is open: the images hold a half-written transaction, not an
/// untouched file.
#[test]
fn a_crash_inside_the_migration_leaves_a_valid_v1_or_v2_file() {
    let dir = TestDir::new("migration-crash");
    let live = Location::sqlite(&dir.path.join("live"), "v1-fixture", NodeId(1));
    let live_path = sqlite_path(&live);
    fs::create_dir_all(live_path.parent().unwrap()).unwrap();
    fs::copy(v1_fixture("raft-log", NodeId(1)), &live_path).unwrap();
    // Grow the fixture's log to 2000 entries, in v1's layout: Raft's encoding.
    let db = rusqlite::Connection::open(&live_path).unwrap();
    db.execute_batch("BEGIN").unwrap();
    for index in 6..=2000u64 {
        let mut row = (2 + index / 500).to_be_bytes().to_vec();
        row.extend(format!("cmd{index} ").repeat(12).into_bytes());
        db.execute(
            "INSERT INTO log (idx, entry) VALUES (?1, ?2)",
            rusqlite::params![index as i64, row],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let before = read_image(&dir_copy(&live_path, &dir.path.join("before"))).unwrap();
    assert_eq!((before.version, before.rows.len()), (1, 2000));

    let mut images: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut hook = |step: &str| {
        let copy = dir_copy(
            &live_path,
            &dir.path.join(format!("image-{}", images.len())),
        );
        let wal = fs::metadata(sibling(&copy, "-wal")).map_or(0, |m| m.len());
        images.push((step.to_string(), copy, wal));
    };
    let storage = live.open_migrating_with_hook(1, &mut hook).unwrap();
    drop(storage);
    let steps: Vec<&str> = images.iter().map(|(step, _, _)| step.as_str()).collect();
    assert_eq!(steps, MIGRATION_STEPS);
    assert!(
        images[..images.len() - 1]
            .iter()
            .any(|(_, _, wal_bytes)| *wal_bytes > 0),
        "no uncommitted page reached the -wal: the images would test nothing"
    );

    for (k, (step, image, _)) in images.iter().enumerate() {
        // Inspect a copy (a plain connection checkpoints on close), then open the
        // image itself as a restarted node would.
        let inspected = read_image(&dir_copy(image, &dir.path.join(format!("inspect-{k}"))))
            .unwrap_or_else(|why| panic!("crash after '{step}': neither v1 nor v2: {why}"));
        let want_version = if *step == "committed" { 2 } else { 1 };
        assert_eq!(inspected.version, want_version, "crash after '{step}'");
        assert_eq!(inspected.meta, before.meta, "crash after '{step}'");
        assert_eq!(inspected.rows, before.rows, "crash after '{step}'");

        let restarted = Location::sqlite(image.parent().unwrap(), "v1-fixture", NodeId(1))
            .open()
            .unwrap_or_else(|e| panic!("crash after '{step}': the restart fails: {e}"));
        assert_eq!(triples(&restarted), before.rows, "crash after '{step}'");
        let state = RaftState::load(&restarted).unwrap();
        assert_eq!((state.current_term, state.voted_for), (2, Some(NodeId(1))));
        drop(restarted);
        assert_eq!(
            read_image(image).unwrap().version,
            2,
            "crash after '{step}'"
        );
    }
}

/// The log as (index, term, payload), as [`Image::rows`] holds it.
fn triples(storage: &Storage) -> Vec<(u64, u64, Vec<u8>)> {
    let first = storage.first_log_index().unwrap();
    (first..)
        .zip(log_of(storage))
        .map(|(index, e)| (index, e.term, e.payload.to_vec()))
        .collect()
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

// ---------------------------------------------------------------------------------
// Measuring: the figures chapter 0's benchmark prints
// ---------------------------------------------------------------------------------

/// Both measurements give a positive rate and leave `dir` as they found it.
#[test]
fn the_measurements_give_rates_and_clean_up_after_themselves() {
    use quorum::storage::measure::{append_rate, fsync_rate};
    let dir = TestDir::new("measure");
    fs::write(dir.path.join("keep"), b"the caller's file").unwrap();
    let listing = || -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&dir.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing();

    let fsyncs = fsync_rate(&dir.path, 3).unwrap();
    assert!(fsyncs.is_finite() && fsyncs > 0.0, "{fsyncs}");
    assert_eq!(listing(), before, "fsync_rate left files behind");

    let entries = append_rate(&dir.path, 10, 2).unwrap();
    assert!(entries.is_finite() && entries > 0.0, "{entries}");
    assert_eq!(listing(), before, "append_rate left files behind");

    for err in [
        fsync_rate(&dir.path, 0).unwrap_err(),
        append_rate(&dir.path, 0, 1).unwrap_err(),
        append_rate(&dir.path, 1, 0).unwrap_err(),
    ] {
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    }
    assert_eq!(listing(), before);
}
