//! Exercise 1.1, reference solution: the acceptor's two rules and its two handlers.

use crate::error::Result;
use crate::paxos::acceptor::Acceptor;
use crate::paxos::{Ballot, Event, Msg, PaxosConfig, PaxosNode, Value};
use crate::runtime::{Context, NodeId};
use crate::storage::Storage;

impl Acceptor {
    // ANCHOR: rules
    /// Phase 1b: may this acceptor promise `ballot`? Yes unless it promised a higher
    /// ballot. (A prepare for the very ballot it promised is a duplicate: promising it
    /// again is harmless, and refusing it would stall a proposer whose first promise
    /// was lost.)
    pub fn may_promise(&self, ballot: Ballot) -> bool {
        ballot >= self.promised
    }

    /// Phase 2b: may this acceptor accept a proposal in `ballot`? Yes unless it
    /// promised a higher ballot (P1a).
    pub fn may_accept(&self, ballot: Ballot) -> bool {
        ballot >= self.promised
    }
    // ANCHOR_END: rules

    // ANCHOR: on_prepare
    /// Phase 1b: promise `ballot` if nothing higher was promised, else refuse.
    pub fn on_prepare(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        storage: &mut Storage,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
    ) -> Result<()> {
        if !self.may_promise(ballot) {
            self.refuse(ctx, from, ballot);
            return Ok(());
        }
        self.promised = ballot;
        self.persist(storage, config)?; // the promise is on disk before anyone hears of it
        ctx.trace(Event::Promised { ballot });
        let accepted = self.accepted.clone();
        ctx.send(from, Msg::Promise { ballot, accepted });
        Ok(())
    }
    // ANCHOR_END: on_prepare

    // ANCHOR: on_accept
    /// Phase 2b: accept `(ballot, value)` unless a higher ballot was promised, and tell
    /// the ballot's distinguished learner, its proposer.
    pub fn on_accept(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        storage: &mut Storage,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
        value: Value,
    ) -> Result<()> {
        if !self.may_accept(ballot) {
            self.refuse(ctx, from, ballot);
            return Ok(());
        }
        self.promised = ballot; // accepting a ballot promises it too
        self.accepted = Some((ballot, value.clone()));
        self.persist(storage, config)?; // accepted on disk before the learners hear of it
        ctx.trace(Event::Accepted {
            ballot,
            value: value.clone(),
        });
        // To the distinguished learner of this ballot: its proposer ("Paxos Made
        // Simple", section 2.3), which tells every other learner once it has learned.
        ctx.send(ballot.node, Msg::Accepted { ballot, value });
        Ok(())
    }
    // ANCHOR_END: on_accept
}
