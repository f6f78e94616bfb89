//! Whole runs of the failure detector, as chapter 0's binary makes them, in the
//! simulator and on threads, and the two properties checked at their end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{check_properties, Detector, DetectorConfig, Event, Liveness};
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

/// One run of the failure detector, as `ch00-world` and the tests describe it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How many nodes.
    pub nodes: usize,
    /// How every detector behaves.
    pub config: DetectorConfig,
    /// The network's random faults.
    pub faults: Faults,
    /// Crashes, partitions and slow nodes at fixed times.
    pub schedule: Schedule,
    /// How long the run lasts.
    pub duration: Duration,
}

/// What a run leaves behind.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `sim` or `threads`.
    pub runtime: &'static str,
    /// Message counts over every node.
    pub stats: NodeStats,
    /// Each node's suspects at the end, in id order (`None`: the node is down).
    pub suspects: Vec<Option<Vec<NodeId>>>,
    /// Which nodes the schedule left up, and which down since when.
    pub liveness: Vec<Liveness>,
    /// Whether the network was timely enough for accuracy to be owed (and checked).
    pub timely: bool,
    /// The run's story: every suspicion, trust regained and restart seen, in order.
    pub timeline: Vec<Observed<Event>>,
    /// The properties the run broke.
    pub violations: Vec<Violation>,
}

/// Whether `event` belongs in a run's timeline.
fn in_timeline(event: &Event) -> bool {
    matches!(
        event,
        Event::Suspect { .. } | Event::Trust { .. } | Event::Restarted { .. }
    )
}

impl Scenario {
    /// A factory of this scenario's detectors.
    pub fn factory(&self) -> Factory<Detector> {
        let (config, nodes) = (self.config.clone(), self.nodes);
        Arc::new(move |id, storage| Ok(Detector::new(id, nodes, config.clone(), storage)))
    }

    /// The flags of `ch00-world` that set this scenario's detector options (the shared
    /// flags say the rest), each with a space before it: how a sweep's failing seed is
    /// replayed.
    pub fn replay_flags(&self) -> String {
        let mut s = format!(
            " --heartbeat {} --timeout {}",
            format_duration(self.config.heartbeat),
            format_duration(self.config.timeout)
        );
        if self.config.adaptive {
            s += " --adaptive";
        }
        for (at, action) in &self.schedule.actions {
            if let (true, Action::Slow(n, true)) = (at.is_zero(), action) {
                s += &format!(" --slow {}", n.0);
            }
        }
        s
    }

    /// How long a node's state must have been stable before the checks judge it, with
    /// `slack` for a runtime that may be late, and whether the network was timely enough
    /// for accuracy to be owed: no loss, no partition near the end, no slow node, and
    /// delays well within the timeout.
    pub fn settle_and_timely(&self, slack: Duration) -> (Duration, bool) {
        let settle = self.config.timeout + self.config.heartbeat + self.faults.delay.1 * 2 + slack;
        let partition_near_end = self.schedule.actions.iter().any(|(at, action)| {
            matches!(
                action,
                Action::Partition { on: true, .. } | Action::Disconnect(_)
            ) && self
                .partition_ends(*at, action)
                .is_none_or(|u| u + settle > self.duration)
        });
        let slow = self
            .schedule
            .actions
            .iter()
            .any(|(_, a)| matches!(a, Action::Slow(_, true)));
        let timely = self.faults.drop == 0.0
            && !partition_near_end
            && !slow
            && self.faults.delay.1 + self.config.heartbeat < self.config.timeout;
        (settle, timely)
    }

    /// When the partition `cut`, begun at `from`, ends, if it does: the first lifting of
    /// the same links after it (a disconnected node's reconnection).
    fn partition_ends(&self, from: Duration, cut: &Action) -> Option<Duration> {
        self.schedule
            .actions
            .iter()
            .filter(|(at, lift)| {
                *at >= from
                    && match (cut, lift) {
                        (
                            Action::Partition { a, b, one_way, .. },
                            Action::Partition {
                                a: a2,
                                b: b2,
                                one_way: w2,
                                on: false,
                            },
                        ) => a == a2 && b == b2 && one_way == w2,
                        (Action::Disconnect(n), Action::Connect(m)) => n == m,
                        _ => false,
                    }
            })
            .map(|(at, _)| *at)
            .min()
    }

