//! Chapter 3's experiment: how long a cluster goes without a leader after its leader
//! crashes, the Raft paper's Figure 16 (§9.3), replayed in the simulator.
//!
//! The paper's setup, and ours:
//!
//! - five servers, with "a broadcast time of roughly 15 ms": here every message takes a
//!   uniform 5–9 ms one way, so a leader's round trip to all four followers (the slowest
//!   of four round trips) takes 15.7 ms on average ([`broadcast_time`]);
//! - "the servers in each trial had different log lengths, so some candidates were not
//!   eligible to become leader": each trial gives the five servers logs of 0 to 4 entries,
//!   shuffled, so the election restriction (§5.4.1) rules some candidates out;
//! - "the leader was crashed uniformly randomly within its heartbeat interval, which was
//!   half of the minimum election timeout": the heartbeat is half the shortest timeout,
//!   and the crash falls at a uniform point between two of the leader's heartbeats;
//! - the paper's test script also "triggered a synchronized broadcast of heartbeat RPCs
//!   from the leader before terminating its process": a leader's heartbeat here *is* one
//!   broadcast, sent to every follower at once.
//!
//! One thing is ours, not the paper's: servers come up at different times, each within
//! the shortest timeout of the first, as the servers of a real cluster do (and again, if
//! the first election does not end within 2 s). Without it, timeouts with no randomness
//! (150–150 ms) would never elect a first leader to crash.
//!
//! A trial measures the time from the crash to the moment a new leader is elected
//! (`became_leader` in a newer term), and how many terms that took.

use std::time::Duration;

use super::{run, RaftConfig, RaftNode, Term};
use crate::error::{Error, Result};
use crate::harness::Progress;
use crate::runtime::{Action, Faults, NodeId, Rng, Sim, SimConfig, Time};
use crate::storage::Location;

/// One configuration of the experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// How many servers (the paper: 5).
    pub nodes: usize,
    /// The shortest election timeout.
    pub election_min: Duration,
    /// The longest election timeout.
    pub election_max: Duration,
    /// The leader's heartbeat interval (the paper: half the shortest timeout).
    pub heartbeat: Duration,
    /// The one-way delay of every message, drawn uniformly from this range.
    pub delay: (Duration, Duration),
    /// The probability that the network loses a message.
    pub drop: f64,
    /// Whether the servers' logs differ in length (the paper's worst case).
    pub distinct_logs: bool,
    /// A trial with no new leader this long after the crash counts as a failure.
    pub limit: Duration,
    /// A rule removed on purpose.
    pub broken: Option<super::Rule>,
}

impl Setup {
    /// The paper's setup for timeouts drawn from `min..max` milliseconds.
    pub fn paper(min_ms: u64, max_ms: u64) -> Setup {
        let election_min = Duration::from_millis(min_ms);
        Setup {
            nodes: 5,
            election_min,
            election_max: Duration::from_millis(max_ms),
            heartbeat: election_min / 2,
            delay: (Duration::from_millis(5), Duration::from_millis(9)),
            drop: 0.0,
            distinct_logs: true,
            limit: Duration::from_secs(10),
            broken: None,
        }
    }

    /// This setup's network and rules, with timeouts drawn from `min..max` milliseconds
    /// and the paper's heartbeat for them (half the shortest timeout).
    pub fn with_timeouts(&self, min_ms: u64, max_ms: u64) -> Setup {
        let paper = Setup::paper(min_ms, max_ms);
        Setup {
            election_min: paper.election_min,
            election_max: paper.election_max,
            heartbeat: paper.heartbeat,
            ..self.clone()
        }
    }

    /// The timeout range as the paper writes it: `150–300ms`.
    pub fn label(&self) -> String {
        format!(
            "{}–{}ms",
            self.election_min.as_millis(),
            self.election_max.as_millis()
        )
    }

    fn raft_config(&self) -> RaftConfig {
        RaftConfig {
            election_min: self.election_min,
            election_max: self.election_max,
            heartbeat: self.heartbeat,
            broken: self.broken,
            ..RaftConfig::new(self.nodes)
        }
    }
}

