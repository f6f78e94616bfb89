//! Exercise 1.3: find the bug.
//!
//! This file is the chapter's learner (`src/paxos/learner.rs`), which
//! `--features ex1_3` builds in its place, with one bug planted in it: a bug of the kind
//! real Paxos implementations have shipped. Its tests do not tell you where it is. They
//! run the chapter's sweeps and explorer, and hand you a failing seed and the violated
//! property. Replay the seed with the command they print, draw it with `--svg run.svg`,
//! read the run in the diagram and in the trace (`--trace run.jsonl`), and find the step
//! where a node does something the rules of the page forbid. Then fix it here.
//!
//! TODO(ex1.3): find the bug, and fix it. Done when
//! `cargo run --bin exercises -- check ex1.3` passes. Stuck?
//! `cargo run --bin exercises -- hint ex1.3`.
//!
//! Telling every learner of every acceptance costs acceptors × learners messages, so
//! acceptors tell one *distinguished learner*, the ballot's proposer, which tells the
//! others (`Decided`) once it has learned ("Paxos Made Simple", §2.3). Messages get
//! lost, so a learner that has not learned asks again, every `query_every`: acceptors
//! answer with what they accepted, and a learner that already knows answers with the
//! decision itself.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ballot, Event, Msg, PaxosConfig, PaxosNode, Timer, Value};
use crate::runtime::{Context, NodeId};

/// A learner's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Learner {
    /// For each ballot, the value accepted in it and the acceptors that said so (in
    /// node order).
    pub votes: BTreeMap<Ballot, (Value, Vec<NodeId>)>,
    /// The chosen value and its ballot, once learned.
    pub learned: Option<(Ballot, Value)>,
}

impl Learner {
    // ANCHOR: on_accepted
    /// An acceptor accepted `value` in `ballot`. Returns the value if this message made
    /// it chosen, as far as this learner knows.
    pub fn on_accepted(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
        value: Value,
    ) -> Option<Value> {
        if self.learned.is_some() {
            return None;
        }
        let (v, voters) = self
            .votes
            .entry(ballot)
            .or_insert_with(|| (value.clone(), Vec::new()));
        if *v != value || voters.contains(&from) {
            return None; // a duplicate (or, were a rule broken, a second value in one ballot)
        }
        let at = voters.partition_point(|n| *n < from);
        voters.insert(at, from);
        // Every acceptor that has told us it accepted this value.
        let accepted_by: BTreeSet<NodeId> = self
            .votes
            .values()
            .filter(|(v, _)| *v == value)
            .flat_map(|(_, voters)| voters.iter().copied())
            .collect();
        if accepted_by.len() < config.quorum() {
            return None;
        }
        self.learn(ctx, ballot, value.clone());
        Some(value)
    }
    // ANCHOR_END: on_accepted

    /// Another learner tells the decision: learn it.
    pub fn on_decided(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        ballot: Ballot,
        value: Value,
    ) -> Option<Value> {
        if self.learned.is_some() {
            return None;
        }
        self.learn(ctx, ballot, value.clone());
        Some(value)
    }

    fn learn(&mut self, ctx: &mut Context<'_, PaxosNode>, ballot: Ballot, value: Value) {
        ctx.trace(Event::Learned {
            ballot,
            value: value.clone(),
        });
        ctx.log(format_args!("learned {value}, chosen in ballot {ballot}"));
        self.learned = Some((ballot, value));
        self.votes.clear();
        ctx.cancel_timer(Timer::Query);
    }

    /// Asks every acceptor again, if nothing has been learned yet.
    pub fn on_query_timer(&mut self, ctx: &mut Context<'_, PaxosNode>, config: &PaxosConfig) {
        if self.learned.is_some() {
            return;
        }
        for acceptor in NodeId::all(config.nodes) {
            ctx.send(acceptor, Msg::Query);
        }
        if let Some(every) = config.query_every {
            ctx.set_timer(Timer::Query, every);
        }
    }
}
