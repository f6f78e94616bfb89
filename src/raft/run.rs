//! Setting up a Raft cluster, with the Election Safety checker installed on every
//! simulated step, and the harness's election checks on [`Cluster`]:
//!
//! ```
//! use quorum::raft::{run, RaftConfig};
//! use quorum::runtime::cluster::secs;
//!
//! let mut cluster = run::cluster(RaftConfig::new(3), 1)?;
//! let (leader, term) = cluster.check_one_leader()?;
//! cluster.disconnect(leader)?;
//! let (next, next_term) = cluster.check_one_leader()?;
//! assert!(next != leader && next_term > term);
//! # Ok::<(), quorum::Error>(())
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::check::ElectionSafety;
use super::{majority, Entry, RaftConfig, RaftNode, Term};
use crate::error::{Error, Result};
use crate::runtime::sim::Factory;
use crate::runtime::{Cluster, NodeId, Sim, SimConfig};
use crate::storage::{Location, LogEntry, Storage};

/// A factory of Raft nodes that all follow `config`.
pub fn factory(config: &RaftConfig) -> Factory<RaftNode> {
    let config = config.clone();
    Arc::new(move |id: NodeId, storage| RaftNode::new(id, config.clone(), storage))
}

/// A factory of Raft nodes following `config` whose node `n(i+1)` starts with a log of
/// `lengths[i]` entries of term 1 (none past the list's end): logs of different lengths,
/// for the election restriction to have something to decide. A restarted node keeps
/// the log it has.
pub fn factory_with_logs(config: &RaftConfig, lengths: Vec<u64>) -> Factory<RaftNode> {
    let config = config.clone();
    Arc::new(move |id: NodeId, mut storage: Storage| {
        let want = lengths.get(id.index()).copied().unwrap_or(0);
        if storage.last_log_index()? < want {
            let entry = LogEntry::from(&Entry {
                term: 1,
                command: Vec::new(),
            });
            let entries = vec![entry; want as usize];
            storage.append_log(1, &entries)?;
        }
        RaftNode::new(id, config.clone(), storage)
    })
}

/// Installs the [`ElectionSafety`] checker on every step of `sim`; the returned checker
/// is shared with it, for the run's summary.
pub fn install_checker(sim: &mut Sim<RaftNode>) -> Rc<RefCell<ElectionSafety>> {
    let checker = Rc::new(RefCell::new(ElectionSafety::new()));
    let shared = checker.clone();
    sim.add_checker(move |sim| {
        let mut c = shared.borrow_mut();
        sim.step_events()
            .iter()
            .flat_map(|(node, event)| c.observe(sim.now(), *node, event))
            .collect()
    });
    checker
}

/// A simulation of `sim.nodes` Raft nodes following `config`, over `locations`, checked
/// on every step.
pub fn checked_sim_with(
    sim: SimConfig,
    locations: Vec<Location>,
    factory: Factory<RaftNode>,
) -> Result<(Sim<RaftNode>, Rc<RefCell<ElectionSafety>>)> {
    let mut sim = Sim::with_storage(sim, locations, factory)?;
    let checker = install_checker(&mut sim);
    Ok((sim, checker))
}

/// A checked simulation of Raft nodes following `config`, in memory.
pub fn checked_sim(
    sim: SimConfig,
    config: &RaftConfig,
) -> Result<(Sim<RaftNode>, Rc<RefCell<ElectionSafety>>)> {
    let locations = (0..sim.nodes).map(|_| Location::memory()).collect();
    checked_sim_with(sim, locations, factory(config))
}

/// A test cluster of `config.nodes` Raft nodes on a reliable network, seed `seed`,
/// checked on every step.
pub fn cluster(config: RaftConfig, seed: u64) -> Result<Cluster<RaftNode>> {
    let f = factory(&config);
    let mut cluster =
        Cluster::with_config(SimConfig::new(config.nodes, seed), move |id, s| f(id, s))?;
    install_checker(&mut cluster.sim);
    Ok(cluster)
}

/// How long the harness waits for a leader before it calls the cluster leaderless.
pub const LEADER_WAIT: Duration = Duration::from_secs(5);

/// The nodes that are up and whose links to and from a majority of the cluster
/// (themselves included) are not cut: the part of the cluster that can elect.
pub fn reachable(sim: &Sim<RaftNode>) -> Vec<NodeId> {
    let ids = sim.ids();
    let net = sim.network();
    ids.iter()
        .copied()
        .filter(|&a| sim.is_up(a))
        .filter(|&a| {
            let links = ids
                .iter()
                .filter(|&&b| b == a || (!net.is_blocked(a, b) && !net.is_blocked(b, a)))
                .count();
            links >= majority(ids.len())
        })
        .collect()
}

