//! `ch02-multipaxos check FILE`: the linearizability checker on any history file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use quorum::check::history::{self, Operation, Workload};
use quorum::check::linearizable::{check, KeyResult, Report, Verdict};
use quorum::error::Error;
use quorum::runtime::time::parse_duration;
use quorum::viz::history::write_history_svg;
use quorum::{errln, outln};

/// The checker's flags.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The history file (JSON lines; see `check::history` in the library's docs)
    pub file: PathBuf,

    /// The longest the search may take on each key; a key not decided by then is reported as unknown, a failure to decide; 0s gives up at once (example: --budget 10s)
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub budget: Duration,

    /// The model to check against (by default, the one the operations name)
    #[arg(long, value_enum)]
    pub workload: Option<Workload>,

    /// Print the verdict as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Draw the history and the verdict as an SVG: one lane per client, a bar per operation, the order found or the witness (example: --svg history.svg)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// Checks the file: exit 0 when linearizable, 1 when not or undecided, 2 when the file
/// is not a history.
pub fn run(args: &CheckArgs) -> ExitCode {
    let ops = match history::read(&args.file) {
        Ok(ops) => ops,
        Err(e) => return malformed(e),
    };
    let found = match history::workload_of(&args.file, &ops) {
        Ok(w) => w,
        Err(e) => return malformed(e),
    };
    let workload = match args.workload {
        Some(w) if w != found && !ops.is_empty() => {
            errln!(
                "ch02-multipaxos: --workload {w}: {} holds {found} operations; leave --workload out, or give {found}",
                args.file.display()
            );
            return ExitCode::from(2);
        }
        Some(w) => w,
        None => found,
    };
    let report = check(&ops, workload, args.budget);
    if let Some(svg) = &args.svg {
        let title = format!("{}: a history", args.file.display());
        if let Err(e) = write_history_svg(svg, &ops, &report, &title) {
            errln!("ch02-multipaxos: {e}");
            return ExitCode::from(2);
        }
    }
    if args.json {
        let mut value = json!(report);
        value["file"] = json!(args.file.display().to_string());
        if let Err(e) = quorum::cli::print_json(&value) {
            errln!("ch02-multipaxos: {e}");
            return ExitCode::FAILURE;
        }
    } else {
        print_report(&args.file.display().to_string(), &ops, &report);
    }
    match report.verdict {
        Verdict::Ok => ExitCode::SUCCESS,
        Verdict::Illegal | Verdict::Unknown => ExitCode::FAILURE,
    }
}

fn malformed(e: Error) -> ExitCode {
    errln!("ch02-multipaxos: {e}");
    ExitCode::from(2)
}

/// The verdict for a reader: one line, then each key that is not linearizable with its
/// witness, and each undecided key.
pub fn print_report(name: &str, ops: &[Operation], report: &Report) {
    let verdict = match report.verdict {
        Verdict::Ok => "linearizable".to_string(),
        Verdict::Illegal => format!("NOT linearizable (keys {})", keys(report, Verdict::Illegal)),
        Verdict::Unknown => format!(
            "UNDECIDED: the search ran out of budget on keys {} (not a pass)",
            keys(report, Verdict::Unknown)
        ),
    };
    outln!(
        "{name}: {} operations ({} unanswered) on {} key(s), {} model: {verdict}",
        report.ops,
        report.unknown_ops,
        report.keys.len(),
        report.workload
    );
    for key in report.keys_with(Verdict::Illegal) {
        print_witness(ops, key);
    }
    outln!("decided in {:.3}s", report.seconds);
}

fn keys(report: &Report, verdict: Verdict) -> String {
    let keys: Vec<String> = report
        .keys_with(verdict)
        .map(|k| format!("{:?}", k.key))
        .collect();
    keys.join(", ")
}

fn print_witness(ops: &[Operation], key: &KeyResult) {
    outln!(
        "key {:?}: {} of its {} operations admit no order (reads left out where the rest stays illegal):",
        key.key,
        key.witness.len(),
        key.ops
    );
    let mut witness = key.witness.clone();
    witness.sort_by_key(|&i| (ops[i].call_us, i));
    for i in witness {
        let note = match key.cut.contains(&i) && !ops[i].is_unknown() {
            true => "   (answered only after the others: taken as unanswered)",
            false => "",
        };
        outln!("  {}{note}", ops[i]);
    }
}
