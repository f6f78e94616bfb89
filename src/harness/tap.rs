//! The tap of a threaded run: what the run's collector thread does with each fact.
//!
//! A threaded run may last a minute and send ten million messages, so it keeps nothing
//! it was not asked for ([`Threads::start_observed`](crate::runtime::Threads::start_observed)).
//! A [`Tap`] streams every fact to the `--trace` file as it comes, and keeps the trace
//! lines in memory only when a diagram (`--svg`) needs the whole run at the end.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::runtime::trace::{Observed, ProtocolEvent, Record, TraceWriter};

/// Streams a threaded run's facts to a trace file, and keeps them for a diagram if asked.
pub struct Tap {
    writer: Option<TraceWriter>,
    keep: bool,
    kept: Vec<Record>,
    error: Option<crate::Error>,
}

impl Tap {
    /// A tap that writes to `trace` (if given) and keeps every line when `keep`.
    pub fn new(trace: Option<&Path>, keep: bool) -> Result<Tap> {
        Ok(Tap {
            writer: trace.map(TraceWriter::create).transpose()?,
            keep,
            kept: Vec::new(),
            error: None,
        })
    }

    /// A tap that writes and keeps nothing.
    pub fn none() -> Tap {
        Tap {
            writer: None,
            keep: false,
            kept: Vec::new(),
            error: None,
        }
    }

    /// Takes in one fact. A write error is kept for [`Tap::finish`] (the run goes on).
    pub fn take<E: ProtocolEvent>(&mut self, fact: &Observed<E>) {
        if self.writer.is_none() && !self.keep {
            return;
        }
        let record = fact.record();
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write(&record) {
                self.error.get_or_insert(e);
                self.writer = None;
            }
        }
        if self.keep {
            self.kept.push(record);
        }
    }

    /// Flushes the trace file and returns the kept lines, sorted by time (for a
    /// diagram), or the first write error.
    pub fn finish(self) -> Result<Vec<Record>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(w) = self.writer {
            w.finish()?;
        }
        let mut kept = self.kept;
        kept.sort_by_key(|r| r.t_us);
        Ok(kept)
    }
}

/// What a threaded run's observer kept, shared with it as `Arc<Mutex<S>>`, once the run
/// has stopped: the collector thread has ended and let go of its half.
pub fn collected<S>(shared: Arc<Mutex<S>>) -> Result<S> {
    Arc::try_unwrap(shared)
        .map_err(|_| Error::Runtime("the collector still holds what the run kept".into()))?
        .into_inner()
        .map_err(|_| Error::Runtime("the collector panicked while it kept the run's facts".into()))
}
