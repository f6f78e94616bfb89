//! The explorer's moves: every choice the world can make in a state (deliver a
//! message, fire a timer, crash a node), each named by what it does rather than by
//! where it sits in the queue, and which pairs of moves commute (what the sleep sets
//! of [`explore`](super::explore) rest on).

use super::dead::dead;
use crate::check::explore::{hash_of, renamed};
use crate::paxos::{Msg, PaxosNode};
use crate::runtime::sim::PendingWhat;
use crate::runtime::{NodeId, Sim};

/// One choice of the explorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Choice {
    /// Run the pending event (a timer, a start) with this sequence number.
    Run(u64),
    /// Deliver a copy of the message in flight with this sequence number.
    Deliver(u64),
    /// Crash this node and restart it from its storage.
    Crash(NodeId),
}

/// A choice as the search's bookkeeping sees it: which node it acts on, and an
/// identity that names the same choice in every state where it is possible (the
/// content of the pending event it runs, not its sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Move {
    pub(super) choice: Choice,
    /// The event's identity, acceptors as they are named here.
    pub(super) id: u64,
    /// The event, to name it under a renaming of acceptors.
    pub(super) key: EventKey,
    pub(super) node: NodeId,
    /// The part of the node it acts on.
    role: Role,
    /// A delivery or a timer: if it changes nothing, a state that never takes it
    /// covers the state it leads to. Not so a node's start: a node that has not
    /// started cannot be crashed.
    pub(super) may_skip: bool,
}

impl Move {
    pub(super) fn is_crash(&self) -> bool {
        matches!(self.choice, Choice::Crash(_))
    }

    /// Whether the two moves commute: taken in either order from any state where both
    /// are possible, they lead to the same state, and neither disables the other (a
    /// move may make another one's message dead, so that it is no longer offered; a
    /// dead message changes nothing, so that loses no state).
    /// Moves at different nodes do: each changes only its own node and adds messages
    /// to the network, and a message in flight stays deliverable. Two crashes do not,
    /// since they share the crash budget. At one node, a move of its acceptor and a
    /// move of its proposer or learner commute too: they read and write disjoint state
    /// (in memory and on disk).
    pub(super) fn independent(&self, other: &Move) -> bool {
        if self.node == NodeId(0) || other.node == NodeId(0) {
            return false;
        }
        if self.node == other.node {
            return matches!(
                (self.role, other.role),
                (Role::Acceptor, Role::Other) | (Role::Other, Role::Acceptor)
            );
        }
        !(self.is_crash() && other.is_crash())
    }
}

/// The part of a node a move acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The acceptor alone: a prepare or an accept delivered.
    Acceptor,
    /// The proposer and the learner: any other message, a timer.
    Other,
    /// The whole node: a crash, a start, a query (which both answer).
    Whole,
}

/// The part of the node that `what` acts on.
fn role_of(what: &PendingWhat<'_, PaxosNode>) -> Role {
    match what {
        PendingWhat::Deliver { msg, .. } => match msg {
            Msg::Prepare { .. } | Msg::Accept { .. } => Role::Acceptor,
            Msg::Query => Role::Whole,
            Msg::Promise { .. } | Msg::Nack { .. } | Msg::Accepted { .. } | Msg::Decided { .. } => {
                Role::Other
            }
        },
        PendingWhat::Timer { .. } => Role::Other,
        _ => Role::Whole,
    }
}

/// Every choice the explorer may make in a state.
pub(super) fn choices(sim: &Sim<PaxosNode>, crashes_left: usize, reduce: bool) -> Vec<Move> {
    let mut out: Vec<Move> = sim
        .pending()
        .iter()
        .filter(|p| !(reduce && dead(sim, &p.what, crashes_left > 0)))
        .map(|p| {
            let (choice, node, may_skip) = match p.what {
                PendingWhat::Deliver { to, .. } => (Choice::Deliver(p.seq), to, true),
                PendingWhat::Timer { node, .. } => (Choice::Run(p.seq), node, true),
                PendingWhat::Start(n) => (Choice::Run(p.seq), n, false),
                PendingWhat::Request { node, .. } => (Choice::Run(p.seq), node, false),
                // The explorer schedules no harness actions; were one pending, it
                // would count as acting on every node (dependent on everything).
                PendingWhat::Action(_) => (Choice::Run(p.seq), NodeId(0), false),
            };
            let key = EventKey::of(&p.what);
            Move {
                choice,
                id: key.id(&[]),
                key,
                node,
                role: role_of(&p.what),
                may_skip,
            }
        })
        .collect();
    if crashes_left > 0 {
        // A node that has not started yet has nothing to lose: crashing it would be a
        // step that does nothing.
        let starting: Vec<NodeId> = sim
            .pending()
            .iter()
            .filter_map(|p| match p.what {
                PendingWhat::Start(n) => Some(n),
                _ => None,
            })
            .collect();
        out.extend(
            sim.live_nodes()
                .filter(|(id, _)| !starting.contains(id))
                .map(|(id, _)| Move {
                    choice: Choice::Crash(id),
                    id: EventKey::crash(id).id(&[]),
                    key: EventKey::crash(id),
                    node: id,
                    role: Role::Whole,
                    may_skip: false,
                }),
        );
    }
    out
}

pub(super) fn pending_hash(what: &PendingWhat<'_, PaxosNode>) -> u64 {
    EventKey::of(what).id(&[])
}

/// A pending event (or a crash), as the search names it: by content, with its
/// acceptor (if it has one at either end) open to renaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EventKey {
    kind: u8,
    from: NodeId,
    to: NodeId,
    /// The hash of what the event carries.
    body: u64,
    /// Which end is an acceptor: 1 the sender, 2 the receiver, 0 neither.
    acceptor_end: u8,
}

impl EventKey {
    pub(super) fn of(what: &PendingWhat<'_, PaxosNode>) -> EventKey {
        let key = |kind, from, to, body, acceptor_end| EventKey {
            kind,
            from,
            to,
            body,
            acceptor_end,
        };
        match what {
            PendingWhat::Start(n) => key(0, *n, *n, 0, 0),
            PendingWhat::Deliver { from, to, msg } => {
                let end = match msg {
                    Msg::Prepare { .. } | Msg::Accept { .. } | Msg::Query => 2,
                    Msg::Promise { .. } | Msg::Nack { .. } | Msg::Accepted { .. } => 1,
                    Msg::Decided { .. } => 0,
                };
                key(1, *from, *to, hash_of(msg), end)
            }
            PendingWhat::Timer { node, timer } => key(2, *node, *node, hash_of(timer), 0),
            PendingWhat::Request { node, .. } => key(3, *node, *node, 0, 0),
            PendingWhat::Action(a) => key(4, NodeId(0), NodeId(0), hash_of(a.to_string()), 0),
        }
    }

    /// A crash and restart of `node`.
    pub(super) fn crash(node: NodeId) -> EventKey {
        EventKey {
            kind: 5,
            from: node,
            to: node,
            body: 0,
            acceptor_end: 0,
        }
    }

    /// The event's identity with acceptors renamed by `perm` (empty: as they are).
    pub(super) fn id(&self, perm: &[usize]) -> u64 {
        let (mut from, mut to) = (self.from, self.to);
        match self.acceptor_end {
            1 => from = renamed(from, perm),
            2 => to = renamed(to, perm),
            _ => {}
        }
        hash_of((self.kind, from, to, self.body))
    }
}
