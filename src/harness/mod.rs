//! What the chapter binaries and the tests share to drive runs: sweeps over many seeds
//! ([`mod@sweep`]), benchmarks and their reports ([`mod@bench`]), progress on a terminal
//! ([`progress`]), the tap of a threaded run's trace ([`tap`]), output that ends
//! quietly when its reader closes the pipe ([`out`]), and made-up histories for the
//! linearizability checker ([`histories`]).
//!
//! None of it is protocol code, and none of it is the world: the world
//! ([`crate::runtime`]) runs one cluster; the harness runs it many times, measures it,
//! and reports. A chapter's own harness (chapter 3's threaded run that crashes its
//! leader every second, say) lives in that chapter's module (`raft::run`), where its
//! tests use it too.

pub mod bench;
pub mod histories;
pub mod out;
pub mod progress;
pub mod sweep;
pub mod tap;

pub use progress::Progress;
pub use sweep::{sweep, SeedOutcome, Sweep};
pub use tap::Tap;
