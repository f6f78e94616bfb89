//! One Paxos node, playing all three roles as in the paper: every node is an acceptor
//! and a learner, and some are also proposers.

use super::acceptor::Acceptor;
use super::learner::Learner;
use super::proposer::{Phase, Proposer};
use super::{Ballot, Event, Msg, PaxosConfig, Rule, Timer, Value};
use crate::error::Result;
use crate::runtime::{CallId, Context, Node, NodeId};
use crate::storage::Storage;

/// A Paxos node.
pub struct PaxosNode {
    /// How this node behaves (and which rule, if any, it breaks).
    pub(super) config: PaxosConfig,
    /// Stable storage: the acceptor's promise and acceptance, the proposer's round.
    pub(super) storage: Storage,
    /// The acceptor role (durable state, reloaded from storage at every start).
    pub acceptor: Acceptor,
    /// The proposer role, if this node proposes.
    pub proposer: Option<Proposer>,
    /// The learner role.
    pub learner: Learner,
    /// Clients waiting to hear the chosen value.
    pub(super) waiting: Vec<CallId>,
}

impl PaxosNode {
    /// A node with `config`, its state loaded from `storage`.
    pub fn new(config: PaxosConfig, storage: Storage) -> Result<PaxosNode> {
        let acceptor = Acceptor::load(&storage)?;
        let proposer = match &config.propose {
            Some(v) => Some(Proposer::new(v.clone(), &storage, &config)?),
            None => None,
        };
        Ok(PaxosNode {
            config,
            storage,
            acceptor,
            proposer,
            learner: Learner::default(),
            waiting: Vec::new(),
        })
    }

    /// The chosen value, once this node has learned it.
    pub fn chosen(&self) -> Option<&Value> {
        self.learner.learned.as_ref().map(|(_, v)| v)
    }

    /// The node's configuration.
    pub fn config(&self) -> &PaxosConfig {
        &self.config
    }

    /// This node learned `value`: the proposer stops and waiting clients hear it.
    fn learned(&mut self, ctx: &mut Context<'_, Self>, value: Value) {
        if let Some(p) = self.proposer.as_mut() {
            p.finish(ctx);
        }
        for call in self.waiting.drain(..) {
            ctx.reply(call, value.clone());
        }
    }

    /// The distinguished learner of `ballot` tells every other learner that `value` was
    /// chosen in it.
    fn tell_learners(&self, ctx: &mut Context<'_, Self>, ballot: Ballot, value: &Value) {
        let me = ctx.me();
        for learner in NodeId::all(self.config.nodes)
            .into_iter()
            .filter(|&n| n != me)
        {
            let decided = Msg::Decided {
                ballot,
                value: value.clone(),
            };
            ctx.send(learner, decided);
        }
    }

    /// A learner that has not learned asks again: the acceptor repeats what it accepted,
    /// and the learner tells the value it learned, if any.
    fn answer_query(&mut self, ctx: &mut Context<'_, Self>, from: NodeId) {
        self.acceptor.on_query(ctx, from);
        if let Some((ballot, value)) = &self.learner.learned {
            let decided = Msg::Decided {
                ballot: *ballot,
                value: value.clone(),
            };
            ctx.send(from, decided);
        }
    }

    /// `msg` as the rule broken on purpose, if any, makes this node see it, so that the
    /// handlers stay the protocol's: with `forget-promise`, the acceptor forgets any
    /// promise above an accept's ballot; with `stale-votes`, a promise counts for the
    /// ballot in Phase 1 whatever ballot it was for; with `ignore-accepted`, a promise's
    /// report of what its acceptor accepted is dropped.
    fn as_broken(&mut self, msg: Msg) -> Msg {
        let rule = self.config.broken;
        match msg {
            Msg::Accept { ballot, .. } if rule == Some(Rule::ForgetPromise) => {
                self.acceptor.promised = self.acceptor.promised.min(ballot);
                msg
            }
            Msg::Promise { ballot, accepted } => {
                let ballot = match (&self.proposer, rule) {
                    (Some(p), Some(Rule::StaleVotes)) if p.phase == Phase::Preparing => p.ballot,
                    _ => ballot,
                };
                let accepted = match rule {
                    Some(Rule::IgnoreAccepted) => None,
                    _ => accepted,
                };
                Msg::Promise { ballot, accepted }
            }
            msg => msg,
        }
    }
}

impl Node for PaxosNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = ();
    type Response = Value;
    type Event = Event;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        if let Some(p) = &self.proposer {
            ctx.trace(Event::Proposed {
                value: p.value.clone(),
            });
            // The first ballot starts after a short random delay, so that proposers
            // started together do not collide by construction.
            let delay = ctx
                .rng()
                .duration_between(std::time::Duration::ZERO, self.config.retry / 10);
            ctx.set_timer(Timer::Retry, delay);
        }
        if let Some(every) = self.config.query_every {
            ctx.set_timer(Timer::Query, every);
        }
        Ok(())
    }

    // ANCHOR: on_message
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: NodeId, msg: Msg) -> Result<()> {
        let msg = self.as_broken(msg);
        let config = &self.config;
        match msg {
            Msg::Prepare { ballot } => {
                self.acceptor
                    .on_prepare(ctx, &mut self.storage, config, from, ballot)?
            }
            Msg::Accept { ballot, value } => {
                self.acceptor
                    .on_accept(ctx, &mut self.storage, config, from, ballot, value)?
            }
            Msg::Promise { ballot, accepted } => {
                if let Some(p) = self.proposer.as_mut() {
                    p.on_promise(ctx, config, from, ballot, accepted);
                }
            }
            Msg::Nack { ballot, promised } => {
                if let Some(p) = self.proposer.as_mut() {
                    p.on_nack(ctx, config, ballot, promised);
                }
            }
            Msg::Accepted { ballot, value } => {
                if let Some(v) = self.learner.on_accepted(ctx, config, from, ballot, value) {
                    self.tell_learners(ctx, ballot, &v);
                    self.learned(ctx, v);
                }
            }
            Msg::Query => self.answer_query(ctx, from),
            Msg::Decided { ballot, value } => {
                if let Some(v) = self.learner.on_decided(ctx, ballot, value) {
                    self.learned(ctx, v);
                }
            }
        }
        Ok(())
    }
    // ANCHOR_END: on_message

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) -> Result<()> {
        match timer {
            Timer::Retry => {
                if self.learner.learned.is_none() {
                    if let Some(p) = self.proposer.as_mut() {
                        p.start_ballot(ctx, &mut self.storage, &self.config)?;
                    }
                }
            }
            Timer::Query => self.learner.on_query_timer(ctx, &self.config),
        }
        Ok(())
    }

    /// A client asks for the chosen value: answered once this node has learned it.
    fn on_request(&mut self, ctx: &mut Context<'_, Self>, call: CallId, _req: ()) -> Result<()> {
        match self.chosen() {
            Some(v) => ctx.reply(call, v.clone()),
            None => self.waiting.push(call),
        }
        Ok(())
    }

    fn role(&self) -> String {
        if let Some((b, v)) = &self.learner.learned {
            return format!("learned {v}@{b}");
        }
        match &self.proposer {
            Some(p) if p.ballot != Ballot::NONE => format!("proposer {}", p.ballot),
            _ => format!("acceptor promised {}", self.acceptor.promised),
        }
    }
}
