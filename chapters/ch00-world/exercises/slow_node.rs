//! Exercise 0.2: a slow node (an extension).
//!
//! A node can be alive and connected and still too slow: an overloaded machine, a long
//! garbage-collection pause, a bad network card. Slowness is what a failure detector
//! finds hardest, since a slow peer looks, for a while, exactly like a crashed one.
//!
//! `Network::route` (src/runtime/net.rs) asks `slow_delay` how long each message that a
//! slow node sends (`Action::Slow`, `--slow N`) takes, given the delay the network drew
//! for it. Make a slow node's messages ten times slower than the network's, and make a
//! slow node slow even on a network without any delay: no message of a slow node takes
//! less than ten times `SLOW_FLOOR`.
//!
//! Done when `cargo test --features ex0_2 --test exercises ex0_2` passes (the tests also
//! run the detector with a slow node, which its peers must suspect, and only it). Stuck?
//! `cargo run --bin exercises -- hint ex0.2`.

use std::time::Duration;

/// The least delay a slow node's message suffers before the tenfold.
pub const SLOW_FLOOR: Duration = Duration::from_millis(1);

/// The delay of a message sent by a slow node, given the delay the network drew for it.
pub fn slow_delay(delay: Duration) -> Duration {
    // TODO(ex0.2): how long does a slow node's message take?
    let _ = delay;
    todo!("ex0.2: compute a slow node's delay")
}
