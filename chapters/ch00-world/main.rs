//! `ch00-world`: chapter 0's binary. A heartbeat failure detector shows the world at
//! work: timers, the event queue, and every fault (loss, delay, duplication, partitions,
//! crash and restart), on real threads or in the deterministic simulator.
//!
//! ```text
//! ch00-world --nodes 5 --crash 3@1s --duration 3s     # threads (the default: `run`)
//! ch00-world sim --seed 7 --trace a.jsonl --svg a.svg # the simulator, replayable
//! ch00-world sim --seeds 0..1000 --drop 0.2           # a sweep of 1000 seeds
//! ch00-world bench --json                             # events/s and messages/s
//! ```

mod bench;

use std::ops::Range;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use quorum::cli::{self, parse_duration_flag, parse_seed_range, CommonArgs};
use quorum::detector::run::{Outcome, Scenario};
use quorum::detector::{DetectorConfig, Liveness};
use quorum::harness::SeedOutcome;
use quorum::outln;
use quorum::runtime::trace::records;
use quorum::runtime::{Action, NodeId, TraceLevel};
use quorum::storage::Location;

/// Chapter 0, the world: a heartbeat failure detector on threads or in the simulator.
#[derive(Parser, Debug)]
#[command(name = "ch00-world", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    detector: DetectorArgs,
}

const EXAMPLES: &str = "\
Examples:
  ch00-world --nodes 5 --crash 3@1s --duration 3s      crash n3 at 1s, on threads
  ch00-world sim --seed 7 --trace a.jsonl --svg a.svg  a replayable simulated run, traced and drawn
  ch00-world sim --seeds 0..1000 --drop 0.2            1000 simulated runs, checked
  ch00-world --partition '1,2|3,4,5@1s..2s' --nodes 5  a partition from 1s to 2s
  RUST_LOG=info ch00-world sim                         the run's story, one line per event
  ch00-world bench --json                              simulator events/s, threaded messages/s";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run on real threads, one per node (the default)
    Run,
    /// Run in the deterministic simulator: one thread, virtual time, a seed replays the run
    Sim {
        /// Run every seed of the range A..B (A up to but not including B) and check each (example: --seeds 0..1000)
        #[arg(long, value_parser = parse_seed_range, value_name = "A..B")]
        seeds: Option<Range<u64>>,
    },
    /// Measure simulator events per second, threaded messages per second (tracing off and on) and storage entries per second, each beside a bare baseline (storage on the disk of --data-dir, else the temporary directory)
    Bench {
        /// How many events the simulator benchmark processes (example: --events 2000000)
        #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
        events: u64,
        /// How many messages the threaded benchmark sends from n1 to n2 (example: --messages 2000000)
        #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
        messages: u64,
        /// Measure only this part (example: --only sim)
        #[arg(long, value_enum)]
        only: Option<bench::Part>,
    },
}

/// The failure detector's own flags.
#[derive(clap::Args, Debug, Clone)]
struct DetectorArgs {
    /// How often each node heartbeats its peers (example: --heartbeat 100ms)
    #[arg(long, global = true, default_value = "100ms", value_parser = parse_duration_flag)]
    heartbeat: Duration,
    /// How long a peer may be silent before it is suspected; must exceed --heartbeat (example: --timeout 500ms)
    #[arg(long, global = true, default_value = "500ms", value_parser = parse_duration_flag)]
    timeout: Duration,
    /// Adapt each peer's timeout to its observed heartbeat gaps (exercise 0.3)
    #[arg(long, global = true)]
    adaptive: bool,
    /// Make node N slow from the start: its messages take ten times as long (exercise 0.2); repeatable (example: --slow 2)
    #[arg(long, global = true, value_name = "N")]
    slow: Vec<u32>,
}

fn main() -> ExitCode {
    cli::init_logging();
    let cli = Cli::parse();
    let scenario = validate(&cli);
    let result = match &cli.command {
        None | Some(Command::Run) => run_threads(&cli, &scenario),
        Some(Command::Sim { seeds: None }) => run_sim(&cli, &scenario),
        Some(Command::Sim { seeds: Some(seeds) }) => sweep(&cli, &scenario, seeds.clone()),
        Some(Command::Bench {
            events,
            messages,
            only,
        }) => {
            // The storage figures are measured on the disk of --data-dir, or of the
            // system's temporary directory.
            let dir = cli
                .common
                .data_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            bench::run(*events, *messages, *only, &dir, cli.common.json)
        }
    };
    cli::exit_code("ch00-world", result)
}

