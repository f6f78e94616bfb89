//! Chapter 0: the world nodes live in.
//!
//! Consensus protocols are hard to get right because of the world, not the algorithm:
//! messages are lost, delayed, duplicated and reordered; networks split; machines crash
//! and come back having forgotten everything they did not write to disk; clocks only
//! help with timeouts. This module builds that world, once, so that every later chapter
//! writes only protocol code.
//!
//! The one idea: **protocol code never touches the world.** A [`Node`] is a plain struct
//! that reacts to events through a [`Context`], which records what the node wants done
//! (send, set a timer, reply, trace). Two runtimes carry those effects out:
//!
//! - [`threads`]: one OS thread per node, crossbeam channels as the network, real time;
//! - [`sim`]: one thread, virtual time, one seeded generator; a seed replays a run.
//!
//! Both apply the same fault model ([`net`]) and the same fault schedule ([`schedule`]),
//! keep timers the same way ([`timers`]: re-arming for later queues nothing), and give a
//! node the same batching point ([`Node::on_flush`]) once it has handled what was ready
//! for it. [`Cluster`] wraps the simulator for tests; [`trace`] records a run's typed
//! facts as much as its [`TraceLevel`] asks, and writes them as JSON lines, which
//! [`crate::viz`] draws as a space-time diagram.

pub mod cluster;
pub mod net;
pub mod node;
pub mod rng;
pub mod schedule;
pub mod sim;
pub mod stats;
pub mod threads;
pub mod timers;
pub mod trace;

pub use crate::types::{id, time};
pub use cluster::Cluster;
pub use id::{CallId, ClientId, NodeId};
pub use net::{Faults, Network};
pub use node::{Context, Effect, Message, Node, Timer};
pub use rng::Rng;
pub use schedule::{Action, CrashSpec, PartitionSpec, Schedule};
pub use sim::{Sim, SimConfig};
pub use stats::NodeStats;
pub use threads::{Answers, ClientPort, Threads, ThreadsConfig};
pub use time::Time;
pub use trace::{NoEvent, Observed, ProtocolEvent, TraceLevel};
