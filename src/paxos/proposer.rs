//! The proposer: the one role that drives Paxos forward.
//!
//! A proposer runs ballots until a value is chosen. Each ballot is one attempt at the
//! two phases; its rules ("Paxos Made Simple", §2.2):
//!
//! - A new ballot is above every ballot the proposer has seen (its round is higher), and
//!   never reused, even across a crash: the round is persisted before the prepare goes
//!   out.
//! - Votes are counted **per ballot**: promises and acceptances for an earlier ballot do
//!   not count toward this one (`--break stale-votes`).
//! - With promises from a **majority** (`--break minority-quorum`), the value to propose
//!   is the value of the highest-ballot acceptance reported by those promises, or the
//!   proposer's own value if none was reported (`--break ignore-accepted`).
//!   Counting promises and this value rule, `on_promise`, is exercise 1.2 (the reference
//!   solution is `chapters/ch01-paxos/solutions/proposer.rs`).
//! - Acceptances go to the proposer's own learner (the distinguished learner), which
//!   counts them; when it learns, the proposer is done.
//! - A refusal reports the ballot the acceptor promised; the proposer will retry above
//!   it, after a randomized, growing backoff. Without the backoff two proposers can
//!   preempt each other forever: Paxos is safe without it, but not live (`--no-backoff`).

use std::time::Duration;

use super::{Ballot, Event, Msg, PaxosConfig, PaxosNode, Rule, Timer, Value};
use crate::error::Result;
use crate::runtime::{Context, NodeId};
use crate::storage::Storage;

/// Where a proposer is in its current ballot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No ballot under way (not started, or waiting out a backoff).
    Idle,
    /// Phase 1: waiting for promises.
    Preparing,
    /// Phase 2: waiting for acceptances of `value`.
    Accepting {
        /// The value sent in the accepts.
        value: Value,
    },
    /// A value is chosen; nothing more to do.
    Done,
}

/// A proposer's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposer {
    /// The value this proposer wants chosen.
    pub value: Value,
    /// The current ballot (`Ballot::NONE` before the first).
    pub ballot: Ballot,
    /// Where the current ballot stands.
    pub phase: Phase,
    /// Promises for the current ballot: who promised, and what each reported accepted
    /// (a set: the order they arrived in does not matter).
    pub promises: Vec<(NodeId, Option<(Ballot, Value)>)>,
    /// The highest round seen in any refusal: the next ballot goes above it.
    pub highest_round: u64,
    /// How many ballots this proposer has started. Under a ballot bound (the
    /// explorer's), the count is kept in storage too, so that the bound holds for the
    /// whole run and a restart does not renew it.
    pub ballots_tried: u64,
    /// Refusals so far, for the backoff. Each one is another ballot that failed to get
    /// a value chosen (winning Phase 1 is not success: a ballot can still be refused in
    /// Phase 2), so the window keeps growing until the proposer is done.
    pub refusals: u32,
}

/// The storage key of the highest round this proposer has used.
pub(super) const ROUND_KEY: &str = "paxos.proposer.round";
/// The storage key of how many ballots this proposer has started, kept only under a
/// ballot bound.
pub(super) const TRIED_KEY: &str = "paxos.proposer.tried";

impl Proposer {
    /// A proposer of `value`, resuming above the highest round it used before a crash
    /// (and, under a ballot bound, with the ballots it has left).
    pub fn new(value: Value, storage: &Storage, config: &PaxosConfig) -> Result<Proposer> {
        let ballots_tried = match config.max_ballots {
            Some(_) => storage.get_u64(TRIED_KEY)?.unwrap_or(0),
            None => 0,
        };
        Ok(Proposer {
            value,
            ballot: Ballot::NONE,
            phase: Phase::Idle,
            promises: Vec::new(),
            highest_round: storage.get_u64(ROUND_KEY)?.unwrap_or(0),
            ballots_tried,
            refusals: 0,
        })
    }

