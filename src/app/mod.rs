//! Replicated state machines: what a replicated log is for (chapters 2, 4 and 5).
//!
//! A consensus log orders commands; a *state machine* gives them meaning. Every replica
//! applies the same commands in the same order to its own copy of the machine, and
//! because applying is deterministic (no clock, no randomness, no iteration over an
//! unordered map), every copy goes through the same states and gives the same
//! answers. Multi-Paxos and Raft share the machines here unchanged:
//!
//! - [`Kv`]: a key-value store (get, put, append, compare-and-set, delete);
//! - [`Counter`]: increment, decrement, read (the machine of Whit Jackson's "RAFT
//!   Consensus in OCaml");
//! - [`Fib`]: each `next` returns the next Fibonacci number (the "distributed
//!   Fibonacci" of the Paxos exercise that opened this project's reading list).
//!
//! Commands use the vocabulary of client histories ([`crate::check::history`]), so
//! what a machine answers is exactly what the linearizability checker's model
//! ([`crate::check::model`]) expects of a correct service; a test holds the two to it.
//!
//! [`sessions`] wraps a machine in the exactly-once session table of Ongaro's thesis
//! (§6.3): a request retried after a failover is applied once and answered with its
//! first reply.

pub mod sessions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::check::history::{OpKind, Workload};

/// A command for a state machine: what a client asks, as the log carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    /// The operation.
    pub op: OpKind,
    /// The key (the counter's or the sequence's name for those machines).
    pub key: String,
    /// The argument: the value to put or append, a cas's new value, an increment's
    /// amount (`""` is 1).
    pub value: String,
    /// A cas's expected value.
    pub expected: Option<String>,
}

impl Command {
    /// `op` on `key` with `value`.
    pub fn new(op: OpKind, key: impl Into<String>, value: impl Into<String>) -> Command {
        Command {
            op,
            key: key.into(),
            value: value.into(),
            expected: None,
        }
    }

    /// Compare-and-set `key` from `expected` to `value`.
    pub fn cas(
        key: impl Into<String>,
        expected: impl Into<String>,
        value: impl Into<String>,
    ) -> Command {
        Command {
            op: OpKind::Cas,
            key: key.into(),
            value: value.into(),
            expected: Some(expected.into()),
        }
    }
}

/// A deterministic machine that the log's commands drive.
pub trait StateMachine: Send + 'static {
    /// The workload it serves: commands of another are answered with an error.
    fn workload(&self) -> Workload;

    /// Applies `command` and returns its output. The same commands in the same order
    /// give the same outputs on every replica.
    fn apply(&mut self, command: &Command) -> String;

    /// Answers a command that only reads (a get, a counter's read) without changing
    /// anything; `None` for any other. For reads served outside the log, and for
    /// checks.
    fn query(&self, command: &Command) -> Option<String>;
}

/// A fresh machine for `workload`.
pub fn machine(workload: Workload) -> Box<dyn StateMachine> {
    match workload {
        Workload::Kv => Box::<Kv>::default(),
        Workload::Counter => Box::<Counter>::default(),
        Workload::Fib => Box::<Fib>::default(),
    }
}

/// The answer to a command of another workload.
fn unsupported(workload: Workload, command: &Command) -> String {
    format!("error: {} is not a {workload} operation", command.op)
}

/// A key-value store. An absent key reads as `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    /// Every key's value.
    pub data: BTreeMap<String, String>,
}

impl StateMachine for Kv {
    fn workload(&self) -> Workload {
        Workload::Kv
    }

    fn apply(&mut self, command: &Command) -> String {
        let key = &command.key;
        match command.op {
            OpKind::Get => self.data.get(key).cloned().unwrap_or_default(),
            OpKind::Put => {
                self.data.insert(key.clone(), command.value.clone());
                String::new()
            }
            OpKind::Append => {
                self.data
                    .entry(key.clone())
                    .or_default()
                    .push_str(&command.value);
                String::new()
            }
            OpKind::Delete => {
                self.data.remove(key);
                String::new()
            }
            OpKind::Cas => {
                let current = self.data.get(key).map_or("", String::as_str);
                if command.expected.as_deref() == Some(current) {
                    self.data.insert(key.clone(), command.value.clone());
                    "ok".to_string()
                } else {
                    "fail".to_string()
                }
            }
            _ => unsupported(Workload::Kv, command),
        }
    }

    fn query(&self, command: &Command) -> Option<String> {
        (command.op == OpKind::Get)
            .then(|| self.data.get(&command.key).cloned().unwrap_or_default())
    }
}

/// Named counters, starting at 0; arithmetic wraps at the bounds of `i64`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Every counter's count.
    pub counts: BTreeMap<String, i64>,
}

