//! Chapter 1: single-decree Paxos, as Lamport's "Paxos Made Simple" (2001) states it.
//!
//! A group of nodes must agree on one value, though any of them may crash and restart
//! and the network may lose, delay, duplicate and reorder their messages. Paxos gives
//! three roles to every node: *proposers* propose values, *acceptors* vote on them, and
//! *learners* find out which value was chosen. A value is **chosen** when a majority of
//! the acceptors have accepted it in the same ballot.
//!
//! The protocol, in the paper's two phases:
//!
//! - **Phase 1 (prepare / promise).** A proposer picks a ballot `b` above any it has
//!   seen and sends `prepare(b)` to the acceptors. An acceptor that has promised nothing
//!   higher *promises* never to accept a ballot below `b`, and answers with the
//!   highest-ballot value it has accepted, if any.
//! - **Phase 2 (accept / accepted).** With promises from a majority, the proposer sends
//!   `accept(b, v)`, where `v` is the value of the highest-ballot acceptance among those
//!   promises, or its own value if none reported one. An acceptor accepts unless it has
//!   promised a higher ballot, and tells the learners.
//!
//! Every rule matters, and [`Rule`] names the ones this chapter removes on purpose to
//! show what goes wrong without them: for each, the explorer ([`explore`]) finds a run
//! that breaks a safety property (two values chosen, or a learner learning a value no
//! majority accepted in one ballot).
//!
//! Files: [`ballot`] (ballots and majorities), [`acceptor`], [`proposer`], [`learner`],
//! [`node`] (one node playing all three roles), [`check`] (the named properties checked
//! on every step), [`run`] (clusters for the binary and the tests), [`livelock`]
//! (dueling proposers: the livelock without backoff, and what FLP says about it). These
//! are the protocol alone. The explorer is [`explore`] (`explore/`: every order of
//! deliveries, exhaustively), which keeps beside it, in `explore/hooks.rs`, the methods
//! it alone calls on the protocol's structs (copying a node, hashing what decides a
//! role's future, telling a message ignored for good), and builds on the
//! protocol-free machinery of [`crate::check::explore`] (fingerprints, symmetry, the
//! set of states explored).

pub mod acceptor;
pub mod ballot;
pub mod check;
pub mod explore;
// Exercise 1.3 (find the bug) builds a copy of the learner with a bug planted in it.
#[cfg_attr(
    feature = "ex1_3",
    path = "../../chapters/ch01-paxos/exercises/learner.rs"
)]
pub mod learner;
pub mod livelock;
pub mod node;
pub mod proposer;
pub mod run;

use std::fmt;
use std::time::Duration;

pub use ballot::{majority, Ballot};
pub use node::PaxosNode;

use crate::runtime::{Message, ProtocolEvent};

/// A value a proposer proposes: in this chapter, a short string such as `v2`.
pub type Value = String;

/// What Paxos nodes say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// Phase 1a, proposer to acceptors: "promise me ballot `ballot`".
    Prepare {
        /// The ballot asked for.
        ballot: Ballot,
    },
    /// Phase 1b, acceptor to proposer: the promise, with the acceptor's highest
    /// accepted ballot and value, if it has accepted any.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// What the acceptor has accepted: `(ballot, value)`, or `None`.
        accepted: Option<(Ballot, Value)>,
    },
    /// Phase 2a, proposer to acceptors: "accept `value` in ballot `ballot`".
    Accept {
        /// The ballot.
        ballot: Ballot,
        /// The value.
        value: Value,
    },
    /// Phase 2b, acceptor to the ballot's proposer, its distinguished learner (or to a
    /// learner that asked): "I accepted `value` in ballot `ballot`".
    Accepted {
        /// The ballot.
        ballot: Ballot,
        /// The value.
        value: Value,
    },
    /// An acceptor's refusal of a prepare or accept for `ballot`, because it has
    /// promised `promised`: the proposer retries above it.
    Nack {
        /// The ballot refused.
        ballot: Ballot,
        /// The higher ballot the acceptor has promised.
        promised: Ballot,
    },
    /// A learner that has not learned asks again: "what have you accepted, or learned?"
    Query,
    /// The chosen value, from a learner that learned it: broadcast by the distinguished
    /// learner when it learns, and the answer of any learner that knows to a query.
    Decided {
        /// The ballot in which the value was chosen.
        ballot: Ballot,
        /// The chosen value.
        value: Value,
    },
}

impl Message for Msg {
    fn size(&self) -> usize {
        let value = match self {
            Msg::Promise {
                accepted: Some((_, v)),
                ..
            } => v.len(),
            Msg::Accept { value, .. }
            | Msg::Accepted { value, .. }
            | Msg::Decided { value, .. } => value.len(),
            _ => 0,
        };
        std::mem::size_of::<Msg>() + value
    }
}

