//! What the explorer asks of the protocol's structs, and the protocol never does.
//!
//! The search needs to branch a run (copy a node), to tell two states apart (hash what
//! decides a node's future, read its storage raw) and to know what can never matter
//! again (a message ignored or refused for good, a proposer that will never send
//! again). Those questions are about the protocol's state, so they are methods of its
//! structs, but no handler calls them: they live here, beside the explorer, and
//! `node.rs`, `proposer.rs`, `learner.rs` and `check.rs` hold the protocol alone.

use std::hash::{Hash, Hasher};

use crate::error::Result;
use crate::paxos::check::Agreement;
use crate::paxos::learner::Learner;
use crate::paxos::proposer::{Phase, Proposer, ROUND_KEY, TRIED_KEY};
use crate::paxos::{acceptor, Ballot, Msg, PaxosConfig, PaxosNode, Rule, Value};
use crate::runtime::NodeId;
use crate::storage::Storage;

impl PaxosNode {
    /// A copy of this node's protocol state, over another storage handle (which must
    /// hold a copy of this node's storage): how the explorer branches a run.
    pub(super) fn copy_with(&self, storage: Storage) -> PaxosNode {
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
    pub(super) fn durable_state(&self) -> Result<DurableState> {
        Ok(DurableState {
            acceptor: self.storage.get(acceptor::KEY)?,
            round: self.storage.get_u64(ROUND_KEY)?,
            tried: self.storage.get_u64(TRIED_KEY)?,
        })
    }

    /// Whether delivering `msg` to this node does nothing, now and in every state that
    /// can follow (`may_crash`: if a crash and restart may still come). The explorer
    /// leaves such messages out of a state's fingerprint, so two states that differ
    /// only in messages nobody will ever act on count as one. Acceptors act on every
    /// message (they answer); a learner that has learned ignores acceptances and
    /// decisions until a restart empties its memory.
    pub(super) fn ignores_for_good(&self, msg: &Msg, may_crash: bool) -> bool {
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
    pub(super) fn refuses_for_good(&self, msg: &Msg, may_crash: bool) -> Option<Ballot> {
        if may_crash && self.config.breaks(Rule::NoPersist) {
            return None;
        }
        let promised = self.acceptor.promised;
        match msg {
            Msg::Prepare { ballot }
                if promised > *ballot && !self.acceptor.may_promise(*ballot) =>
            {
                Some(*ballot)
            }
            Msg::Accept { ballot, .. }
                if promised > *ballot
                    && !self.acceptor.may_accept(*ballot)
                    && !self.config.breaks(Rule::ForgetPromise) =>
            {
                Some(*ballot)
            }
            _ => None,
        }
    }
}

/// What a Paxos node keeps in storage, as read back raw.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct DurableState {
    /// The acceptor's promise and acceptance, encoded.
    pub(super) acceptor: Option<Vec<u8>>,
    /// The proposer's highest round.
    pub(super) round: Option<u64>,
    /// How many ballots the proposer has started (kept only under a ballot bound).
    pub(super) tried: Option<u64>,
}

impl Proposer {
    /// Hashes what decides this proposer's future, for the explorer to recognise a
    /// state it has seen. Left out: `refusals`, which only sets how long a backoff
    /// lasts (the explorer fires timers in every order whatever their durations), and
    /// the promises once Phase 1 is over, which nothing reads again (unless the broken
    /// `stale-votes` rule carries them into the next ballot), and everything but the
    /// value once the proposer is done or inert ([`Proposer::is_inert`]).
    ///
    /// `rename` renames acceptors (the explorer's symmetry: acceptors are
    /// interchangeable); the promises are hashed in the order of the new names.
    ///
    /// `doomed`: the caller knows this proposer can never get a value accepted again
    /// (see [`Proposer::is_inert`]), so its future is that of an inert one.
    pub(super) fn hash_future<H: Hasher>(
        &self,
        config: &PaxosConfig,
        h: &mut H,
        rename: impl Fn(NodeId) -> NodeId,
        doomed: bool,
    ) {
        // A tag first, so that the three forms can't run into one another.
        self.value.hash(h);
        if self.phase == Phase::Done {
            // Done for good (a restart reloads what matters from storage).
            return 0xd0u8.hash(h);
        }
        if doomed || self.is_inert(config) {
            // Nothing it receives can make it send again, restart or not.
            return 0x1eu8.hash(h);
        }
        0xacu8.hash(h);
        self.ballot.hash(h);
        self.phase.hash(h);
        if self.phase == Phase::Preparing || config.breaks(Rule::StaleVotes) {
            let mut promises: Vec<(NodeId, &Option<(Ballot, Value)>)> =
                self.promises.iter().map(|(n, a)| (rename(*n), a)).collect();
            promises.sort_unstable_by_key(|(n, _)| *n);
            promises.hash(h);
        }
        self.highest_round.hash(h);
        self.ballots_tried.hash(h);
    }

