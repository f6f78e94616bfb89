//! One Paxos node, playing all three roles as in the paper: every node is an acceptor
//! and a learner, and some are also proposers.

use super::acceptor::Acceptor;
use super::learner::Learner;
use super::proposer::{Phase, Proposer};
use super::{Ballot, Event, Msg, PaxosConfig, Rule, Timer, Value};
use crate::error::Result;
use crate::runtime::{ClientId, Context, Node, NodeId};
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
    pub(super) waiting: Vec<ClientId>,
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
        for client in self.waiting.drain(..) {
            ctx.reply(client, value.clone());
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
        let config = &self.config;
        match msg {
            Msg::Prepare { ballot } => {
                self.acceptor
                    .on_prepare(ctx, &mut self.storage, config, from, ballot)?
            }
            Msg::Accept { ballot, value } => {
                if config.breaks(Rule::ForgetPromise) {
                    // Broken on purpose: the acceptor forgets any promise above `ballot`.
                    self.acceptor.promised = self.acceptor.promised.min(ballot);
                }
                self.acceptor
                    .on_accept(ctx, &mut self.storage, config, from, ballot, value)?
            }
            Msg::Promise {
                mut ballot,
                mut accepted,
            } => {
                if let Some(p) = self.proposer.as_mut() {
                    if config.breaks(Rule::StaleVotes) && p.phase == Phase::Preparing {
                        ballot = p.ballot; // broken: a promise for any ballot counts
                    }
                    if config.breaks(Rule::IgnoreAccepted) {
                        accepted = None; // broken: what the acceptor accepted is ignored
                    }
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
                    // The distinguished learner tells every other learner.
                    let me = ctx.me();
                    for learner in NodeId::all(config.nodes).into_iter().filter(|&n| n != me) {
                        ctx.send(
                            learner,
                            Msg::Decided {
                                ballot,
                                value: v.clone(),
                            },
                        );
                    }
                    self.learned(ctx, v);
                }
            }
            Msg::Query => {
                self.acceptor.on_query(ctx, from);
                if let Some((ballot, value)) = &self.learner.learned {
                    ctx.send(
                        from,
                        Msg::Decided {
                            ballot: *ballot,
                            value: value.clone(),
                        },
                    );
                }
            }
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
    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        client: ClientId,
        _req: (),
    ) -> Result<()> {
        match self.chosen() {
            Some(v) => ctx.reply(client, v.clone()),
            None => self.waiting.push(client),
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
