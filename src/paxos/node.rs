//! One Paxos node, playing all three roles as in the paper: every node is an acceptor
//! and a learner, and some are also proposers.

use super::acceptor::Acceptor;
use super::learner::Learner;
use super::proposer::Proposer;
use super::{Ballot, Event, Msg, PaxosConfig, Rule, Timer, Value};
use crate::error::Result;
use crate::exercises::promise::{may_accept, may_promise};
use crate::runtime::{ClientId, Context, Node, NodeId};
use crate::storage::Storage;

/// A Paxos node.
pub struct PaxosNode {
    /// How this node behaves (and which rule, if any, it breaks).
    config: PaxosConfig,
    /// Stable storage: the acceptor's promise and acceptance, the proposer's round.
    storage: Storage,
    /// The acceptor role (durable state, reloaded from storage at every start).
    pub acceptor: Acceptor,
    /// The proposer role, if this node proposes.
    pub proposer: Option<Proposer>,
    /// The learner role.
    pub learner: Learner,
    /// Clients waiting to hear the chosen value.
    waiting: Vec<ClientId>,
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

    /// A copy of this node's protocol state, over another storage handle (which must
    /// hold a copy of this node's storage): how the explorer branches a run.
    pub fn copy_with(&self, storage: Storage) -> PaxosNode {
        PaxosNode {
            config: self.config.clone(),
            storage,
            acceptor: self.acceptor.clone(),
            proposer: self.proposer.clone(),
            learner: self.learner.clone(),
            waiting: self.waiting.clone(),
        }
    }

    /// What this node's storage holds, for the explorer to tell apart two states whose
    /// memory is alike but whose disks are not (under `no-persist`, they differ).
    pub fn durable_state(&self) -> Result<DurableState> {
        Ok(DurableState {
            acceptor: self.storage.get(super::acceptor::KEY)?,
            round: self.storage.get_u64(super::proposer::ROUND_KEY)?,
            tried: self.storage.get_u64(super::proposer::TRIED_KEY)?,
        })
    }

    /// Whether delivering `msg` to this node does nothing, now and in every state that
    /// can follow (`may_crash`: if a crash and restart may still come). The explorer
    /// leaves such messages out of a state's fingerprint, so two states that differ
    /// only in messages nobody will ever act on count as one. Acceptors act on every
    /// message (they answer); a learner that has learned ignores acceptances and
    /// decisions until a restart empties its memory.
    pub fn ignores_for_good(&self, msg: &Msg, may_crash: bool) -> bool {
        match msg {
            Msg::Promise { .. } | Msg::Nack { .. } => match &self.proposer {
                Some(p) => p.ignores_for_good(msg, &self.config, may_crash),
                None => true,
            },
            Msg::Accepted { .. } | Msg::Decided { .. } => {
                !may_crash && self.learner.learned.is_some()
            }
            Msg::Prepare { .. } | Msg::Accept { .. } | Msg::Query => false,
        }
    }

    /// The ballot of `msg` (a prepare or an accept) if this node's acceptor refuses it
    /// now and in every state that can follow: delivering it changes nothing here and
    /// only sends a refusal to the ballot's proposer. So it is when the promise held is
    /// above the ballot, because a promise only grows (it is on disk, unless
    /// `no-persist` is broken and a crash may come, and the acceptor's rule refuses
    /// every ballot below its promise). The acceptor's own rule must agree that it
    /// refuses this ballot now; a rule that would let a promise fall later (an exercise
    /// solution that promises lower ballots) is beyond this check, and is caught by the
    /// sweeps and the random walks rather than by the exhaustive search.
    pub fn refuses_for_good(&self, msg: &Msg, may_crash: bool) -> Option<Ballot> {
        if may_crash && self.config.breaks(Rule::NoPersist) {
            return None;
        }
        let promised = self.acceptor.promised;
        match msg {
            Msg::Prepare { ballot } if promised > *ballot && !may_promise(promised, *ballot) => {
                Some(*ballot)
            }
            Msg::Accept { ballot, .. }
                if promised > *ballot
                    && !may_accept(promised, *ballot)
                    && !self.config.breaks(Rule::ForgetPromise) =>
            {
                Some(*ballot)
            }
            _ => None,
        }
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

/// What a Paxos node keeps in storage, as read back raw.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DurableState {
    /// The acceptor's promise and acceptance, encoded.
    pub acceptor: Option<Vec<u8>>,
    /// The proposer's highest round.
    pub round: Option<u64>,
    /// How many ballots the proposer has started (kept only under a ballot bound).
    pub tried: Option<u64>,
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
