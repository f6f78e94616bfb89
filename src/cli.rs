//! The flags every chapter binary shares, defined once.
//!
//! A chapter binary flattens [`CommonArgs`] into its own clap parser and gets the same
//! cluster size, seed, duration, fault flags and outputs as every other chapter. Values
//! are checked by clap as they are parsed, so `--drop 1.5` or `--duration 3` is refused
//! with a message naming the flag, and exit code 2, before anything runs.
//!
//! What the binaries print is written here too: the shared parts of their reports, and
//! output that ends quietly when the reader closes the pipe ([`outln!`](crate::outln),
//! from [`harness::out`](mod@crate::harness::out)).
//! Sweeps and benchmarks are the [`harness`]'s.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::check::Violation;
use crate::error::{Error, Result};
use crate::harness::{self, SeedOutcome, Sweep, Tap};
use crate::runtime::net::Faults;
use crate::runtime::schedule::{CrashSpec, PartitionSpec, Schedule};
use crate::runtime::stats::NodeStats;
use crate::runtime::time::{format_duration, parse_duration};
use crate::runtime::trace::{write_jsonl, Record};
use crate::runtime::{NodeId, TraceLevel};
use crate::storage::{claim_dir, DirClaim, Location};
use crate::viz::{write_svg, SvgOptions};

/// The flags of every chapter binary.
#[derive(clap::Args, Clone, Debug)]
pub struct CommonArgs {
    /// How many nodes the cluster has, 1 to 64 (example: --nodes 5)
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub nodes: u32,

    /// Seed of every random choice; the same seed replays the same simulated run (example: --seed 7)
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,

    /// How long the run lasts, in virtual time (sim) or real time (threads) (example: --duration 3s)
    #[arg(long, global = true, default_value = "3s", value_parser = parse_duration_flag)]
    pub duration: Duration,

    /// Probability that the network loses a message, 0 to 1 (example: --drop 0.1)
    #[arg(long, global = true, default_value_t = 0.0, value_parser = parse_probability)]
    pub drop: f64,

    /// Delay of every message, fixed or a uniform range (example: --delay 1ms..5ms)
    #[arg(long, global = true, default_value = "0ms", value_parser = parse_delay)]
    pub delay: DelayRange,

    /// Probability that the network delivers a message twice (the copy may arrive out of order), 0 to 1 (example: --duplicate 0.05)
    #[arg(long, global = true, default_value_t = 0.0, value_parser = parse_probability)]
    pub duplicate: f64,

    /// A partition: groups split by '|' (both ways) or '>' (one way), '*' for everyone else, and an optional time window; repeatable (example: --partition 1,2|3,4,5@1s..2s)
    #[arg(long, global = true, value_name = "SPEC")]
    pub partition: Vec<PartitionSpec>,

    /// Crash node N at time T, and restart it at R if given; repeatable (example: --crash 3@1s..2s)
    #[arg(long, global = true, value_name = "N@T[..R]")]
    pub crash: Vec<CrashSpec>,

    /// Keep each node's state in SQLite under this directory (one file per node); in memory when absent (example: --data-dir /tmp/quorum)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Write every event of the run as JSON lines to FILE (example: --trace run.jsonl)
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Draw the run as an SVG space-time diagram in FILE (example: --svg run.svg)
    #[arg(long, global = true, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Print one JSON object summarising the run on stdout instead of the human report
    #[arg(long, global = true)]
    pub json: bool,
}

/// A message delay: fixed (`5ms`) or a uniform range (`1ms..5ms`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DelayRange {
    /// The shortest delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

/// Reads a `--duration`-style value; a zero duration is refused.
pub fn parse_duration_flag(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// Reads a probability in `[0, 1]`.
pub fn parse_probability(s: &str) -> std::result::Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number; write a probability such as 0.1"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!(
            "{p} is not a probability; it must be between 0 and 1"
        ));
    }
    Ok(p)
}

