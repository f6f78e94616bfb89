//! `ch02-multipaxos sim`: a service and its clients in the simulator, one seed or many,
//! and the verdict on what the clients saw.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use quorum::check::history;
use quorum::check::linearizable::Verdict;
use quorum::check::Violation;
use quorum::cli::{self, CommonArgs};
use quorum::client::ClientConfig;
use quorum::client::ClientSpec;
use quorum::harness::SeedOutcome;
use quorum::multipaxos::run::{Outcome, Scenario, ServiceKind};
use quorum::multipaxos::single::SERVER;
use quorum::outln;
use quorum::runtime::{Schedule, Time, TraceLevel};
use quorum::viz::history::write_history_svg;

use crate::check::print_report;
use crate::Cli;

/// The flags of a chapter 2 run.
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceArgs {
    /// The service that answers the clients (example: --service naive)
    #[arg(long, value_enum, default_value_t = ServiceKind::Single, global = true)]
    pub service: ServiceKind,

    /// How many clients, each with its own session (example: --clients 50)
    #[arg(long, default_value_t = 5, global = true, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub clients: u64,

    /// How many operations in all, shared evenly among the clients (rounded up to a multiple of --clients) (example: --ops 1000)
    #[arg(long, default_value_t = 100, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: u64,

    /// What the clients ask (example: --workload counter)
    #[arg(long, value_enum, default_value_t = history::Workload::Kv, global = true)]
    pub workload: history::Workload,

    /// On how many keys (default: one per 4 clients, at least 10, so that few operations overlap on one key: the checker's search grows exponentially with them) (example: --keys 10)
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: Option<u64>,

    /// Write every client operation to FILE as JSON lines, the format `check` reads (example: --history h.jsonl)
    #[arg(long, value_name = "FILE", global = true)]
    pub history: Option<PathBuf>,

    /// Draw the history and its verdict as an SVG (example: --history-svg h.svg)
    #[arg(long, value_name = "FILE", global = true)]
    pub history_svg: Option<PathBuf>,

    /// On threads, how many OS threads run the clients (default: half the cores) (example: --client-threads 2)
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub client_threads: Option<u64>,
}

impl ServiceArgs {
    /// The flags of a replay, after the shared ones.
    fn replay_flags(&self) -> String {
        format!(
            " --service {} --clients {} --ops {} --workload {} --keys {}",
            self.service,
            self.clients,
            self.ops,
            self.workload,
            self.keys()
        )
    }

    /// How many keys: as asked, or one per 4 clients and at least 10.
    pub fn keys(&self) -> u64 {
        self.keys.unwrap_or((self.clients / 4).max(10))
    }
}

/// What the chosen service cannot run, as a refusal naming the flag.
pub fn unsupported(cli: &Cli) -> Option<String> {
    let c = &cli.common;
    let service = cli.service.service;
    if service == ServiceKind::Naive && c.nodes < 2 {
        return Some(format!(
            "--service naive needs --nodes 2 or more (a primary and its backup), not {}",
            c.nodes
        ));
    }
    let restarts = c
        .crash
        .iter()
        .any(|s| s.node == SERVER && s.restart.is_some());
    if service == ServiceKind::Single && restarts {
        return Some(
            "--crash 1@T..U: the single server keeps its state in memory, so a restarted n1 \
             would come back empty and hand out session ids again; crash it for good \
             (--crash 1@T) or choose another --service"
                .to_string(),
        );
    }
    None
}

/// An output file must be writable before the run starts: its directory exists, and
/// the path is not a directory. Nothing is written until the run ends.
pub fn check_output(flag: &str, path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{flag} {}: the directory {} does not exist; create it or write elsewhere",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{flag} {}: is a directory; name a file",
            path.display()
        ));
    }
    Ok(())
}

/// The run the flags describe.
pub fn scenario(common: &CommonArgs, args: &ServiceArgs, schedule: &Schedule) -> Scenario {
    let clients = args.clients as usize;
    Scenario {
        service: args.service,
        nodes: common.node_count(),
        faults: common.faults(),
        schedule: schedule.clone(),
        duration: common.duration,
        clients: ClientSpec {
            clients,
            ops_per_client: (args.ops as usize).div_ceil(clients),
            workload: args.workload,
            keys: args.keys() as usize,
            config: ClientConfig {
                nodes: common.node_count(),
                ..ClientConfig::default()
            },
            faults: common.faults(),
            cut_off: Vec::new(),
            lose_first_replies: false,
        },
        budget: Duration::from_secs(10),
        client_threads: args
            .client_threads
            .map_or_else(default_client_threads, |t| t as usize),
    }
}

/// Half the machine's cores, at least one: the other half runs the nodes.
fn default_client_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// One seed in the simulator, reported.
pub fn run_one(cli: &Cli, schedule: &Schedule) -> quorum::Result<bool> {
    let c = &cli.common;
    let s = scenario(c, &cli.service, schedule);
    let o = s.sim(c.seed, c.trace_level(TraceLevel::Off))?;
    report(cli, &s, &o, "sim")
}

