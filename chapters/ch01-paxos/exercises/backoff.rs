//! Exercise 1.3: randomized exponential backoff.
//!
//! Two proposers can preempt each other forever: each one's prepare arrives just after
//! the other's promises and just before its accepts. Paxos stays safe, but nothing is
//! ever chosen. No deterministic rule can rule this out (Fischer, Lynch and Paterson,
//! 1985); randomness makes it vanishingly unlikely. After a refusal, a proposer waits a
//! random time before its next ballot, from a window that doubles with each refusal in
//! a row, so that sooner or later one proposer runs alone long enough to finish.
//!
//! `Proposer::on_nack` (src/paxos/proposer.rs) calls this function.
//! Done when `cargo test --features ex1_3 --test exercises ex1_3` passes.

use std::time::Duration;

use crate::runtime::Rng;

/// The most doublings of the backoff window.
pub const MAX_DOUBLINGS: u32 = 6;

/// How long to wait after `refusals` refusals: a uniform random draw from
/// `0..=retry * 2^refusals`, the exponent capped at `MAX_DOUBLINGS`. Use `rng`, the
/// run's seeded generator, for the draw.
pub fn backoff(retry: Duration, refusals: u32, rng: &mut Rng) -> Duration {
    // TODO(ex1.3): a random wait from a window that doubles with each refusal.
    let _ = (retry, refusals, rng);
    todo!("ex1.3: randomized exponential backoff")
}
