//! Exercise 1.2: the acceptor's two checks.
//!
//! An acceptor's promise is the whole of its contribution to safety: once it has
//! promised a ballot, it must refuse what the promise forbids, in both phases. "Paxos
//! Made Simple", section 2.2, P1a: "An acceptor can accept a proposal numbered n iff it
//! has not responded to a prepare request having a number greater than n."
//!
//! `Acceptor::on_prepare` and `Acceptor::on_accept` (src/paxos/acceptor.rs) call these.
//! Remember what the network does to messages before you decide where the line falls.
//!
//! Done when `cargo test --features ex1_2 --test exercises ex1_2` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.2`.

use crate::paxos::Ballot;

/// Phase 1b: may an acceptor that has promised `promised` promise `ballot`?
pub fn may_promise(promised: Ballot, ballot: Ballot) -> bool {
    // TODO(ex1.2): refuse only what the promise forbids.
    let _ = (promised, ballot);
    todo!("ex1.2: may the acceptor promise this ballot?")
}

/// Phase 2b: may an acceptor that has promised `promised` accept a proposal in `ballot`?
pub fn may_accept(promised: Ballot, ballot: Ballot) -> bool {
    // TODO(ex1.2): P1a.
    let _ = (promised, ballot);
    todo!("ex1.2: may the acceptor accept in this ballot?")
}
