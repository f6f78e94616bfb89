//! What will never matter again: messages no delivery can make count (dead messages),
//! ballots no acceptor can accept any more (closed ballots), and proposers that can
//! never get a value accepted again (doomed proposers). The search leaves them out of
//! a state's key and never delivers a dead message.

use crate::paxos::proposer::Phase;
use crate::paxos::{Ballot, Msg, PaxosNode, Rule, Value};
use crate::runtime::sim::PendingWhat;
use crate::runtime::{NodeId, Sim};

/// Whether the pending event is a message that will never change anything: its
/// receiver ignores it for good; or its acceptor will answer it without changing
/// (refusing it, or promising a ballot it has already promised) and the answer goes to
/// a proposer that ignores it for good; or it is an acceptance a learner can never
/// count toward a majority.
pub(super) fn dead(
    sim: &Sim<PaxosNode>,
    what: &PendingWhat<'_, PaxosNode>,
    may_crash: bool,
) -> bool {
    let PendingWhat::Deliver { to, msg, .. } = what else {
        return false;
    };
    let Some(receiver) = sim.node(*to) else {
        return false;
    };
    // Whether the proposer of `ballot` ignores every refusal, and (if `promise`) every
    // promise of that ballot too, for good.
    let deaf = |ballot: Ballot, promise: bool| {
        let Some(n) = sim.node(ballot.node) else {
            return false;
        };
        let Some(p) = n.proposer.as_ref() else {
            return false;
        };
        let promises_ignored = !promise
            || p.ignores_for_good(
                &Msg::Promise {
                    ballot,
                    accepted: None,
                },
                n.config(),
                may_crash,
            );
        let doomed = doomed(sim, ballot.node, may_crash);
        doomed || (promises_ignored && p.ignores_every_refusal(n.config(), may_crash))
    };
    match msg {
        Msg::Promise { .. } | Msg::Nack { .. } if doomed(sim, *to, may_crash) => true,
        _ if receiver.ignores_for_good(msg, may_crash) => true,
        Msg::Accepted { ballot, .. } => short(sim, *to, *ballot, may_crash),
        // Promised already: the acceptor answers with a promise and stays as it is,
        // until a higher promise makes it refuse.
        Msg::Prepare { ballot }
            if receiver.acceptor.promised == *ballot
                && !(may_crash && receiver.config().breaks(Rule::NoPersist)) =>
        {
            deaf(*ballot, true)
        }
        _ => receiver
            .refuses_for_good(msg, may_crash)
            .is_some_and(|ballot| deaf(ballot, false)),
    }
}

/// The ballots still open, sorted: those some acceptor may still accept, because their
/// proposer is gathering promises for them (and will send accepts), or an accept for
/// them is in flight to an acceptor that does not refuse it for good.
pub(super) fn open_ballots(sim: &Sim<PaxosNode>, may_crash: bool) -> Vec<Ballot> {
    let mut open: Vec<Ballot> = sim
        .live_nodes()
        .filter_map(|(_, n)| n.proposer.as_ref())
        .filter(|p| p.phase == Phase::Preparing)
        .map(|p| p.ballot)
        .collect();
    for p in sim.pending() {
        if let PendingWhat::Deliver {
            to,
            msg: msg @ Msg::Accept { ballot, .. },
            ..
        } = p.what
        {
            if sim
                .node(to)
                .is_none_or(|a| a.refuses_for_good(msg, may_crash).is_none())
            {
                open.push(*ballot);
            }
        }
    }
    open.sort_unstable();
    open.dedup();
    open
}

/// Whether learner `learner` can never learn from ballot `b`: the ballot is closed
/// (see [`open_ballots`]), and the votes it holds for it, with the acceptances for it
/// in flight to it, fall short of a majority.
fn short(sim: &Sim<PaxosNode>, learner: NodeId, b: Ballot, may_crash: bool) -> bool {
    let Some(l) = sim.node(learner) else {
        return false;
    };
    if open_ballots(sim, may_crash).binary_search(&b).is_ok() {
        return false;
    }
    let mut voters: Vec<NodeId> = l
        .learner
        .votes
        .get(&b)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for p in sim.pending() {
        if let PendingWhat::Deliver {
            from,
            to,
            msg: Msg::Accepted { ballot, .. },
        } = p.what
        {
            if to == learner && *ballot == b && !voters.contains(&from) {
                voters.push(from);
            }
        }
    }
    voters.len() < l.config().quorum()
}

/// Whether the proposer of node `id` can never get a value accepted again, whatever
/// happens: it has no ballot left, and every acceptor refuses its current ballot for
/// good. Such a proposer may still gather promises and send accepts, but every one is
/// refused, so nothing it does or receives matters any more: it is as good as inert.
pub(super) fn doomed(sim: &Sim<PaxosNode>, id: NodeId, may_crash: bool) -> bool {
    let Some(node) = sim.node(id) else {
        return false;
    };
    let Some(p) = &node.proposer else {
        return false;
    };
    if node
        .config()
        .max_ballots
        .is_none_or(|m| p.ballots_tried < m)
    {
        return false;
    }
    let accept = Msg::Accept {
        ballot: p.ballot,
        value: Value::new(),
    };
    sim.live_nodes()
        .all(|(_, a)| a.refuses_for_good(&accept, may_crash).is_some())
}
