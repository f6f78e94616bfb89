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
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use quorum::check::Violation;
use quorum::cli::{self, parse_duration_flag, parse_seed_range, CommonArgs, SeedOutcome};
use quorum::detector::{check_properties, Detector, DetectorConfig, Liveness};
use quorum::runtime::sim::Factory;
use quorum::runtime::time::format_duration;
use quorum::runtime::trace::Record;
use quorum::runtime::{
    Action, NodeId, NodeStats, Schedule, Sim, SimConfig, Threads, Time, TraceLevel,
};

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
    /// Measure simulator events per second and threaded messages per second
    Bench {
        /// How many events the simulator benchmark processes (example: --events 2000000)
        #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
        events: u64,
        /// How many messages the threaded benchmark sends from n1 to n2 (example: --messages 2000000)
        #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
        messages: u64,
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
    /// Adapt each peer's timeout to its observed heartbeat gaps (exercise 0.2)
    #[arg(long, global = true)]
    adaptive: bool,
    /// Make node N slow from the start: its messages take ten times as long (exercise 0.1); repeatable (example: --slow 2)
    #[arg(long, global = true, value_name = "N")]
    slow: Vec<u32>,
}

impl DetectorArgs {
    /// These flags as they would be typed again, for a replay command.
    fn replay_flags(&self) -> String {
        let mut s = format!(
            " --heartbeat {} --timeout {}",
            format_duration(self.heartbeat),
            format_duration(self.timeout)
        );
        if self.adaptive {
            s += " --adaptive";
        }
        for n in &self.slow {
            s += &format!(" --slow {n}");
        }
        s
    }
}

/// Everything a run leaves behind.
struct Outcome {
    runtime: &'static str,
    stats: NodeStats,
    records: Vec<Record>,
    suspects: Vec<Option<Vec<NodeId>>>,
    liveness: Vec<Liveness>,
    /// Whether the network was timely enough for accuracy to be owed (and checked).
    timely: bool,
    violations: Vec<Violation>,
}

fn main() -> ExitCode {
    cli::init_logging();
    let cli = Cli::parse();
    let schedule = validate(&cli);
    let result = match &cli.command {
        None | Some(Command::Run) => run_threads(&cli, &schedule).and_then(|o| report(&cli, &o)),
        Some(Command::Sim { seeds: None }) => {
            run_sim(&cli, &schedule, cli.common.seed, true).and_then(|o| report(&cli, &o))
        }
        Some(Command::Sim { seeds: Some(seeds) }) => sweep(&cli, &schedule, seeds.clone()),
        Some(Command::Bench { events, messages }) => {
            bench::run(*events, *messages, cli.common.json)
        }
    };
    cli::exit_code("ch00-world", result)
}

/// Checks what clap cannot check flag by flag; a problem exits with code 2, as clap does.
fn validate(cli: &Cli) -> Schedule {
    let fail = |msg: String| -> ! { cli::refuse::<Cli>(msg) };
    let d = &cli.detector;
    if d.timeout <= d.heartbeat {
        fail(format!(
            "--timeout {:?} must be longer than --heartbeat {:?}, or every node suspects every other between two heartbeats",
            d.timeout, d.heartbeat
        ));
    }
    let mut schedule = cli.common.schedule().unwrap_or_else(|e| fail(e));
    for &n in &d.slow {
        if n == 0 || n > cli.common.nodes {
            fail(format!(
                "--slow {n}: there is no node n{n} in a cluster of {} (ids are 1..={})",
                cli.common.nodes, cli.common.nodes
            ));
        }
        schedule
            .actions
            .insert(0, (Duration::ZERO, Action::Slow(NodeId(n), true)));
    }
    schedule
}

fn factory(cli: &Cli) -> Factory<Detector> {
    let config = DetectorConfig {
        heartbeat: cli.detector.heartbeat,
        timeout: cli.detector.timeout,
        adaptive: cli.detector.adaptive,
    };
    let nodes = cli.common.node_count();
    Arc::new(move |id, storage| Ok(Detector::new(id, nodes, config.clone(), storage)))
}

/// How long a node's state must have been stable before the checks judge it, and
/// whether the network was timely enough for accuracy to be owed.
fn settle_and_timely(cli: &Cli, slack: Duration) -> (Duration, bool) {
    let c = &cli.common;
    let d = &cli.detector;
    let settle = d.timeout + d.heartbeat + c.delay.max * 2 + slack;
    let end = c.duration;
    let partition_near_end = c
        .partition
        .iter()
        .any(|p| p.until.is_none_or(|u| u + settle > end));
    let timely = c.drop == 0.0
        && !partition_near_end
        && d.slow.is_empty()
        && c.delay.max + d.heartbeat < d.timeout;
    (settle, timely)
}