/// One run on threads, reported.
pub fn run_threads(cli: &Cli, schedule: &Schedule) -> quorum::Result<bool> {
    let c = &cli.common;
    let s = scenario(c, &cli.service, schedule);
    let o = s.threads(c.seed, c.trace_level(TraceLevel::Off))?;
    report(cli, &s, &o, "threads")
}

/// What a run gave: its outputs, then its summary (JSON or words), then the verdict.
fn report(cli: &Cli, s: &Scenario, o: &Outcome, runtime: &str) -> quorum::Result<bool> {
    let c = &cli.common;
    let title = format!(
        "ch02-multipaxos: {} service, {} nodes, {runtime}, seed {}",
        s.service, s.nodes, c.seed
    );
    c.write_outputs(&o.records, &title)?;
    write_history(cli, o, &title)?;
    let answered = o.history.len() - o.report.unknown_ops;
    let seconds = o.clients_end.as_duration().as_secs_f64();
    if c.json {
        let mut m = c.summary(runtime, &o.stats, &violations(o));
        m.insert("service".into(), json!(s.service.to_string()));
        m.insert("clients".into(), json!(cli.service.clients));
        m.insert("ops".into(), json!(o.history.len()));
        m.insert("unknown_ops".into(), json!(o.report.unknown_ops));
        m.insert("linearizable".into(), json!(o.report.verdict));
        if runtime == "threads" {
            m.insert("client_threads".into(), json!(s.client_threads));
            m.insert("clients_seconds".into(), json!(seconds));
            m.insert(
                "ops_per_sec".into(),
                json!((answered as f64 / seconds).round()),
            );
            m.insert("check_seconds".into(), json!(o.report.seconds));
        }
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!("{title}: {} clients", cli.service.clients);
        match runtime {
            "threads" => outln!(
                "{} operations, {} unanswered, in {seconds:.3}s on {} client thread(s): {:.0} answered ops/s",
                o.history.len(),
                o.report.unknown_ops,
                s.client_threads,
                answered as f64 / seconds
            ),
            _ => outln!(
                "{} operations, {} unanswered, until {} of virtual time",
                o.history.len(),
                o.report.unknown_ops,
                o.end
            ),
        }
        print_report("history", &o.history, &o.report);
    }
    Ok(o.report.verdict == Verdict::Ok)
}

/// The history's file and drawing, if asked for.
fn write_history(cli: &Cli, o: &Outcome, title: &str) -> quorum::Result<()> {
    if let Some(path) = &cli.service.history {
        std::fs::write(path, history::to_jsonl(&o.history))
            .map_err(|e| quorum::Error::io(path, e))?;
    }
    if let Some(path) = &cli.service.history_svg {
        write_history_svg(path, &o.history, &o.report, title)?;
    }
    Ok(())
}

/// The verdict as violations, for sweeps and `--json`.
fn violations(o: &Outcome) -> Vec<Violation> {
    let keys = |v: Verdict| -> Vec<String> {
        o.report
            .keys_with(v)
            .map(|k| format!("{:?}", k.key))
            .collect()
    };
    // An illegal history is seen to be so once its witness's last operation returned.
    let seen = o
        .report
        .keys_with(Verdict::Illegal)
        .flat_map(|k| k.witness.iter())
        .map(|&i| o.history[i].return_us.unwrap_or(o.history[i].call_us))
        .max()
        .map_or(o.end, Time);
    match o.report.verdict {
        Verdict::Ok => Vec::new(),
        Verdict::Illegal => vec![Violation::new(
            seen,
            "linearizable",
            format!(
                "no order explains what the clients saw on keys {}",
                keys(Verdict::Illegal).join(", ")
            ),
        )],
        Verdict::Unknown => vec![Violation::new(
            o.end,
            "linearizable",
            format!(
                "undecided: the checker ran out of budget on keys {}",
                keys(Verdict::Unknown).join(", ")
            ),
        )],
    }
}

/// Many seeds, each checked; a failing seed's replay command is printed.
pub fn sweep(cli: &Cli, schedule: &Schedule, seeds: Range<u64>) -> quorum::Result<bool> {
    let s = scenario(&cli.common, &cli.service, schedule);
    let extra = cli.service.replay_flags();
    let (mut ops, mut unknown) = (0usize, 0usize);
    let sweep = cli.common.sweep(seeds, "ch02-multipaxos", &extra, |seed| {
        let o = s.sim(seed, TraceLevel::Off)?;
        ops += o.history.len();
        unknown += o.report.unknown_ops;
        Ok(SeedOutcome {
            stats: o.stats,
            violations: violations(&o),
        })
    })?;
    if cli.common.json {
        let mut m = cli.common.sweep_summary(&sweep);
        m.insert("service".into(), json!(s.service.to_string()));
        m.insert("ops".into(), json!(ops));
        m.insert("unknown_ops".into(), json!(unknown));
        cli::print_json(&Value::Object(m))?;
    } else {
        outln!(
            "{} runs of the {} service, {} not linearizable, {ops} operations ({unknown} unanswered), in {:.1}s",
            sweep.runs(),
            s.service,
            sweep.failed.len(),
            sweep.seconds
        );
    }
    Ok(sweep.failed.is_empty())
}
