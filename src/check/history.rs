//! Histories: what clients asked and what they were answered, with when.
//!
//! A linearizability checker judges a service by nothing but its clients' view: for
//! every operation, when it was called, what it asked, and when and what it returned,
//! or that no answer ever came. That record is a *history* (Herlihy and Wing,
//! "Linearizability: A Correctness Condition for Concurrent Objects", 1990). Quorum
//! writes histories as JSON lines, one operation a line, in the order they were called
//! or in any other order:
//!
//! ```text
//! {"client": 3, "op": "append", "key": "1", "value": "x 3 0 y", "output": "", "call_us": 6, "return_us": 18}
//! {"client": 5, "op": "get", "key": "1", "value": "", "output": "x 3 0 y", "call_us": 21, "return_us": 24}
//! {"client": 2, "op": "cas", "key": "1", "expected": "x 3 0 y", "value": "z", "output": "ok", "call_us": 30, "return_us": null}
//! ```
//!
//! `client` names the session that made the call; `call_us` and `return_us` are
//! microseconds on one clock; `return_us: null` means the outcome is unknown (the client
//! gave up waiting, or the run ended first): the operation may have taken effect at any
//! moment after its call, or never. The operations (`op`), by workload:
//!
//! | workload | op | asks | output |
//! |---|---|---|---|
//! | key-value | `get` | the value of `key` (`""` if none) | the value |
//! | | `put` | set `key` to `value` | `""` |
//! | | `append` | append `value` to `key`'s value | `""` |
//! | | `cas` | set `key` to `value` if it is `expected` | `"ok"` or `"fail"` |
//! | | `delete` | remove `key` | `""` |
//! | counter | `incr`, `decr` | add or subtract `value` (a whole number; `""` is 1) | the count after |
//! | | `read` | the count | the count |
//! | Fibonacci | `next` | the next number of the sequence 0, 1, 1, 2, … | that number |
//!
//! This is the format of the Porcupine checker's key-value test histories (the files
//! in `shared/data/kv-histories` are theirs, converted), extended with `cas`, `delete`,
//! the counter and the Fibonacci sequence.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What an operation asks of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Key-value: read a key's value.
    Get,
    /// Key-value: set a key's value.
    Put,
    /// Key-value: append to a key's value.
    Append,
    /// Key-value: compare-and-set.
    Cas,
    /// Key-value: remove a key.
    Delete,
    /// Counter: add.
    Incr,
    /// Counter: subtract.
    Decr,
    /// Counter: read.
    Read,
    /// Fibonacci: the next number.
    Next,
}

impl OpKind {
    /// Every kind, as a history file spells it.
    pub const ALL: [OpKind; 9] = [
        OpKind::Get,
        OpKind::Put,
        OpKind::Append,
        OpKind::Cas,
        OpKind::Delete,
        OpKind::Incr,
        OpKind::Decr,
        OpKind::Read,
        OpKind::Next,
    ];

    /// The name a history file uses.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Append => "append",
            OpKind::Cas => "cas",
            OpKind::Delete => "delete",
            OpKind::Incr => "incr",
            OpKind::Decr => "decr",
            OpKind::Read => "read",
            OpKind::Next => "next",
        }
    }

    /// The workload an operation of this kind belongs to.
    pub fn workload(self) -> Workload {
        match self {
            OpKind::Get | OpKind::Put | OpKind::Append | OpKind::Cas | OpKind::Delete => {
                Workload::Kv
            }
            OpKind::Incr | OpKind::Decr | OpKind::Read => Workload::Counter,
            OpKind::Next => Workload::Fib,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The services a history can be of, each with its model of a correct answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// A key-value store: get, put, append, compare-and-set, delete.
    Kv,
    /// A counter: increment, decrement, read (the machine of Whit Jackson's "RAFT
    /// Consensus in OCaml").
    Counter,
    /// The Fibonacci sequence: each `next` returns the next number.
    Fib,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Kv => "kv",
            Workload::Counter => "counter",
            Workload::Fib => "fib",
        })
    }
}

