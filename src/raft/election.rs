//! Chapter 3: leader election (Raft §5.2, with §5.4.1's election restriction).
//!
//! A node starts as a follower and stays one as long as it hears from a leader or a
//! candidate it votes for. If a whole **election timeout** passes without either, it
//! assumes there is no leader and starts an election: it raises its term, votes for
//! itself (both on disk first) and asks every other node for its vote. Three things can
//! happen:
//!
//! - it gets votes from a majority and **becomes leader** of the term, and at once sends
//!   heartbeats (AppendEntries with no entries) to keep everyone else a follower;
//! - it hears from a leader of its term (or any node of a newer term) and **steps
//!   down** to follower;
//! - its timeout passes again with neither (a **split vote**): it starts another
//!   election in the next term.
//!
//! Why it is safe: a node votes at most once per term, and a vote survives a crash, so
//! two candidates can't both gather a majority in one term (any two majorities share a
//! voter): **Election Safety**, "at most one leader can be elected in a given term".
//! Why it ends: each node draws its timeout at random (150–300 ms by default), so one
//! node usually times out well before the others and wins before they wake.
//!
//! What goes wrong without each rule is a [`Rule`] the chapter binary
//! breaks on purpose (`--break`), and a test in `tests/raft.rs` that watches it fail.
//!
//! The heart of the election is the reader's to write: the term rule and the RequestVote
//! handler (exercise 3.1, `exercises::voter`), starting an election and counting votes
//! into a win (3.2, `exercises::candidate`). This file holds what they call on.
//!
//! The exercises add three refinements of production Rafts: PreVote (exercise 3.4,
//! `exercises::pre_vote`), CheckQuorum (3.5, `exercises::check_quorum`) and leadership
//! transfer (3.6, `exercises::transfer`).

use std::collections::BTreeSet;

use super::node::{LeaderState, RaftNode, Role};
use super::state::LogPosition;
use super::{majority, Event, Msg, Rule, Term, Timer};
use crate::error::Result;
use crate::exercises::{check_quorum, pre_vote};
use crate::runtime::{Context, NodeId};

impl RaftNode {
    // ANCHOR: election_timer
    /// Arms the election timeout with a fresh random draw from the configured range
    /// (§5.2: "election timeouts are chosen randomly from a fixed interval"), unless
    /// `fixed-timeout` is broken and every node waits the shortest timeout.
    pub(crate) fn reset_election_timer(&mut self, ctx: &mut Context<'_, Self>) {
        let (min, max) = (self.config.election_min, self.config.election_max);
        let timeout = if self.config.breaks(Rule::FixedTimeout) {
            min
        } else {
            ctx.rng().duration_between(min, max)
        };
        ctx.set_timer(Timer::Election, timeout);
    }
    // ANCHOR_END: election_timer

    // ANCHOR: become_follower
    /// Becomes a follower of `term`, whose leader is `leader` if known. A newer term is
    /// written to disk, with no vote in it, before anything else happens.
    ///
    /// The election timer keeps running: learning of a newer term is not hearing from a
    /// leader, and Figure 2 resets the timer only for a current leader's AppendEntries
    /// or a granted vote. (Resetting it here lets a candidate that cannot win, its log
    /// being behind, hold off the elections of those that can, round after round.) A
    /// leader had no election timeout running, so `leave_role` arms one.
    pub(crate) fn become_follower(
        &mut self,
        ctx: &mut Context<'_, Self>,
        term: Term,
        leader: Option<NodeId>,
    ) -> Result<()> {
        if term > self.state.current_term {
            self.state.current_term = term;
            self.state.voted_for = None;
            self.persist_term_and_vote()?;
            self.heard_from_leader = None;
            if self.config.breaks(Rule::ResetOnNewTerm) {
                self.reset_election_timer(ctx);
            }
        }
        self.leave_role(ctx);
        self.role = Role::Follower;
        self.leader = leader;
        Ok(())
    }
    // ANCHOR_END: become_follower

