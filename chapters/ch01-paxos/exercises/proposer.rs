//! Exercise 1.2: the proposer's Phase 2.
//!
//! A proposer has sent `prepare` for its ballot to every acceptor, and promises come
//! back, one message at a time, in any order, some twice, some for ballots it has since
//! given up. Write the handler that counts them and, once a majority has promised,
//! starts Phase 2 with the one value it may propose: the chapter's section "Phase 1:
//! prepare and promise" and "Paxos Made Simple", section 2.2 (the rule is the paper's,
//! word for word).
//!
//! What you have (src/paxos/proposer.rs and src/paxos/mod.rs):
//!
//! - `self.ballot` (the current ballot), `self.phase` (`Phase::Preparing` while it waits
//!   for promises), `self.value` (its own value) and `self.promises` (who has promised
//!   the current ballot, with what each reported accepted; `start_ballot` empties it);
//! - `config.quorum()` promises make a majority, `NodeId::all(config.nodes)` is every
//!   acceptor;
//! - `ctx.send(to, msg)`.
//!
//! The tests run the chapter's sweeps and its explorer against your proposer: a wrong
//! count or a wrong value shows up as a named property violated, with the command that
//! replays it and draws it.
//!
//! Done when `cargo run --bin exercises -- check ex1.2` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.2`.

#[allow(unused_imports)] // until your code uses them
use crate::paxos::proposer::{Phase, Proposer};
#[allow(unused_imports)]
use crate::paxos::{Ballot, Msg, PaxosConfig, PaxosNode, Value};
use crate::runtime::{Context, NodeId};

impl Proposer {
    /// Acceptor `from` promised `ballot`, reporting what it had accepted (`accepted`).
    pub fn on_promise(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
    ) {
        // TODO(ex1.2): count the promise, if it is one that counts (for which ballot, in
        // which phase, from whom, how many times?). With a majority:
        // choose the value by Phase 2's rule, move to Phase::Accepting with it, and ask
        // every acceptor to accept it (`Msg::Accept`).
        let _ = (ctx, config, from, ballot, accepted);
        todo!("ex1.2: count promises, then start Phase 2")
    }
}
