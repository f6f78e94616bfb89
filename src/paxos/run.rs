//! Setting up a Paxos cluster: who proposes what, and the checker installed on every
//! simulated step. Shared by the tests, the chapter binary and the explorer.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::check::Agreement;
use super::{PaxosConfig, PaxosNode, Value};
use crate::error::Result;
use crate::runtime::sim::Factory;
use crate::runtime::{NodeId, Sim, SimConfig};
use crate::storage::Location;

/// The value proposer `id` proposes: `v1` for n1, and so on.
pub fn value_of(id: NodeId) -> Value {
    format!("v{}", id.0)
}

/// A factory of Paxos nodes in which the first `proposers` nodes propose their own
/// value, and every node follows `base` (its `nodes` and `propose` are filled in here).
pub fn factory(base: &PaxosConfig, proposers: usize) -> Factory<PaxosNode> {
    let base = base.clone();
    Arc::new(move |id: NodeId, storage| {
        let mut config = base.clone();
        config.propose = (id.index() < proposers).then(|| value_of(id));
        PaxosNode::new(config, storage)
    })
}

/// A simulation of `base.nodes` Paxos nodes with in-memory storage, the first
/// `proposers` of them proposing, with the [`Agreement`] checker run after every step.
/// The returned checker is shared with the simulation, for the end-of-run checks.
pub fn checked_sim(
    config: SimConfig,
    base: &PaxosConfig,
    proposers: usize,
) -> Result<(Sim<PaxosNode>, Rc<RefCell<Agreement>>)> {
    let locations = (0..config.nodes).map(|_| Location::memory()).collect();
    checked_sim_with(config, locations, base, proposers)
}

/// [`checked_sim`] over the given storage locations.
pub fn checked_sim_with(
    config: SimConfig,
    locations: Vec<Location>,
    base: &PaxosConfig,
    proposers: usize,
) -> Result<(Sim<PaxosNode>, Rc<RefCell<Agreement>>)> {
    let nodes = config.nodes;
    let mut sim = Sim::with_storage(config, locations, factory(base, proposers))?;
    let agreement = Rc::new(RefCell::new(Agreement::new(nodes)));
    let shared = agreement.clone();
    sim.add_checker(move |sim| {
        let mut found = Vec::new();
        let mut a = shared.borrow_mut();
        for (node, event) in sim.step_events() {
            found.extend(a.observe(sim.now(), *node, event));
        }
        found
    });
    Ok((sim, agreement))
}

/// Every live node with what it learned, for [`Agreement::check_all_learned`].
pub fn learned(sim: &Sim<PaxosNode>) -> Vec<(NodeId, Option<Value>)> {
    sim.live_nodes()
        .map(|(id, n)| (id, n.chosen().cloned()))
        .collect()
}
