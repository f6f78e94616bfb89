//! `ch02-multipaxos`: chapter 2's binary. The services that open the chapter (a single
//! server, a naive primary-backup) with their clients, on threads or in the simulator,
//! and the linearizability checker over any history file; Multi-Paxos comes with the
//! rest of the chapter.
//!
//! ```text
//! ch02-multipaxos --clients 256 --ops 100000           # on threads, checked
//! ch02-multipaxos check history.jsonl                 # linearizable?
//! ch02-multipaxos check history.jsonl --json          # the verdict, per key, as JSON
//! ch02-multipaxos bench                               # how fast the checker decides
//! ```

mod bench;
mod check;
mod sim;

use std::ops::Range;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use quorum::cli::{self, parse_seed_range, CommonArgs};

/// Chapter 2: a replicated log that serves clients, and the checker that proves what
/// they saw was linearizable.
#[derive(Parser, Debug)]
#[command(name = "ch02-multipaxos", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    service: sim::ServiceArgs,
}

const EXAMPLES: &str = "\
Examples:
  ch02-multipaxos --clients 256 --ops 100000                  the single server on threads, 256 clients, checked
  ch02-multipaxos sim --seed 3 --clients 5 --ops 200         the single server and five clients, checked
  ch02-multipaxos sim --service naive --seeds 0..100 --drop 0.1 --crash 1@1s --duration 10s   find the naive replication out
  ch02-multipaxos sim --service naive --seed S ... --history-svg h.svg   replay a seed, draw its history
  ch02-multipaxos check history.jsonl                 is this history linearizable?
  ch02-multipaxos check history.jsonl --budget 1s     give each key's search at most 1 s
  ch02-multipaxos check history.jsonl --json          the verdict and every key's, as JSON

Exit status of check: 0 linearizable, 1 not linearizable or undecided, 2 a malformed
file (the message names the line) or a bad flag.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service on real threads, one per node, with the clients on a few threads of their own (the default)
    Run,
    /// Run the service and its clients in the deterministic simulator, and check the history
    Sim {
        /// Run every seed of the range A..B (A up to but not including B) and check each (example: --seeds 0..1000)
        #[arg(long, value_parser = parse_seed_range, value_name = "A..B")]
        seeds: Option<Range<u64>>,
    },
    /// Check a history file (JSON lines: client, op, key, value, output, call_us, return_us) for linearizability
    Check(check::CheckArgs),
    /// Measure how fast the linearizability checker decides made-up histories
    Bench {
        /// Print the figures as JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    cli::init_logging();
    let cli = Cli::parse();
    let schedule = cli
        .common
        .schedule()
        .unwrap_or_else(|e| cli::refuse::<Cli>(e));
    if let Some(why) = sim::unsupported(&cli) {
        cli::refuse::<Cli>(why);
    }
    for (flag, path) in [
        ("--history", &cli.service.history),
        ("--history-svg", &cli.service.history_svg),
    ] {
        if let Some(p) = path {
            if let Err(e) = sim::check_output(flag, p) {
                cli::refuse::<Cli>(e);
            }
        }
    }
    match &cli.command {
        None | Some(Command::Run) => {
            cli::exit_code("ch02-multipaxos", sim::run_threads(&cli, &schedule))
        }
        Some(Command::Sim { seeds: None }) => {
            cli::exit_code("ch02-multipaxos", sim::run_one(&cli, &schedule))
        }
        Some(Command::Sim { seeds: Some(seeds) }) => cli::exit_code(
            "ch02-multipaxos",
            sim::sweep(&cli, &schedule, seeds.clone()),
        ),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Bench { json }) => cli::exit_code("ch02-multipaxos", bench::run(*json)),
    }
}