/// Reads `5ms` or `1ms..5ms`.
pub fn parse_delay(s: &str) -> std::result::Result<DelayRange, String> {
    let (min, max) = match s.split_once("..") {
        Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
        None => {
            let d = parse_duration(s)?;
            (d, d)
        }
    };
    if min > max {
        return Err(format!(
            "the range {s} starts after it ends; write MIN..MAX, e.g. 1ms..5ms"
        ));
    }
    Ok(DelayRange { min, max })
}

/// Reads a seed range `A..B` (A up to but not including B, as in Rust).
pub fn parse_seed_range(s: &str) -> std::result::Result<std::ops::Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("'{s}' is not a range; write A..B, e.g. 0..100 for 100 seeds"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("'{a}' is not a seed"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("'{b}' is not a seed"))?;
    if b <= a {
        return Err(format!("the range {s} is empty; write A..B with A < B"));
    }
    Ok(a..b)
}

impl CommonArgs {
    /// How many nodes, as a count.
    pub fn node_count(&self) -> usize {
        self.nodes as usize
    }

    /// The threaded runtime's configuration the flags ask for: the cluster, the seed,
    /// the faults, and a trace when `--trace` or `--svg` wants one.
    pub fn threads_config(&self) -> crate::runtime::ThreadsConfig {
        crate::runtime::ThreadsConfig {
            nodes: self.node_count(),
            seed: self.seed,
            faults: self.faults(),
            trace: self.trace_level(TraceLevel::Protocol),
        }
    }

    /// What a run records: everything when `--trace` or `--svg` asks for a trace,
    /// else `otherwise` (what the run's own report reads).
    pub fn trace_level(&self, otherwise: TraceLevel) -> TraceLevel {
        match self.trace.is_some() || self.svg.is_some() {
            true => TraceLevel::Everything,
            false => otherwise,
        }
    }

    /// The random faults the flags ask for.
    pub fn faults(&self) -> Faults {
        Faults {
            drop: self.drop,
            delay: (self.delay.min, self.delay.max),
            duplicate: self.duplicate,
        }
    }

    /// The crashes and partitions the flags ask for; an error names the bad flag.
    pub fn schedule(&self) -> std::result::Result<Schedule, String> {
        Schedule::from_specs(self.node_count(), &self.crash, &self.partition)
    }

    /// Where each node keeps its state: SQLite files under `--data-dir` for the cluster
    /// `cluster_id`, or memory. With `--data-dir`, the directory is claimed for this
    /// process first (see [`claim_dir`]): keep the claim for as long as the cluster
    /// runs. Another process holding it is an error.
    pub fn locations(&self, cluster_id: &str) -> Result<(Vec<Location>, Option<DirClaim>)> {
        let claim = match &self.data_dir {
            Some(dir) => Some(claim_dir(dir)?),
            None => None,
        };
        let locations = NodeId::all(self.node_count())
            .into_iter()
            .map(|id| match &self.data_dir {
                Some(dir) => Location::sqlite(dir, cluster_id, id),
                None => Location::memory(),
            })
            .collect();
        Ok((locations, claim))
    }

    /// The flags that change a simulated run, as they would be typed again: how a sweep
    /// tells the reader to replay a failing seed.
    pub fn replay_flags(&self) -> String {
        let mut s = format!(
            "--nodes {} --duration {}",
            self.nodes,
            format_duration(self.duration)
        );
        if self.drop > 0.0 {
            s += &format!(" --drop {}", self.drop);
        }
        if self.delay.max > Duration::ZERO {
            s += &format!(
                " --delay {}..{}",
                format_duration(self.delay.min),
                format_duration(self.delay.max)
            );
        }
        if self.duplicate > 0.0 {
            s += &format!(" --duplicate {}", self.duplicate);
        }
        for p in &self.partition {
            s += &format!(" --partition '{p}'");
        }
        for c in &self.crash {
            s += &format!(" --crash {c}");
        }
        s
    }