impl StateMachine for Counter {
    fn workload(&self) -> Workload {
        Workload::Counter
    }

    fn apply(&mut self, command: &Command) -> String {
        let Some(by) = crate::check::history::amount(&command.value) else {
            return format!("error: {:?} is not a whole number", command.value);
        };
        let count = self.counts.entry(command.key.clone()).or_default();
        match command.op {
            OpKind::Incr => *count = count.wrapping_add(by),
            OpKind::Decr => *count = count.wrapping_sub(by),
            OpKind::Read => {}
            _ => return unsupported(Workload::Counter, command),
        }
        count.to_string()
    }

    fn query(&self, command: &Command) -> Option<String> {
        (command.op == OpKind::Read).then(|| {
            self.counts
                .get(&command.key)
                .copied()
                .unwrap_or_default()
                .to_string()
        })
    }
}

/// Named Fibonacci sequences: each `next` returns the sequence's next number (0, 1, 1,
/// 2, 3, …, wrapping at 2^64).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fib {
    /// Every sequence's next number and the one after it.
    pub sequences: BTreeMap<String, (u64, u64)>,
}

impl StateMachine for Fib {
    fn workload(&self) -> Workload {
        Workload::Fib
    }

    fn apply(&mut self, command: &Command) -> String {
        if command.op != OpKind::Next {
            return unsupported(Workload::Fib, command);
        }
        let (a, b) = self.sequences.entry(command.key.clone()).or_insert((0, 1));
        let next = *a;
        (*a, *b) = (*b, a.wrapping_add(*b));
        next.to_string()
    }

    fn query(&self, _command: &Command) -> Option<String> {
        None // every `next` moves the sequence on
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::Operation;
    use crate::check::model;

    /// Random commands of `workload` on a few keys.
    fn commands(workload: Workload, seed: u64, n: usize) -> Vec<Command> {
        let mut rng = crate::runtime::Rng::new(seed);
        (0..n)
            .map(|i| {
                let key = format!("k{}", rng.index(3));
                match workload {
                    Workload::Kv => match rng.index(5) {
                        0 => Command::new(OpKind::Get, key, ""),
                        1 => Command::new(OpKind::Put, key, format!("v{i}")),
                        2 => Command::new(OpKind::Append, key, format!("a{i}")),
                        3 => Command::new(OpKind::Delete, key, ""),
                        _ => Command::cas(key, ["", "v1", "v2"][rng.index(3)], format!("c{i}")),
                    },
                    Workload::Counter => match rng.index(3) {
                        0 => Command::new(OpKind::Incr, key, ""),
                        1 => Command::new(OpKind::Decr, key, format!("{}", rng.index(5))),
                        _ => Command::new(OpKind::Read, key, ""),
                    },
                    Workload::Fib => Command::new(OpKind::Next, key, ""),
                }
            })
            .collect()
    }

    #[test]
    fn every_machine_answers_as_the_checkers_model_says() {
        for workload in [Workload::Kv, Workload::Counter, Workload::Fib] {
            for seed in 0..50 {
                let mut m = machine(workload);
                let mut states: BTreeMap<String, model::State> = BTreeMap::new();
                for (i, c) in commands(workload, seed, 200).into_iter().enumerate() {
                    let output = m.apply(&c);
                    let op = Operation {
                        client: 0,
                        op: c.op,
                        key: c.key.clone(),
                        value: c.value.clone(),
                        expected: c.expected.clone(),
                        output,
                        call_us: i as u64,
                        return_us: Some(i as u64),
                    };
                    let state = states
                        .entry(c.key.clone())
                        .or_insert_with(|| model::initial(workload));
                    *state = model::step(state, &op).unwrap_or_else(|| {
                        panic!("{workload} seed {seed}: the model refuses {op} in {state:?}")
                    });
                }
            }
        }
    }

    #[test]
    fn a_command_of_another_workload_is_an_error_and_changes_nothing() {
        let mut kv = Kv::default();
        assert_eq!(
            kv.apply(&Command::new(OpKind::Incr, "k", "")),
            "error: incr is not a kv operation"
        );
        assert_eq!(kv, Kv::default());
        let mut fib = Fib::default();
        assert_eq!(fib.apply(&Command::new(OpKind::Next, "f", "")), "0");
        assert_eq!(fib.apply(&Command::new(OpKind::Next, "f", "")), "1");
        assert_eq!(fib.apply(&Command::new(OpKind::Next, "f", "")), "1");
        assert_eq!(fib.apply(&Command::new(OpKind::Next, "f", "")), "2");
    }
}
