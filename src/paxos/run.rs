//! Setting up a Paxos cluster: who proposes what, and the checker installed on every
//! simulated step; and whole runs as the chapter binary makes them ([`Scenario`]), in the
//! simulator and on threads. Shared by the tests, the chapter binary and the explorer.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::check::Agreement;
use super::{Event, PaxosConfig, PaxosNode, Value};
use crate::check::Violation;
use crate::error::Result;
use crate::harness::Tap;
use crate::runtime::sim::Factory;
use crate::runtime::time::format_duration;
use crate::runtime::trace::{Fact, Observed, Record};
use crate::runtime::{
    Action, Faults, NodeId, NodeStats, Schedule, Sim, SimConfig, Threads, ThreadsConfig, Time,
    TraceLevel,
};
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

// --- Whole runs, as the chapter binary makes them ----------------------------------------

/// One run of single-decree Paxos, as `ch01-paxos` and the tests describe it: how the
/// nodes behave, how many of them propose, the network's faults, the harness's
/// schedule, and how long the run may last.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How every node behaves (its `nodes` is the cluster's size; `propose` is filled
    /// in per node).
    pub config: PaxosConfig,
    /// How many nodes propose (the first ones, each its own value).
    pub proposers: usize,
    /// The network's random faults.
    pub faults: Faults,
    /// Crashes and partitions at fixed times.
    pub schedule: Schedule,
    /// The longest the run may last; it ends once every live node has learned.
    pub duration: Duration,
}

/// What a run leaves behind.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `sim` or `threads`.
    pub runtime: &'static str,
    /// Message counts over every node.
    pub stats: NodeStats,
    /// What each node up at the end learned (`None`: nothing).
    pub learned: Vec<(NodeId, Option<Value>)>,
    /// Ballots started, over all proposers.
    pub ballots: u64,
    /// The run's story: every ballot started and every value learned, in order.
    pub story: Vec<Observed<Event>>,
    /// The properties the run broke (the end-of-run liveness check included).
    pub violations: Vec<Violation>,
}

impl Outcome {
    /// The value chosen, if the live nodes agree on one.
    pub fn chosen(&self) -> Option<&str> {
        let first = self.learned.first()?.1.as_deref()?;
        self.learned
            .iter()
            .all(|(_, v)| v.as_deref() == Some(first))
            .then_some(first)
    }

    /// When the first node learned the value, if any did.
    pub fn first_learned(&self) -> Option<Time> {
        self.story
            .iter()
            .find(|o| matches!(o.protocol(), Some(Event::Learned { .. })))
            .map(|o| o.at)
    }
}

/// Whether `event` belongs in a run's story.
fn in_story(event: &Event) -> bool {
    matches!(event, Event::Prepare { .. } | Event::Learned { .. })
}

impl Scenario {
    /// The flags of `ch01-paxos` that set this scenario's Paxos options (the shared flags
    /// say the rest), each with a space before it: how a sweep's failing seed is
    /// replayed.
    pub fn replay_flags(&self) -> String {
        let mut flags = format!(" --proposers {}", self.proposers);
        if let Some(rule) = self.config.broken {
            flags += &format!(" --break {rule}");
        }
        if !self.config.backoff {
            flags += " --no-backoff";
        }
        if self.config.retry != PaxosConfig::new(1, None).retry {
            flags += &format!(" --retry {}", format_duration(self.config.retry));
        }
        flags
    }

