//! The exercises, mounted from `chapters/`.
//!
//! Every exercise has two versions of one file: the reader's starter
//! (`chapters/<chapter>/exercises/<name>.rs`, with `// TODO(exN.M)` and `todo!()` where
//! the reader's code goes) and the reference solution beside it
//! (`chapters/<chapter>/solutions/<name>.rs`). The library mounts the solutions by
//! default, so `cargo test` on a fresh clone passes. Each exercise has a cargo feature
//! of its own name that mounts the reader's file instead (and `starter` mounts them
//! all), so working on one exercise never runs another's unfinished code:
//!
//! ```text
//! cargo test --features ex0_1 --test exercises ex0_1
//! ```
//!
//! `chapters/exercises.tsv` lists every exercise (chapter, name, test filter, book
//! section, hint), and `.ci/check-exercises` proves that each exercise's tests fail on
//! the starter and pass on the solution.

/// Exercise 0.1: a slow node whose messages are delayed tenfold.
#[cfg(not(feature = "ex0_1"))]
#[path = "../../chapters/ch00-world/solutions/slow_node.rs"]
pub mod slow_node;
/// Exercise 0.1: a slow node whose messages are delayed tenfold.
#[cfg(feature = "ex0_1")]
#[path = "../../chapters/ch00-world/exercises/slow_node.rs"]
pub mod slow_node;

/// Exercise 0.2: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(not(feature = "ex0_2"))]
#[path = "../../chapters/ch00-world/solutions/adaptive_timeout.rs"]
pub mod adaptive_timeout;
/// Exercise 0.2: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(feature = "ex0_2")]
#[path = "../../chapters/ch00-world/exercises/adaptive_timeout.rs"]
pub mod adaptive_timeout;

/// Exercise 1.1: the value a proposer proposes.
#[cfg(not(feature = "ex1_1"))]
#[path = "../../chapters/ch01-paxos/solutions/value_to_propose.rs"]
pub mod value_to_propose;
/// Exercise 1.1: the value a proposer proposes.
#[cfg(feature = "ex1_1")]
#[path = "../../chapters/ch01-paxos/exercises/value_to_propose.rs"]
pub mod value_to_propose;

/// Exercise 1.2: the acceptor's two checks.
#[cfg(not(feature = "ex1_2"))]
#[path = "../../chapters/ch01-paxos/solutions/promise.rs"]
pub mod promise;
/// Exercise 1.2: the acceptor's two checks.
#[cfg(feature = "ex1_2")]
#[path = "../../chapters/ch01-paxos/exercises/promise.rs"]
pub mod promise;

/// Exercise 1.3: randomized exponential backoff.
#[cfg(not(feature = "ex1_3"))]
#[path = "../../chapters/ch01-paxos/solutions/backoff.rs"]
pub mod backoff;
/// Exercise 1.3: randomized exponential backoff.
#[cfg(feature = "ex1_3")]
#[path = "../../chapters/ch01-paxos/exercises/backoff.rs"]
pub mod backoff;

/// Exercise 3.1: PreVote's answer.
#[cfg(not(feature = "ex3_1"))]
#[path = "../../chapters/ch03-raft-election/solutions/pre_vote.rs"]
pub mod pre_vote;
/// Exercise 3.1: PreVote's answer.
#[cfg(feature = "ex3_1")]
#[path = "../../chapters/ch03-raft-election/exercises/pre_vote.rs"]
pub mod pre_vote;

/// Exercise 3.2: CheckQuorum.
#[cfg(not(feature = "ex3_2"))]
#[path = "../../chapters/ch03-raft-election/solutions/check_quorum.rs"]
pub mod check_quorum;
/// Exercise 3.2: CheckQuorum.
#[cfg(feature = "ex3_2")]
#[path = "../../chapters/ch03-raft-election/exercises/check_quorum.rs"]
pub mod check_quorum;

/// Exercise 3.3: leadership transfer.
#[cfg(not(feature = "ex3_3"))]
#[path = "../../chapters/ch03-raft-election/solutions/transfer.rs"]
pub mod transfer;
/// Exercise 3.3: leadership transfer.
#[cfg(feature = "ex3_3")]
#[path = "../../chapters/ch03-raft-election/exercises/transfer.rs"]
pub mod transfer;
