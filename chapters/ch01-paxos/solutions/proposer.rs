//! Exercise 1.2, reference solution: the proposer counts promises and starts Phase 2.

use crate::paxos::proposer::{Phase, Proposer};
use crate::paxos::{Ballot, Msg, PaxosConfig, PaxosNode, Value};
use crate::runtime::{Context, NodeId};

impl Proposer {
    // ANCHOR: on_promise
    /// Counts a promise; with a majority, picks the value and starts Phase 2.
    pub fn on_promise(
        &mut self,
        ctx: &mut Context<'_, PaxosNode>,
        config: &PaxosConfig,
        from: NodeId,
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
    ) {
        if self.phase != Phase::Preparing
            || ballot != self.ballot
            || self.promises.iter().any(|(n, _)| *n == from)
        {
            return; // a late promise for an old ballot, or a duplicate
        }
        let at = self.promises.partition_point(|(n, _)| *n < from);
        self.promises.insert(at, (from, accepted));
        if self.promises.len() < config.quorum() {
            return;
        }
        let value = self.value_to_propose();
        ctx.log(format_args!(
            "has a majority for {}: proposes {value}",
            self.ballot
        ));
        self.phase = Phase::Accepting {
            value: value.clone(),
        };
        let accept = Msg::Accept {
            ballot: self.ballot,
            value,
        };
        Proposer::send_to_acceptors(ctx, config, &accept);
    }
    // ANCHOR_END: on_promise

    // ANCHOR: value_to_propose
    /// Phase 2's value rule: the value of the highest-ballot acceptance the promises
    /// report, or this proposer's own value if none reports one.
    fn value_to_propose(&self) -> Value {
        self.promises
            .iter()
            .filter_map(|(_, accepted)| accepted.as_ref())
            .max_by_key(|(ballot, _)| *ballot)
            .map_or_else(|| self.value.clone(), |(_, value)| value.clone())
    }
    // ANCHOR_END: value_to_propose
}
