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
//! cargo test --features ex0_2 --test exercises ex0_2
//! ```
//!
//! `chapters/exercises.tsv` lists every exercise (chapter, name, test filter, book
//! section, hint), and `.ci/check-exercises` proves that each exercise's tests fail on
//! the starter and pass on the solution.

/// Exercise 0.1: the failure detector's heartbeat and silence handlers (`impl Detector`).
#[cfg(not(feature = "ex0_1"))]
#[path = "../../chapters/ch00-world/solutions/detector.rs"]
pub mod detector;
/// Exercise 0.1: the failure detector's heartbeat and silence handlers (`impl Detector`).
#[cfg(feature = "ex0_1")]
#[path = "../../chapters/ch00-world/exercises/detector.rs"]
pub mod detector;

/// Exercise 0.2: a slow node whose messages are delayed tenfold.
#[cfg(not(feature = "ex0_2"))]
#[path = "../../chapters/ch00-world/solutions/slow_node.rs"]
pub mod slow_node;
/// Exercise 0.2: a slow node whose messages are delayed tenfold.
#[cfg(feature = "ex0_2")]
#[path = "../../chapters/ch00-world/exercises/slow_node.rs"]
pub mod slow_node;

/// Exercise 0.3: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(not(feature = "ex0_3"))]
#[path = "../../chapters/ch00-world/solutions/adaptive_timeout.rs"]
pub mod adaptive_timeout;
/// Exercise 0.3: a failure detector whose timeout adapts to observed heartbeat gaps.
#[cfg(feature = "ex0_3")]
#[path = "../../chapters/ch00-world/exercises/adaptive_timeout.rs"]
pub mod adaptive_timeout;

/// Exercise 1.1: the acceptor's rules and handlers (`impl Acceptor`).
#[cfg(not(feature = "ex1_1"))]
#[path = "../../chapters/ch01-paxos/solutions/acceptor.rs"]
pub mod acceptor;
/// Exercise 1.1: the acceptor's rules and handlers (`impl Acceptor`).
#[cfg(feature = "ex1_1")]
#[path = "../../chapters/ch01-paxos/exercises/acceptor.rs"]
pub mod acceptor;

/// Exercise 1.2: the proposer counts promises and starts Phase 2 (`impl Proposer`).
#[cfg(not(feature = "ex1_2"))]
#[path = "../../chapters/ch01-paxos/solutions/proposer.rs"]
pub mod proposer;
/// Exercise 1.2: the proposer counts promises and starts Phase 2 (`impl Proposer`).
#[cfg(feature = "ex1_2")]
#[path = "../../chapters/ch01-paxos/exercises/proposer.rs"]
pub mod proposer;

/// Exercise 1.4: randomized exponential backoff.
#[cfg(not(feature = "ex1_4"))]
#[path = "../../chapters/ch01-paxos/solutions/backoff.rs"]
pub mod backoff;
/// Exercise 1.4: randomized exponential backoff.
#[cfg(feature = "ex1_4")]
#[path = "../../chapters/ch01-paxos/exercises/backoff.rs"]
pub mod backoff;

/// Exercise 3.1: the term rule and the RequestVote handler (`impl RaftNode`).
#[cfg(not(feature = "ex3_1"))]
#[path = "../../chapters/ch03-raft-election/solutions/voter.rs"]
pub mod voter;
/// Exercise 3.1: the term rule and the RequestVote handler (`impl RaftNode`).
#[cfg(feature = "ex3_1")]
#[path = "../../chapters/ch03-raft-election/exercises/voter.rs"]
pub mod voter;

/// Exercise 3.2: the candidate starts an election and counts its votes (`impl RaftNode`).
#[cfg(not(feature = "ex3_2"))]
#[path = "../../chapters/ch03-raft-election/solutions/candidate.rs"]
pub mod candidate;
/// Exercise 3.2: the candidate starts an election and counts its votes (`impl RaftNode`).
#[cfg(feature = "ex3_2")]
#[path = "../../chapters/ch03-raft-election/exercises/candidate.rs"]
pub mod candidate;

/// Exercise 3.4: PreVote's answer.
#[cfg(not(feature = "ex3_4"))]
#[path = "../../chapters/ch03-raft-election/solutions/pre_vote.rs"]
pub mod pre_vote;
/// Exercise 3.4: PreVote's answer.
#[cfg(feature = "ex3_4")]
#[path = "../../chapters/ch03-raft-election/exercises/pre_vote.rs"]
pub mod pre_vote;

/// Exercise 3.5: CheckQuorum.
#[cfg(not(feature = "ex3_5"))]
#[path = "../../chapters/ch03-raft-election/solutions/check_quorum.rs"]
pub mod check_quorum;
/// Exercise 3.5: CheckQuorum.
#[cfg(feature = "ex3_5")]
#[path = "../../chapters/ch03-raft-election/exercises/check_quorum.rs"]
pub mod check_quorum;

/// Exercise 3.6: leadership transfer.
#[cfg(not(feature = "ex3_6"))]
#[path = "../../chapters/ch03-raft-election/solutions/transfer.rs"]
pub mod transfer;
/// Exercise 3.6: leadership transfer.
#[cfg(feature = "ex3_6")]
#[path = "../../chapters/ch03-raft-election/exercises/transfer.rs"]
pub mod transfer;

/// The exercise features this build was made with (`ex1_1`, …): the reader's own code
/// in place of the reference solutions. Empty in a build of the solutions.
pub fn features() -> Vec<&'static str> {
    let all = [
        ("ex0_1", cfg!(feature = "ex0_1")),
        ("ex0_2", cfg!(feature = "ex0_2")),
        ("ex0_3", cfg!(feature = "ex0_3")),
        ("ex1_1", cfg!(feature = "ex1_1")),
        ("ex1_2", cfg!(feature = "ex1_2")),
        ("ex1_3", cfg!(feature = "ex1_3")),
        ("ex1_4", cfg!(feature = "ex1_4")),
        ("ex3_1", cfg!(feature = "ex3_1")),
        ("ex3_2", cfg!(feature = "ex3_2")),
        ("ex3_3", cfg!(feature = "ex3_3")),
        ("ex3_4", cfg!(feature = "ex3_4")),
        ("ex3_5", cfg!(feature = "ex3_5")),
        ("ex3_6", cfg!(feature = "ex3_6")),
    ];
    all.iter().filter(|(_, on)| *on).map(|(f, _)| *f).collect()
}

/// How the reader runs `program` again with the code this build was made with: the
/// program's name in a build of the solutions, and `cargo run --features … --bin
/// program --` in a build of exercise code, so that a replayed seed runs the reader's
/// code, not the reference.
pub fn invocation(program: &str) -> String {
    let features = features();
    if features.is_empty() {
        program.to_string()
    } else {
        format!(
            "cargo run --features {} --bin {program} --",
            features.join(",")
        )
    }
}