// ANCHOR: events
/// What a Paxos node records about itself; the agreement checker reads these.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A proposer started, wanting `value` chosen.
    Proposed {
        /// Its value.
        value: Value,
    },
    /// A proposer started a ballot: it sent `prepare` to every acceptor.
    Prepare {
        /// The new ballot.
        ballot: Ballot,
    },
    /// An acceptor promised `ballot` (persisted first).
    Promised {
        /// The ballot promised.
        ballot: Ballot,
    },
    /// An acceptor accepted `value` in `ballot` (persisted first).
    Accepted {
        /// The ballot.
        ballot: Ballot,
        /// The value accepted.
        value: Value,
    },
    /// An acceptor refused `ballot`, having promised `promised`.
    Rejected {
        /// The ballot refused.
        ballot: Ballot,
        /// The higher ballot promised.
        promised: Ballot,
    },
    /// A learner learned that `value` was chosen in `ballot` (a majority of the
    /// acceptors accepted it in that ballot, as far as this learner has heard).
    Learned {
        /// The ballot it was chosen in.
        ballot: Ballot,
        /// The value.
        value: Value,
    },
}
// ANCHOR_END: events

impl ProtocolEvent for Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Proposed { .. } => "proposed",
            Event::Prepare { .. } => "prepare",
            Event::Promised { .. } => "promised",
            Event::Accepted { .. } => "accepted",
            Event::Rejected { .. } => "rejected",
            Event::Learned { .. } => "learned",
        }
    }
}

/// A Paxos node's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A proposer's ballot has had long enough (or was refused, and the backoff is
    /// over): try a higher one.
    Retry,
    /// A learner that has not learned asks the acceptors again.
    Query,
}

// ANCHOR: rules
/// A rule of the protocol that can be removed on purpose (`--break RULE`), to watch
/// what goes wrong without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Rule {
    /// The proposer proposes its own value even when a promise reports an accepted one
    /// (breaks Phase 2's "the value of the highest-numbered proposal among the responses").
    IgnoreAccepted,
    /// The acceptor accepts a ballot below the one it promised: it forgets its promise.
    ForgetPromise,
    /// The acceptor keeps its promise and acceptance only in memory, so a restart
    /// forgets them.
    NoPersist,
    /// The proposer counts promises and acceptances against half of the acceptors
    /// instead of a majority, so two "quorums" need not intersect.
    MinorityQuorum,
    /// The proposer counts promises left over from its earlier ballots toward its
    /// current one: votes are not reset per ballot.
    StaleVotes,
}
// ANCHOR_END: rules

impl Rule {
    /// Every rule, in the order the book discusses them.
    pub const ALL: [Rule; 5] = [
        Rule::IgnoreAccepted,
        Rule::ForgetPromise,
        Rule::NoPersist,
        Rule::MinorityQuorum,
        Rule::StaleVotes,
    ];

    /// The rule's name on the command line (`ignore-accepted`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::IgnoreAccepted => "ignore-accepted",
            Rule::ForgetPromise => "forget-promise",
            Rule::NoPersist => "no-persist",
            Rule::MinorityQuorum => "minority-quorum",
            Rule::StaleVotes => "stale-votes",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a Paxos node behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct PaxosConfig {
    /// How many nodes; every node is an acceptor and a learner.
    pub nodes: usize,
    /// The value this node proposes, if it is a proposer.
    pub propose: Option<Value>,
    /// How long a proposer gives a ballot before it tries a higher one.
    pub retry: Duration,
    /// Randomized exponential backoff after a refusal. Without it, dueling proposers
    /// can preempt each other forever (the livelock of FLP).
    pub backoff: bool,
    /// At most this many ballots per proposer (the explorer's bound); `None`: no bound.
    pub max_ballots: Option<u64>,
    /// How often a learner that has not learned asks again; `None`: never.
    pub query_every: Option<Duration>,
    /// A rule removed on purpose.
    pub broken: Option<Rule>,
}

impl PaxosConfig {
    /// `nodes` nodes, proposing `propose`, with the defaults of the chapter binary.
    pub fn new(nodes: usize, propose: Option<Value>) -> PaxosConfig {
        PaxosConfig {
            nodes,
            propose,
            retry: Duration::from_millis(100),
            backoff: true,
            max_ballots: None,
            query_every: Some(Duration::from_millis(200)),
            broken: None,
        }
    }

    /// Whether `rule` is removed in this run.
    pub fn breaks(&self, rule: Rule) -> bool {
        self.broken == Some(rule)
    }

    /// How many acceptors make a quorum: a majority, unless `minority-quorum` is broken.
    pub fn quorum(&self) -> usize {
        if self.breaks(Rule::MinorityQuorum) {
            (self.nodes / 2).max(1)
        } else {
            majority(self.nodes)
        }
    }
}
