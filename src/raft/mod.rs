//! Chapters 3–5: Raft, as Ongaro and Ousterhout's "In Search of an Understandable
//! Consensus Algorithm (Extended Version)" (2014) states it.
//!
//! Raft splits consensus into three parts that can be understood one at a time:
//! **leader election** (chapter 3, [`election`]), **log replication** (chapter 4) and
//! **membership changes** (chapter 5). There is one node type, [`RaftNode`], over one
//! state, [`RaftState`]: the paper's Figure 2, field by field. Each chapter adds a file
//! of `impl RaftNode` blocks.
//!
//! Time is divided into **terms**, numbered by consecutive integers. Each term begins
//! with an election; the winner leads for the rest of the term. Every message carries
//! its sender's term, and every node handles it once, at the top of its message
//! handler ([`RaftNode::on_message`](crate::runtime::Node::on_message)):
//!
//! - a message from an older term is stale: a request is answered with the current
//!   term (so its sender learns it is behind), a reply is dropped;
//! - a message from a newer term makes the node a follower in that term, before
//!   anything else happens.
//!
//! Leader election (§5.2) in a handful of rules, each of which this chapter removes on
//! purpose ([`Rule`]) to show what goes wrong without it:
//!
//! - **one vote per term**, kept on disk before the vote is sent (§5.2, Figure 2:
//!   `votedFor`); without it two candidates win the same term;
//! - **votes count only in the term they were given** (§5.1: stale replies are
//!   dropped); without it a candidate wins with votes for an older term;
//! - **randomized election timeouts** (§5.2); without them split votes repeat;
//! - **the election restriction** (§5.4.1): a voter refuses a candidate whose log is less
//!   up-to-date than its own; without it a node that missed committed entries can lead;
//! - **only a leader's heartbeat or a granted vote resets the election timer** (Figure
//!   2): a node that resets it on every newer term lets candidates that cannot win hold
//!   off those that can, and one that does not reset it on a vote may start a needless
//!   election before the candidate it voted for has won;
//! - **a candidate retries** the nodes that have not answered (§5.1); without it, on a
//!   lossy network, elections take more terms.
//!
//! Files: [`state`] (Figure 2), [`node`] (the node: roles, the term rule, dispatch),
//! [`election`] (chapter 3), [`check`] (Election Safety, checked on every step),
//! [`run`] (clusters, and the harness checks `check_one_leader` and friends),
//! [`experiment`] (the paper's Figure 16, in the simulator).

pub mod check;
pub mod election;
pub mod experiment;
pub mod node;
pub mod run;
// Exercise 3.3 (find the bug) builds a copy of this module with a bug planted in it.
#[cfg_attr(
    feature = "ex3_3",
    path = "../../chapters/ch03-raft-election/exercises/state.rs"
)]
pub mod state;

use std::fmt;
use std::time::Duration;

pub use node::{RaftNode, Role};
pub use state::{Entry, LogPosition, RaftState};

pub use crate::check::majority;
use crate::runtime::{Message, NodeId, ProtocolEvent};

/// A term number. Terms start at 0 (no election yet) and only grow.
pub type Term = u64;

// ANCHOR: messages
/// What Raft nodes say to each other (Figure 2's two RPCs, their replies, and the
/// messages of this chapter's exercises).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// RequestVote RPC (§5.2): a candidate asks for a vote.
    RequestVote {
        /// The candidate's term.
        term: Term,
        /// The index and term of the candidate's last log entry (§5.4.1).
        last_log: LogPosition,
    },
    /// The answer to a RequestVote.
    Vote {
        /// The voter's current term, for the candidate to update itself.
        term: Term,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// AppendEntries RPC (§5.3); with no entries it is a heartbeat (§5.2).
    AppendEntries {
        /// The leader's term.
        term: Term,
        /// The index and term of the entry just before `entries` (chapter 4).
        prev_log: LogPosition,
        /// The entries to store (empty for a heartbeat; chapter 4 fills them).
        entries: Vec<Entry>,
        /// The leader's commit index (chapter 4).
        leader_commit: u64,
    },
    /// The answer to an AppendEntries.
    AppendReply {
        /// The follower's current term, for the leader to update itself.
        term: Term,
        /// Whether the follower's log matched `prev_log` (chapter 4).
        success: bool,
        /// The index of the last entry the follower now holds that matches the
        /// leader's (chapter 4).
        match_index: u64,
    },
    /// PreVote (§9.6 of Ongaro's thesis; exercise 3.4): "would you vote for me in
    /// `term`?", asked before a node disturbs anyone by raising its own term.
    PreVote {
        /// The term the node would campaign in: its current term plus one.
        term: Term,
        /// The index and term of the asker's last log entry.
        last_log: LogPosition,
    },
    /// The answer to a PreVote. A grant carries the asked term; a refusal carries the
    /// voter's current term.
    PreVoteReply {
        /// The asked term if granted, else the voter's current term.
        term: Term,
        /// Whether the voter would vote.
        granted: bool,
    },
    /// Leadership transfer (§3.10 of the thesis; exercise 3.6): the leader tells its
    /// chosen successor to start an election now.
    TimeoutNow {
        /// The leader's term.
        term: Term,
    },
}
// ANCHOR_END: messages

