//! Setting up a Raft cluster, with the Election Safety checker installed on every
//! simulated step; the harness's election checks on [`Cluster`]; and whole runs as
//! the chapter binary makes them ([`Scenario`]), in the simulator and on threads:
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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::check::{Elected, ElectionSafety};
use super::{majority, Entry, RaftConfig, RaftNode, Term};
use crate::check::Violation;
use crate::error::{Error, Result};
use crate::harness::Tap;
use crate::runtime::sim::Factory;
use crate::runtime::time::format_duration;
use crate::runtime::trace::{Observed, Record};
use crate::runtime::{
    Action, Cluster, Faults, NodeId, NodeStats, Schedule, Sim, SimConfig, Threads, ThreadsConfig,
    Time, TraceLevel,
};
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
            [] => Err(Error::Harness(format!(
                "no leader among the reachable nodes {:?} after {}",
                reachable(&self.sim),
                crate::runtime::time::format_duration(LEADER_WAIT)
            ))),
            [(a, t), (b, u), ..] if t == u => Err(Error::Harness(format!(
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
            Some((id, term)) => Err(Error::Harness(format!(
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
            None => Err(Error::Harness("no reachable node to ask its term".into())),
            Some(&(_, t)) if terms.iter().all(|&(_, u)| u == t) => Ok(t),
            Some(_) => Err(Error::Harness(format!(
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

// --- Whole runs, as the chapter binary makes them ----------------------------------------

/// The property a calm run owes at its end: once the faults have healed, every live node
/// follows one leader.
pub const LEADER_ONCE_HEALED: &str = "a leader once faults heal";

/// How long before the end of a run its faults must be over for it to owe a leader.
pub const CALM: Duration = Duration::from_secs(2);

/// One run of a Raft cluster, as `ch03-raft-election` and the tests describe it: the
/// nodes' configuration, the network's faults, the harness's schedule, how long, and
/// whether the harness crashes whoever leads every so often.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How every node behaves (its `nodes` is the cluster's size).
    pub config: RaftConfig,
    /// The network's random faults.
    pub faults: Faults,
    /// Crashes and partitions at fixed times.
    pub schedule: Schedule,
    /// How long the run lasts.
    pub duration: Duration,
    /// Crash whoever leads every this often, and restart it half of it later.
    pub crash_leader_every: Option<Duration>,
}

/// What a run leaves behind.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `sim` or `threads`.
    pub runtime: &'static str,
    /// Message counts over every node.
    pub stats: NodeStats,
    /// Every election won, in term order.
    pub leaders: Vec<Elected>,
    /// How many elections were started.
    pub elections: u64,
    /// Each live node's term at the end.
    pub terms: Vec<(NodeId, Term)>,
    /// The leader every live node followed at the end, if they agreed on one.
    pub agreed: Option<(NodeId, Term)>,
    /// When the harness crashed a leader, and which.
    pub crashes: Vec<(Time, NodeId)>,
    /// The properties the run broke.
    pub violations: Vec<Violation>,
}

impl Outcome {
    /// For each crash of a leader, the time until a leader of a newer term was elected
    /// (`None`: none before the run ended).
    pub fn failovers(&self) -> Vec<Option<Duration>> {
        self.crashes
            .iter()
            .map(|&(at, _)| {
                let old_term = self
                    .leaders
                    .iter()
                    .filter(|e| e.elected_at_us <= at.as_micros())
                    .map(|e| e.term)
                    .max()
                    .unwrap_or(0);
                self.leaders
                    .iter()
                    .find(|e| e.term > old_term && e.elected_at_us > at.as_micros())
                    .map(|e| Time(e.elected_at_us).since(at))
            })
            .collect()
    }
}

impl Scenario {
    /// The flags of `ch03-raft-election` that set this scenario's Raft options (the
    /// shared flags say the rest), each with a space before it: how a sweep's failing
    /// seed is replayed.
    pub fn replay_flags(&self) -> String {
        let c = &self.config;
        let mut flags = format!(
            " --election-timeout {} --heartbeat {}",
            super::timeout_range_text(c.election_min, c.election_max),
            format_duration(c.heartbeat)
        );
        if let Some(every) = self.crash_leader_every {
            flags += &format!(" --crash-leader-every {}", format_duration(every));
        }
        if let Some(rule) = c.broken {
            flags += &format!(" --break {rule}");
        }
        if c.pre_vote {
            flags += " --pre-vote";
        }
        if c.check_quorum {
            flags += " --check-quorum";
        }
        flags
    }

    /// Whether the run owes a leader at its end ([`LEADER_ONCE_HEALED`]): its faults are
    /// over at least [`CALM`] before the end, no harness crashes leaders, and no message
    /// is lost at random.
    pub fn owes_leader(&self) -> bool {
        self.duration >= self.schedule.last_at() + CALM
            && self.crash_leader_every.is_none()
            && self.faults.drop == 0.0
    }

    /// The violation of [`LEADER_ONCE_HEALED`] by `outcome`, if the run owed a leader
    /// and did not end with one.
    pub fn leader_at_end(&self, outcome: &Outcome) -> Option<Violation> {
        (self.owes_leader() && outcome.agreed.is_none()).then(|| {
            Violation::new(
                Time::ZERO + self.duration,
                LEADER_ONCE_HEALED,
                format!(
                    "the live nodes do not all follow one leader {} after the last fault",
                    format_duration(CALM)
                ),
            )
        })
    }

    // ANCHOR: sim_run
    /// One simulated run of seed `seed` over `locations`, recording as `level` asks,
    /// checked on every step; with `crash_leader_every` D the harness crashes whoever
    /// leads every D and restarts it D/2 later. Returns what the run left, and its
    /// trace.
    pub fn sim(
        &self,
        seed: u64,
        locations: Vec<Location>,
        level: TraceLevel,
    ) -> Result<(Outcome, Vec<Observed<super::Event>>)> {
        let sim_config = SimConfig {
            nodes: self.config.nodes,
            seed,
            faults: self.faults.clone(),
            trace: level,
        };
        let (mut sim, checker) = checked_sim_with(sim_config, locations, factory(&self.config))?;
        sim.schedule(&self.schedule)?;
        let end = Time::ZERO + self.duration;
        let mut crashes = Vec::new();
        if let Some(every) = self.crash_leader_every {
            let mut at = Time::ZERO + every;
            while at < end {
                sim.run_until(at)?;
                if let Some((leader, _)) = leader_of_highest_term(&sim) {
                    sim.apply(Action::Crash(leader))?;
                    sim.schedule_at(at + every / 2, Action::Restart(leader))?;
                    crashes.push((at, leader));
                }
                at = at + every;
            }
        }
        sim.run_until(end)?;
        let checker = checker.borrow();
        let outcome = Outcome {
            runtime: "sim",
            stats: sim.total_stats(),
            leaders: checker.leaders(),
            elections: checker.elections(),
            terms: sim.live_nodes().map(|(id, n)| (id, n.term())).collect(),
            agreed: agreed_leader(&sim),
            crashes,
            violations: sim.violations().to_vec(),
        };
        Ok((outcome, sim.take_observed()))
    }
    // ANCHOR_END: sim_run

    /// One run on real threads over `locations`, for the whole duration. The harness
    /// carries out the schedule's faults and, with `crash_leader_every` D, asks every
    /// node whom it follows, crashes the leader of the highest term every D and
    /// restarts it D/2 later. The run's facts go to `tap` as they come, and the
    /// Election Safety checker reads them as they come too: nothing else is kept, so
    /// the run may be of any length. Returns what the run left, and what the tap kept.
    pub fn threads(
        &self,
        config: ThreadsConfig,
        locations: Vec<Location>,
        tap: Tap,
    ) -> Result<(Outcome, Vec<Record>)> {
        struct Watch {
            tap: Tap,
            checker: ElectionSafety,
            violations: Vec<Violation>,
        }
        let watch = Arc::new(Mutex::new(Watch {
            tap,
            checker: ElectionSafety::new(),
            violations: Vec::new(),
        }));
        let observer = watch.clone();
        let mut threads = Threads::start_observed(
            config,
            locations,
            factory(&self.config),
            move |fact: Observed<super::Event>| {
                let Ok(mut w) = observer.lock() else { return };
                w.tap.take(&fact);
                if let Some(e) = fact.protocol() {
                    let found = w.checker.observe(fact.at, fact.node, e);
                    w.violations.extend(found);
                }
            },
        )?;
        let crashes = self.drive_threads(&threads)?;
        let mut views: Vec<View> = Vec::new();
        for id in NodeId::all(self.config.nodes) {
            let view = threads.inspect(id, move |n: Option<&RaftNode>| {
                n.map(|n| (id, n.term(), n.leader, n.is_leader()))
            })?;
            views.extend(view);
        }
        threads.stop()?;
        let stats = threads.total_stats();
        drop(threads);
        let watch = crate::harness::tap::collected(watch)?;
        let outcome = Outcome {
            runtime: "threads",
            stats,
            leaders: watch.checker.leaders(),
            elections: watch.checker.elections(),
            terms: views.iter().map(|&(id, term, _, _)| (id, term)).collect(),
            agreed: agreed_leader_among(&views),
            crashes,
            violations: watch.violations,
        };
        Ok((outcome, watch.tap.finish()?))
    }

    /// Carries out the schedule on `threads`, and the crashes of the leader, each at its
    /// time; returns when each leader was crashed. The harness thread waits between
    /// steps; the nodes run on.
    fn drive_threads(&self, threads: &Threads<RaftNode>) -> Result<Vec<(Time, NodeId)>> {
        enum Step {
            Fault(Action),
            CrashLeader,
            RestartCrashed,
        }
        let mut steps: Vec<(Duration, Step)> = self
            .schedule
            .actions
            .iter()
            .map(|(at, a)| (*at, Step::Fault(a.clone())))
            .collect();
        if let Some(every) = self.crash_leader_every {
            let mut at = every;
            while at < self.duration {
                steps.push((at, Step::CrashLeader));
                steps.push((at + every / 2, Step::RestartCrashed));
                at += every;
            }
        }
        steps.sort_by_key(|(at, _)| *at);
        let started = std::time::Instant::now();
        let mut crashes = Vec::new();
        let mut crashed = None;
        for (at, step) in steps.into_iter().filter(|(at, _)| *at < self.duration) {
            std::thread::sleep(at.saturating_sub(started.elapsed()));
            match step {
                Step::Fault(action) => threads.apply(&action)?,
                Step::CrashLeader => {
                    if let Some((leader, _)) = threads_leader(threads, self.config.nodes)? {
                        crashes.push((threads.now(), leader));
                        threads.apply(&Action::Crash(leader))?;
                        crashed = Some(leader);
                    }
                }
                Step::RestartCrashed => {
                    if let Some(node) = crashed.take() {
                        threads.apply(&Action::Restart(node))?;
                    }
                }
            }
        }
        std::thread::sleep(self.duration.saturating_sub(started.elapsed()));
        Ok(crashes)
    }
}

/// The node that leads the highest term on threads, with its term, asked of each node
/// on its own thread.
pub fn threads_leader(threads: &Threads<RaftNode>, nodes: usize) -> Result<Option<(NodeId, Term)>> {
    let mut best: Option<(NodeId, Term)> = None;
    for id in NodeId::all(nodes) {
        let leads = threads.inspect(id, |n: Option<&RaftNode>| {
            n.filter(|n| n.is_leader()).map(|n| n.term())
        })?;
        if let Some(term) = leads {
            if best.is_none_or(|(_, t)| term > t) {
                best = Some((id, term));
            }
        }
    }
    Ok(best)
}
