//! Chapter 2: a replicated log that serves clients.
//!
//! The chapter opens with two services that are *not* replicated logs, to show what
//! one is for: [`single`], one server that is linearizable and gone when it crashes,
//! and [`naive`], a primary and a backup that survive a crash but not the network:
//! their histories are not linearizable. Multi-Paxos itself comes with the rest of the
//! chapter.

pub mod naive;
pub mod run;
pub mod single;