impl Msg {
    /// The term the message carries.
    pub fn term(&self) -> Term {
        match self {
            Msg::RequestVote { term, .. }
            | Msg::Vote { term, .. }
            | Msg::AppendEntries { term, .. }
            | Msg::AppendReply { term, .. }
            | Msg::PreVote { term, .. }
            | Msg::PreVoteReply { term, .. }
            | Msg::TimeoutNow { term } => *term,
        }
    }

    /// Whether the message is a request (answered even when stale, so that its
    /// sender learns the current term) rather than a reply.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Msg::RequestVote { .. } | Msg::AppendEntries { .. } | Msg::PreVote { .. }
        )
    }

    /// The message's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Msg::RequestVote { .. } => "RequestVote",
            Msg::Vote { .. } => "Vote",
            Msg::AppendEntries { entries, .. } if entries.is_empty() => "heartbeat",
            Msg::AppendEntries { .. } => "AppendEntries",
            Msg::AppendReply { .. } => "AppendReply",
            Msg::PreVote { .. } => "PreVote",
            Msg::PreVoteReply { .. } => "PreVoteReply",
            Msg::TimeoutNow { .. } => "TimeoutNow",
        }
    }
}

impl Message for Msg {
    fn size(&self) -> usize {
        let entries = match self {
            Msg::AppendEntries { entries, .. } => {
                entries.iter().map(|e| 8 + e.command.len()).sum::<usize>()
            }
            _ => 0,
        };
        std::mem::size_of::<Msg>() + entries
    }
}

// ANCHOR: events
/// What a Raft node records about itself; the Election Safety checker reads these.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The node started an election: it raised its term and voted for itself.
    BecameCandidate {
        /// The new term.
        term: Term,
    },
    /// The node granted its vote (persisted first).
    Voted {
        /// The term of the vote.
        term: Term,
        /// The candidate it voted for.
        #[serde(rename = "for")]
        candidate: NodeId,
    },
    /// The node won its term's election.
    BecameLeader {
        /// The term it leads.
        term: Term,
    },
    /// A leader stepped down.
    SteppedDown {
        /// The term it was in when it stepped down.
        term: Term,
    },
    /// The node asked whether it could win `term` (PreVote, exercise 3.4).
    PreVote {
        /// The term it would campaign in.
        term: Term,
    },
}
// ANCHOR_END: events

impl ProtocolEvent for Event {
    fn name(&self) -> &'static str {
        match self {
            Event::BecameCandidate { .. } => "became_candidate",
            Event::Voted { .. } => "voted",
            Event::BecameLeader { .. } => "became_leader",
            Event::SteppedDown { .. } => "stepped_down",
            Event::PreVote { .. } => "pre_vote",
        }
    }
}

/// A Raft node's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A follower or candidate heard from no leader for a whole randomized timeout:
    /// it starts an election. A leader has none.
    Election,
    /// A leader's next round of heartbeats is due.
    Heartbeat,
    /// A candidate asks again the nodes that have not answered its RequestVote (every
    /// heartbeat interval: a lost request or answer costs a retry, not a whole term).
    RetryVotes,
    /// A leader checks that a majority answered it lately (CheckQuorum, exercise 3.5).
    CheckQuorum,
}

