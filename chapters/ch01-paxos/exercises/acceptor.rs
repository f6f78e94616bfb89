//! Exercise 1.1: the acceptor.
//!
//! The acceptor is the memory of Paxos: everything the protocol guarantees rests on
//! what acceptors promise and accept, and on their never forgetting it. Write its two
//! rules and its two handlers from the chapter's sections "Phase 1: prepare and promise"
//! and "Phase 2: accept and accepted", and "Paxos Made Simple", section 2.2 (P1a and the
//! two phases).
//!
//! What you have (src/paxos/acceptor.rs and src/paxos/mod.rs):
//!
//! - `self.promised` (the highest ballot promised, `Ballot::NONE` at first) and
//!   `self.accepted` (the ballot and value last accepted, if any);
//! - `self.persist(storage, config)?` writes both to stable storage and returns once the
//!   write is durable;
//! - `self.refuse(ctx, from, ballot)` sends `from` a `Nack` naming the ballot promised,
//!   and records it;
//! - `ctx.send(to, msg)` and `ctx.trace(event)`. The checker that watches every step of a
//!   run learns what was accepted from `Event::Accepted` alone, so record an acceptance
//!   when, and only when, you make one; record a promise with `Event::Promised`.
//!
//! The rules broken on purpose (`--break`) are applied outside your code (`as_broken`
//! in src/paxos/node.rs, and `persist` for `no-persist`): write the protocol as it should
//! be.
//!
//! The tests run the chapter's sweeps (dueling proposers on a lossy, duplicating network,
//! acceptors crashing and restarting) and its explorer (every order of deliveries of a
//! small cluster, crashes included) against your acceptor; a broken rule shows up as a
//! named property violated, with the command that replays it and draws it.
//!
//! Done when `cargo run --bin exercises -- check ex1.1` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.1`.

use crate::error::Result;
use crate::paxos::acceptor::Acceptor;
#[allow(unused_imports)] // until your code uses them
use crate::paxos::{Ballot, Event, Msg, PaxosConfig, PaxosNode, Value};
use crate::runtime::{Context, NodeId};
use crate::storage::Storage;

impl Acceptor {
    /// Phase 1b: may this acceptor promise `ballot`, given what it has promised?
    pub fn may_promise(&self, ballot: Ballot) -> bool {
        // TODO(ex1.1): what does the promise forbid? Remember that the network can
        // deliver the same prepare twice.
        let _ = ballot;
        todo!("ex1.1: may the acceptor promise this ballot?")
    }

    /// Phase 2b: may this acceptor accept a proposal in `ballot` (P1a)?
    pub fn may_accept(&self, ballot: Ballot) -> bool {
        // TODO(ex1.1): P1a, in code.
        let _ = ballot;
        todo!("ex1.1: may the acceptor accept in this ballot?")
    }

    /// Phase 1b: a proposer asks for a promise of `ballot`.
    pub fn on_prepare(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        storage: &mut Storage,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
    ) -> Result<()> {
        // TODO(ex1.1): refuse what the promise forbids. Otherwise promise: the promise,
        // on disk before anyone can hear of it; then the answer, which carries what
        // this acceptor has accepted, if anything (`Msg::Promise`).
        let _ = (ctx, storage, config, from, ballot);
        todo!("ex1.1: the prepare handler")
    }

    /// Phase 2b: a proposer asks this acceptor to accept `value` in `ballot`.
    pub fn on_accept(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        storage: &mut Storage,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
        value: Value,
    ) -> Result<()> {
        // TODO(ex1.1): refuse what P1a forbids. Otherwise accept, and keep in mind that
        // accepting a ballot is also promising it. On disk first; then the announcement
        // (`Msg::Accepted`), to the ballot's distinguished learner: its proposer,
        // `ballot.node`.
        let _ = (ctx, storage, config, from, ballot, value);
        todo!("ex1.1: the accept handler")
    }
}