// ANCHOR: run_sim
/// One simulated run of seed `seed`.
fn run_sim(cli: &Cli, schedule: &Schedule, seed: u64, trace: bool) -> quorum::Result<Outcome> {
    let c = &cli.common;
    let config = SimConfig {
        nodes: c.node_count(),
        seed,
        faults: c.faults(),
        // A sweep reads nothing of the trace; a single run reads its protocol events.
        trace: match trace {
            true => c.trace_level(TraceLevel::Protocol),
            false => TraceLevel::Off,
        },
    };
    let (locations, _claim) = c.locations("ch00-world")?;
    let mut sim = Sim::with_storage(config, locations, factory(cli))?;
    sim.schedule(schedule)?;
    let end = Time::ZERO + c.duration;
    sim.run_until(end)?;
    let suspects: Vec<_> = sim
        .ids()
        .into_iter()
        .map(|id| sim.node(id).map(|d| d.suspects()))
        .collect();
    let liveness = Liveness::from_schedule(c.node_count(), schedule, end);
    let (settle, timely) = settle_and_timely(cli, Duration::ZERO);
    let violations = check_properties(end, &suspects, &liveness, settle, timely);
    Ok(Outcome {
        runtime: "sim",
        stats: sim.total_stats(),
        records: sim.take_records(),
        suspects,
        liveness,
        timely,
        violations,
    })
}
// ANCHOR_END: run_sim

/// One run on real threads.
fn run_threads(cli: &Cli, schedule: &Schedule) -> quorum::Result<Outcome> {
    let c = &cli.common;
    let config = c.threads_config();
    let (locations, _claim) = c.locations("ch00-world")?;
    let threads = Threads::start(config, locations, factory(cli))?;
    threads.run_schedule(schedule, c.duration)?;
    let end = threads.now();
    let mut suspects = Vec::new();
    for id in NodeId::all(c.node_count()) {
        suspects.push(threads.inspect(id, |d: Option<&Detector>| d.map(|d| d.suspects()))?);
    }
    let stats = threads.total_stats();
    let records = threads.shutdown()?;
    let liveness = Liveness::from_schedule(c.node_count(), schedule, end);
    // Threads are scheduled by the operating system: allow it 100 ms of lateness.
    let (settle, timely) = settle_and_timely(cli, Duration::from_millis(100));
    let violations = check_properties(end, &suspects, &liveness, settle, timely);
    Ok(Outcome {
        runtime: "threads",
        stats,
        records,
        suspects,
        liveness,
        timely,
        violations,
    })
}

/// Prints the run's report (or its JSON summary) and writes its trace and diagram.
fn report(cli: &Cli, o: &Outcome) -> quorum::Result<bool> {
    let c = &cli.common;
    c.write_outputs(
        &o.records,
        &format!(
            "ch00-world: {} nodes, {}, seed {}",
            c.nodes, o.runtime, c.seed
        ),
    )?;
    let timeline: Vec<&Record> = o
        .records
        .iter()
        .filter(|r| matches!(r.event.as_str(), "suspect" | "trust" | "restarted"))
        .collect();
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
        m.insert("timeline".into(), json!(timeline));
        cli::print_json(&Value::Object(m))?;
    } else {
        println!(
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
        println!("timeline:");
        for r in &timeline {
            let peer = r
                .u64_field("peer")
                .map(|p| format!("n{p}"))
                .unwrap_or_default();
            let what = match r.event.as_str() {
                "suspect" => format!("suspects {peer}"),
                "trust" => format!("trusts {peer} again"),
                _ => format!("sees {peer} restarted"),
            };
            println!("  {:>12}  {} {what}", Time(r.t_us).to_string(), r.node);
        }
        println!("at the end:");
        for (i, s) in o.suspects.iter().enumerate() {
            let id = NodeId::from_index(i);
            match s {
                None => println!("  {id} is down"),
                Some(list) if list.is_empty() => println!("  {id} suspects no one"),
                Some(list) => {
                    let names: Vec<String> = list.iter().map(|n| n.to_string()).collect();
                    println!("  {id} suspects {}", names.join(", "));
                }
            }
        }
        println!(
            "messages: {} sent, {} delivered, {} dropped, {} duplicated",
            o.stats.sent, o.stats.delivered, o.stats.dropped, o.stats.duplicated
        );
        match (o.violations.is_empty(), o.timely) {
            (true, true) => println!("properties: completeness and accuracy hold"),
            (true, false) => println!(
                "properties: completeness holds; accuracy is not owed on this untimely network (loss, a late partition, a slow node or long delays)"
            ),
            (false, _) => {}
        }
        for v in &o.violations {
            println!("VIOLATION {v}");
        }
    }
    Ok(o.violations.is_empty())
}

/// Runs every seed of `seeds` in the simulator and reports the ones that fail.
fn sweep(cli: &Cli, schedule: &Schedule, seeds: Range<u64>) -> quorum::Result<bool> {
    let extra = cli.detector.replay_flags();
    let sweep = cli.common.sweep(seeds, "ch00-world", &extra, |seed| {
        let o = run_sim(cli, schedule, seed, false)?;
        Ok(SeedOutcome {
            stats: o.stats,
            violations: o.violations,
        })
    })?;
    if cli.common.json {
        cli::print_json(&Value::Object(sweep.summary(&cli.common)))?;
    } else {
        println!(
            "{} runs, {} failed, in {:.1}s",
            sweep.runs(),
            sweep.failed.len(),
            sweep.seconds
        );
    }
    Ok(sweep.failed.is_empty())
}