    /// A tap for a threaded run ([`Tap`]): it streams the run's facts to `--trace` as
    /// they come, and keeps them for `--svg` only if a diagram is asked for.
    pub fn tap(&self) -> Result<Tap> {
        Tap::new(self.trace.as_deref(), self.svg.is_some())
    }

    /// Draws `records` to `--svg`, if asked for, titled `title` (a threaded run, whose
    /// `--trace` its tap has written already).
    pub fn draw(&self, records: &[Record], title: &str) -> Result<()> {
        if let Some(path) = &self.svg {
            let options = SvgOptions {
                title: title.to_string(),
                ..SvgOptions::default()
            };
            write_svg(path, records, self.node_count(), &options)?;
        }
        Ok(())
    }

    /// Writes the `--trace` and `--svg` files, if asked for; the diagram, titled
    /// `title`, runs down the page by time.
    pub fn write_outputs(&self, records: &[Record], title: &str) -> Result<()> {
        let options = SvgOptions {
            title: title.to_string(),
            ..SvgOptions::default()
        };
        self.write_outputs_with(records, &options)
    }

    /// Writes the `--trace` and `--svg` files, if asked for, the diagram drawn with
    /// `options` (to draw a counterexample by step: `axis: Axis::Steps`).
    pub fn write_outputs_with(&self, records: &[Record], options: &SvgOptions) -> Result<()> {
        if let Some(path) = &self.trace {
            write_jsonl(path, records)?;
        }
        if let Some(path) = &self.svg {
            write_svg(path, records, self.node_count(), options)?;
        }
        Ok(())
    }

    /// The fields every `--json` summary has: `nodes`, `seed`, `duration_ms`,
    /// `messages_sent`, `messages_delivered`, `messages_dropped`, `violations`.
    pub fn summary(
        &self,
        runtime: &str,
        stats: &NodeStats,
        violations: &[Violation],
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("runtime".into(), json!(runtime));
        m.insert("nodes".into(), json!(self.nodes));
        m.insert("seed".into(), json!(self.seed));
        m.insert(
            "duration_ms".into(),
            json!(self.duration.as_millis() as u64),
        );
        m.insert("messages_sent".into(), json!(stats.sent));
        m.insert("messages_delivered".into(), json!(stats.delivered));
        m.insert("messages_dropped".into(), json!(stats.dropped));
        m.insert("violations".into(), json!(violations));
        m
    }
}

impl CommonArgs {
    /// Runs `run` on every seed of `seeds` ([`harness::sweep()`]), each a simulated run in
    /// memory. Unless `--json` was asked for, each failing seed is reported on stderr as
    /// it fails, with the command that replays it: `PROGRAM sim --seed N`, the shared
    /// flags, then `extra_flags` (the binary's own, each with a space before it). In a
    /// build of exercise code, PROGRAM is the `cargo run` that builds that code again
    /// ([`crate::exercises::invocation`]).
    /// Refuses `--data-dir`: many clusters can't share it.
    pub fn sweep(
        &self,
        seeds: Range<u64>,
        program: &str,
        extra_flags: &str,
        run: impl FnMut(u64) -> Result<SeedOutcome>,
    ) -> Result<Sweep> {
        if self.data_dir.is_some() {
            return Err(Error::Config(
                "--seeds runs many clusters; it keeps their state in memory, so drop --data-dir"
                    .into(),
            ));
        }
        let flags = self.replay_flags();
        let program = crate::exercises::invocation(program);
        let replay = |seed| format!("{program} sim --seed {seed} {flags}{extra_flags}");
        harness::sweep(seeds, self.json, replay, run)
    }

