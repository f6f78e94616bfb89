//! `ch01-paxos`: chapter 1's binary. Single-decree Paxos on threads, in the simulator,
//! over many seeds, or exhaustively.
//!
//! ```text
//! ch01-paxos --proposers 3 --nodes 5                  # threads: three dueling proposers
//! ch01-paxos sim --seed 7 --proposers 3 --svg a.svg   # one simulated run, drawn
//! ch01-paxos sim --seeds 0..10000 --drop 0.3 ...      # a checked sweep
//! ch01-paxos sim --break ignore-accepted --seeds 0..1000  # watch a rule's absence fail
//! ch01-paxos explore                                 # every order of deliveries, proven safe
//! ch01-paxos bench                                    # decisions/s, explorer states/s
//! ```

mod bench;

use std::ops::Range;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{json, Value};

use quorum::cli::{self, parse_duration_flag, parse_seed_range, CommonArgs};
use quorum::harness::SeedOutcome;
use quorum::outln;
use quorum::paxos::explore::{explore, random_walks, ExploreConfig};
use quorum::paxos::run::{Outcome, Scenario};
use quorum::paxos::{Event, PaxosConfig, Rule};
use quorum::runtime::trace::records;
use quorum::runtime::{Schedule, TraceLevel};
use quorum::storage::Location;
use quorum::viz::{Axis, SvgOptions};

/// Chapter 1: single-decree Paxos on threads, in the simulator, or exhaustively explored.
#[derive(Parser, Debug)]
#[command(name = "ch01-paxos", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    paxos: PaxosArgs,
}

const EXAMPLES: &str = "\
Examples:
  ch01-paxos --proposers 3 --nodes 5                     three dueling proposers, on threads
  ch01-paxos sim --seed 7 --proposers 3 --svg a.svg      one simulated run, drawn
  ch01-paxos sim --seeds 0..1000 --drop 0.3 --crash 4@50ms..200ms   a checked sweep
  ch01-paxos sim --seeds 0..1000 --break ignore-accepted a rule removed: watch it fail
  ch01-paxos sim --seeds 0..200 --proposers 3 --no-backoff   dueling without backoff: many more ballots
  ch01-paxos explore                                     every order of deliveries, 2 proposers x 3 acceptors x 2 ballots (about 5 min)
  ch01-paxos explore --ballots 1 --crashes 1             the same with one ballot each and a crash (about 1 s)
  ch01-paxos explore --break forget-promise --svg ce.svg the explorer's counterexample, drawn";

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
    /// Explore every order of deliveries of a small cluster exhaustively (2 proposers x 3 nodes unless --proposers or --nodes says otherwise)
    Explore(ExploreArgs),
    /// Measure decisions per second (threads and simulator) and explorer states per second
    Bench {
        /// How many decisions to time on each runtime (example: --decisions 2000)
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..))]
        decisions: u64,
    },
}

/// The explorer's flags.
#[derive(clap::Args, Debug, Clone)]
struct ExploreArgs {
    /// At most this many ballots per proposer (example: --ballots 2)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=4))]
    ballots: u64,
    /// How many crash-and-restarts the explorer may add: by default none in the exhaustive search, one in each of the --walks (example: --crashes 1)
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=2))]
    crashes: Option<u64>,
    /// Stop after this many states (example: --max-states 1000000)
    #[arg(long, default_value_t = 200_000_000)]
    max_states: usize,
    /// Instead of the exhaustive search, take this many random walks through the same choices, seeded by --seed (example: --walks 20000)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    walks: Option<u64>,
    /// Keep every message in the network after delivery, so it may be delivered again (duplication)
    #[arg(long)]
    duplicates: bool,
    /// Search breadth first, so that a counterexample found is a shortest one, the easiest to read (uses more memory)
    #[arg(long, conflicts_with = "walks")]
    shortest: bool,
    /// Take every move from every state, without the explorer's reductions (slower; shows they lose no node state)
    #[arg(long)]
    no_reduce: bool,
}

