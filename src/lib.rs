//! # Quorum: consensus taught by building it
//!
//! Each module is a chapter of the book (`book/`), and each chapter has a binary under
//! `chapters/` that runs it on real threads or in the deterministic simulator.
//!
//! - [`runtime`] (chapter 0, *The world*): the [`Node`](runtime::Node) trait and its
//!   context, the threaded runtime, the deterministic simulator, the network's fault
//!   model, traces, and the [`Cluster`](runtime::Cluster) test harness every later
//!   chapter uses.
//! - [`detector`] (chapter 0): a heartbeat failure detector, the first node written
//!   against the runtime: timers, messages and every fault at work.
//! - [`paxos`] (chapter 1, *Single-decree Paxos*): proposer, acceptor and learner, the
//!   agreement checker, and an exhaustive explorer of every order of deliveries,
//!   losses and crashes.
//! - [`multipaxos`] (chapter 2, *Multi-Paxos*): for now, the two services that open the
//!   chapter: a single server, and a naive primary-backup.
//! - [`raft`] (chapters 3–5, *Raft*): one Raft node over Figure 2's state; chapter 3
//!   writes its leader election, checked for Election Safety on every simulated step.
//! - [`app`] (chapters 2, 4 and 5): the replicated state machines (key-value, counter,
//!   Fibonacci) and the exactly-once session table, shared by Multi-Paxos and Raft.
//! - [`client`] (chapters 2, 4 and 5): clients as sessions that find the leader, retry
//!   with backoff and record the history the linearizability checker reads.
//! - [`storage`] (every chapter): stable storage, in SQLite (one file per node) or in
//!   memory, which survives a node's crash; one batch per handler call, one transaction.
//! - [`check`] (every chapter): named properties checked on every simulated step, the
//!   protocol-free machinery of exhaustive explorers ([`check::explore`]), and the
//!   linearizability checker for client histories ([`check::linearizable`], chapters 2,
//!   4 and 5).
//! - [`viz`] (every chapter, from chapter 0): drawings: a run's trace as a space-time
//!   diagram (every binary's `--svg`), and plots (chapter 3's Figure 16).
//! - [`types`] (every chapter): node, call and client ids, and time: the leaf every module
//!   shares.
//! - [`cli`] (every chapter binary): the flags every chapter binary shares, and output
//!   that ends quietly when its reader closes the pipe.
//! - [`harness`] (every chapter binary and the tests): sweeps over many seeds,
//!   benchmarks and their baselines, progress on a terminal, the tap of a threaded run.
//! - [`exercises`] (every chapter): the exercises, built from the reference solutions or,
//!   exercise by exercise (`--features ex0_2`), from the reader's own files under `chapters/`.

#![warn(missing_docs)]

pub mod app;
pub mod check;
pub mod cli;
pub mod client;
pub mod detector;
pub mod error;
pub mod exercises;
pub mod harness;
pub mod multipaxos;
pub mod paxos;
pub mod raft;
pub mod runtime;
pub mod storage;
pub mod types;
pub mod viz;

pub use error::{Error, Result};
