//! Exercise 0.2, reference solution: a slow node.

use std::time::Duration;

/// The least delay a slow node's message suffers before the tenfold: on a network with
/// no delay at all, a slow node is still slow.
pub const SLOW_FLOOR: Duration = Duration::from_millis(1);

/// The delay of a message sent by a slow node, given the delay the network drew for it:
/// ten times that delay, and at least ten times [`SLOW_FLOOR`].
pub fn slow_delay(delay: Duration) -> Duration {
    delay.max(SLOW_FLOOR) * 10
}
