//! Exercise 0.2: a timeout that adapts to the network.
//!
//! A fixed timeout is wrong on every network but one: too short where heartbeats
//! straggle (live nodes are suspected, again and again), too long where they are prompt
//! (crashes are noticed late). The detector remembers the last gaps between each peer's
//! heartbeats (`GapHistory`, with `mean_us` and `std_dev_us`) and, when run with
//! `--adaptive`, asks this function for that peer's timeout.
//!
//! Return the mean gap plus DEVIATIONS standard deviations plus one `heartbeat` interval
//! of slack, never less than `floor`; with fewer than MIN_SAMPLES gaps, return `floor`.
//!
//! Done when `cargo test --features ex0_2 --test exercises ex0_2` passes.

use std::time::Duration;

use crate::detector::GapHistory;

/// How many standard deviations above the mean gap a peer may stay silent.
pub const DEVIATIONS: f64 = 4.0;

/// The fewest gaps worth learning from; with fewer, the configured timeout holds.
pub const MIN_SAMPLES: usize = 4;

/// The timeout for a peer whose recent heartbeat gaps are `history`.
pub fn adaptive_timeout(history: &GapHistory, heartbeat: Duration, floor: Duration) -> Duration {
    // TODO(ex0.2): learn the timeout from `history`.
    let _ = (history, heartbeat);
    let _ = floor;
    todo!("ex0.2: compute an adaptive timeout")
}