    /// Stops the timers of the role being left: a leader's heartbeats and CheckQuorum
    /// (it steps down, and arms the election timer it had no use for), a candidate's
    /// vote retries.
    fn leave_role(&mut self, ctx: &mut Context<'_, Self>) {
        if self.is_leader() {
            ctx.cancel_timer(Timer::Heartbeat);
            ctx.cancel_timer(Timer::CheckQuorum);
            ctx.trace(Event::SteppedDown {
                term: self.state.current_term,
            });
            ctx.log(format_args!("steps down"));
            self.reset_election_timer(ctx);
        }
        if matches!(self.role, Role::Candidate { .. }) {
            ctx.cancel_timer(Timer::RetryVotes);
        }
    }

    /// The election timer fired: this node heard from no leader, and granted no vote,
    /// for a whole timeout. It campaigns (with PreVote, it asks first).
    pub(crate) fn on_election_timeout(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        if self.is_leader() {
            // A leader has no election timeout (one left armed by a race is stale).
            return Ok(());
        }
        if self.config.pre_vote {
            self.start_pre_vote(ctx)
        } else {
            let next = self.state.current_term + 1;
            ctx.log(format_args!("election timeout: campaigns in term {next}"));
            self.start_election(ctx)
        }
    }

    /// CheckQuorum (exercise 3.5): once per shortest election timeout, a leader checks
    /// that a majority answered it in that time, and steps down if not.
    pub(crate) fn on_check_quorum(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        let Role::Leader(leader) = &self.role else {
            return Ok(());
        };
        let window = self.config.election_min;
        if !check_quorum::leader_has_quorum(
            self.id,
            self.config.nodes,
            &leader.heard,
            ctx.now(),
            window,
        ) {
            ctx.log(format_args!(
                "heard from no majority for {}: steps down (CheckQuorum)",
                crate::runtime::time::format_duration(window)
            ));
            return self.become_follower(ctx, self.state.current_term, None);
        }
        ctx.set_timer(Timer::CheckQuorum, window);
        Ok(())
    }

    // ANCHOR: request_votes
    /// A candidate sends RequestVote to every node that has not answered yet, and sets
    /// the timer to ask again.
    pub fn request_votes(&mut self, ctx: &mut Context<'_, Self>) {
        let Role::Candidate { answered, .. } = &self.role else {
            return;
        };
        let (term, last_log) = (self.state.current_term, self.state.last_log());
        for peer in self.config.peers(self.id).filter(|p| !answered.contains(p)) {
            ctx.send(peer, Msg::RequestVote { term, last_log });
        }
        if !self.config.breaks(Rule::NoRetry) {
            ctx.set_timer(Timer::RetryVotes, self.config.heartbeat);
        }
    }
    // ANCHOR_END: request_votes

    // ANCHOR: become_leader
    /// Becomes leader of the current term and at once sends heartbeats, "to establish its
    /// authority and prevent new elections" (§5.2).
    pub fn become_leader(&mut self, ctx: &mut Context<'_, Self>) {
        let next = self.state.last_log().index + 1;
        let peers: Vec<NodeId> = self.config.peers(self.id).collect();
        self.role = Role::Leader(LeaderState {
            next_index: peers.iter().map(|&p| (p, next)).collect(),
            match_index: peers.iter().map(|&p| (p, 0)).collect(),
            heard: Default::default(),
        });
        self.leader = Some(self.id);
        ctx.cancel_timer(Timer::RetryVotes);
        let term = self.state.current_term;
        ctx.trace(Event::BecameLeader { term });
        ctx.log(format_args!("wins the election of term {term}"));
        // A leader waits for no election; it may check its quorum (exercise 3.5).
        ctx.cancel_timer(Timer::Election);
        if self.config.check_quorum {
            ctx.set_timer(Timer::CheckQuorum, self.config.election_min);
        }
        self.send_heartbeats(ctx);
    }
    // ANCHOR_END: become_leader

    // ANCHOR: heartbeats
    /// A leader's round of heartbeats: an empty AppendEntries to every other node, then
    /// the timer for the next round.
    pub(crate) fn send_heartbeats(&mut self, ctx: &mut Context<'_, Self>) {
        if !self.is_leader() {
            return;
        }
        let term = self.state.current_term;
        let prev_log = self.state.last_log();
        for peer in self.config.peers(self.id) {
            ctx.send(
                peer,
                Msg::AppendEntries {
                    term,
                    prev_log,
                    entries: Vec::new(),
                    leader_commit: self.state.commit_index,
                },
            );
        }
        ctx.set_timer(Timer::Heartbeat, self.config.heartbeat);
    }
    // ANCHOR_END: heartbeats

