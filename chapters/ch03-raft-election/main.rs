//! `ch03-raft-election`: chapter 3's binary. Raft leader election on threads, in the
//! simulator, over many seeds, and the paper's election-time experiment.
//!
//! ```text
//! ch03-raft-election --nodes 5 --crash-leader-every 1s --duration 10s   # threads: failovers
//! ch03-raft-election sim --seed 7 --svg a.svg                          # one simulated run, drawn
//! ch03-raft-election sim --seeds 0..10000 --drop 0.3 --crash-leader-every 500ms
//! ch03-raft-election sim --seeds 0..2000 --break vote-twice --nodes 3 --delay 0ms..150ms
//! ch03-raft-election experiment --svg fig16.svg                        # Figure 16, reproduced
//! ```

mod bench;

use std::ops::Range;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use quorum::cli::{self, parse_duration_flag, parse_seed_range, CommonArgs};
use quorum::harness::SeedOutcome;
use quorum::outln;
use quorum::raft::experiment::{self, Setup};
use quorum::raft::run::{Outcome, Scenario};
use quorum::raft::{timeout_range_text, RaftConfig, Rule};
use quorum::runtime::time::format_duration;
use quorum::runtime::trace::records;
use quorum::runtime::{Time, TraceLevel};
use quorum::storage::Location;
use quorum::viz::plot::{cdf_svg, Panel};

/// Chapter 3: Raft leader election on threads, in the simulator, and the paper's
/// election-time experiment.
#[derive(Parser, Debug)]
#[command(name = "ch03-raft-election", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    raft: RaftArgs,
}

const EXAMPLES: &str = "\
Examples:
  ch03-raft-election --nodes 5 --crash-leader-every 1s --duration 10s   crash the leader every second, on threads
  ch03-raft-election sim --seed 7 --svg a.svg                          one simulated run, drawn
  ch03-raft-election sim --seeds 0..10000 --nodes 5 --drop 0.3 --crash-leader-every 500ms   a checked sweep
  ch03-raft-election sim --seeds 0..2000 --nodes 3 --delay 0ms..150ms --break stale-terms   a rule removed: watch it fail
  ch03-raft-election sim --nodes 5 --delay 5ms --break fixed-timeout   split votes, forever
  ch03-raft-election experiment --svg fig16.svg                        the paper's Figure 16, 1000 trials per range";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run on real threads, one per node (the default)
    Run,
    /// Run in the deterministic simulator
    Sim {
        /// Run every seed of the range A..B (A up to but not including B) and check each (example: --seeds 0..1000)
        #[arg(long, value_parser = parse_seed_range, value_name = "A..B")]
        seeds: Option<Range<u64>>,
    },
    /// Reproduce the Raft paper's Figure 16 (time to elect a new leader after a crash), and count the terms each election takes
    Experiment {
        /// Trials per timeout range (example: --trials 1000)
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        trials: u64,
    },
    /// Measure simulated elections per second and failovers on threads
    Bench,
}

/// Raft's own flags.
#[derive(clap::Args, Debug, Clone)]
struct RaftArgs {
    /// The range election timeouts are drawn from, uniformly (example: --election-timeout 150ms..300ms)
    #[arg(long, global = true, default_value = "150ms..300ms", value_parser = parse_timeout_range, value_name = "MIN..MAX")]
    election_timeout: (Duration, Duration),
    /// How often a leader sends heartbeats; below the shortest election timeout (example: --heartbeat 50ms)
    #[arg(long, global = true, default_value = "50ms", value_parser = parse_duration_flag)]
    heartbeat: Duration,
    /// Crash whoever leads every D, and restart it D/2 later (example: --crash-leader-every 1s)
    #[arg(long, global = true, value_parser = parse_duration_flag, value_name = "D")]
    crash_leader_every: Option<Duration>,
    /// Remove a rule on purpose, to watch what goes wrong without it (example: --break vote-twice)
    #[arg(long = "break", global = true, value_enum, value_name = "RULE")]
    broken: Option<Rule>,
    /// PreVote (exercise 3.4): ask before raising the term
    #[arg(long, global = true)]
    pre_vote: bool,
    /// CheckQuorum (exercise 3.5): a leader that hears from no majority steps down
    #[arg(long, global = true)]
    check_quorum: bool,
}

