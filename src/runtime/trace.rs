//! The trace: what happened in a run, typed while the run goes on, one JSON object a
//! line in a file.
//!
//! Two kinds of fact make up a trace:
//!
//! - the protocol's, recorded by `ctx.trace(...)`: each protocol names its own facts as
//!   an enum (`raft::Event::Voted { term, candidate }`, `paxos::Event::Promised { ballot
//!   }`), the node's [`Node::Event`](super::Node::Event); the invariant checkers read
//!   these typed values, never JSON parsed back;
//! - the runtime's ([`RuntimeEvent`]): `send`, `deliver`, `drop`, `timer`, `crash`,
//!   `restart`, `partition`, `heal`, `reply`, `slow`; a record per message, so they are
//!   recorded only when everything is asked for.
//!
//! How much is recorded is the run's [`TraceLevel`]: nothing, the protocol's facts, or
//! everything. A fact nobody asked for costs nothing: `ctx.trace` drops it at once. A
//! protocol event that could come once per log entry (committed, applied) comes once per
//! range instead, so a run of a million commands records a few thousand facts, not
//! millions.
//!
//! Written out (`--trace FILE`), a fact becomes a [`Record`]: when (`t_us`,
//! microseconds since the run began), where (`node`; 0 is the harness that applies
//! faults), what (`event`) and its fields, in name order. In the simulator a seed gives
//! a byte-identical trace; a test proves it against a trace written before the
//! runtime changed. The space-time diagrams of [`crate::viz`] are drawn from records.

use std::fmt::Debug;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::id::{CallId, NodeId};
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

/// How much of a run is recorded: nothing, the protocol's facts, or everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceLevel {
    /// Nothing is recorded (the simulator still hands protocol events to its checks).
    Off,
    /// The protocol's facts ([`Node::Event`](super::Node::Event)): a handful per election
    /// or per batch.
    #[default]
    Protocol,
    /// The protocol's facts and the runtime's: every send, delivery, drop, timer, crash
    /// and reply. A record per message: for short runs, diagrams and debugging.
    Everything,
}

/// A protocol's facts: what `ctx.trace` records. An enum per protocol, serialized with
/// `#[serde(tag = "event", rename_all = "snake_case")]` so that each variant becomes a
/// record named after it, with its fields.
pub trait ProtocolEvent: Clone + Debug + Send + Serialize + 'static {
    /// The event's name in a trace, in snake case (`voted`, `suspect`).
    fn name(&self) -> &'static str;
}

/// The event type of a node that records no protocol facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoEvent {}

impl ProtocolEvent for NoEvent {
    fn name(&self) -> &'static str {
        match *self {}
    }
}

/// What the runtime itself records when everything is traced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RuntimeEvent {
    /// A node put message `id` on the network to `to`.
    Send {
        /// The receiver.
        to: NodeId,
        /// The message's number in this run.
        id: u64,
        /// The message, as `Debug` prints it.
        msg: String,
    },
    /// Message `id` from `from` was delivered (recorded on the receiver).
    Deliver {
        /// The sender.
        from: NodeId,
        /// The message's number.
        id: u64,
    },
    /// Message `id` to `to` was lost (recorded on the sender).
    Drop {
        /// The receiver it never reached.
        to: NodeId,
        /// The message's number.
        id: u64,
        /// `partitioned`, `lost` or `crashed`.
        reason: &'static str,
    },
    /// A timer fired.
    Timer {
        /// The timer, as `Debug` prints it.
        timer: String,
    },
    /// The harness crashed the node.
    Crash,
    /// The harness restarted the node from its storage.
    Restart,
    /// The harness cut or restored links.
    Partition {
        /// What it did, as the schedule prints it.
        what: String,
    },
    /// The harness lifted every partition.
    Heal,
    /// The node answered a client.
    Reply {
        /// The call answered.
        call: CallId,
        /// The answer, as `Debug` prints it.
        response: String,
    },
    /// The harness made the node slow, or no longer slow.
    Slow {
        /// Slow or not.
        slow: bool,
    },
}

