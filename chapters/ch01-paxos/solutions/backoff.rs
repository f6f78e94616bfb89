//! Exercise 1.4, reference solution: randomized exponential backoff.

use std::time::Duration;

use crate::runtime::Rng;

/// The most doublings of the backoff window.
pub const MAX_DOUBLINGS: u32 = 6;

/// How long a proposer whose ballot was refused `refusals` times waits before
/// its next ballot: a uniform draw from `0..=retry * 2^refusals`, the exponent capped at
/// [`MAX_DOUBLINGS`].
pub fn backoff(retry: Duration, refusals: u32, rng: &mut Rng) -> Duration {
    let window = retry * 2u32.pow(refusals.min(MAX_DOUBLINGS));
    rng.duration_between(Duration::ZERO, window)
}
