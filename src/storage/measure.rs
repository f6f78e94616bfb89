//! Measuring what durability costs on this disk: the two figures behind "one batch,
//! one fsync".
//!
//! [`fsync_rate`] is the floor: how many times a second this disk can make a few bytes
//! durable, with nothing else going on. [`append_rate`] is what the log gets: entries a
//! second through [`Storage::write`](super::Storage::write), in batches of a given size, on a real SQLite
//! file with the settings every node uses (WAL, `synchronous = FULL`). With one entry
//! per batch the two are close, since every entry waits for its own fsync; with many,
//! the fsync is shared and the rate grows nearly in proportion, until the writes
//! themselves start to count.
//!
//! Both work in a scratch directory they create inside `dir` and remove when they
//! finish, even when they fail. Chapter 0's benchmark prints both.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{Batch, Location, LogEntry};
use crate::types::NodeId;
use crate::{Error, Result};

/// The size of each entry's payload in [`append_rate`], in bytes.
pub const PAYLOAD_BYTES: usize = 100;

/// Fsyncs per second of a bare file in `dir`: `n` times, write 8 bytes to a file and
/// `File::sync_data` it, and divide `n` by the time taken. The baseline against which
/// [`append_rate`] is read. `n` must be at least 1.
pub fn fsync_rate(dir: &Path, n: u32) -> Result<f64> {
    if n == 0 {
        return Err(Error::Config(
            "fsync_rate needs n >= 1: the number of fsyncs to time".to_string(),
        ));
    }
    let scratch = Scratch::new(dir, "fsync")?;
    let path = scratch.0.join("probe");
    let mut file = fs::File::create(&path).map_err(|source| Error::io(&path, source))?;
    let started = Instant::now();
    for i in 0..u64::from(n) {
        file.write_all(&i.to_be_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|source| Error::io(&path, source))?;
    }
    Ok(per_second(u64::from(n), started))
}

/// Entries per second appended to a fresh SQLite log in `dir`: `transactions` calls
/// of [`Storage::write`](super::Storage::write), each a batch appending
/// `entries_per_tx` entries of [`PAYLOAD_BYTES`] bytes at the end of the log, under
/// the settings every node uses (WAL, `synchronous = FULL`: one fsync per batch).
/// Opening the file is not timed. Both counts must be at least 1.
pub fn append_rate(dir: &Path, entries_per_tx: usize, transactions: usize) -> Result<f64> {
    if entries_per_tx == 0 || transactions == 0 {
        return Err(Error::Config(format!(
            "append_rate needs at least 1 entry per transaction and 1 transaction \
             (got {entries_per_tx} and {transactions})"
        )));
    }
    let scratch = Scratch::new(dir, "append")?;
    let mut storage = Location::sqlite(&scratch.0, "measure", NodeId(1)).open()?;
    let payload: Arc<[u8]> = Arc::from(vec![0x5a; PAYLOAD_BYTES]);
    let entries = vec![LogEntry::new(1, payload); entries_per_tx];
    let mut batch = Batch::new();
    let mut next = 1u64;
    let started = Instant::now();
    for _ in 0..transactions {
        batch.clear();
        batch.append(next, &entries);
        storage.write(&batch)?;
        next += entries_per_tx as u64;
    }
    let rate = per_second(next - 1, started);
    drop(storage);
    Ok(rate)
}

/// `count` events since `started`, per second.
fn per_second(count: u64, started: Instant) -> f64 {
    // A clock too coarse to see the run at all still yields a finite figure.
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    count as f64 / seconds
}

/// A scratch directory inside the caller's `dir`, removed with everything in it when
/// dropped (so on every return path, error or not).
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: &Path, what: &str) -> Result<Scratch> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("quorum-measure-{what}-{}-{n}", std::process::id()));
        fs::create_dir_all(&path).map_err(|source| Error::io(&path, source))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