// ANCHOR: rules
/// A rule of leader election that can be removed on purpose (`--break RULE`), to watch
/// what goes wrong without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Rule {
    /// A node grants every candidate that asks in its current term: it forgets that it
    /// has already voted (§5.2: "each server will vote for at most one candidate in a
    /// given term").
    VoteTwice,
    /// A node keeps its term and vote only in memory, so a restarted node may vote
    /// again in a term it already voted in (Figure 2: "updated on stable storage
    /// before responding to RPCs").
    NoPersist,
    /// A node handles messages of older terms as if they were current: a candidate
    /// counts votes given in an earlier term (§5.1: "if a server receives a request
    /// with a stale term number, it rejects the request").
    StaleTerms,
    /// Every node waits exactly the shortest election timeout: split votes repeat
    /// (§5.2: "Raft uses randomized election timeouts").
    FixedTimeout,
    /// A voter grants its vote whatever the candidate's log (§5.4.1, the election
    /// restriction).
    NoRestriction,
    /// A node resets its election timer whenever it learns a newer term, not only when
    /// it hears from the term's leader or grants a vote (Figure 2, "Rules for Servers",
    /// Followers): a candidate that cannot win holds off the elections of those that can.
    ResetOnNewTerm,
    /// A node does not reset its election timer when it grants a vote (Figure 2): it may
    /// time out before the candidate it voted for has won and sent its first heartbeat,
    /// and start a needless election in the next term.
    NoResetOnVote,
    /// A candidate asks each node once per term, and never again (§5.1: "servers retry
    /// RPCs if they do not receive a response in a timely manner"): on a lossy network,
    /// a lost request or answer costs the whole term.
    NoRetry,
}
// ANCHOR_END: rules

impl Rule {
    /// Every rule, in the order the book discusses them.
    pub const ALL: [Rule; 8] = [
        Rule::VoteTwice,
        Rule::NoPersist,
        Rule::StaleTerms,
        Rule::FixedTimeout,
        Rule::NoRestriction,
        Rule::ResetOnNewTerm,
        Rule::NoResetOnVote,
        Rule::NoRetry,
    ];

    /// The rule's name on the command line (`vote-twice`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::VoteTwice => "vote-twice",
            Rule::NoPersist => "no-persist",
            Rule::StaleTerms => "stale-terms",
            Rule::FixedTimeout => "fixed-timeout",
            Rule::NoRestriction => "no-restriction",
            Rule::ResetOnNewTerm => "reset-on-new-term",
            Rule::NoResetOnVote => "no-reset-on-vote",
            Rule::NoRetry => "no-retry",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a Raft node behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftConfig {
    /// How many nodes the cluster has (`n1..=nN`).
    pub nodes: usize,
    /// The shortest election timeout (§5.2; the paper suggests 150 ms).
    pub election_min: Duration,
    /// The longest election timeout (the paper suggests 300 ms).
    pub election_max: Duration,
    /// How often a leader sends heartbeats; it must be well below `election_min`.
    pub heartbeat: Duration,
    /// PreVote (exercise 3.4): ask before campaigning, and refuse to disturb a leader
    /// heard from within the shortest election timeout.
    pub pre_vote: bool,
    /// CheckQuorum (exercise 3.5): a leader that has not heard from a majority within
    /// an election timeout steps down.
    pub check_quorum: bool,
    /// A rule removed on purpose.
    pub broken: Option<Rule>,
}

impl RaftConfig {
    /// `nodes` nodes with the chapter's defaults: timeouts of 150–300 ms, heartbeats
    /// every 50 ms.
    pub fn new(nodes: usize) -> RaftConfig {
        RaftConfig {
            nodes,
            election_min: Duration::from_millis(150),
            election_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            pre_vote: false,
            check_quorum: false,
            broken: None,
        }
    }

    /// Whether `rule` is removed in this run.
    pub fn breaks(&self, rule: Rule) -> bool {
        self.broken == Some(rule)
    }

    /// Every node of the cluster but `me`.
    pub fn peers(&self, me: NodeId) -> impl Iterator<Item = NodeId> {
        NodeId::all(self.nodes)
            .into_iter()
            .filter(move |&n| n != me)
    }

    /// Checks that the timing makes sense: the range is not reversed and its shortest
    /// timeout is above the heartbeat interval (else followers time out between two
    /// heartbeats of a healthy leader). The error names the problem and the fix.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.election_min > self.election_max {
            return Err(format!(
                "the election timeout range {} starts after it ends; write MIN..MAX, e.g. 150ms..300ms",
                timeout_range_text(self.election_min, self.election_max)
            ));
        }
        if self.election_min <= self.heartbeat {
            return Err(format!(
                "the shortest election timeout ({}) is not above the heartbeat interval ({}): followers would time out between two heartbeats of a healthy leader; make the timeout several heartbeats long, e.g. --heartbeat {} with --election-timeout 150ms..300ms",
                crate::runtime::time::format_duration(self.election_min),
                crate::runtime::time::format_duration(self.heartbeat),
                crate::runtime::time::format_duration(self.heartbeat.min(Duration::from_millis(50))),
            ));
        }
        Ok(())
    }
}

/// `150ms..300ms`.
pub fn timeout_range_text(min: Duration, max: Duration) -> String {
    format!(
        "{}..{}",
        crate::runtime::time::format_duration(min),
        crate::runtime::time::format_duration(max)
    )
}
