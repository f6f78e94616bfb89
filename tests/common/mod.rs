//! What the integration tests share: the small simulations several test files build.
//! Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use quorum::detector::{Detector, DetectorConfig};
use quorum::paxos::PaxosNode;
use quorum::runtime::{Sim, SimConfig};

/// A simulation of `config.nodes` failure detectors, every one configured by `detector`.
pub fn detector_sim(config: SimConfig, detector: DetectorConfig) -> Sim<Detector> {
    let nodes = config.nodes;
    Sim::new(config, move |id, s| {
        Ok(Detector::new(id, nodes, detector.clone(), s))
    })
    .expect("build a simulation of detectors")
}

/// Whether every live Paxos node has learned a value.
pub fn everyone_learned(sim: &Sim<PaxosNode>) -> bool {
    sim.live_nodes().all(|(_, n)| n.chosen().is_some())
}

/// How many seeds a randomized sweep runs: `QUORUM_SEEDS`, or `default`.
pub fn sweep_seeds(default: u64) -> u64 {
    std::env::var("QUORUM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seeds a randomized sweep runs: the one seed `QUORUM_SEED` names (to replay a
/// failure), else `0..QUORUM_SEEDS`, else `0..default`.
pub fn sweep_range(default: u64) -> std::ops::Range<u64> {
    match std::env::var("QUORUM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => seed..seed + 1,
        None => 0..sweep_seeds(default),
    }
}

/// `.or_seed(seed)`: unwraps a harness result, naming the seed if it failed.
pub trait OrSeed<T> {
    /// The value, or a panic that names `seed` and the error.
    fn or_seed(self, seed: u64) -> T;
}

impl<T> OrSeed<T> for quorum::Result<T> {
    fn or_seed(self, seed: u64) -> T {
        self.unwrap_or_else(|e| panic!("seed {seed}: {e}"))
    }
}

/// The election restriction's scenario (§5.4.1): n1 and n2 start with an entry of term 1
/// that n3 lacks, and whoever leads is crashed every 400 ms and restarted 200 ms later,
/// for 4.5 s. Returns the violations and every election won. With the restriction n3
/// can never win; `broken` removes a rule (tests/raft.rs removes the restriction itself).
pub fn shorter_log_scenario(
    seed: u64,
    broken: Option<quorum::raft::Rule>,
) -> (
    Vec<quorum::check::Violation>,
    Vec<quorum::raft::check::Elected>,
) {
    use quorum::raft::{run, RaftConfig};
    use quorum::runtime::{Action, Time};
    use quorum::storage::Location;
    let mut c = RaftConfig::new(3);
    c.broken = broken;
    // n1 and n2 hold an entry of term 1; n3's log is empty.
    let factory = run::factory_with_logs(&c, vec![1, 1, 0]);
    let locations = (0..3).map(|_| Location::memory()).collect();
    let (mut sim, checker) =
        run::checked_sim_with(SimConfig::new(3, seed), locations, factory).unwrap();
    // Leaders come and go: crash whoever leads, now and then, and restart it.
    for k in 1..=10u64 {
        sim.run_until(Time(k * 400_000)).unwrap();
        let leader = sim
            .live_nodes()
            .find(|(_, n)| n.is_leader())
            .map(|(i, _)| i);
        if let Some(l) = leader {
            sim.apply(Action::Crash(l)).unwrap();
            sim.schedule_at(Time(k * 400_000 + 200_000), Action::Restart(l))
                .unwrap();
        }
    }
    sim.run_until(Time(4_500_000)).unwrap();
    let leaders = checker.borrow().leaders();
    (sim.violations().to_vec(), leaders)
}