    // ANCHOR: start_ballot
    /// Starts a new ballot above every round seen, and sends `prepare` to every acceptor.
    pub fn start_ballot(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        storage: &mut Storage,
        config: &PaxosConfig,
    ) -> Result<()> {
        if !self.may_start_ballot(config) {
            return Ok(());
        }
        let round = self.highest_round.max(self.ballot.round) + 1;
        storage.put_u64(ROUND_KEY, round)?; // never reuse a ballot, even after a crash
        self.highest_round = round;
        self.ballot = Ballot::new(round, ctx.me());
        self.count_ballot(storage, config)?;
        self.phase = Phase::Preparing;
        if !config.breaks(Rule::StaleVotes) {
            self.promises.clear(); // votes are counted per ballot
        }
        ctx.trace(Event::Prepare {
            ballot: self.ballot,
        });
        ctx.log(format_args!("starts ballot {}", self.ballot));
        let prepare = Msg::Prepare {
            ballot: self.ballot,
        };
        Proposer::send_to_acceptors(ctx, config, &prepare);
        if self.may_retry(config) {
            ctx.set_timer(Timer::Retry, config.retry);
        }
        Ok(())
    }
    // ANCHOR_END: start_ballot

    /// Sends `msg` to every acceptor: every node, this one included.
    pub fn send_to_acceptors(ctx: &mut Context<'_, PaxosNode>, config: &PaxosConfig, msg: &Msg) {
        for acceptor in NodeId::all(config.nodes) {
            ctx.send(acceptor, msg.clone());
        }
    }

    /// Whether a new ballot may start: not once a value is chosen, nor beyond a ballot
    /// bound (the explorer's).
    fn may_start_ballot(&self, config: &PaxosConfig) -> bool {
        self.phase != Phase::Done && config.max_ballots.is_none_or_more_than(self.ballots_tried)
    }

    /// Whether a retry may follow the current ballot under a ballot bound.
    fn may_retry(&self, config: &PaxosConfig) -> bool {
        config.max_ballots.is_none_or_more_than(self.ballots_tried)
    }

    /// Counts a started ballot; under a ballot bound the count is on disk, so that a
    /// restart does not renew the bound.
    fn count_ballot(&mut self, storage: &mut Storage, config: &PaxosConfig) -> Result<()> {
        self.ballots_tried += 1;
        if config.max_ballots.is_some() {
            storage.put_u64(TRIED_KEY, self.ballots_tried)?;
        }
        Ok(())
    }

    // ANCHOR: on_nack
    /// A refusal of the current ballot: remember the higher ballot, and retry above it
    /// after a randomized backoff that doubles with each refusal.
    pub fn on_nack(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        config: &PaxosConfig,
        ballot: Ballot,
        promised: Ballot,
    ) {
        self.highest_round = self.highest_round.max(promised.round);
        if ballot != self.ballot
            || !matches!(self.phase, Phase::Preparing | Phase::Accepting { .. })
        {
            return;
        }
        self.phase = Phase::Idle;
        self.refusals += 1;
        let wait = if config.backoff {
            crate::exercises::backoff::backoff(config.retry, self.refusals, ctx.rng())
        } else {
            Duration::ZERO
        };
        ctx.log(format_args!(
            "ballot {ballot} refused ({promised} promised); retries in {wait:?}"
        ));
        if self.may_retry(config) {
            ctx.set_timer(Timer::Retry, wait);
        }
    }
    // ANCHOR_END: on_nack

    /// The value is chosen (this node's learner learned it): stop proposing.
    pub fn finish(&mut self, ctx: &mut Context<'_, PaxosNode>) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            ctx.cancel_timer(Timer::Retry);
        }
    }
}

/// `Option<u64>` as a bound: `None` is no bound.
trait Bound {
    /// Whether the bound allows more than `n`.
    fn is_none_or_more_than(&self, n: u64) -> bool;
}

impl Bound for Option<u64> {
    fn is_none_or_more_than(&self, n: u64) -> bool {
        self.is_none_or(|m| m > n)
    }
}