impl ExploreArgs {
    /// How many crashes a search may add: as given, else one per random walk and none
    /// in the exhaustive search.
    fn crash_count(&self) -> usize {
        self.crashes
            .map_or(usize::from(self.walks.is_some()), |c| c as usize)
    }

    /// These flags as they would be typed again, each with a space before it.
    fn flags(&self) -> String {
        let mut s = format!(" --ballots {}", self.ballots);
        if let Some(c) = self.crashes {
            s += &format!(" --crashes {c}");
        }
        if let Some(w) = self.walks {
            s += &format!(" --walks {w}");
        }
        if self.duplicates {
            s += " --duplicates";
        }
        if self.shortest {
            s += " --shortest";
        }
        if self.no_reduce {
            s += " --no-reduce";
        }
        s
    }
}

/// Paxos's own flags.
#[derive(clap::Args, Debug, Clone)]
struct PaxosArgs {
    /// How many of the nodes propose, each its own value (example: --proposers 3)
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    proposers: u32,
    /// Remove a rule on purpose, to watch what goes wrong without it (example: --break ignore-accepted)
    #[arg(long = "break", global = true, value_enum, value_name = "RULE")]
    broken: Option<Rule>,
    /// Retry at once after a refusal instead of after a randomized backoff
    #[arg(long, global = true)]
    no_backoff: bool,
    /// How long a proposer gives a ballot before it tries a higher one (example: --retry 100ms)
    #[arg(long, global = true, default_value = "100ms", value_parser = parse_duration_flag)]
    retry: Duration,
}

fn main() -> ExitCode {
    cli::init_logging();
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if matches!(cli.command, Some(Command::Explore(_))) {
        explorer_flags(&mut cli, &matches);
    }
    let schedule = validate(&cli);
    let result = match &cli.command {
        None | Some(Command::Run) => run_threads(&cli, &schedule),
        Some(Command::Sim { seeds: None }) => run_sim(&cli, &schedule),
        Some(Command::Sim { seeds: Some(seeds) }) => sweep(&cli, &schedule, seeds.clone()),
        Some(Command::Explore(args)) => run_explore(&cli, args),
        Some(Command::Bench { decisions }) => bench::run(*decisions, cli.common.json),
    };
    cli::exit_code("ch01-paxos", result)
}

/// Refuses the command line with `msg`, exit code 2, as clap refuses a bad value.
fn refuse(msg: String) -> ! {
    cli::refuse::<Cli>(msg)
}

/// The cluster the explorer searches when `--proposers` and `--nodes` are not given.
const EXPLORE_PROPOSERS: u32 = 2;
const EXPLORE_NODES: u32 = 3;

/// Flags the explorer has no use for (it makes every choice of the world itself), by
/// clap id, with why.
const NOT_FOR_EXPLORE: &[(&str, &str, &str)] = &[
    ("drop", "--drop", "the explorer already tries losing every message; leave it out"),
    ("delay", "--delay", "the explorer already tries every order of delivery, which is all a delay can change; leave it out"),
    ("duplicate", "--duplicate", "the explorer delivers each message at most once; leave it out (sim --seeds covers duplicates)"),
    ("partition", "--partition", "a partition is a pattern of losses, and the explorer already tries every loss; leave it out"),
    ("crash", "--crash", "the explorer crashes and restarts nodes itself, at any step; use --crashes N instead"),
    ("duration", "--duration", "the explorer has no clock to stop; bound the search with --ballots or --max-states instead"),
    ("data_dir", "--data-dir", "the explorer keeps its states in memory; leave it out"),
];

