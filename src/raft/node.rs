//! One Raft node: its role, the term rule every message passes first, and the dispatch
//! to each chapter's handlers.

use std::collections::{BTreeMap, BTreeSet};

use super::state::{LogPosition, RaftState};
use super::{Event, Msg, RaftConfig, Rule, Term, Timer};
use crate::error::Result;
use crate::runtime::{CallId, Context, Node, NodeId, Time};
use crate::storage::Storage;

/// What a server is doing in its current term (§5.1, Figure 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Answers leaders and candidates; starts an election if it hears from neither for
    /// a whole election timeout.
    Follower,
    /// Asks whether it could win before raising its term (PreVote, exercise 3.4).
    PreCandidate {
        /// Who would vote for it, itself included.
        votes: BTreeSet<NodeId>,
    },
    /// Has raised its term and voted for itself; asks every other node for a vote.
    Candidate {
        /// Who voted for it in `current_term`, itself included.
        votes: BTreeSet<NodeId>,
        /// Who answered at all, yes or no: the others are asked again (§5.1: "servers
        /// retry RPCs if they do not receive a response in a timely manner").
        answered: BTreeSet<NodeId>,
    },
    /// Won its term's election: sends heartbeats (and, from chapter 4, entries).
    Leader(LeaderState),
}

/// Figure 2's volatile state on leaders, reinitialized after each election, and what a
/// leader knows of its followers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderState {
    /// `nextIndex[]` (chapter 4): for each follower, the index of the next log entry to
    /// send it; the leader's last index + 1 at first.
    pub next_index: BTreeMap<NodeId, u64>,
    /// `matchIndex[]` (chapter 4; chapter 3's leadership transfer reads it): for each
    /// follower, the highest log index known to be replicated on it; 0 at first.
    pub match_index: BTreeMap<NodeId, u64>,
    /// When each follower last answered in this term (CheckQuorum, exercise 3.5).
    pub heard: BTreeMap<NodeId, Time>,
}

/// What a client may ask a Raft node in chapter 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Whom do you follow, and in which term?
    Leader,
    /// Hand leadership to this node (exercise 3.6); only a leader can.
    Transfer(NodeId),
}

/// A Raft node's answers to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The leader this node knows of in `term` (itself, if it leads).
    Leader {
        /// The leader, if this node knows one.
        leader: Option<NodeId>,
        /// This node's current term.
        term: Term,
    },
    /// The leader has asked `to` to start an election now.
    Transferring {
        /// The chosen successor.
        to: NodeId,
        /// The leader's term.
        term: Term,
    },
    /// The request can't be done here; the text says why and what to do instead.
    Refused(String),
}

/// A Raft server.
pub struct RaftNode {
    /// This node's id.
    pub(crate) id: NodeId,
    /// How this node behaves (and which rule, if any, it breaks).
    pub(crate) config: RaftConfig,
    /// Stable storage: the term, the vote and the log.
    pub(crate) storage: Storage,
    /// Figure 2's state.
    pub state: RaftState,
    /// Follower, candidate or leader, with each role's own state.
    pub role: Role,
    /// The leader of `current_term`, once this node has heard from it (itself when it
    /// leads). Reset when the term changes.
    pub leader: Option<NodeId>,
    /// When this node last heard from the leader of its current term (PreVote's "a
    /// leader is alive" test, exercise 3.4).
    pub heard_from_leader: Option<Time>,
}