/// Reads `150ms..300ms`, or one duration for a range of one value. Whether the range
/// makes sense (not reversed, above the heartbeat) is checked with the heartbeat.
fn parse_timeout_range(s: &str) -> Result<(Duration, Duration), String> {
    use quorum::runtime::time::parse_duration;
    match s.split_once("..") {
        Some((a, b)) => Ok((parse_duration(a)?, parse_duration(b)?)),
        None => {
            let d = parse_duration(s)?;
            Ok((d, d))
        }
    }
}

fn main() -> ExitCode {
    cli::init_logging();
    let cli = Cli::parse();
    let scenario = validate(&cli);
    let result = match &cli.command {
        None | Some(Command::Run) => run_threads(&cli, &scenario),
        Some(Command::Sim { seeds: None }) => run_sim(&cli, &scenario),
        Some(Command::Sim { seeds: Some(seeds) }) => sweep(&cli, &scenario, seeds.clone()),
        Some(Command::Experiment { trials }) => run_experiment(&cli, *trials),
        Some(Command::Bench) => bench::run(cli.common.json),
    };
    cli::exit_code("ch03-raft-election", result)
}

/// Refuses the command line with `msg`, exit code 2, as clap refuses a bad value.
fn refuse(msg: String) -> ! {
    cli::refuse::<Cli>(msg)
}

/// The run the flags describe; what clap cannot check flag by flag is checked here, and
/// a problem exits with code 2.
fn validate(cli: &Cli) -> Scenario {
    let (min, max) = cli.raft.election_timeout;
    let config = RaftConfig {
        election_min: min,
        election_max: max,
        heartbeat: cli.raft.heartbeat,
        pre_vote: cli.raft.pre_vote,
        check_quorum: cli.raft.check_quorum,
        broken: cli.raft.broken,
        ..RaftConfig::new(cli.common.node_count())
    };
    if let Err(e) = config.check() {
        refuse(format!("--election-timeout / --heartbeat: {e}"));
    }
    let schedule = cli.common.schedule().unwrap_or_else(|e| refuse(e));
    Scenario {
        config,
        faults: cli.common.faults(),
        schedule,
        duration: cli.common.duration,
        crash_leader_every: cli.raft.crash_leader_every,
    }
}

