//! Exercise 0.3: a timeout that adapts to the network (an extension).
//!
//! A fixed timeout is wrong on every network but one: too short where heartbeats
//! straggle (live nodes are suspected, again and again), too long where they are prompt
//! (crashes are noticed late). The detector remembers the last gaps between each peer's
//! heartbeats (`GapHistory`) and, when run with `--adaptive`, asks this function for
//! that peer's timeout.
//!
//! The tests expect the rule TCP uses to time out a retransmission (Jacobson, 1988),
//! applied to heartbeats instead of acknowledgements, with the constants below: learn
//! nothing until `MIN_SAMPLES` gaps are known, add one `heartbeat` of slack, and never go
//! below `floor`, the configured timeout. They then run a detector on a jittery network,
//! where the fixed timeout suspects live peers, and check that yours does not, and still
//! notices a crash within a second.
//!
//! Done when `cargo test --features ex0_3 --test exercises ex0_3` passes. Stuck?
//! `cargo run --bin exercises -- hint ex0.3`.

use std::time::Duration;

use crate::detector::GapHistory;

/// How many standard deviations above the mean gap a peer may stay silent.
pub const DEVIATIONS: f64 = 4.0;

/// The fewest gaps worth learning from; with fewer, the configured timeout holds.
pub const MIN_SAMPLES: usize = 4;

/// The timeout for a peer whose recent heartbeat gaps are `history`.
pub fn adaptive_timeout(history: &GapHistory, heartbeat: Duration, floor: Duration) -> Duration {
    // TODO(ex0.3): learn the timeout from `history`.
    let _ = (history, heartbeat);
    let _ = floor;
    todo!("ex0.3: compute an adaptive timeout")
}