impl RaftNode {
    /// Node `id` with `config`, its durable state loaded from `storage`. It starts as a
    /// follower (Figure 2: "when servers start up, they begin as followers").
    pub fn new(id: NodeId, config: RaftConfig, storage: Storage) -> Result<RaftNode> {
        let state = RaftState::load(&storage)?;
        Ok(RaftNode {
            id,
            config,
            storage,
            state,
            role: Role::Follower,
            leader: None,
            heard_from_leader: None,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node's configuration.
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.state.current_term
    }

    /// Whether this node believes it leads its current term.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// Writes the term and vote, unless `no-persist` is broken (then they live only in
    /// memory, and a restart forgets them).
    pub(crate) fn persist_term_and_vote(&mut self) -> Result<()> {
        if self.config.breaks(Rule::NoPersist) {
            return Ok(());
        }
        self.state.persist_term_and_vote(&mut self.storage)
    }

    /// Whether a term carried by `msg` is one this node takes as its own when it is
    /// newer. A PreVote asks about a term without starting it, so neither the question
    /// nor a granted answer (which carries the asked term) raises anyone's term.
    pub fn adopts_term(msg: &Msg) -> bool {
        !matches!(
            msg,
            Msg::PreVote { .. } | Msg::PreVoteReply { granted: true, .. }
        )
    }

    /// Answers a request from an older term with this node's term and a refusal, so
    /// that its sender (an old leader, a late candidate) learns it is behind (§5.1).
    pub fn answer_stale(&self, ctx: &mut Context<'_, Self>, from: NodeId, msg: &Msg) {
        let term = self.state.current_term;
        let answer = match msg {
            Msg::RequestVote { .. } => Msg::Vote {
                term,
                granted: false,
            },
            Msg::AppendEntries { .. } => Msg::AppendReply {
                term,
                success: false,
                match_index: 0,
            },
            Msg::PreVote { .. } => Msg::PreVoteReply {
                term,
                granted: false,
            },
            _ => return,
        };
        ctx.send(from, answer);
    }

    // ANCHOR: dispatch_request_vote
    /// Hands a RequestVote to [`on_request_vote`](RaftNode::on_request_vote) (exercise
    /// 3.1), and resets the election timer when it grants: granting a vote counts as
    /// hearing from a would-be leader (Figure 2), so the candidate gets a whole timeout
    /// to win and send its first heartbeat. The rules `vote-twice`, `no-restriction`
    /// and `no-reset-on-vote` are broken here, around the handler, which stays the
    /// protocol's.
    fn dispatch_request_vote(
        &mut self,
        ctx: &mut Context<'_, Self>,
        candidate: NodeId,
        last_log: LogPosition,
    ) -> Result<()> {
        // vote-twice: the handler sees no earlier vote for another candidate.
        let earlier = self.state.voted_for;
        if self.config.breaks(Rule::VoteTwice) && earlier.is_some_and(|v| v != candidate) {
            self.state.voted_for = None;
        }
        // no-restriction: the handler sees the candidate's log end where its own does.
        let last_log = match self.config.breaks(Rule::NoRestriction) {
            true => self.state.last_log(),
            false => last_log,
        };
        let granted = self.on_request_vote(ctx, candidate, last_log)?;
        if self.state.voted_for.is_none() {
            self.state.voted_for = earlier;
        }
        if granted && !self.config.breaks(Rule::NoResetOnVote) {
            self.reset_election_timer(ctx);
        }
        Ok(())
    }
    // ANCHOR_END: dispatch_request_vote
}

impl Node for RaftNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = Request;
    type Response = Response;
    type Event = Event;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        let last = self.state.last_log();
        ctx.log(format_args!(
            "starts as follower, vote in this term: {}, log ends at index {} (term {})",
            self.state
                .voted_for
                .map_or("none".to_string(), |n| n.to_string()),
            last.index,
            last.term
        ));
        self.reset_election_timer(ctx);
        Ok(())
    }

    // ANCHOR: on_message
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: NodeId, msg: Msg) -> Result<()> {
        // The term rule first, for every message (exercise 3.1). With `stale-terms`
        // broken, an older message skips it and is handled as if it were current.
        let stale = msg.term() < self.state.current_term;
        if !(stale && self.config.breaks(Rule::StaleTerms)) {
            let goes_on = self.term_rule(ctx, from, &msg)?;
            if !goes_on {
                return Ok(());
            }
        }
        // Past this point, a message's term is our current term, except for the PreVote
        // messages (a PreVote, and a granted PreVoteReply, carry the term asked about),
        // and for stale messages when `stale-terms` is broken.
        match msg {
            Msg::RequestVote { last_log, .. } => self.dispatch_request_vote(ctx, from, last_log),
            Msg::Vote { granted, .. } => {
                self.on_vote(ctx, from, granted);
                Ok(())
            }
            Msg::AppendEntries { prev_log, .. } => self.on_append_entries(ctx, from, prev_log),
            Msg::AppendReply { match_index, .. } => {
                self.on_append_reply(ctx, from, match_index);
                Ok(())
            }
            Msg::PreVote { term, last_log } => {
                self.on_pre_vote(ctx, from, term, last_log);
                Ok(())
            }
            Msg::PreVoteReply { term, granted } => self.on_pre_vote_reply(ctx, from, term, granted),
            Msg::TimeoutNow { .. } => crate::exercises::transfer::on_timeout_now(self, ctx),
        }
    }
    // ANCHOR_END: on_message

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) -> Result<()> {
        match timer {
            Timer::Election => self.on_election_timeout(ctx),
            Timer::CheckQuorum => self.on_check_quorum(ctx),
            Timer::Heartbeat => {
                self.send_heartbeats(ctx);
                Ok(())
            }
            Timer::RetryVotes => {
                self.request_votes(ctx);
                Ok(())
            }
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        call: CallId,
        req: Request,
    ) -> Result<()> {
        let response = match req {
            Request::Leader => Response::Leader {
                leader: self.leader,
                term: self.state.current_term,
            },
            Request::Transfer(to) => crate::exercises::transfer::transfer_leadership(self, ctx, to),
        };
        ctx.reply(call, response);
        Ok(())
    }

    fn role(&self) -> String {
        let role = match self.role {
            Role::Follower => "follower",
            Role::PreCandidate { .. } => "pre-candidate",
            Role::Candidate { .. } => "candidate",
            Role::Leader(_) => "leader",
        };
        format!("{role} t{}", self.state.current_term)
    }
}
