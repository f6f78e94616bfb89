//! Chapter 2's runs: a service and its clients in the simulator, and the verdict on
//! what the clients saw.

use std::time::Duration;

use crate::check::history::Operation;
use crate::check::linearizable::{check, Report};
use crate::client::sim::SimClients;
use crate::client::threads::ClientThreads;
use crate::client::ClientSpec;
use crate::client::{Request, Response};
use crate::error::Result;
use crate::runtime::sim::Factory;
use crate::runtime::stats::NodeStats;
use crate::runtime::trace::Record;
use crate::runtime::{
    Faults, Node, NodeId, Schedule, Sim, SimConfig, Threads, ThreadsConfig, Time, TraceLevel,
};
use crate::storage::Location;

use super::naive::Naive;
use super::single::SingleServer;

/// Which service answers the clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceKind {
    /// One server, n1: linearizable, and gone when it crashes.
    Single,
    /// A primary that answers before its backup has the write, and a backup that takes
    /// over when the primary falls silent: not linearizable under faults.
    Naive,
}

impl std::fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ServiceKind::Single => "single",
            ServiceKind::Naive => "naive",
        })
    }
}

/// A run: the service, its cluster and faults, and its clients.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The service.
    pub service: ServiceKind,
    /// How many nodes.
    pub nodes: usize,
    /// The network's faults, for node messages and client traffic alike.
    pub faults: Faults,
    /// Crashes and partitions.
    pub schedule: Schedule,
    /// When the run ends: operations still in flight then stay unanswered.
    pub duration: Duration,
    /// The clients.
    pub clients: ClientSpec,
    /// The checker's budget per key.
    pub budget: Duration,
    /// On threads, how many OS threads run the clients.
    pub client_threads: usize,
}

/// What a run gave.
#[derive(Debug)]
pub struct Outcome {
    /// Every operation of every client.
    pub history: Vec<Operation>,
    /// The checker's verdict on it.
    pub report: Report,
    /// The nodes' message counts.
    pub stats: NodeStats,
    /// The run's trace, as recorded at the level asked for.
    pub records: Vec<Record>,
    /// When the run ended: virtual time in the simulator, time since the start on
    /// threads.
    pub end: Time,
    /// On threads, when the last client finished (or the run's deadline, if one did
    /// not).
    pub clients_end: Time,
}

impl Scenario {
    /// Runs seed `seed` in the simulator, recording at `level`, and checks the history.
    pub fn sim(&self, seed: u64, level: TraceLevel) -> Result<Outcome> {
        let config = SimConfig {
            nodes: self.nodes,
            seed,
            faults: self.faults.clone(),
            trace: level,
        };
        let workload = self.clients.workload;
        match self.service {
            ServiceKind::Single => {
                let sim = Sim::new(config, move |id, _| Ok(SingleServer::new(id, workload)))?;
                self.drive(sim, seed)
            }
            ServiceKind::Naive => {
                let sim = Sim::new(config, move |id, _| Ok(Naive::new(id, workload)))?;
                self.drive(sim, seed)
            }
        }
    }

    fn drive<N>(&self, mut sim: Sim<N>, seed: u64) -> Result<Outcome>
    where
        N: Node<Request = Request, Response = Response>,
    {
        sim.schedule(&self.schedule)?;
        let mut clients = SimClients::new(self.clients.clone(), seed);
        let deadline = Time::ZERO + self.duration;
        clients.run(&mut sim, deadline)?;
        let history = clients.history();
        let report = check(&history, self.clients.workload, self.budget);
        Ok(Outcome {
            history,
            report,
            stats: sim.total_stats(),
            records: sim.take_records(),
            end: sim.now(),
            clients_end: sim.now(),
        })
    }

    /// Runs on threads, one per node plus the client threads, recording at `level`,
    /// and checks the history. The run ends when every client is done, or at the
    /// scenario's duration; the schedule's actions happen at their times until then.
    pub fn threads(&self, seed: u64, level: TraceLevel) -> Result<Outcome> {
        let config = ThreadsConfig {
            nodes: self.nodes,
            seed,
            faults: self.faults.clone(),
            trace: level,
        };
        let workload = self.clients.workload;
        match self.service {
            ServiceKind::Single => {
                let factory = factory(move |id| SingleServer::new(id, workload));
                self.drive_threads(config, factory, seed)
            }
            ServiceKind::Naive => {
                let factory = factory(move |id| Naive::new(id, workload));
                self.drive_threads(config, factory, seed)
            }
        }
    }

    fn drive_threads<N>(
        &self,
        config: ThreadsConfig,
        factory: Factory<N>,
        seed: u64,
    ) -> Result<Outcome>
    where
        N: Node<Request = Request, Response = Response>,
    {
        let locations = (0..self.nodes).map(|_| Location::memory()).collect();
        let mut cluster = Threads::start(config, locations, factory)?;
        let deadline = Time::ZERO + self.duration;
        let mut clients =
            ClientThreads::start(&cluster, &self.clients, self.client_threads, seed, deadline)?;
        let mut actions = self.schedule.actions.clone();
        actions.sort_by_key(|(at, _)| *at);
        let mut done = false;
        for (at, action) in actions.iter().filter(|(at, _)| *at <= self.duration) {
            done = clients.wait_until(Time::ZERO + *at);
            if done {
                break;
            }
            cluster.apply(action)?;
        }
        if !done {
            clients.wait_until(deadline);
        }
        let clients_end = cluster.now();
        let history = clients.finish()?;
        cluster.stop()?;
        let report = check(&history, self.clients.workload, self.budget);
        Ok(Outcome {
            history,
            report,
            stats: cluster.total_stats(),
            records: cluster.take_records(),
            end: cluster.now(),
            clients_end,
        })
    }
}

/// A factory of nodes that keep nothing in storage.
fn factory<N: 'static>(make: impl Fn(NodeId) -> N + Send + Sync + 'static) -> Factory<N> {
    std::sync::Arc::new(move |id, _| Ok(make(id)))
}
