//! Exercise 0.3, reference solution: a timeout that adapts to the network.

use std::time::Duration;

use crate::detector::GapHistory;

/// How many standard deviations above the mean gap a peer may stay silent.
pub const DEVIATIONS: f64 = 4.0;

/// The fewest gaps worth learning from; with fewer, the configured timeout holds.
pub const MIN_SAMPLES: usize = 4;

/// The timeout for a peer whose recent heartbeat gaps are `history`: the mean gap plus
/// [`DEVIATIONS`] standard deviations plus one heartbeat interval of slack (Jacobson's
/// retransmission timeout, applied to heartbeats), and never less than `floor`.
pub fn adaptive_timeout(history: &GapHistory, heartbeat: Duration, floor: Duration) -> Duration {
    if history.gaps.len() < MIN_SAMPLES {
        return floor;
    }
    let us = history.mean_us() + DEVIATIONS * history.std_dev_us() + heartbeat.as_micros() as f64;
    Duration::from_micros(us.round() as u64).max(floor)
}
