//! The learner: finds out which value was chosen.
//!
//! A learner has learned a value once a majority of the acceptors have told it they
//! accepted that value **in the same ballot**: that is the definition of chosen.
//! Acceptances of one value in different ballots do not add up.
//!
//! Telling every learner of every acceptance costs acceptors × learners messages, so
//! acceptors tell one *distinguished learner*, the ballot's proposer, which tells the
//! others (`Decided`) once it has learned ("Paxos Made Simple", §2.3). Messages get
//! lost, so a learner that has not learned asks again, every `query_every`: acceptors
//! answer with what they accepted, and a learner that already knows answers with the
//! decision itself.

use std::collections::BTreeMap;

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
        if voters.len() < config.quorum() {
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
