//! `ch02-multipaxos`: chapter 2's binary. For now, the linearizability checker over any
//! history file; the services (a single server, a naive replication, Multi-Paxos)
//! come with the chapter.
//!
//! ```text
//! ch02-multipaxos check history.jsonl                 # linearizable?
//! ch02-multipaxos check history.jsonl --json          # the verdict, per key, as JSON
//! ch02-multipaxos bench                               # how fast the checker decides
//! ```

mod bench;
mod check;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use quorum::cli;

/// Chapter 2: a replicated log that serves clients, and the checker that proves what
/// they saw was linearizable.
#[derive(Parser, Debug)]
#[command(name = "ch02-multipaxos", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  ch02-multipaxos check history.jsonl                 is this history linearizable?
  ch02-multipaxos check history.jsonl --budget 1s     give each key's search at most 1 s
  ch02-multipaxos check history.jsonl --json          the verdict and every key's, as JSON

Exit status of check: 0 linearizable, 1 not linearizable or undecided, 2 a malformed
file (the message names the line) or a bad flag.";

#[derive(Subcommand, Debug)]
enum Command {
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
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Bench { json } => cli::exit_code("ch02-multipaxos", bench::run(json)),
    }
}
