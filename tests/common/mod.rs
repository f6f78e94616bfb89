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
