//! `Cluster`: the test harness every chapter's tests share.
//!
//! A `Cluster` is a simulation with a vocabulary for scenarios: run for a while, crash a
//! node, cut it off, heal the network, and wait until something holds. Later chapters add
//! their own checks on top (`check_one_leader`, `check_chosen`, …), so a test reads like
//! the scenario it plays:
//!
//! ```
//! use quorum::detector::{Detector, DetectorConfig};
//! use quorum::runtime::cluster::{n, secs};
//! use quorum::runtime::Cluster;
//!
//! let mut cluster = Cluster::new(5, 1, |id, storage| {
//!     Ok(Detector::new(id, 5, DetectorConfig::default(), storage))
//! })?;
//! cluster.run_for(secs(1))?;
//! cluster.crash(n(3))?;
//! let everyone_suspects_n3 =
//!     |c: &quorum::runtime::Sim<Detector>| c.live_nodes().all(|(_, d)| d.suspects_peer(n(3)));
//! assert!(cluster.run_until(everyone_suspects_n3, secs(2))?);
//! # Ok::<(), quorum::Error>(())
//! ```

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::id::NodeId;
use super::net::Faults;
use super::node::Node;
use super::schedule::Action;
use super::sim::{Sim, SimConfig};
use super::stats::NodeStats;
use crate::error::Result;
use crate::storage::Storage;

/// A simulated cluster with a harness's hands.
pub struct Cluster<N: Node> {
    /// The simulation underneath, for anything the harness does not wrap.
    pub sim: Sim<N>,
    /// The random faults `set_unreliable(false)` returns to.
    reliable: Faults,
}

impl<N: Node> Cluster<N> {
    /// A cluster of `nodes` nodes with in-memory storage on a reliable network.
    pub fn new(
        nodes: usize,
        seed: u64,
        factory: impl Fn(NodeId, Storage) -> Result<N> + Send + Sync + 'static,
    ) -> Result<Cluster<N>> {
        Cluster::with_config(SimConfig::new(nodes, seed), factory)
    }

    /// A cluster from a full simulation config.
    pub fn with_config(
        config: SimConfig,
        factory: impl Fn(NodeId, Storage) -> Result<N> + Send + Sync + 'static,
    ) -> Result<Cluster<N>> {
        let reliable = config.faults.clone();
        Ok(Cluster {
            sim: Sim::new(config, factory)?,
            reliable,
        })
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<()> {
        self.sim.run_for(d)
    }

    /// Runs until `done` holds, for at most `limit` of virtual time; returns whether it
    /// came to hold.
    pub fn run_until(
        &mut self,
        done: impl FnMut(&Sim<N>) -> bool,
        limit: Duration,
    ) -> Result<bool> {
        let deadline = self.sim.now() + limit;
        self.sim.run_until_true(deadline, done)
    }

    /// Crashes node `i`: its struct and timers are gone, its storage stays.
    pub fn crash(&mut self, i: NodeId) -> Result<()> {
        self.sim.apply(Action::Crash(i))
    }

    /// Rebuilds node `i` from its storage and starts it.
    pub fn restart(&mut self, i: NodeId) -> Result<()> {
        self.sim.apply(Action::Restart(i))
    }

    /// Cuts node `i` off from every other node, both ways.
    pub fn disconnect(&mut self, i: NodeId) -> Result<()> {
        self.sim.apply(Action::Disconnect(i))
    }

    /// Restores every link of node `i`.
    pub fn connect(&mut self, i: NodeId) -> Result<()> {
        self.sim.apply(Action::Connect(i))
    }

    /// Cuts every link between groups `a` and `b`, both ways.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) -> Result<()> {
        self.sim.apply(Action::Partition {
            a: a.to_vec(),
            b: b.to_vec(),
            one_way: false,
            on: true,
        })
    }

    /// Cuts only the links from `a` to `b`.
    pub fn partition_one_way(&mut self, a: &[NodeId], b: &[NodeId]) -> Result<()> {
        self.sim.apply(Action::Partition {
            a: a.to_vec(),
            b: b.to_vec(),
            one_way: true,
            on: true,
        })
    }

    /// Lifts every partition.
    pub fn heal(&mut self) -> Result<()> {
        self.sim.apply(Action::Heal)
    }

    /// Makes the network lossy, slow and duplicating ([`Faults::unreliable`]), or
    /// returns it to the faults the cluster was built with.
    pub fn set_unreliable(&mut self, unreliable: bool) -> Result<()> {
        let faults = if unreliable {
            Faults::unreliable()
        } else {
            self.reliable.clone()
        };
        self.sim.apply(Action::SetFaults(faults))
    }

    /// Node `i`'s message counts and bytes.
    pub fn stats(&self, i: NodeId) -> NodeStats {
        self.sim.stats(i)
    }

    /// Every node's message counts added up.
    pub fn total_stats(&self) -> NodeStats {
        self.sim.total_stats()
    }
}

impl<N: Node> Deref for Cluster<N> {
    type Target = Sim<N>;
    fn deref(&self) -> &Sim<N> {
        &self.sim
    }
}

impl<N: Node> DerefMut for Cluster<N> {
    fn deref_mut(&mut self) -> &mut Sim<N> {
        &mut self.sim
    }
}

/// Node id `i` (`n(3)` is `n3`): short, for tests.
pub fn n(i: u32) -> NodeId {
    NodeId(i)
}

/// `ms` milliseconds, for tests.
pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// `s` seconds, for tests.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