    // ANCHOR: sim_run
    /// One simulated run of seed `seed` over `locations`, recording as `level` asks:
    /// until every live node has learned, or the duration ends. The checker watches
    /// every step; at the end, every live node must have learned the chosen value.
    pub fn sim(
        &self,
        seed: u64,
        locations: Vec<Location>,
        level: TraceLevel,
    ) -> Result<(Outcome, Vec<Observed<Event>>)> {
        let config = SimConfig {
            nodes: self.config.nodes,
            seed,
            faults: self.faults.clone(),
            trace: level,
        };
        let (mut sim, agreement) =
            checked_sim_with(config, locations, &self.config, self.proposers)?;
        let story = Rc::new(RefCell::new(Vec::new()));
        let tell = story.clone();
        sim.add_checker(move |sim| {
            let mut story = tell.borrow_mut();
            for (node, event) in sim.step_events().iter().filter(|(_, e)| in_story(e)) {
                story.push(Observed {
                    at: sim.now(),
                    node: *node,
                    what: Fact::Protocol(event.clone()),
                });
            }
            Vec::new()
        });
        sim.schedule(&self.schedule)?;
        let end = Time::ZERO + self.duration;
        let healed = Time::ZERO + self.schedule.last_at();
        let all_learned = |s: &Sim<PaxosNode>| s.live_nodes().all(|(_, n)| n.chosen().is_some());
        // Run past the last fault, then until everyone has learned (or time is up).
        sim.run_until(healed.min(end))?;
        sim.run_until_true(end, all_learned)?;
        let learned = learned(&sim);
        let mut violations = sim.violations().to_vec();
        violations.extend(agreement.borrow().check_all_learned(sim.now(), &learned));
        let story = story.take();
        let outcome = Outcome {
            runtime: "sim",
            stats: sim.total_stats(),
            ballots: sim
                .live_nodes()
                .filter_map(|(_, n)| n.proposer.as_ref().map(|p| p.ballots_tried))
                .sum(),
            learned,
            story,
            violations,
        };
        Ok((outcome, sim.take_observed()))
    }
    // ANCHOR_END: sim_run

    /// One run on real threads over `locations`: the harness carries out each fault at
    /// its time, then a client asks every node that is up for the chosen value, waiting
    /// at most until the duration ends. The checker reads the run's events as they come,
    /// and the run's facts go to `tap`; nothing else is kept. Returns what the run left,
    /// and what the tap kept.
    pub fn threads(
        &self,
        config: ThreadsConfig,
        locations: Vec<Location>,
        tap: Tap,
    ) -> Result<(Outcome, Vec<Record>)> {
        struct Watch {
            tap: Tap,
            agreement: Agreement,
            story: Vec<Observed<Event>>,
            violations: Vec<Violation>,
        }
        let watch = Arc::new(Mutex::new(Watch {
            tap,
            agreement: Agreement::new(self.config.nodes),
            story: Vec::new(),
            violations: Vec::new(),
        }));
        let observer = watch.clone();
        let factory = factory(&self.config, self.proposers);
        let mut threads =
            Threads::start_observed(config, locations, factory, move |fact: Observed<Event>| {
                let Ok(mut w) = observer.lock() else { return };
                w.tap.take(&fact);
                if let Some(e) = fact.protocol() {
                    let found = w.agreement.observe(fact.at, fact.node, e);
                    w.violations.extend(found);
                    if in_story(e) {
                        w.story.push(fact.clone());
                    }
                }
            })?;
        let down = self.crashed_at_end();
        let started = std::time::Instant::now();
        let mut actions = self.schedule.actions.clone();
        actions.sort_by_key(|(at, _)| *at);
        for (at, action) in &actions {
            std::thread::sleep(at.saturating_sub(started.elapsed()));
            threads.apply(action)?;
        }
        let mut learned = Vec::new();
        for id in NodeId::all(self.config.nodes) {
            if down.contains(&id) {
                continue;
            }
            let left = self
                .duration
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1));
            learned.push((id, threads.call(id, (), left).ok()));
        }
        let end = threads.now();
        threads.stop()?;
        let stats = threads.total_stats();
        drop(threads);
        let mut watch = crate::harness::tap::collected(watch)?;
        let found = watch.agreement.check_all_learned(end, &learned);
        watch.violations.extend(found);
        let outcome = Outcome {
            runtime: "threads",
            stats,
            ballots: watch
                .story
                .iter()
                .filter(|o| matches!(o.protocol(), Some(Event::Prepare { .. })))
                .count() as u64,
            learned,
            story: watch.story,
            violations: watch.violations,
        };
        Ok((outcome, watch.tap.finish()?))
    }

    /// The nodes the schedule leaves crashed at the end of the run.
    pub fn crashed_at_end(&self) -> Vec<NodeId> {
        let mut down = Vec::new();
        let mut actions: Vec<_> = self
            .schedule
            .actions
            .iter()
            .filter(|(at, _)| *at <= self.duration)
            .collect();
        actions.sort_by_key(|(at, _)| *at);
        for (_, a) in actions {
            match a {
                Action::Crash(n) if !down.contains(n) => down.push(*n),
                Action::Restart(n) => down.retain(|d| d != n),
                _ => {}
            }
        }
        down
    }
}
