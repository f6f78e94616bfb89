//! Chapter 2: a replicated log that serves clients.
//!
//! The chapter opens with two services that are *not* replicated logs, to show what
//! one is for: [`single`], one server that is linearizable and gone when it crashes.
//! Multi-Paxos itself comes with the rest of the chapter.

pub mod single;