/// What one trial measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trial {
    /// The trial's seed: `ch03-raft-election experiment` replays trials by seed.
    pub seed: u64,
    /// From the crash to the new leader's election; `None` if none within the limit.
    pub downtime: Option<Duration>,
    /// The crashed leader's term.
    pub old_term: Term,
    /// How many terms the new election took: the new leader's term minus the old one.
    pub terms: u64,
}

// ANCHOR: trial
/// One trial: elect a leader, let it lead, crash it at a uniform point of its heartbeat
/// interval, and time the election of the next.
pub fn trial(setup: &Setup, seed: u64) -> Result<Trial> {
    let mut rng = Rng::derived(seed, 0xf16);
    let mut lengths: Vec<u64> = (0..setup.nodes as u64).collect();
    if setup.distinct_logs {
        for i in (1..lengths.len()).rev() {
            lengths.swap(i, rng.index(i + 1));
        }
    } else {
        lengths.iter_mut().for_each(|l| *l = 0);
    }
    let config = setup.raft_config();
    let sim_config = SimConfig {
        faults: Faults {
            drop: setup.drop,
            delay: setup.delay,
            duplicate: 0.0,
        },
        ..SimConfig::new(setup.nodes, seed)
    };
    let locations = (0..setup.nodes).map(|_| Location::memory()).collect();
    let factory = run::factory_with_logs(&config, lengths);
    let (mut sim, checker) = run::checked_sim_with(sim_config, locations, factory)?;
    // Servers come up at different times, each within the shortest timeout: without
    // that, timeouts of no randomness (150–150ms) would never elect a first leader.
    let stagger = |sim: &mut Sim<RaftNode>, rng: &mut Rng| -> Result<()> {
        let now = sim.now().as_micros();
        for id in NodeId::all(setup.nodes).into_iter().skip(1) {
            sim.apply(Action::Crash(id))?;
            let up = now + rng.between(0, crate::runtime::time::micros(setup.election_min));
            sim.schedule_at(Time(up), Action::Restart(id))?;
        }
        Ok(())
    };
    stagger(&mut sim, &mut rng)?;
    // Let a leader settle in, then pick the crash: a uniform point between two of its
    // heartbeats (it sends them at its election time plus whole intervals).
    let mut tries = 0;
    let (crashed, old_term, crash_at) = loop {
        tries += 1;
        if tries > 20 {
            // No first leader at all: the trial counts as one without a leader.
            return Ok(Trial {
                seed,
                downtime: None,
                old_term: 0,
                terms: 0,
            });
        }
        let limit = sim.now() + Duration::from_secs(2);
        if !sim.run_until_true(limit, |s| run::leader_of_highest_term(s).is_some())? {
            // Split votes that never end (no randomness): start the others again.
            stagger(&mut sim, &mut rng)?;
            continue;
        }
        sim.run_for(setup.election_max * 4)?;
        let Some((l, term)) = run::leader_of_highest_term(&sim) else {
            continue;
        };
        let elected = checker
            .borrow()
            .leaders()
            .iter()
            .find(|e| e.term == term)
            .map(|e| Time(e.elected_at_us));
        let Some(elected) = elected else { continue };
        let hb = crate::runtime::time::micros(setup.heartbeat).max(1);
        let since = sim.now().as_micros() - elected.as_micros();
        let next_beat = elected.as_micros() + since.div_ceil(hb) * hb;
        let at = Time(next_beat + rng.between(0, hb - 1));
        sim.run_until(at)?;
        if sim
            .node(l)
            .is_some_and(|n| n.is_leader() && n.term() == term)
        {
            break (l, term, at);
        }
    };
    sim.apply(Action::Crash(crashed))?;
    let elected = sim.run_until_true(crash_at + setup.limit, |s| {
        run::leader_of_highest_term(s).is_some_and(|(_, t)| t > old_term)
    })?;
    let new_term = run::leader_of_highest_term(&sim).map_or(old_term, |(_, t)| t);
    if let Some(v) = sim.violations().first() {
        return Err(Error::Runtime(format!(
            "experiment {} seed {seed}: {v}",
            setup.label()
        )));
    }
    Ok(Trial {
        seed,
        downtime: elected.then(|| sim.now().since(crash_at)),
        old_term,
        terms: new_term.saturating_sub(old_term),
    })
}
// ANCHOR_END: trial