/// The explorer's cluster: `--proposers` and `--nodes` as given, else 2 proposers x 3
/// nodes (the flags' own defaults are for runs, which start with one proposer). A value
/// it can't take, or a flag it has no use for, exits with code 2.
fn explorer_flags(cli: &mut Cli, matches: &ArgMatches) {
    // Global flags may come before or after the subcommand.
    let given = |id: &str| {
        let typed = |m: &ArgMatches| m.value_source(id) == Some(ValueSource::CommandLine);
        typed(matches) || matches.subcommand().is_some_and(|(_, sub)| typed(sub))
    };
    for (id, flag, why) in NOT_FOR_EXPLORE {
        if given(id) {
            refuse(format!("{flag} is not for explore: {why}"));
        }
    }
    let (proposers_given, nodes_given) = (given("proposers"), given("nodes"));
    if !proposers_given {
        cli.paxos.proposers = EXPLORE_PROPOSERS;
    }
    if !nodes_given {
        cli.common.nodes = EXPLORE_NODES;
    }
    let (p, n) = (cli.paxos.proposers, cli.common.nodes);
    if p > n {
        refuse(match (proposers_given, nodes_given) {
            (false, _) => format!(
                "--nodes {n} is too few for the explorer's {p} proposers (every proposer is one of the nodes); give --nodes {p} or more, or --proposers {n} as well"
            ),
            (true, false) => format!(
                "--proposers {p} is more than the explorer's {n} nodes (every proposer is one of the nodes); give --nodes {p} or more as well"
            ),
            (true, true) => format!(
                "--proposers {p} is more than --nodes {n} (every proposer is one of the nodes); give --nodes {p} or more, or --proposers {n} or fewer"
            ),
        });
    }
}

/// The flags that set the explorer's cluster and rules, as they would be typed again,
/// each with a space before it (the defaults left out).
fn explore_cluster_flags(cli: &Cli) -> String {
    let mut s = String::new();
    if cli.paxos.proposers != EXPLORE_PROPOSERS {
        s += &format!(" --proposers {}", cli.paxos.proposers);
    }
    if cli.common.nodes != EXPLORE_NODES {
        s += &format!(" --nodes {}", cli.common.nodes);
    }
    if cli.common.seed != 1 {
        s += &format!(" --seed {}", cli.common.seed);
    }
    if let Some(rule) = cli.paxos.broken {
        s += &format!(" --break {rule}");
    }
    s
}

/// Checks what clap cannot check flag by flag; a problem exits with code 2.
fn validate(cli: &Cli) -> Schedule {
    let fail = |msg: String| -> ! { refuse(msg) };
    if cli.paxos.proposers > cli.common.nodes {
        fail(format!(
            "--proposers {} is more than --nodes {}: every proposer is one of the nodes",
            cli.paxos.proposers, cli.common.nodes
        ));
    }
    cli.common.schedule().unwrap_or_else(|e| fail(e))
}

fn node_config(cli: &Cli) -> PaxosConfig {
    let mut c = PaxosConfig::new(cli.common.node_count(), None);
    c.retry = cli.paxos.retry;
    c.backoff = !cli.paxos.no_backoff;
    c.broken = cli.paxos.broken;
    c
}

/// The run the flags describe.
fn scenario(cli: &Cli, schedule: &Schedule) -> Scenario {
    Scenario {
        config: node_config(cli),
        proposers: cli.paxos.proposers as usize,
        faults: cli.common.faults(),
        schedule: schedule.clone(),
        duration: cli.common.duration,
    }
}