    /// A sweep's `--json` summary: the fields every summary has (with `seed` the first
    /// seed), and `seeds` (`"A..B"`), `runs`, `failed_runs` (the seeds), `violations`
    /// (each with its seed) and `wall_seconds`. A binary adds its own.
    pub fn sweep_summary(&self, sweep: &Sweep) -> Map<String, Value> {
        let mut m = self.summary("sim", &sweep.stats, &[]);
        m.insert("seed".into(), json!(sweep.seeds.start));
        m.insert(
            "seeds".into(),
            json!(format!("{}..{}", sweep.seeds.start, sweep.seeds.end)),
        );
        m.insert("runs".into(), json!(sweep.runs()));
        m.insert("failed_runs".into(), json!(sweep.failed));
        m.insert("violations".into(), json!(sweep.violations));
        m.insert("wall_seconds".into(), json!(sweep.seconds));
        m
    }
}

/// The median, 99th percentile and maximum of `values` (nearest rank: the smallest
/// value with at least that share of `values` at or below it), as
/// `{"p50": …, "p99": …, "max": …}`; `null` if there are none.
pub fn percentiles(values: &[u64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = |p: usize| {
        let at = (p * sorted.len()).div_ceil(100).max(1) - 1;
        sorted.get(at).copied()
    };
    match sorted.last() {
        None => Value::Null,
        Some(max) => json!({"p50": rank(50), "p99": rank(99), "max": max}),
    }
}

/// Prints a run's last lines: its message counts, then `properties: {holds}` if the run
/// broke no property, else one `VIOLATION` line per violation.
pub fn print_verdict(stats: &NodeStats, violations: &[Violation], holds: &str) {
    crate::outln!(
        "messages: {} sent, {} delivered, {} dropped",
        stats.sent,
        stats.delivered,
        stats.dropped
    );
    if violations.is_empty() {
        crate::outln!("properties: {holds}");
    }
    for v in violations {
        crate::outln!("VIOLATION {v}");
    }
}

/// What a binary's `main` returns for `result`: success if the run held every property
/// (`Ok(true)`), failure if it did not (`Ok(false)`) or could not run (`Err`, printed on
/// stderr after `program`'s name).
pub fn exit_code(program: &str, result: Result<bool>) -> std::process::ExitCode {
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            crate::errln!("{program}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Refuses the command line of the binary whose parser is `C` with `msg`, and exit code
/// 2, as clap refuses a bad value: for what clap cannot check flag by flag.
pub fn refuse<C: clap::CommandFactory>(msg: String) -> ! {
    C::command()
        .error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

/// Sets up human logs: `RUST_LOG=info` tells the run's story, one line per event, as
/// `12.345ms n2 inc1: suspects n3: silent for 500ms`. Off (warnings only) by default.
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            use std::io::Write;
            writeln!(buf, "{:<5} {}", record.level(), record.args())
        })
        .try_init();
}

pub use crate::harness::out::{print_json, write_stderr, write_stdout};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        assert!(parse_probability("1.5")
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("lots").is_err());
    }

    #[test]
    fn delays() {
        let d = parse_delay("1ms..5ms").unwrap();
        assert_eq!(
            (d.min, d.max),
            (Duration::from_millis(1), Duration::from_millis(5))
        );
        let d = parse_delay("2ms").unwrap();
        assert_eq!(d.min, d.max);
        assert!(parse_delay("5ms..1ms")
            .unwrap_err()
            .contains("starts after"));
    }

    #[test]
    fn seed_ranges() {
        assert_eq!(parse_seed_range("0..100"), Ok(0..100));
        assert!(parse_seed_range("5..5").is_err());
        assert!(parse_seed_range("7").is_err());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentiles(&[]), Value::Null);
        assert_eq!(percentiles(&[7]), json!({"p50": 7, "p99": 7, "max": 7}));
        let hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(
            percentiles(&hundred),
            json!({"p50": 50, "p99": 99, "max": 100})
        );
        assert_eq!(
            percentiles(&[1, 2, 3, 1000]),
            json!({"p50": 2, "p99": 1000, "max": 1000})
        );
    }

    #[test]
    fn zero_duration_is_refused() {
        assert!(parse_duration_flag("0s").is_err());
        assert_eq!(parse_duration_flag("3s"), Ok(Duration::from_secs(3)));
    }
}