/// One fact of a run, typed: when, on which node, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed<E> {
    /// When it happened.
    pub at: Time,
    /// The node it happened on ([`HARNESS`] for the harness's own changes).
    pub node: NodeId,
    /// What happened.
    pub what: Fact<E>,
}

/// A protocol's fact or the runtime's.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact<E> {
    /// Recorded by the node with `ctx.trace`.
    Protocol(E),
    /// Recorded by the runtime.
    Runtime(RuntimeEvent),
}

impl<E: ProtocolEvent> Observed<E> {
    /// The protocol event, if this is one.
    pub fn protocol(&self) -> Option<&E> {
        match &self.what {
            Fact::Protocol(e) => Some(e),
            Fact::Runtime(_) => None,
        }
    }

    /// This fact as a trace line.
    pub fn record(&self) -> Record {
        let value = match &self.what {
            Fact::Protocol(e) => serde_json::to_value(e),
            Fact::Runtime(e) => serde_json::to_value(e),
        };
        let mut fields = match value {
            Ok(serde_json::Value::Object(map)) => map,
            // Every event is an enum variant with named fields, tagged `event`: an
            // object. Anything else is recorded under its own name with no fields.
            _ => serde_json::Map::new(),
        };
        let event = match fields.remove("event") {
            Some(serde_json::Value::String(name)) => name,
            _ => match &self.what {
                Fact::Protocol(e) => e.name().to_string(),
                Fact::Runtime(_) => "runtime".to_string(),
            },
        };
        Record {
            t_us: self.at.as_micros(),
            node: self.node,
            event,
            fields,
        }
    }
}

/// Every fact of `trace` as trace lines.
pub fn records<E: ProtocolEvent>(trace: &[Observed<E>]) -> Vec<Record> {
    trace.iter().map(Observed::record).collect()
}

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
    /// Whether this is one of the runtime's own events rather than a protocol event.
    pub fn is_runtime_event(&self) -> bool {
        RUNTIME_EVENTS.contains(&self.event.as_str())
    }

    /// Field `key` as an integer, if present and an integer.
    pub fn u64_field(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(|v| v.as_u64())
    }

    /// Field `key` as a string, if present and a string.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(|v| v.as_str())
    }

    /// The protocol event this line holds, read back into the protocol's type (for
    /// checking a trace file after the fact); `None` if it is another kind of line.
    pub fn protocol_event<E: ProtocolEvent + serde::de::DeserializeOwned>(&self) -> Option<E> {
        if self.is_runtime_event() {
            return None;
        }
        let mut object = self.fields.clone();
        object.insert(
            "event".into(),
            serde_json::Value::String(self.event.clone()),
        );
        serde_json::from_value(serde_json::Value::Object(object)).ok()
    }
}

/// Writes trace lines to a file as they come, so that a run of any length keeps none of
/// them in memory.
pub struct TraceWriter {
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl TraceWriter {
    /// Creates (or replaces) the file at `path`.
    pub fn create(path: &Path) -> Result<TraceWriter> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(TraceWriter {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
        })
    }

    /// Appends one line.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        let line = serde_json::to_string(record).map_err(|e| Error::Trace {
            path: self.path.clone(),
            problem: format!("a record could not be written as JSON ({e})"),
        })?;
        writeln!(self.out, "{line}").map_err(|e| Error::io(&self.path, e))
    }

    /// Writes out what is buffered.
    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Writes `records` to `path` as JSON lines, replacing the file.
pub fn write_jsonl(path: &Path, records: &[Record]) -> Result<()> {
    let mut out = TraceWriter::create(path)?;
    for r in records {
        out.write(r)?;
    }
    out.finish()
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
        let r = serde_json::from_str(&line).map_err(|e| Error::Trace {
            path: path.to_path_buf(),
            problem: format!(
                "line {} is not a trace record ({e}); a trace is the file written by --trace",
                i + 1
            ),
        })?;
        records.push(r);
    }
    Ok(records)
}
