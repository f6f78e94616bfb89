//! The trace: every fact of a run, one JSON object a line.
//!
//! A trace record says when (`t_us`, microseconds since the run began), where (`node`;
//! 0 is the harness that applies faults), what (`event`) and its fields. Two kinds of
//! event share the format:
//!
//! - the runtime's: `send` (`to`, `id`, `msg`), `deliver` (`from`, `id`), `drop` (`to`,
//!   `id`, `reason`), `timer` (`timer`), `crash`, `restart`, `partition`, `heal`,
//!   `reply`; recorded only when a trace was asked for, since they cost a record per
//!   message;
//! - the protocol's, recorded by `ctx.trace(...)`: `suspect`, `voted`, `chosen`, … always
//!   recorded, because the invariant checkers and the chapter binaries read them.
//!
//! In the simulator a seed gives a byte-identical trace; a test proves it. The SVG
//! space-time diagram ([`crate::viz`]) is drawn from a trace.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::id::NodeId;
use super::node::Event;
use super::time::Time;
use crate::error::{Error, Result};

/// The `node` of a record made by the harness rather than by a node.
pub const HARNESS: NodeId = NodeId(0);

/// The names of the runtime's own events; every other name is a protocol event.
pub const RUNTIME_EVENTS: &[&str] = &[
    "send",
    "deliver",
    "drop",
    "timer",
    "crash",
    "restart",
    "partition",
    "heal",
    "reply",
    "slow",
];

/// One line of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Microseconds since the run began.
    pub t_us: u64,
    /// The node the event happened on (0: the harness).
    pub node: NodeId,
    /// The event's name.
    pub event: String,
    /// The event's fields, in name order (so that a trace is byte-for-byte reproducible).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    /// A record of `event` on `node` at `t`.
    pub fn new(t: Time, node: NodeId, event: &Event) -> Record {
        let fields = event
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Record {
            t_us: t.as_micros(),
            node,
            event: event.name.to_string(),
            fields,
        }
    }

    /// Whether this is one of the runtime's own events rather than a protocol event.
    pub fn is_runtime_event(&self) -> bool {
        RUNTIME_EVENTS.contains(&self.event.as_str())
    }

    /// The protocol event this record holds, if its name is one of `names`, with those of
    /// its fields named in `keys`: how a checker that reads events reads a trace after
    /// the fact (a threaded run's).
    pub fn event_among(&self, names: &[&'static str], keys: &[&'static str]) -> Option<Event> {
        let name = names.iter().find(|n| **n == self.event)?;
        let mut event = Event::new(name);
        for key in keys {
            if let Some(v) = self.fields.get(*key) {
                event.fields.push((key, v.clone()));
            }
        }
        Some(event)
    }

    /// Field `key` as an integer, if present and an integer.
    pub fn u64_field(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(|v| v.as_u64())
    }

    /// Field `key` as a string, if present and a string.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(|v| v.as_str())
    }
}

/// Writes `records` to `path` as JSON lines, replacing the file.
pub fn write_jsonl(path: &Path, records: &[Record]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    for r in records {
        let line = serde_json::to_string(r)
            .map_err(|e| Error::Config(format!("trace record not serializable: {e}")))?;
        writeln!(out, "{line}").map_err(|e| Error::io(path, e))?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}

/// Reads a JSON-lines trace; a malformed line is an error naming the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut records = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r = serde_json::from_str(&line).map_err(|e| {
            Error::Config(format!(
                "{}:{}: not a trace record ({e}); a trace is the file written by --trace",
                path.display(),
                i + 1
            ))
        })?;
        records.push(r);
    }
    Ok(records)
}
