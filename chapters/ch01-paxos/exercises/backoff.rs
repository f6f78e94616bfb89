//! Exercise 1.4: randomized exponential backoff (an extension).
//!
//! Two proposers can preempt each other forever: each one's prepare arrives just after
//! the other's promises and just before its accepts. Paxos stays safe, but nothing is
//! ever chosen. No deterministic rule can rule this out (Fischer, Lynch and Paterson,
//! 1985); randomness makes it vanishingly unlikely. After a refusal, a proposer waits
//! before its next ballot, so that sooner or later one proposer runs alone long enough
//! to finish.
//!
//! `Proposer::on_nack` (src/paxos/proposer.rs) calls this function. The tests expect the
//! wait to be random, drawn with `rng` (the run's seeded generator), never longer than
//! `retry` times two to the power of the refusals in a row, that power growing no
//! further than `MAX_DOUBLINGS`; and three proposers dueling on a network that reorders
//! must decide.
//!
//! Done when `cargo test --features ex1_4 --test exercises ex1_4` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.4`.

use std::time::Duration;

use crate::runtime::Rng;

/// The most doublings of the backoff window.
pub const MAX_DOUBLINGS: u32 = 6;

/// How long a proposer whose ballots were refused `refusals` times in a row waits
/// before its next ballot, `retry` being how long it gives a ballot.
pub fn backoff(retry: Duration, refusals: u32, rng: &mut Rng) -> Duration {
    // TODO(ex1.4): how long to wait before the next ballot?
    let _ = (retry, refusals, rng);
    todo!("ex1.4: randomized exponential backoff")
}
