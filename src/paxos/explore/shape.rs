//! A state's key: what the search files a state under. Each node's protocol state and
//! storage is hashed (the [`Shape`]), the events pending are named by content, and the
//! whole is filed under the renaming of acceptors that names it smallest
//! ([`canonical`]), leaving out what can never count again (see [`dead`](super::dead)).

use std::hash::{Hash, Hasher};

use super::dead::{dead, doomed, open_ballots};
use super::moves::{pending_hash, EventKey};
use crate::check::explore::{hash_of, permuted, renamed, Fx};
use crate::error::Result;
use crate::paxos::check::Agreement;
use crate::paxos::{Ballot, Msg, PaxosNode, Value};
use crate::runtime::sim::PendingWhat;
use crate::runtime::{NodeId, Sim};

/// A state's parts, hashed: each node's protocol state and storage, and each pending
/// event by content (not by sequence number), sorted.
#[derive(PartialEq, Eq)]
pub(super) struct Shape {
    /// Each node's acceptor, proposer and storage.
    nodes: Vec<u64>,
    /// Each node's learner, votes of closed ballots left out.
    learners: Vec<u64>,
    /// The ballots still open: some acceptor may yet accept them.
    open: Vec<Ballot>,
    /// Acceptances in flight to a learner that may count them: (learner, ballot).
    unheard: Vec<(NodeId, Ballot)>,
    /// Every pending event the state is filed with (with the reductions on, dead
    /// messages left out), to be named under each renaming of acceptors.
    events: Vec<EventKey>,
    /// The messages in flight and timers armed (which a larger state may have more of).
    pending: Vec<u64>,
    /// The other events pending (a node's start), which a state covering this one
    /// must have the same of: a node that has not started cannot be crashed.
    fixed: Vec<u64>,
    /// Each pending event's sequence number and hash, by sequence number: what lets
    /// the next state's shape reuse the hashes of the events it still has.
    by_seq: Vec<(u64, u64)>,
}

/// A node's acceptor, proposer and storage, hashed. Its learner is hashed with the
/// state as a whole ([`canonical`]), which knows which of its votes can still count.
fn node_hash(sim: &Sim<PaxosNode>, id: NodeId) -> Result<u64> {
    Ok(match sim.node(id) {
        Some(node) => {
            let mut h = Fx::default();
            node.acceptor.hash(&mut h);
            match &node.proposer {
                Some(p) => p.hash_future(node.config(), &mut h, |n| n, false),
                None => 0u8.hash(&mut h),
            }
            node.durable_state()?.hash(&mut h);
            h.finish()
        }
        None => 0,
    })
}

impl Shape {
    pub(super) fn of(sim: &Sim<PaxosNode>, may_crash: bool, reduce: bool) -> Result<Shape> {
        let nodes = sim
            .ids()
            .into_iter()
            .map(|id| node_hash(sim, id))
            .collect::<Result<Vec<u64>>>()?;
        Ok(Shape::with_nodes(sim, nodes, None, may_crash, reduce))
    }

    /// The shape of `sim`, one move after the state of shape `before`: only the node
    /// the move acted on can have changed, and only new events need hashing.
    pub(super) fn after(
        sim: &Sim<PaxosNode>,
        before: &Shape,
        moved: NodeId,
        may_crash: bool,
        reduce: bool,
    ) -> Result<Shape> {
        let mut nodes = before.nodes.clone();
        match moved.index_in(nodes.len()) {
            Some(i) => nodes[i] = node_hash(sim, moved)?,
            None => return Shape::of(sim, may_crash, reduce),
        }
        Ok(Shape::with_nodes(
            sim,
            nodes,
            Some(before),
            may_crash,
            reduce,
        ))
    }

    /// The shape of `sim` with these node hashes (`may_crash`: if a crash may still
    /// come). With `reduce`, messages that will never change anything are left out of
    /// `pending`: a state that still carries one has the same future as a state
    /// without it.
    fn with_nodes(
        sim: &Sim<PaxosNode>,
        nodes: Vec<u64>,
        before: Option<&Shape>,
        may_crash: bool,
        reduce: bool,
    ) -> Shape {
        let mut by_seq = Vec::new();
        let mut pending = Vec::new();
        let mut fixed = Vec::new();
        let mut events = Vec::new();
        // Ballots that may still be accepted somewhere: a proposer collecting
        // promises for it will send accepts, or an accept for it is in flight to an
        // acceptor that may take it.
        let open = open_ballots(sim, may_crash);
        // Acceptances in flight to a learner that may count them: (learner, ballot).
        let mut unheard: Vec<(NodeId, Ballot)> = Vec::new();
        for p in sim.pending() {
            let known = before.and_then(|b| {
                b.by_seq
                    .binary_search_by_key(&p.seq, |&(seq, _)| seq)
                    .ok()
                    .map(|i| b.by_seq[i].1)
            });
            let hash = known.unwrap_or_else(|| pending_hash(&p.what));
            by_seq.push((p.seq, hash));
            match p.what {
                PendingWhat::Deliver { to, msg, .. } => {
                    let is_dead = dead(sim, &p.what, may_crash);
                    if let Msg::Accepted { ballot, .. } = msg {
                        if !is_dead {
                            unheard.push((to, *ballot));
                        }
                    }
                    if !(reduce && is_dead) {
                        pending.push(hash);
                        events.push(EventKey::of(&p.what));
                    }
                }
                PendingWhat::Timer { .. } => {
                    pending.push(hash);
                    events.push(EventKey::of(&p.what));
                }
                _ => {
                    fixed.push(hash);
                    events.push(EventKey::of(&p.what));
                }
            }
        }
        by_seq.sort_unstable();
        pending.sort_unstable();
        fixed.sort_unstable();
        let learners = sim
            .ids()
            .into_iter()
            .map(|id| match sim.node(id) {
                Some(n) => {
                    let mut h = Fx::default();
                    n.learner.hash_future(
                        &mut h,
                        |b| open.binary_search(&b).is_ok() || unheard.contains(&(id, b)),
                        |n| n,
                    );
                    h.finish()
                }
                None => 0,
            })
            .collect();
        Shape {
            nodes,
            learners,
            pending,
            fixed,
            by_seq,
            open,
            unheard,
            events,
        }
    }