    // ANCHOR: run_sim
    /// One simulated run of seed `seed` over `locations`, recording as `level` asks;
    /// at its end, the detector's two properties are checked against the nodes' state.
    pub fn sim(
        &self,
        seed: u64,
        locations: Vec<Location>,
        level: TraceLevel,
    ) -> Result<(Outcome, Vec<Observed<Event>>)> {
        let config = SimConfig {
            nodes: self.nodes,
            seed,
            faults: self.faults.clone(),
            trace: level,
        };
        let mut sim = Sim::with_storage(config, locations, self.factory())?;
        sim.schedule(&self.schedule)?;
        let end = Time::ZERO + self.duration;
        sim.run_until(end)?;
        let suspects: Vec<_> = sim
            .ids()
            .into_iter()
            .map(|id| sim.node(id).map(|d| d.suspects()))
            .collect();
        let liveness = Liveness::from_schedule(self.nodes, &self.schedule, end);
        let (settle, timely) = self.settle_and_timely(Duration::ZERO);
        let violations = check_properties(end, &suspects, &liveness, settle, timely);
        // ANCHOR_END: run_sim
        let trace = sim.take_observed();
        let timeline = trace
            .iter()
            .filter(|o| o.protocol().is_some_and(in_timeline))
            .cloned()
            .collect();
        let outcome = Outcome {
            runtime: "sim",
            stats: sim.total_stats(),
            suspects,
            liveness,
            timely,
            timeline,
            violations,
        };
        Ok((outcome, trace))
    }

    /// One run on real threads over `locations`: the harness carries out the schedule,
    /// then asks every node whom it suspects. The run's facts go to `tap` as they come;
    /// only the timeline is kept. Threads are scheduled by the operating system, so the
    /// checks allow them 100 ms of lateness.
    pub fn threads(
        &self,
        config: ThreadsConfig,
        locations: Vec<Location>,
        tap: Tap,
    ) -> Result<(Outcome, Vec<Record>)> {
        let watch = Arc::new(Mutex::new((tap, Vec::new())));
        let observer = watch.clone();
        let threads = Threads::start_observed(
            config,
            locations,
            self.factory(),
            move |fact: Observed<Event>| {
                let Ok(mut w) = observer.lock() else { return };
                w.0.take(&fact);
                if fact.protocol().is_some_and(in_timeline) {
                    w.1.push(fact);
                }
            },
        )?;
        threads.run_schedule(&self.schedule, self.duration)?;
        let end = threads.now();
        let mut suspects = Vec::new();
        for id in NodeId::all(self.nodes) {
            suspects.push(threads.inspect(id, |d: Option<&Detector>| d.map(|d| d.suspects()))?);
        }
        let mut threads = threads;
        threads.stop()?;
        let stats = threads.total_stats();
        drop(threads);
        let (tap, mut timeline) = crate::harness::tap::collected(watch)?;
        timeline.sort_by_key(|o: &Observed<Event>| o.at);
        let liveness = Liveness::from_schedule(self.nodes, &self.schedule, end);
        let (settle, timely) = self.settle_and_timely(Duration::from_millis(100));
        let violations = check_properties(end, &suspects, &liveness, settle, timely);
        let outcome = Outcome {
            runtime: "threads",
            stats,
            suspects,
            liveness,
            timely,
            timeline,
            violations,
        };
        Ok((outcome, tap.finish()?))
    }
}

impl Outcome {
    /// Each line of the timeline as the report prints it: when, who, and what.
    pub fn timeline_lines(&self) -> Vec<(Time, NodeId, String)> {
        self.timeline
            .iter()
            .filter_map(|o| {
                let what = match &o.what {
                    Fact::Protocol(Event::Suspect { peer }) => format!("suspects {peer}"),
                    Fact::Protocol(Event::Trust { peer }) => format!("trusts {peer} again"),
                    Fact::Protocol(Event::Restarted { peer, .. }) => {
                        format!("sees {peer} restarted")
                    }
                    _ => return None,
                };
                Some((o.at, o.node, what))
            })
            .collect()
    }
}
