//! Exercise 0.1: a slow node.
//!
//! A node can be alive and connected and still too slow: an overloaded machine, a long
//! garbage-collection pause, a bad network card. `Network::route` (src/runtime/net.rs)
//! calls `slow_delay` for every message a node marked slow sends (`Action::Slow`,
//! `--slow` on the command line). Make a slow node's messages take ten times as long as
//! the network would otherwise take, and at least ten times `SLOW_FLOOR`, so that a slow
//! node is slow even on a network without delay.
//!
//! Done when `cargo test --features ex0_1 --test exercises ex0_1` passes.

use std::time::Duration;

/// The least delay a slow node's message suffers before the tenfold.
pub const SLOW_FLOOR: Duration = Duration::from_millis(1);

/// The delay of a message sent by a slow node, given the delay the network drew for it.
pub fn slow_delay(delay: Duration) -> Duration {
    // TODO(ex0.1): ten times `delay`, and never less than ten times SLOW_FLOOR.
    let _ = delay;
    todo!("ex0.1: compute a slow node's delay")
}