/// One operation of a history: a call, and its return if one came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The client (session) that called it.
    pub client: u64,
    /// What it asks.
    pub op: OpKind,
    /// The key it concerns (the counter's or the sequence's name for those workloads).
    #[serde(default)]
    pub key: String,
    /// Its argument: the value to put or append, the new value of a cas, the amount of
    /// an increment.
    #[serde(default)]
    pub value: String,
    /// A cas's expected value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What it returned (meaningless when `return_us` is `None`).
    #[serde(default)]
    pub output: String,
    /// When it was called, in microseconds.
    pub call_us: u64,
    /// When it returned, or `None` if no answer came (`null` in the file, where the
    /// field is required: a missing one is more likely a mistake than a lost answer).
    #[serde(deserialize_with = "required_nullable")]
    pub return_us: Option<u64>,
}

/// Reads a field that must be present but may be `null`. Serde reads a missing
/// `Option` field as `None` unless the field demands a deserializer of its own, as this
/// one does: a missing `return_us` is then an error naming the field.
fn required_nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

impl Operation {
    /// Whether its outcome is unknown: no answer came.
    pub fn is_unknown(&self) -> bool {
        self.return_us.is_none()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{} {}({:?}", self.client, self.op, self.key)?;
        if let Some(expected) = &self.expected {
            write!(f, ", {expected:?}")?;
        }
        if !self.value.is_empty() {
            write!(f, ", {:?}", self.value)?;
        }
        match self.return_us {
            Some(r) => write!(f, ") -> {:?} [{}..{} us]", self.output, self.call_us, r),
            None => write!(f, ") -> ? [{}.. us, no answer]", self.call_us),
        }
    }
}

/// Reads a history from JSON lines (`text`, from `path`): every line an operation;
/// blank lines are skipped. A line that is not one is an error naming the line and what
/// it lacks.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Operation>> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = |what: String| Error::History {
            path: path.to_path_buf(),
            problem: format!("line {}: {what}", i + 1),
        };
        let op: Operation = serde_json::from_str(line).map_err(|e| {
            let known: Vec<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
            problem(format!(
                "{e} (each line is one operation: {{\"client\", \"op\" (one of {}), \"key\", \
                 \"value\", \"output\", \"call_us\", \"return_us\" (null if no answer came)}})",
                known.join(", ")
            ))
        })?;
        if op.return_us.is_some_and(|r| r < op.call_us) {
            return Err(problem(format!(
                "returns at {} us, before its call at {} us",
                op.return_us.unwrap_or_default(),
                op.call_us
            )));
        }
        if op.op == OpKind::Cas && op.expected.is_none() {
            return Err(problem(
                "a cas needs \"expected\", the value it compares with".to_string(),
            ));
        }
        if matches!(op.op, OpKind::Incr | OpKind::Decr) && amount(&op.value).is_none() {
            return Err(problem(format!(
                "{} by {:?}: the value of an increment or decrement is a whole number (or \"\" for 1)",
                op.op, op.value
            )));
        }
        ops.push(op);
    }
    Ok(ops)
}

/// Reads the history file at `path`.
pub fn read(path: &Path) -> Result<Vec<Operation>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(path, &text)
}

/// The history as JSON lines, one operation a line, in the order given.
pub fn to_jsonl(ops: &[Operation]) -> String {
    let mut out = String::new();
    for op in ops {
        // An operation is plain strings and numbers: it always serializes.
        if let Ok(line) = serde_json::to_string(op) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The workload `ops` belong to: the one their kinds name. A history that mixes
/// workloads has no one model, and is refused.
pub fn workload_of(path: &Path, ops: &[Operation]) -> Result<Workload> {
    let found: BTreeSet<Workload> = ops.iter().map(|o| o.op.workload()).collect();
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(w), None) => Ok(w),
        (None, _) => Ok(Workload::Kv),
        (Some(a), Some(b)) => Err(Error::History {
            path: path.to_path_buf(),
            problem: format!(
                "it mixes {a} and {b} operations; a history is of one workload (kv, counter \
                 or fib): split it into one file per workload"
            ),
        }),
    }
}

/// The amount of an increment or decrement: a whole number, or 1 for `""`.
pub fn amount(value: &str) -> Option<i64> {
    match value {
        "" => Some(1),
        v => v.parse().ok(),
    }
}