/// The run the flags describe; what clap cannot check flag by flag is checked here, and
/// a problem exits with code 2, as clap does.
fn validate(cli: &Cli) -> Scenario {
    let fail = |msg: String| -> ! { cli::refuse::<Cli>(msg) };
    let d = &cli.detector;
    if d.timeout <= d.heartbeat {
        fail(format!(
            "--timeout {:?} must be longer than --heartbeat {:?}, or every node suspects every other between two heartbeats",
            d.timeout, d.heartbeat
        ));
    }
    let mut schedule = cli.common.schedule().unwrap_or_else(|e| fail(e));
    for (i, &n) in d.slow.iter().enumerate() {
        if n == 0 || n > cli.common.nodes {
            fail(format!(
                "--slow {n}: there is no node n{n} in a cluster of {} (ids are 1..={})",
                cli.common.nodes, cli.common.nodes
            ));
        }
        schedule
            .actions
            .insert(i, (Duration::ZERO, Action::Slow(NodeId(n), true)));
    }
    Scenario {
        nodes: cli.common.node_count(),
        config: DetectorConfig {
            heartbeat: d.heartbeat,
            timeout: d.timeout,
            adaptive: d.adaptive,
        },
        faults: cli.common.faults(),
        schedule,
        duration: cli.common.duration,
    }
}

/// A simulated run of `--seed`, reported.
fn run_sim(cli: &Cli, scenario: &Scenario) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch00-world")?;
    let (outcome, trace) = scenario.sim(c.seed, locations, c.trace_level(TraceLevel::Protocol))?;
    c.write_outputs(&records(&trace), &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A run on real threads, reported: its trace is streamed to `--trace` as it goes.
fn run_threads(cli: &Cli, scenario: &Scenario) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch00-world")?;
    let (outcome, kept) = scenario.threads(c.threads_config(), locations, c.tap()?)?;
    c.draw(&kept, &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A diagram's title.
fn title(cli: &Cli, runtime: &str) -> String {
    let c = &cli.common;
    format!("ch00-world: {} nodes, {runtime}, seed {}", c.nodes, c.seed)
}

/// Prints the run's report (or its JSON summary) and writes its trace and diagram.
fn report(cli: &Cli, o: &Outcome) -> quorum::Result<bool> {
    let c = &cli.common;
    if c.json {
        let mut m = c.summary(o.runtime, &o.stats, &o.violations);
        let suspects: serde_json::Map<String, Value> = o
            .suspects
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let v = match s {
                    Some(list) => json!(list.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
                    None => Value::Null,
                };
                (NodeId::from_index(i).to_string(), v)
            })
            .collect();
        m.insert("suspects".into(), Value::Object(suspects));
        let crashed: Vec<String> = o
            .liveness
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Liveness::DownSince(_)))
            .map(|(i, _)| NodeId::from_index(i).to_string())
            .collect();
        m.insert("crashed".into(), json!(crashed));
        m.insert("accuracy_checked".into(), json!(o.timely));
        m.insert("timeline".into(), json!(records(&o.timeline)));
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!(
            "ch00-world: {} nodes on {}, seed {}, {:?}; heartbeat {:?}, timeout {:?}{}",
            c.nodes,
            o.runtime,
            c.seed,
            c.duration,
            cli.detector.heartbeat,
            cli.detector.timeout,
            if cli.detector.adaptive {
                " (adaptive)"
            } else {
                ""
            }
        );
        outln!("timeline:");
        for (at, node, what) in o.timeline_lines() {
            outln!("  {:>12}  {node} {what}", at.to_string());
        }
        outln!("at the end:");
        for (i, s) in o.suspects.iter().enumerate() {
            let id = NodeId::from_index(i);
            match s {
                None => outln!("  {id} is down"),
                Some(list) if list.is_empty() => outln!("  {id} suspects no one"),
                Some(list) => {
                    let names: Vec<String> = list.iter().map(|n| n.to_string()).collect();
                    outln!("  {id} suspects {}", names.join(", "));
                }
            }
        }
        outln!(
            "messages: {} sent, {} delivered, {} dropped, {} duplicated",
            o.stats.sent,
            o.stats.delivered,
            o.stats.dropped,
            o.stats.duplicated
        );
        match (o.violations.is_empty(), o.timely) {
            (true, true) => outln!("properties: completeness and accuracy hold"),
            (true, false) => outln!(
                "properties: completeness holds; accuracy is not owed on this untimely network (loss, a late partition, a slow node or long delays)"
            ),
            (false, _) => {}
        }
        for v in &o.violations {
            outln!("VIOLATION {v}");
        }
    }
    Ok(o.violations.is_empty())
}

/// Runs every seed of `seeds` in the simulator and reports the ones that fail.
fn sweep(cli: &Cli, scenario: &Scenario, seeds: Range<u64>) -> quorum::Result<bool> {
    let extra = scenario.replay_flags();
    let sweep = cli.common.sweep(seeds, "ch00-world", &extra, |seed| {
        let locations = (0..scenario.nodes).map(|_| Location::memory()).collect();
        let (o, _) = scenario.sim(seed, locations, TraceLevel::Off)?;
        Ok(SeedOutcome {
            stats: o.stats,
            violations: o.violations,
        })
    })?;
    if cli.common.json {
        cli::print_json(&Value::Object(cli.common.sweep_summary(&sweep)))?;
    } else {
        outln!(
            "{} runs, {} failed, in {:.1}s",
            sweep.runs(),
            sweep.failed.len(),
            sweep.seconds
        );
    }
    Ok(sweep.failed.is_empty())
}
