//! A sweep: one simulated run per seed of a range, each checked, adding up what they
//! found. A failing seed is reported as it fails, with the command that replays it, so
//! a sweep of ten thousand seeds that finds one bug hands the reader one command to run.

use std::ops::Range;
use std::time::Instant;

use serde_json::{json, Value};

use super::progress::Progress;
use crate::check::Violation;
use crate::error::Result;
use crate::runtime::NodeStats;

/// What a sweep keeps of one seed's run.
#[derive(Clone, Debug, Default)]
pub struct SeedOutcome {
    /// The run's message counts, summed over its nodes.
    pub stats: NodeStats,
    /// The properties the run broke (none: the seed passed).
    pub violations: Vec<Violation>,
}

/// What a sweep found over all its seeds.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The seeds run.
    pub seeds: Range<u64>,
    /// Message counts over every run.
    pub stats: NodeStats,
    /// The seeds whose run broke a property, in order.
    pub failed: Vec<u64>,
    /// Every violation of every run, as `{"seed": N, "violation": …}`.
    pub violations: Vec<Value>,
    /// Wall-clock seconds the sweep took.
    pub seconds: f64,
}

impl Sweep {
    /// How many runs the sweep made.
    pub fn runs(&self) -> u64 {
        self.seeds.end.saturating_sub(self.seeds.start)
    }
}

// ANCHOR: sweep
/// Runs `run` on every seed of `seeds` and adds up what the runs found. Unless `quiet`,
/// each failing seed is reported on stderr as it fails, with its first violation and the
/// command `replay(seed)` gives, and a progress bar shows on a terminal.
pub fn sweep(
    seeds: Range<u64>,
    quiet: bool,
    replay: impl Fn(u64) -> String,
    mut run: impl FnMut(u64) -> Result<SeedOutcome>,
) -> Result<Sweep> {
    let started = Instant::now();
    let progress = match quiet {
        true => Progress::hidden(),
        false => Progress::bar(seeds.end.saturating_sub(seeds.start), "seeds"),
    };
    let mut sweep = Sweep {
        seeds: seeds.clone(),
        stats: NodeStats::default(),
        failed: Vec::new(),
        violations: Vec::new(),
        seconds: 0.0,
    };
    for seed in seeds {
        let outcome = run(seed)?;
        progress.inc(1);
        sweep.stats = sweep.stats.plus(&outcome.stats);
        let Some(first) = outcome.violations.first() else {
            continue;
        };
        sweep.failed.push(seed);
        if !quiet {
            progress.note(format!("{} failed", sweep.failed.len()));
            progress.println(&format!(
                "seed {seed}: {} violation(s), first: {first}\n  replay: {}",
                outcome.violations.len(),
                replay(seed)
            ));
        }
        sweep.violations.extend(
            outcome
                .violations
                .into_iter()
                .map(|v| json!({"seed": seed, "violation": v})),
        );
    }
    sweep.seconds = started.elapsed().as_secs_f64();
    Ok(sweep)
}
// ANCHOR_END: sweep

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Time;

    #[test]
    fn a_sweep_adds_up_its_runs_and_names_the_failing_seeds() {
        let s = sweep(
            3..8,
            true,
            |seed| format!("replay {seed}"),
            |seed| {
                let stats = NodeStats {
                    sent: seed,
                    ..NodeStats::default()
                };
                let violations = match seed % 2 {
                    0 => vec![Violation::new(Time(seed), "even", "an even seed")],
                    _ => Vec::new(),
                };
                Ok(SeedOutcome { stats, violations })
            },
        )
        .unwrap();
        assert_eq!(s.runs(), 5);
        assert_eq!(s.stats.sent, 3 + 4 + 5 + 6 + 7);
        assert_eq!(s.failed, vec![4, 6]);
        assert_eq!(s.violations.len(), 2);
        assert_eq!(s.violations[0]["seed"], 4);
    }

    #[test]
    fn a_failing_run_ends_the_sweep_with_its_error() {
        let e = sweep(
            0..10,
            true,
            |_| String::new(),
            |seed| match seed {
                5 => Err(crate::Error::Runtime("n1 failed".into())),
                _ => Ok(SeedOutcome::default()),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("n1 failed"));
    }
}