/// The leaders among `nodes`, with their terms, highest term first.
fn leaders_among(sim: &Sim<RaftNode>, nodes: &[NodeId]) -> Vec<(NodeId, Term)> {
    let mut leaders: Vec<(NodeId, Term)> = nodes
        .iter()
        .filter_map(|&id| {
            sim.node(id)
                .filter(|n| n.is_leader())
                .map(|n| (id, n.term()))
        })
        .collect();
    leaders.sort_by_key(|&(id, term)| (std::cmp::Reverse(term), id));
    leaders
}

/// What a node says of itself, for [`agreed_leader_among`]: its id, its term, the
/// leader it follows (itself if it leads), and whether it leads.
pub type View = (NodeId, Term, Option<NodeId>, bool);

/// The leader every one of `views` follows, with its term, if they all agree on one:
/// all are in the same term and name the same leader, which is among them and is the
/// only one that leads. How a run's end is judged, in the simulator and on threads.
pub fn agreed_leader_among(views: &[View]) -> Option<(NodeId, Term)> {
    let &(_, term, leader, _) = views.first()?;
    let leader = leader?;
    let agree = views
        .iter()
        .all(|&(id, t, l, leads)| t == term && l == Some(leader) && leads == (id == leader));
    (agree && views.iter().any(|v| v.0 == leader)).then_some((leader, term))
}

/// The leader every live node of `sim` follows, with its term, if they all agree on one
/// ([`agreed_leader_among`]).
pub fn agreed_leader(sim: &Sim<RaftNode>) -> Option<(NodeId, Term)> {
    let views: Vec<View> = sim
        .live_nodes()
        .map(|(id, n)| (id, n.term(), n.leader, n.is_leader()))
        .collect();
    agreed_leader_among(&views)
}

/// The live node that leads the highest term, with the term, if any node leads.
pub fn leader_of_highest_term(sim: &Sim<RaftNode>) -> Option<(NodeId, Term)> {
    sim.live_nodes()
        .filter(|(_, n)| n.is_leader())
        .map(|(id, n)| (id, n.term()))
        .max_by_key(|&(_, t)| t)
}

impl Cluster<RaftNode> {
    // ANCHOR: check_one_leader
    /// Runs until a reachable node leads, for at most [`LEADER_WAIT`], and returns it
    /// with its term. An error if none comes to lead, or if two reachable nodes lead the
    /// same term (Election Safety).
    pub fn check_one_leader(&mut self) -> Result<(NodeId, Term)> {
        let found = self.run_until(
            |sim| !leaders_among(sim, &reachable(sim)).is_empty(),
            LEADER_WAIT,
        )?;
        let leaders = leaders_among(&self.sim, &reachable(&self.sim));
        match leaders.as_slice() {
            [] => Err(Error::Runtime(format!(
                "no leader among the reachable nodes {:?} after {}",
                reachable(&self.sim),
                crate::runtime::time::format_duration(LEADER_WAIT)
            ))),
            [(a, t), (b, u), ..] if t == u => Err(Error::Runtime(format!(
                "{a} and {b} both lead term {t}: Election Safety is broken"
            ))),
            [first, ..] => {
                debug_assert!(found);
                Ok(*first)
            }
        }
    }
    // ANCHOR_END: check_one_leader

    /// Checks that no reachable node believes it leads; an error names the one that does.
    pub fn check_no_leader(&self) -> Result<()> {
        match leaders_among(&self.sim, &reachable(&self.sim)).first() {
            None => Ok(()),
            Some((id, term)) => Err(Error::Runtime(format!(
                "{id} leads term {term}, but no leader was expected"
            ))),
        }
    }

    /// Checks that every reachable node is in the same term, and returns it; an error
    /// lists each node's term.
    pub fn check_terms(&self) -> Result<Term> {
        let terms: Vec<(NodeId, Term)> = reachable(&self.sim)
            .into_iter()
            .filter_map(|id| self.sim.node(id).map(|n| (id, n.term())))
            .collect();
        match terms.first() {
            None => Err(Error::Runtime("no reachable node to ask its term".into())),
            Some(&(_, t)) if terms.iter().all(|&(_, u)| u == t) => Ok(t),
            Some(_) => Err(Error::Runtime(format!(
                "the reachable nodes disagree on the term: {}",
                terms
                    .iter()
                    .map(|(id, t)| format!("{id} t{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
