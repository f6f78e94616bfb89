//! The exercises, mounted from `chapters/`.
//!
//! Every exercise has two versions of one file: the reader's starter
//! (`chapters/<chapter>/exercises/<name>.rs`, with `// TODO(exN.M)` and `todo!()` where
//! the reader's code goes) and the reference solution beside it
//! (`chapters/<chapter>/solutions/<name>.rs`). The library mounts the solutions by
//! default, so `cargo test` on a fresh clone passes; the `starter` feature mounts the
//! reader's files instead:
//!
//! ```text
//! cargo test --features starter --test exercises ex0_1
//! ```
//!
//! `chapters/exercises.tsv` lists every exercise (chapter, name, test filter, book
//! section, hint), and `.ci/check-exercises` proves that each exercise's tests fail on
//! the starter and pass on the solution.

/// Exercise 0.1: a slow node whose messages are delayed tenfold.
#[cfg(not(feature = "starter"))]
#[path = "../../chapters/ch00-world/solutions/slow_node.rs"]
pub mod slow_node;
/// Exercise 0.1: a slow node whose messages are delayed tenfold.
#[cfg(feature = "starter")]
#[path = "../../chapters/ch00-world/exercises/slow_node.rs"]
pub mod slow_node;

/// Exercise 0.2: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(not(feature = "starter"))]
#[path = "../../chapters/ch00-world/solutions/adaptive_timeout.rs"]
pub mod adaptive_timeout;
/// Exercise 0.2: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(feature = "starter")]
#[path = "../../chapters/ch00-world/exercises/adaptive_timeout.rs"]
pub mod adaptive_timeout;