/// A simulated run of `--seed`, reported.
fn run_sim(cli: &Cli, scenario: &Scenario) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch03-raft-election")?;
    let level = c.trace_level(TraceLevel::Off);
    let (outcome, trace) = scenario.sim(c.seed, locations, level)?;
    c.write_outputs(&records(&trace), &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A run on real threads, reported: its trace is streamed to `--trace` as it goes.
fn run_threads(cli: &Cli, scenario: &Scenario) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch03-raft-election")?;
    let mut config = c.threads_config();
    config.trace = c.trace_level(TraceLevel::Protocol);
    let (outcome, kept) = scenario.threads(config, locations, c.tap()?)?;
    c.draw(&kept, &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A diagram's title.
fn title(cli: &Cli, runtime: &str) -> String {
    let c = &cli.common;
    format!(
        "ch03-raft-election: {} nodes, {runtime}, seed {}",
        c.nodes, c.seed
    )
}

/// `123.4ms`, or `-` when there is no figure (no trial elected a leader).
fn ms_text(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.1}ms")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The failover times that ended in an election, in microseconds.
fn failover_us(failovers: &[Option<Duration>]) -> Vec<u64> {
    failovers
        .iter()
        .flatten()
        .map(|d| d.as_micros() as u64)
        .collect()
}

fn report(cli: &Cli, o: &Outcome) -> quorum::Result<bool> {
    let c = &cli.common;
    let failovers = o.failovers();
    if c.json {
        let mut m = c.summary(o.runtime, &o.stats, &o.violations);
        m.insert("leaders".into(), json!(o.leaders));
        let terms: serde_json::Map<String, Value> = o
            .terms
            .iter()
            .map(|(id, t)| (id.to_string(), json!(t)))
            .collect();
        m.insert("terms".into(), Value::Object(terms));
        m.insert("elections".into(), json!(o.elections));
        m.insert(
            "leader_at_end".into(),
            json!(o.agreed.map(|(l, t)| json!({"node": l, "term": t}))),
        );
        m.insert("broken".into(), json!(cli.raft.broken.map(|r| r.name())));
        if cli.raft.crash_leader_every.is_some() {
            m.insert("leader_crashes".into(), json!(o.crashes.len()));
            m.insert(
                "failovers".into(),
                json!(failovers.iter().filter(|f| f.is_some()).count()),
            );
            m.insert(
                "failover_us".into(),
                cli::percentiles(&failover_us(&failovers)),
            );
        }
        cli::print_json(&Value::Object(m))?;
        return Ok(o.violations.is_empty());
    }
    outln!(
        "ch03-raft-election: {} nodes on {}, seed {}, election timeout {}, heartbeat {}{}",
        c.nodes,
        o.runtime,
        c.seed,
        if cli.raft.broken == Some(Rule::FixedTimeout) {
            format!(
                "{} for every node",
                format_duration(cli.raft.election_timeout.0)
            )
        } else {
            timeout_range_text(cli.raft.election_timeout.0, cli.raft.election_timeout.1)
        },
        format_duration(cli.raft.heartbeat),
        cli.raft
            .broken
            .map(|r| format!(", rule broken: {r}"))
            .unwrap_or_default()
    );
    // The story: each crash of a leader and each election won, in time order.
    let mut lines: Vec<(u64, String)> = o
        .leaders
        .iter()
        .map(|e| (e.elected_at_us, format!("{} leads term {}", e.node, e.term)))
        .collect();
    lines.extend(
        o.crashes
            .iter()
            .map(|(at, n)| (at.as_micros(), format!("{n} crashes (harness)"))),
    );
    lines.sort_by_key(|(t, _)| *t);
    let shown = 30;
    for (t, line) in lines.iter().take(shown) {
        outln!("  {:>12}  {line}", Time(*t).to_string());
    }
    if lines.len() > shown {
        outln!("  … {} more", lines.len() - shown);
    }
    outln!(
        "{} election(s) started, {} won; terms at the end: {}",
        o.elections,
        o.leaders.len(),
        o.terms
            .iter()
            .map(|(id, t)| format!("{id} t{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match o.agreed {
        Some((l, t)) => outln!("at the end every live node follows {l} in term {t}"),
        None => outln!("at the end the live nodes do not all follow one leader"),
    }
    if !o.crashes.is_empty() {
        let done = failover_us(&failovers);
        outln!(
            "{} leader crash(es), a new leader after {} of them; failover {}",
            o.crashes.len(),
            done.len(),
            percentiles_text(&done)
        );
    }
    cli::print_verdict(
        &o.stats,
        &o.violations,
        "Election Safety and one vote per term hold",
    );
    Ok(o.violations.is_empty())
}

/// Runs every seed of `seeds` and reports the failing ones with the command that
/// replays each. A seed fails if it breaks a property, or if it owes a leader at its end
/// and has none ([`quorum::raft::run::LEADER_ONCE_HEALED`]). Its `--json` summary adds
/// `runs_with_leader_at_end`, `elections` (over all runs), `first_leader_us` and, with
/// `--crash-leader-every`, `failover_us` (p50, p99, max over every crash of every run).
fn sweep(cli: &Cli, scenario: &Scenario, seeds: Range<u64>) -> quorum::Result<bool> {
    let (mut with_leader, mut elections) = (0u64, 0u64);
    let (mut first_leader, mut failover) = (Vec::new(), Vec::new());
    let extra = scenario.replay_flags();
    let sweep = cli
        .common
        .sweep(seeds, "ch03-raft-election", &extra, |seed| {
            let locations = (0..scenario.config.nodes)
                .map(|_| Location::memory())
                .collect();
            let (o, _) = scenario.sim(seed, locations, TraceLevel::Off)?;
            elections += o.elections;
            first_leader.extend(o.leaders.first().map(|e| e.elected_at_us));
            failover.extend(failover_us(&o.failovers()));
            with_leader += u64::from(o.agreed.is_some());
            let mut violations = o.violations.clone();
            violations.extend(scenario.leader_at_end(&o));
            Ok(SeedOutcome {
                stats: o.stats,
                violations,
            })
        })?;
    if cli.common.json {
        let mut m = cli.common.sweep_summary(&sweep);
        m.insert("runs_with_leader_at_end".into(), json!(with_leader));
        m.insert("elections".into(), json!(elections));
        m.insert("first_leader_us".into(), cli::percentiles(&first_leader));
        if scenario.crash_leader_every.is_some() {
            m.insert("failover_us".into(), cli::percentiles(&failover));
        }
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!(
            "{} runs, {with_leader} with one leader followed by every live node at the end, {} failed, in {:.1}s",
            sweep.runs(),
            sweep.failed.len(),
            sweep.seconds
        );
        outln!(
            "first leader elected at (virtual time): {}",
            percentiles_text(&first_leader)
        );
        if scenario.crash_leader_every.is_some() {
            outln!(
                "failover after a leader crash: {}",
                percentiles_text(&failover)
            );
        }
    }
    Ok(sweep.failed.is_empty())
}

/// `p50 …, p99 …, max …` of microsecond values, in milliseconds.
fn percentiles_text(us: &[u64]) -> String {
    let p = cli::percentiles(us);
    let get = |k: &str| {
        p.get(k)
            .and_then(Value::as_u64)
            .map_or("-".to_string(), |v| format!("{:.1}ms", v as f64 / 1000.0))
    };
    format!("p50 {}, p99 {}, max {}", get("p50"), get("p99"), get("max"))
}

// ANCHOR: run_experiment
/// Figure 16, then the OCaml Raft report's two claims, each a table; `--svg` draws
/// the CDFs as the paper does.
fn run_experiment(cli: &Cli, trials: u64) -> quorum::Result<bool> {
    let c = &cli.common;
    let started = Instant::now();
    let seed = c.seed;
    // The paper's network unless --delay says otherwise.
    let mut base = Setup::paper(150, 300);
    if c.delay.max > Duration::ZERO {
        base.delay = (c.delay.min, c.delay.max);
    }
    base.broken = cli.raft.broken;
    let broadcast_ms = ms(experiment::broadcast_time(base.nodes, base.delay));
    if !c.json {
        outln!(
            "Raft Figure 16 in the simulator: {} servers, one-way delay {}..{} (broadcast time {broadcast_ms:.1}ms), heartbeat half the shortest timeout, logs of 0..{} entries shuffled, {} trials per range (100 for 150–150ms)",
            base.nodes,
            format_duration(base.delay.0),
            format_duration(base.delay.1),
            base.nodes - 1,
            trials
        );
        outln!(
            "{:<12} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  no leader in 10s",
            "timeout",
            "trials",
            "mean",
            "p50",
            "p90",
            "p99",
            "max"
        );
    }
    let rows = experiment::figure16(&base, seed, trials, |row| {
        let s = &row.summary;
        if !c.json {
            outln!(
                "{:<12} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
                s.range,
                s.trials,
                ms_text(s.mean_ms),
                ms_text(s.p50_ms),
                ms_text(s.p90_ms),
                ms_text(s.p99_ms),
                ms_text(s.max_ms),
                s.failed
            );
        }
    })?;
    if !c.json {
        outln!("\nTerms needed to elect a new leader after the leader is killed, with logs alike, {trials} trials each:");
    }
    let mut term_rows = Vec::new();
    for (name, setup) in experiment::term_setups(&base) {
        let s = experiment::summarize(&setup, &experiment::trials(&setup, seed, trials)?);
        if !c.json {
            let dist: Vec<String> = s
                .terms
                .iter()
                .enumerate()
                .filter(|(_, &k)| k > 0)
                .map(|(i, k)| format!("{} term(s): {k}", i + 1))
                .collect();
            outln!(
                "  {name}: {}; {} without a leader in 10s; downtime p50 {:.1}ms, p99 {:.1}ms, max {:.1}ms",
                dist.join(", "),
                s.failed,
                s.p50_ms,
                s.p99_ms,
                s.max_ms
            );
        }
        term_rows.push(json!({"setup": name, "summary": s}));
    }
    if let Some(path) = &c.svg {
        let lines = |top: bool| {
            rows.iter()
                .filter(|r| r.top == top)
                .map(|r| {
                    (
                        r.summary.range.clone(),
                        r.downtimes_ms.clone(),
                        r.summary.trials,
                    )
                })
                .collect()
        };
        let svg = cdf_svg(&[
            Panel {
                title: "More randomness: time without a leader (5 servers)",
                log_x: true,
                x_ms: (100.0, 10_000.0),
                lines: lines(true),
            },
            Panel {
                title: "Shorter timeouts: time without a leader (5 servers)",
                log_x: false,
                x_ms: (0.0, 600.0),
                lines: lines(false),
            },
        ]);
        std::fs::write(path, svg).map_err(|e| quorum::Error::io(path, e))?;
    }
    if c.json {
        let figure16: Vec<Value> = rows
            .iter()
            .map(|r| json!({"graph": if r.top {"top"} else {"bottom"}, "summary": r.summary}))
            .collect();
        cli::print_json(&json!({
            "trials": trials,
            "seed": seed,
            "broadcast_ms": broadcast_ms,
            "figure16": figure16,
            "terms": term_rows,
            "wall_seconds": started.elapsed().as_secs_f64(),
        }))?;
    } else {
        outln!("({:.1}s)", started.elapsed().as_secs_f64());
    }
    Ok(true)
}
// ANCHOR_END: run_experiment