    /// Whether `after` is this shape with the pending event `gone` taken away and
    /// nothing else changed: the event was run and did nothing.
    pub(super) fn lost_only(&self, gone: u64, after: &Shape) -> bool {
        self.nodes == after.nodes
            && self.learners == after.learners
            && self.pending.len() == after.pending.len() + 1
            && match self.pending.binary_search(&gone) {
                Ok(i) => {
                    self.pending[..i] == after.pending[..i]
                        && self.pending[i + 1..] == after.pending[i..]
                }
                Err(_) => false,
            }
    }
}

/// A state as the search files it: under the renaming of acceptors that gives the
/// smallest key and, among those, the smallest events pending.
pub(super) struct Canonical {
    /// The node states, their storage, the history of acceptances, closed ballots left
    /// out (see [`canonical`]).
    pub(super) key: u64,
    /// The events pending (messages that will never change anything left out), sorted.
    pub(super) pool: Vec<u64>,
    /// The renaming used (an index into the search's list of permutations).
    pub(super) perm: usize,
    /// The state's class of what the properties read (acceptors, learned values,
    /// chosen values), up to a renaming of acceptors.
    pub(super) node_class: u64,
}

/// `sim`'s state filed under every renaming in `perms` whose index is in `tried`,
/// with `agreement` and what `shape` knows of which ballots are open.
pub(super) fn canonical(
    sim: &Sim<PaxosNode>,
    shape: &Shape,
    agreement: &Agreement,
    perms: &[Vec<usize>],
    tried: std::ops::Range<usize>,
    may_crash: bool,
    reduce: bool,
) -> Result<Canonical> {
    let ids = sim.ids();
    // Per node: the acceptor and its storage, which move with the acceptor's name.
    let mut acceptors = Vec::with_capacity(ids.len());
    for &id in &ids {
        acceptors.push(match sim.node(id) {
            Some(n) => hash_of((&n.acceptor, n.durable_state()?.acceptor)),
            None => 0,
        });
    }
    let durable: Vec<Option<(Option<u64>, Option<u64>)>> = ids
        .iter()
        .map(|&id| {
            sim.node(id)
                .map(|n| n.durable_state().map(|d| (d.round, d.tried)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    // The abstraction of the key (closed ballots, doomed proposers) is a reduction too:
    // the full search goes without it, so that comparing the two checks it as well.
    let open = |b: Ballot| !reduce || shape.open.binary_search(&b).is_ok();
    let doomed = |id: NodeId| reduce && doomed(sim, id, may_crash);
    let key_under = |perm: &[usize]| -> u64 {
        let rename = |n: NodeId| renamed(n, perm);
        let mut h = Fx::default();
        // The acceptors' hashes under the renaming: the acceptor now named k is the one
        // that was named perm⁻¹(k).
        permuted(&acceptors, perm).hash(&mut h);
        for (i, &id) in ids.iter().enumerate() {
            match sim.node(id) {
                Some(n) => {
                    match &n.proposer {
                        Some(p) => p.hash_future(n.config(), &mut h, rename, doomed(id)),
                        None => 0u8.hash(&mut h),
                    }
                    durable[i].hash(&mut h);
                    n.learner.hash_future(
                        &mut h,
                        |b| open(b) || shape.unheard.contains(&(id, b)),
                        rename,
                    );
                }
                None => 1u8.hash(&mut h),
            }
        }
        shape.fixed.hash(&mut h);
        agreement.hash_future(&mut h, open, rename);
        h.finish()
    };
    let keys: Vec<u64> = perms.iter().map(|p| key_under(p)).collect();
    // What the properties read, and what no reduction may lose: every acceptor's state,
    // what every learner learned, and the values chosen, up to a renaming of acceptors.
    let learned: Vec<Option<&(Ballot, Value)>> = ids
        .iter()
        .map(|&id| sim.node(id).and_then(|n| n.learner.learned.as_ref()))
        .collect();
    let chosen = agreement.chosen_values();
    let node_class = perms
        .iter()
        .map(|perm| hash_of((permuted(&acceptors, perm), &learned, &chosen)))
        .min()
        .unwrap_or(0);
    let mut best: Option<Canonical> = None;
    for i in tried {
        let Some(&key) = keys.get(i) else { continue };
        if best.as_ref().is_some_and(|b| key > b.key) {
            continue;
        }
        let mut pool: Vec<u64> = shape.events.iter().map(|e| e.id(&perms[i])).collect();
        pool.sort_unstable();
        pool.dedup();
        if best
            .as_ref()
            .is_none_or(|b| key < b.key || (key == b.key && pool < b.pool))
        {
            best = Some(Canonical {
                key,
                pool,
                perm: i,
                node_class,
            });
        }
    }
    best.ok_or_else(|| crate::error::Error::Runtime("explorer: no renaming to try".into()))
}