/// A simulated run of `--seed`, reported.
fn run_sim(cli: &Cli, schedule: &Schedule) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch01-paxos")?;
    let level = c.trace_level(TraceLevel::Off);
    let (outcome, trace) = scenario(cli, schedule).sim(c.seed, locations, level)?;
    c.write_outputs(&records(&trace), &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A run on real threads, reported: its trace is streamed to `--trace` as it goes.
fn run_threads(cli: &Cli, schedule: &Schedule) -> quorum::Result<bool> {
    let c = &cli.common;
    let (locations, _claim) = c.locations("ch01-paxos")?;
    let (outcome, kept) =
        scenario(cli, schedule).threads(c.threads_config(), locations, c.tap()?)?;
    c.draw(&kept, &title(cli, outcome.runtime))?;
    report(cli, &outcome)
}

/// A diagram's title.
fn title(cli: &Cli, runtime: &str) -> String {
    let c = &cli.common;
    format!(
        "ch01-paxos: {} nodes, {} proposers, {runtime}, seed {}",
        c.nodes, cli.paxos.proposers, c.seed
    )
}

fn report(cli: &Cli, o: &Outcome) -> quorum::Result<bool> {
    let c = &cli.common;
    if c.json {
        let mut m = c.summary(o.runtime, &o.stats, &o.violations);
        m.insert("chosen".into(), json!(o.chosen()));
        m.insert("proposers".into(), json!(cli.paxos.proposers));
        m.insert("ballots_tried".into(), json!(o.ballots));
        m.insert("broken".into(), json!(cli.paxos.broken.map(|r| r.name())));
        let learned: serde_json::Map<String, Value> = o
            .learned
            .iter()
            .map(|(id, v)| (id.to_string(), json!(v)))
            .collect();
        m.insert("learned".into(), Value::Object(learned));
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!(
            "ch01-paxos: {} nodes, {} proposer(s) on {}, seed {}{}",
            c.nodes,
            cli.paxos.proposers,
            o.runtime,
            c.seed,
            cli.paxos
                .broken
                .map(|r| format!(", rule broken: {r}"))
                .unwrap_or_default()
        );
        for fact in &o.story {
            let what = match fact.protocol() {
                Some(Event::Prepare { ballot }) => format!("starts ballot {ballot}"),
                Some(Event::Learned { ballot, value }) => {
                    format!("learns {value} (ballot {ballot})")
                }
                _ => continue,
            };
            outln!("  {:>12}  {} {what}", fact.at.to_string(), fact.node);
        }
        match o.chosen() {
            Some(v) => outln!(
                "chosen: {v}, learned by all {} live nodes; {} ballot(s) tried",
                o.learned.len(),
                o.ballots
            ),
            None => outln!(
                "no single value learned by every live node; {} ballot(s) tried",
                o.ballots
            ),
        }
        cli::print_verdict(
            &o.stats,
            &o.violations,
            "at most one value chosen, only a proposed value chosen, every learner learned it",
        );
    }
    Ok(o.violations.is_empty())
}

/// Runs every seed of `seeds` and reports the failing ones with the command that replays
/// each. Its `--json` summary adds `decided_runs`, `proposers`, `ballots_tried` (over all
/// runs), and the p50, p99 and max of `ballots_per_run` and of `time_to_decide_us`: the
/// virtual time at which a decided run's first node learned the value.
fn sweep(cli: &Cli, schedule: &Schedule, seeds: Range<u64>) -> quorum::Result<bool> {
    let scenario = scenario(cli, schedule);
    let extra = scenario.replay_flags();
    // Per run: the ballots its proposers started; per decided run, the virtual time at
    // which the first node learned the value.
    let (mut decided, mut ballots, mut decide_us) = (0u64, Vec::new(), Vec::new());
    let sweep = cli.common.sweep(seeds, "ch01-paxos", &extra, |seed| {
        let locations = (0..scenario.config.nodes)
            .map(|_| Location::memory())
            .collect();
        let (o, _) = scenario.sim(seed, locations, TraceLevel::Off)?;
        ballots.push(o.ballots);
        if o.chosen().is_some() {
            decided += 1;
            decide_us.extend(o.first_learned().map(|t| t.as_micros()));
        }
        Ok(SeedOutcome {
            stats: o.stats,
            violations: o.violations,
        })
    })?;
    if cli.common.json {
        let mut m = cli.common.sweep_summary(&sweep);
        m.insert("decided_runs".into(), json!(decided));
        m.insert("proposers".into(), json!(cli.paxos.proposers));
        m.insert("ballots_tried".into(), json!(ballots.iter().sum::<u64>()));
        m.insert("ballots_per_run".into(), cli::percentiles(&ballots));
        m.insert("time_to_decide_us".into(), cli::percentiles(&decide_us));
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!(
            "{} runs, {decided} decided, {} violated a property, in {:.1}s",
            sweep.runs(),
            sweep.failed.len(),
            sweep.seconds
        );
    }
    Ok(sweep.failed.is_empty())
}

// ANCHOR: run_explore
/// The exhaustive search, and its counterexample if a broken rule makes one.
fn run_explore(cli: &Cli, args: &ExploreArgs) -> quorum::Result<bool> {
    let (ballots, crashes, walks) = (args.ballots, args.crash_count(), args.walks);
    let config = ExploreConfig {
        nodes: cli.common.node_count(),
        proposers: cli.paxos.proposers as usize,
        max_ballots: ballots,
        crashes,
        broken: cli.paxos.broken,
        max_states: args.max_states,
        duplicates: args.duplicates,
        breadth_first: args.shortest,
        reduce: !args.no_reduce,
        progress: true,
    };
    let e = match walks {
        Some(n) => random_walks(&config, n, cli.common.seed)?,
        None => explore(&config)?,
    };
    if let Some(ce) = &e.counterexample {
        let title = format!(
            "ch01-paxos explore: counterexample with {}",
            cli.paxos
                .broken
                .map(|r| r.name())
                .unwrap_or("no rule broken")
        );
        // The explorer's clock barely moves (no delays), so the diagram is drawn by
        // step, one row per step, rather than to the scale of time.
        let options = SvgOptions {
            title,
            axis: Axis::Steps,
            ..SvgOptions::default()
        };
        cli.common.write_outputs_with(&ce.records, &options)?;
    }
    if cli.common.json {
        cli::print_json(&json!({
            "nodes": config.nodes, "proposers": config.proposers, "ballots": ballots, "crashes": crashes,
            "broken": cli.paxos.broken.map(|r| r.name()),
            "search": if walks.is_some() { "random walks" } else { "exhaustive" }, "walks": walks,
            "states": e.states, "node_states": e.node_states, "transitions": e.transitions, "max_depth": e.max_depth,
            "complete": e.complete, "seconds": e.seconds,
            "states_per_sec": (e.states as f64 / e.seconds.max(1e-9)).round(),
            "counterexample": e.counterexample.as_ref().map(|c| json!({"violation": c.violation, "steps": c.steps})),
        }))?;
    } else {
        if let Some(n) = walks {
            outln!(
                "{n} random walks (seed {}), {} transitions, deepest {} steps, in {:.1}s",
                cli.common.seed,
                e.transitions,
                e.max_depth,
                e.seconds
            );
        } else {
            outln!(
            "explored {} proposers x {} acceptors, {} ballot(s) each, {} crash(es){}: {} distinct states ({} of node states), {} transitions, depth {}, in {:.1}s{}",
            config.proposers,
            config.nodes,
            ballots,
            crashes,
            cli.paxos.broken.map(|r| format!(", rule broken: {r}")).unwrap_or_default(),
            e.states,
            e.node_states,
            e.transitions,
            e.max_depth,
            e.seconds,
            if e.complete { "" } else { " (stopped early)" }
            );
        }
        match &e.counterexample {
            Some(ce) => {
                outln!("counterexample ({} steps):", ce.steps.len());
                for (i, s) in ce.steps.iter().enumerate() {
                    outln!("  {:>3}. {s}", i + 1);
                }
                outln!("VIOLATION {}", ce.violation);
                if cli.common.svg.is_none() {
                    outln!(
                        "draw it: {} explore{}{} --svg counterexample.svg",
                        quorum::exercises::invocation("ch01-paxos"),
                        args.flags(),
                        explore_cluster_flags(cli)
                    );
                }
            }
            None if e.complete => outln!("every reachable state satisfies every property"),
            None if args.walks.is_some() => {
                outln!("no violation in any walk (a sample of the runs, not every one)")
            }
            None => outln!(
                "no violation in the states explored, but the search stopped at --max-states"
            ),
        }
    }
    Ok(e.counterexample.is_none() == cli.paxos.broken.is_none()
        && (e.complete || args.walks.is_some() || e.counterexample.is_some()))
}
// ANCHOR_END: run_explore