    // ANCHOR: on_append_entries
    /// An AppendEntries of our current term (in this chapter always a heartbeat): its
    /// sender is the term's leader. A candidate recognizes it and steps down (§5.2);
    /// anyone resets its election timer.
    pub(crate) fn on_append_entries(
        &mut self,
        ctx: &mut Context<'_, Self>,
        leader: NodeId,
        prev_log: LogPosition,
    ) -> Result<()> {
        if self.is_leader() {
            // Two leaders in one term: Election Safety is already broken (the checker
            // says so); this node keeps its own view.
            ctx.log(format_args!("{leader} also claims to lead this term"));
            return Ok(());
        }
        if !matches!(self.role, Role::Follower) || self.leader != Some(leader) {
            self.become_follower(ctx, self.state.current_term, Some(leader))?;
        }
        self.reset_election_timer(ctx);
        self.heard_from_leader = Some(ctx.now());
        // The consistency check of §5.3 (chapter 4); with empty heartbeats it only
        // tells the leader how far the logs agree.
        let matches = self.log_has(prev_log);
        ctx.send(
            leader,
            Msg::AppendReply {
                term: self.state.current_term,
                success: matches,
                match_index: if matches { prev_log.index } else { 0 },
            },
        );
        Ok(())
    }
    // ANCHOR_END: on_append_entries

    /// Whether this node's log holds an entry at `pos` (index and term), the empty
    /// position 0 included.
    fn log_has(&self, pos: LogPosition) -> bool {
        pos.index == 0
            || self
                .state
                .log
                .get(pos.index as usize - 1)
                .is_some_and(|e| e.term == pos.term)
    }

    /// A follower's answer to a heartbeat of our term: the leader notes that it heard
    /// from it, and how far its log matches.
    pub(crate) fn on_append_reply(
        &mut self,
        ctx: &mut Context<'_, Self>,
        follower: NodeId,
        match_index: u64,
    ) {
        if let Role::Leader(leader) = &mut self.role {
            leader.heard.insert(follower, ctx.now());
            let m = leader.match_index.entry(follower).or_default();
            *m = (*m).max(match_index);
        }
    }

    // ANCHOR: pre_vote
    /// PreVote (exercise 3.4): before raising its term, ask whether a majority would
    /// vote for it. Nothing is written: the term does not change.
    pub(crate) fn start_pre_vote(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        self.role = Role::PreCandidate {
            votes: BTreeSet::from([self.id]),
        };
        self.leader = None;
        let term = self.state.current_term + 1;
        ctx.trace(Event::PreVote { term });
        self.reset_election_timer(ctx);
        let last_log = self.state.last_log();
        for peer in self.config.peers(self.id) {
            ctx.send(peer, Msg::PreVote { term, last_log });
        }
        if majority(self.config.nodes) == 1 {
            // A cluster of one needs nobody's answer.
            return self.start_election(ctx);
        }
        Ok(())
    }

    /// Someone asks whether we would vote for it in `term`. The answer is the exercise's
    /// [`pre_vote::grant_pre_vote`]; nothing here changes.
    pub(crate) fn on_pre_vote(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        term: Term,
        last_log: LogPosition,
    ) {
        let leader_alive = self.is_leader()
            || self
                .heard_from_leader
                .is_some_and(|t| ctx.now().since(t) < self.config.election_min);
        let granted = pre_vote::grant_pre_vote(
            term,
            last_log,
            self.state.current_term,
            self.state.last_log(),
            leader_alive,
        );
        let term = if granted {
            term
        } else {
            self.state.current_term
        };
        ctx.send(from, Msg::PreVoteReply { term, granted });
    }

    /// An answer to our PreVote: with a majority of grants for the next term, campaign
    /// for real.
    pub(crate) fn on_pre_vote_reply(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        term: Term,
        granted: bool,
    ) -> Result<()> {
        let Role::PreCandidate { votes } = &mut self.role else {
            return Ok(());
        };
        if granted && term == self.state.current_term + 1 {
            votes.insert(from);
            if votes.len() >= majority(self.config.nodes) {
                ctx.log(format_args!(
                    "a majority would vote for it: campaigns in term {term}"
                ));
                return self.start_election(ctx);
            }
        }
        Ok(())
    }
    // ANCHOR_END: pre_vote
}