/// `trials` trials of `setup`, seeds `first_seed..`.
pub fn trials(setup: &Setup, first_seed: u64, trials: u64) -> Result<Vec<Trial>> {
    trials_shown(setup, first_seed, trials, &Progress::hidden())
}

/// [`trials`], counting each trial done on `progress`.
pub fn trials_shown(
    setup: &Setup,
    first_seed: u64,
    trials: u64,
    progress: &Progress,
) -> Result<Vec<Trial>> {
    (first_seed..first_seed + trials)
        .map(|seed| {
            let t = trial(setup, seed);
            progress.inc(1);
            t
        })
        .collect()
}

/// The paper's timeout ranges in milliseconds, each with its graph: the top graph
/// (more randomness, `true`) and the bottom graph (shorter timeouts). 150–300 ms is in
/// both.
pub const FIGURE16: [(u64, u64, bool); 11] = [
    (150, 150, true),
    (150, 151, true),
    (150, 155, true),
    (150, 175, true),
    (150, 200, true),
    (150, 300, true),
    (12, 24, false),
    (25, 50, false),
    (50, 100, false),
    (100, 200, false),
    (150, 300, false),
];

/// A range without randomness runs at most this many trials: each can take the whole
/// ten seconds (the paper ran 100 too).
pub const TRIALS_WITHOUT_RANDOMNESS: u64 = 100;

/// One row of Figure 16: a timeout range's trials, summarized, and their downtimes for
/// the graph.
#[derive(Clone, Debug)]
pub struct Row {
    /// Whether the row belongs to the top graph (more randomness) or the bottom one.
    pub top: bool,
    /// The trials' figures.
    pub summary: Summary,
    /// The time without a leader of each trial that elected one, in milliseconds,
    /// sorted: the CDF's points (over all the row's trials).
    pub downtimes_ms: Vec<f64>,
}

// ANCHOR: figure16
/// Figure 16: every range of [`FIGURE16`] on `base`'s network and rules, `trials`
/// trials each from seed `seed` (at most [`TRIALS_WITHOUT_RANDOMNESS`] for a range
/// without randomness), the range in both graphs run once. `row` sees each row as it
/// is done; a progress bar counts the trials on a terminal.
pub fn figure16(
    base: &Setup,
    seed: u64,
    trials: u64,
    mut row: impl FnMut(&Row),
) -> Result<Vec<Row>> {
    let count = |a: u64, b: u64| match a == b {
        true => trials.min(TRIALS_WITHOUT_RANDOMNESS),
        false => trials,
    };
    let total = FIGURE16.iter().map(|&(a, b, _)| count(a, b)).sum::<u64>() - trials;
    let progress = Progress::bar(total, "trials");
    let mut done: Vec<((u64, u64), Vec<Trial>)> = Vec::new();
    let mut rows = Vec::new();
    for (a, b, top) in FIGURE16 {
        let setup = base.with_timeouts(a, b);
        let results = match done.iter().find(|(range, _)| *range == (a, b)) {
            Some((_, results)) => results.clone(),
            None => trials_shown(&setup, seed, count(a, b), &progress)?,
        };
        let r = Row {
            top,
            summary: summarize(&setup, &results),
            downtimes_ms: downtimes_ms(&results),
        };
        row(&r);
        rows.push(r);
        done.push(((a, b), results));
    }
    Ok(rows)
}
// ANCHOR_END: figure16