    /// Whether this proposer will never send again: it has used every ballot the bound
    /// allows (a count a restart reloads from storage) and is not collecting promises.
    /// A refusal can only make it idle, and an idle proposer with no ballot left stays
    /// so; acceptances go to its learner, not to it.
    pub(super) fn is_inert(&self, config: &PaxosConfig) -> bool {
        config.max_ballots.is_some_and(|m| self.ballots_tried >= m)
            && self.phase != Phase::Preparing
    }

    /// Whether this proposer ignores every refusal, whatever ballot it reports, now
    /// and in every later state (`may_crash`: unless a crash may still come).
    pub(super) fn ignores_every_refusal(&self, config: &PaxosConfig, may_crash: bool) -> bool {
        self.is_inert(config) || (!may_crash && self.phase == Phase::Done)
    }

    /// Whether a message from an acceptor to this proposer is ignored now and in every
    /// later state (`may_crash`: unless a crash may still come). A promise counts only
    /// while its own ballot is in Phase 1, and a proposer's ballots only grow, even
    /// across a restart; a refusal counts for its higher ballot, which a restart may
    /// forget, and for the current ballot.
    pub(super) fn ignores_for_good(
        &self,
        msg: &Msg,
        config: &PaxosConfig,
        may_crash: bool,
    ) -> bool {
        match msg {
            Msg::Promise { ballot, .. } => {
                let may_count = config.breaks(Rule::StaleVotes)
                    || (self.phase == Phase::Preparing && self.ballot == *ballot);
                !may_count
            }
            Msg::Nack { ballot, promised } => {
                self.is_inert(config)
                    || !may_crash
                        && (self.phase == Phase::Done
                            || (promised.round <= self.highest_round
                                && !(*ballot == self.ballot
                                    && matches!(
                                        self.phase,
                                        Phase::Preparing | Phase::Accepting { .. }
                                    ))))
            }
            _ => false,
        }
    }
}

impl Learner {
    /// Hashes what decides this learner's future, for the explorer: what it learned,
    /// and its votes for the ballots `open` says may still bring it an acceptance.
    /// Votes for a ballot closed for good can never reach a majority they have not
    /// reached, and nothing else reads them. `rename` renames acceptors (the explorer's
    /// symmetry); voters are hashed in the order of the new names.
    pub(super) fn hash_future<H: Hasher>(
        &self,
        h: &mut H,
        open: impl Fn(Ballot) -> bool,
        rename: impl Fn(NodeId) -> NodeId,
    ) {
        self.learned.hash(h);
        let counted: Vec<_> = self.votes.iter().filter(|(b, _)| open(**b)).collect();
        counted.len().hash(h);
        for (ballot, (value, voters)) in counted {
            let mut voters: Vec<NodeId> = voters.iter().map(|&n| rename(n)).collect();
            voters.sort_unstable();
            (ballot, value, voters).hash(h);
        }
    }
}

impl Agreement {
    /// Hashes what decides the checks' future verdicts, for the explorer: the values
    /// chosen, and the acceptances of the ballots `open` says some acceptor may still
    /// accept (one more may complete a majority). An acceptance of a ballot closed for
    /// good short of a majority will never count, and nothing else reads it.
    ///
    /// `rename` renames acceptors (the explorer's symmetry); voters are hashed in the
    /// order of the new names.
    pub(super) fn hash_future<H: Hasher>(
        &self,
        h: &mut H,
        open: impl Fn(Ballot) -> bool,
        rename: impl Fn(NodeId) -> NodeId,
    ) {
        self.chosen.hash(h);
        let counted: Vec<_> = self
            .accepted
            .iter()
            .filter(|(proposal, _)| open(proposal.0) && !self.chosen.contains(*proposal))
            .collect();
        counted.len().hash(h);
        for (proposal, voters) in counted {
            let mut voters: Vec<NodeId> = voters.iter().map(|&n| rename(n)).collect();
            voters.sort_unstable();
            (proposal, voters).hash(h);
        }
    }
}