/// The two setups of the term counts: how many terms an election takes after the leader
/// is killed, with logs alike, on `base`'s network and rules (a report on an OCaml Raft
/// claims two, and three with a third of all messages dropped and the timeout doubled).
pub fn term_setups(base: &Setup) -> [(&'static str, Setup); 2] {
    [
        (
            "150–300ms, no loss",
            Setup {
                distinct_logs: false,
                ..base.with_timeouts(150, 300)
            },
        ),
        (
            "300–600ms, 1/3 of messages dropped",
            Setup {
                drop: 1.0 / 3.0,
                distinct_logs: false,
                ..base.with_timeouts(300, 600)
            },
        ),
    ]
}

/// What a row of the experiment's table shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The timeout range, `150–300ms`.
    pub range: String,
    /// How many trials.
    pub trials: usize,
    /// Trials with no new leader within the limit (or with no first leader to crash,
    /// after 20 tries of 2 s each).
    pub failed: usize,
    /// The mean downtime, in milliseconds, over the trials that elected a new leader
    /// (as are the percentiles below).
    pub mean_ms: f64,
    /// The median.
    pub p50_ms: f64,
    /// The 90th percentile.
    pub p90_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The longest.
    pub max_ms: f64,
    /// How many trials needed 1, 2, 3, … terms (index 0: one term).
    pub terms: Vec<usize>,
}

/// The downtimes of the trials that elected, sorted, in milliseconds.
pub fn downtimes_ms(trials: &[Trial]) -> Vec<f64> {
    let mut ms: Vec<f64> = trials
        .iter()
        .filter_map(|t| t.downtime)
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// The table row of `trials` of `setup`.
pub fn summarize(setup: &Setup, trials: &[Trial]) -> Summary {
    let ms = downtimes_ms(trials);
    let rank = |p: usize| {
        let at = (p * ms.len()).div_ceil(100).max(1) - 1;
        ms.get(at).copied().unwrap_or(f64::NAN)
    };
    let mut terms = Vec::new();
    for t in trials.iter().filter(|t| t.downtime.is_some()) {
        let i = t.terms.max(1) as usize - 1;
        if terms.len() <= i {
            terms.resize(i + 1, 0);
        }
        terms[i] += 1;
    }
    Summary {
        range: setup.label(),
        trials: trials.len(),
        failed: trials.len() - ms.len(),
        mean_ms: if ms.is_empty() {
            f64::NAN
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        },
        p50_ms: rank(50),
        p90_ms: rank(90),
        p99_ms: rank(99),
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
        terms,
    }
}

/// The mean time for a leader to hear back from every follower, for one-way delays
/// drawn from `delay`: the slowest of `nodes - 1` round trips, each two draws. Worked
/// out by drawing 100,000 broadcasts.
pub fn broadcast_time(nodes: usize, delay: (Duration, Duration)) -> Duration {
    let mut rng = Rng::new(15);
    let rounds = 100_000u32;
    let total: Duration = (0..rounds)
        .map(|_| {
            (1..nodes)
                .map(|_| {
                    rng.duration_between(delay.0, delay.1) + rng.duration_between(delay.0, delay.1)
                })
                .max()
                .unwrap_or_default()
        })
        .sum();
    total / rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broadcast_time_is_about_the_papers_15_ms() {
        let b = broadcast_time(5, (Duration::from_millis(5), Duration::from_millis(9)));
        assert!(
            (Duration::from_millis(14)..Duration::from_millis(17)).contains(&b),
            "{b:?}"
        );
    }

    #[test]
    fn a_trial_elects_a_new_leader_no_sooner_than_half_the_shortest_timeout() {
        let setup = Setup::paper(150, 300);
        for t in trials(&setup, 0, 20).unwrap() {
            let d = t.downtime.expect("a new leader within 10 s");
            // The followers heard the last heartbeat at most one interval (75 ms)
            // before the crash, and wait at least 150 ms after it.
            assert!(d >= Duration::from_millis(75), "seed {}: {d:?}", t.seed);
            assert!(d < Duration::from_secs(2), "seed {}: {d:?}", t.seed);
            assert!(t.terms >= 1);
        }
    }
}
