//! The chapter binaries as a reader runs them: flags, exit codes, outputs.

use std::path::PathBuf;
use std::process::{Command, Output};

use quorum::runtime::NodeId;
use quorum::storage::Location;

/// Runs the binary at `path` with `args`, without human logs.
fn run_bin(path: &str, args: &[&str]) -> Output {
    Command::new(path)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("run {path}: {e}"))
}

fn ch00(args: &[&str]) -> Output {
    run_bin(env!("CARGO_BIN_EXE_ch00-world"), args)
}

fn ch01(args: &[&str]) -> Output {
    run_bin(env!("CARGO_BIN_EXE_ch01-paxos"), args)
}

fn ch02(args: &[&str]) -> Output {
    run_bin(env!("CARGO_BIN_EXE_ch02-multipaxos"), args)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quorum-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

#[test]
fn invalid_values_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--nodes", "0"], "--nodes"),
        (&["--drop", "1.5"], "--drop"),
        (&["--duplicate", "2"], "--duplicate"),
        (&["--duration", "3"], "--duration"),
        (&["--duration", "soon"], "--duration"),
        (&["--partition", "1,2"], "--partition"),
        (&["--partition", "1|x@1s"], "--partition"),
        (&["--crash", "3"], "--crash"),
        (&["--crash", "9@1s"], "--crash"),
        (&["--delay", "5ms..1ms"], "--delay"),
        (&["--timeout", "50ms"], "--timeout"),
        (&["--seeds", "5..5"], "--seeds"),
        (&["--slow", "7"], "--slow"),
    ];
    for (args, flag) in cases {
        let out = ch00(&[&["sim"], *args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {err}"
        );
        assert!(
            err.contains(flag),
            "{args:?}: the message should name {flag}: {err}"
        );
    }
}

#[test]
fn help_documents_every_flag_with_an_example() {
    let out = ch00(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--nodes",
        "--seed",
        "--duration",
        "--drop",
        "--delay",
        "--duplicate",
        "--partition",
        "--crash",
        "--data-dir",
        "--trace",
        "--svg",
        "--json",
        "--heartbeat",
        "--timeout",
        "--slow",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    assert!(
        help.matches("(example:").count() >= 13,
        "every valued flag shows an example:\n{help}"
    );
    for sub in ["run", "sim", "bench"] {
        assert!(
            help.contains(sub),
            "--help does not list the {sub} subcommand"
        );
    }
}

#[test]
fn a_seed_replays_a_byte_identical_trace() {
    let dir = scratch("trace");
    let run = |seed: &str, file: &str| {
        let path = dir.join(file);
        // Default flags only: the seed alone must decide the run.
        let args = ["sim", "--seed", seed, "--trace", path.to_str().unwrap()];
        assert!(ch00(&args).status.success());
        std::fs::read(path).unwrap()
    };
    let a = run("7", "a.jsonl");
    let b = run("7", "b.jsonl");
    let c = run("8", "c.jsonl");
    assert!(a.len() > 10_000, "the trace holds the runtime's events too");
    assert!(String::from_utf8_lossy(&a).contains("\"event\":\"send\""));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_summary_reports_the_crashed_node_suspected_by_everyone() {
    let out = ch00(&[
        "sim",
        "--nodes",
        "5",
        "--crash",
        "3@1s",
        "--duration",
        "3s",
        "--json",
    ]);
    assert!(out.status.success());
    let j = json(&out);
    for key in [
        "nodes",
        "seed",
        "duration_ms",
        "messages_sent",
        "messages_delivered",
        "violations",
    ] {
        assert!(j.get(key).is_some(), "--json lacks {key}: {j}");
    }
    assert_eq!(j["nodes"], 5);
    assert_eq!(j["duration_ms"], 3000);
    assert_eq!(j["violations"], serde_json::json!([]));
    assert_eq!(j["crashed"], serde_json::json!(["n3"]));
    for live in ["n1", "n2", "n4", "n5"] {
        assert_eq!(j["suspects"][live], serde_json::json!(["n3"]), "{live}");
    }
    assert!(j["messages_sent"].as_u64().unwrap() > j["messages_delivered"].as_u64().unwrap());
}

/// The acceptance run, shortened, on real threads.
#[test]
fn threads_run_every_live_node_suspects_the_crashed_one() {
    let out = ch00(&[
        "--nodes",
        "5",
        "--crash",
        "3@300ms",
        "--duration",
        "1500ms",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    assert_eq!(j["runtime"], "threads");
    assert_eq!(j["violations"], serde_json::json!([]));
    for live in ["n1", "n2", "n4", "n5"] {
        assert_eq!(j["suspects"][live], serde_json::json!(["n3"]), "{live}");
    }
}

#[test]
fn a_sweep_checks_every_seed() {
    let out = ch00(&[
        "sim", "--seeds", "0..20", "--drop", "0.2", "--crash", "2@1s", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    assert_eq!(j["runs"], 20);
    assert_eq!(j["failed_runs"], serde_json::json!([]));
}

#[test]
fn a_data_dir_survives_runs_and_refuses_another_clusters_database() {
    let dir = scratch("datadir");
    let d = dir.to_str().unwrap();
    for _ in 0..2 {
        let out = ch00(&["sim", "--data-dir", d, "--duration", "500ms"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut n1 = Location::sqlite(&dir, "ch00-world", NodeId(1))
        .open()
        .unwrap();
    assert_eq!(
        n1.get_u64("incarnation").unwrap(),
        Some(2),
        "the second run restarted from disk"
    );
    n1.put_u64("probe", 1).unwrap();
    drop(n1);

    let foreign = scratch("foreign");
    Location::sqlite(&foreign, "ch03-raft-election", NodeId(1))
        .open()
        .unwrap();
    let file = foreign.join("n1.db");
    let before = std::fs::read(&file).unwrap();
    let out = ch00(&["sim", "--data-dir", foreign.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("n1.db") && err.contains("ch03-raft-election"),
        "{err}"
    );
    assert!(
        err.contains("--data-dir"),
        "the message should say how to fix it: {err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the foreign database was changed"
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(foreign);
}

/// A data directory in use by another process is refused before anything in it is
/// opened, for both binaries, on threads and in the simulator; once the other process
/// lets go, the same command runs.
#[test]
fn a_data_dir_in_use_by_another_process_is_refused() {
    let dir = scratch("claimed");
    let d = dir.to_str().unwrap();
    // This test process plays the other process: it holds the directory's claim.
    let claim = quorum::storage::claim_dir(&dir).unwrap();
    let runs: [(&str, &[&str]); 3] = [
        ("ch00-world", &["sim", "--data-dir", d]),
        ("ch01-paxos", &["sim", "--data-dir", d]),
        ("ch01-paxos", &["run", "--data-dir", d, "--duration", "1s"]),
    ];
    for (bin, args) in runs {
        let out = if bin == "ch00-world" {
            ch00(args)
        } else {
            ch01(args)
        };
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin} {args:?}: {err}");
        assert!(
            err.contains("another process") && err.contains("--data-dir"),
            "{bin}: the message should name the problem and the fix: {err}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![quorum::storage::LOCK_FILE.to_string()],
        "nothing else was opened"
    );
    drop(claim);
    let out = ch01(&["sim", "--data-dir", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The explorer searches 2 proposers x 3 nodes unless told otherwise, takes the
/// cluster it is told as it is, and refuses what it can't take, naming the flag and the
/// fix.
#[test]
fn explore_takes_its_cluster_as_given_and_refuses_what_it_cannot_take() {
    let cluster = |args: &[&str]| {
        let out = ch01(&[&["explore", "--walks", "5", "--json"], args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(2), "{args:?}: {err}");
        let j = json(&out);
        (
            j["proposers"].as_u64().unwrap(),
            j["nodes"].as_u64().unwrap(),
        )
    };
    assert_eq!(cluster(&[]), (2, 3), "the explorer's default");
    assert_eq!(cluster(&["--proposers", "1"]), (1, 3));
    assert_eq!(cluster(&["--nodes", "2"]), (2, 2));
    assert_eq!(cluster(&["--nodes", "4", "--proposers", "3"]), (3, 4));

    let refused: &[(&[&str], &[&str])] = &[
        (&["--nodes", "1"], &["--nodes 1", "--proposers 1"]),
        (&["--proposers", "4"], &["--proposers 4", "--nodes 4"]),
        (
            &["--proposers", "3", "--nodes", "2"],
            &["--proposers 3", "--nodes 2"],
        ),
        (&["--drop", "0.1"], &["--drop"]),
        (&["--crash", "2@1s"], &["--crash", "--crashes"]),
        (&["--duration", "1s"], &["--duration", "--max-states"]),
    ];
    for (args, words) in refused {
        // Before the subcommand or after it: global flags are the same flags.
        for line in [
            [&["explore"], *args].concat(),
            [*args, &["explore"]].concat(),
        ] {
            let out = ch01(&line);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{line:?} should exit 2: {err}");
            for word in *words {
                assert!(
                    err.contains(word),
                    "{line:?}: the message should say {word}: {err}"
                );
            }
        }
    }
}

/// A Paxos sweep reports each failing seed once, in its report (not again as a log
/// line), with the count of its violations and the command that replays it.
#[test]
fn a_paxos_sweep_reports_each_failure_once() {
    let args = [
        "sim",
        "--seeds",
        "0..30",
        "--proposers",
        "3",
        "--nodes",
        "5",
        "--drop",
        "0.2",
        "--break",
        "ignore-accepted",
    ];
    let out = ch01(&args);
    assert_eq!(out.status.code(), Some(1), "a broken rule fails the sweep");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("ERROR"), "{err}");
    let failed = json(&ch01(&[&args[..], &["--json"]].concat()))["failed_runs"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!failed.is_empty());
    for seed in &failed {
        let head = format!("seed {seed}: ");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with(&head)).collect();
        assert_eq!(lines.len(), 1, "{head}: {err}");
        assert!(lines[0].contains("violation(s), first: at most one value chosen"));
        let replay = format!("  replay: ch01-paxos sim --seed {seed} --nodes 5");
        assert_eq!(err.matches(&replay).count(), 1, "{err}");
    }
    assert_eq!(
        err.lines().filter(|l| l.starts_with("seed ")).count(),
        failed.len()
    );
}

/// The sweep's JSON adds up the ballots its runs tried and says how long deciding took.
#[test]
fn a_paxos_sweep_counts_ballots_and_times_decisions() {
    let flags = ["--proposers", "3", "--nodes", "5", "--drop", "0.2"];
    let sweep = json(&ch01(
        &[&["sim", "--seeds", "0..40", "--json"], &flags[..]].concat(),
    ));
    assert_eq!(sweep["decided_runs"], 40, "{sweep}");
    let ballots = sweep["ballots_tried"].as_u64().unwrap();
    assert!(ballots >= 3 * 40, "every proposer tries a ballot: {sweep}");
    for figures in ["ballots_per_run", "time_to_decide_us"] {
        let f = |k: &str| sweep[figures][k].as_u64().unwrap();
        assert!(
            0 < f("p50") && f("p50") <= f("p99") && f("p99") <= f("max"),
            "{figures}: {sweep}"
        );
    }
    assert!(sweep["time_to_decide_us"]["max"].as_u64().unwrap() <= 3_000_000);

    // The total is the sum of each run's own count.
    let one = |seed: &str| {
        let run = json(&ch01(
            &[&["sim", "--seed", seed, "--json"], &flags[..]].concat(),
        ));
        run["ballots_tried"].as_u64().unwrap()
    };
    let few = json(&ch01(
        &[&["sim", "--seeds", "0..3", "--json"], &flags[..]].concat(),
    ));
    assert_eq!(few["ballots_tried"], one("0") + one("1") + one("2"));
}

fn ch03(args: &[&str]) -> Output {
    run_bin(env!("CARGO_BIN_EXE_ch03-raft-election"), args)
}

/// A reversed timeout range, or one not above the heartbeat, is refused with exit 2 and
/// a message that names the flags and says what to write instead.
#[test]
fn raft_timeouts_that_make_no_sense_exit_2() {
    for (args, says) in [
        (
            &["sim", "--election-timeout", "300ms..150ms"][..],
            "starts after it ends",
        ),
        (
            &["sim", "--election-timeout", "40ms..80ms"][..],
            "not above the heartbeat",
        ),
        (
            &[
                "sim",
                "--election-timeout",
                "150ms..300ms",
                "--heartbeat",
                "150ms",
            ][..],
            "not above the heartbeat",
        ),
        (
            &["sim", "--election-timeout", "soon"][..],
            "--election-timeout",
        ),
        (&["sim", "--break", "nonsense"][..], "--break"),
    ] {
        let out = ch03(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The summary of a simulated run names every election won, each node's term and the
/// elections started; with --crash-leader-every, the failover times.
#[test]
fn a_raft_run_reports_its_leaders_terms_and_failovers() {
    let out = ch03(&[
        "sim",
        "--nodes",
        "5",
        "--crash-leader-every",
        "1s",
        "--duration",
        "5s",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    let leaders = j["leaders"].as_array().unwrap();
    // One leader at the start, then one after each of the four crashes.
    assert_eq!(leaders.len(), 5, "{j}");
    let terms: Vec<u64> = leaders
        .iter()
        .map(|l| l["term"].as_u64().unwrap())
        .collect();
    assert!(terms.windows(2).all(|w| w[0] < w[1]), "{terms:?}");
    assert!(leaders
        .iter()
        .all(|l| l["node"].as_u64().is_some() && l["elected_at_us"].as_u64().is_some()));
    assert_eq!(j["terms"].as_object().unwrap().len(), 5, "{j}");
    assert!(j["elections"].as_u64().unwrap() >= 5);
    assert_eq!(j["leader_crashes"], 4);
    assert_eq!(j["failovers"], 4);
    let p50 = j["failover_us"]["p50"].as_u64().unwrap();
    assert!((50_000..400_000).contains(&p50), "{p50}");
    assert_eq!(j["violations"].as_array().unwrap().len(), 0);
}

/// A broken rule shows in a sweep: failing seeds, the replay command, exit 1.
#[test]
fn a_raft_sweep_with_a_broken_rule_fails_and_says_how_to_replay() {
    let out = ch03(&[
        "sim",
        "--seeds",
        "0..50",
        "--nodes",
        "3",
        "--delay",
        "0ms..150ms",
        "--break",
        "vote-twice",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("replay: ch03-raft-election sim --seed"),
        "{err}"
    );
    assert!(err.contains("--break vote-twice"), "{err}");
    let out = ch03(&[
        "sim",
        "--seeds",
        "0..50",
        "--nodes",
        "3",
        "--delay",
        "0ms..30ms",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn raft_help_documents_its_flags_and_subcommands() {
    let out = ch03(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--election-timeout",
        "--heartbeat",
        "--crash-leader-every",
        "--break",
        "--pre-vote",
        "--check-quorum",
        "--data-dir",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    for sub in ["run", "sim", "experiment", "bench"] {
        assert!(help.contains(sub), "--help does not list {sub}");
    }
}

/// A smoke test of Raft on real threads: the harness crashes the leader three times,
/// and each time another node is elected; the trace keeps Election Safety.
#[test]
fn raft_on_threads_elects_a_new_leader_after_each_crash() {
    let out = ch03(&[
        "--nodes",
        "3",
        "--crash-leader-every",
        "700ms",
        "--duration",
        "2800ms",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    assert_eq!(j["runtime"], "threads");
    assert_eq!(j["leader_crashes"], 3, "{j}");
    assert_eq!(j["failovers"], 3, "{j}");
    assert!(j["leaders"].as_array().unwrap().len() >= 4, "{j}");
    assert_eq!(j["violations"].as_array().unwrap().len(), 0, "{j}");
}

// --- Traces that do not drift, and output that a closed pipe ends quietly ---------------

/// The runs of `tests/data/traces/`: each file was written by the release before the
/// batching point, typed traces and lazy timers, with the flags below; the one edit
/// since is the name of chapter 1's learner event, `chosen` then, `learned` now (a
/// learner learns; a value is chosen by a majority). The same seed must give the same
/// trace, byte for byte, today.
const GOLDEN_TRACES: &[(&str, &str, &[&str])] = &[
    (
        env!("CARGO_BIN_EXE_ch00-world"),
        "ch00-world.jsonl",
        &[
            "sim",
            "--seed",
            "7",
            "--nodes",
            "3",
            "--drop",
            "0.1",
            "--delay",
            "1ms..20ms",
            "--duplicate",
            "0.05",
            "--crash",
            "3@500ms..1s",
            "--duration",
            "1500ms",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_ch01-paxos"),
        "ch01-paxos.jsonl",
        &[
            "sim",
            "--seed",
            "7",
            "--proposers",
            "3",
            "--nodes",
            "5",
            "--drop",
            "0.2",
            "--delay",
            "1ms..10ms",
            "--duplicate",
            "0.05",
            "--crash",
            "2@20ms..60ms",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_ch03-raft-election"),
        "ch03-raft-election.jsonl",
        &[
            "sim",
            "--seed",
            "2",
            "--pre-vote",
            "--check-quorum",
            "--nodes",
            "5",
            "--partition",
            "1,2|3,4,5@500ms..1s",
            "--duration",
            "1500ms",
        ],
    ),
];

#[test]
fn a_seed_gives_the_trace_it_gave_before_the_batching_point() {
    let dir = scratch("golden");
    for (bin, name, args) in GOLDEN_TRACES {
        let path = dir.join(name);
        let mut args = args.to_vec();
        let path_text = path.display().to_string();
        args.extend(["--trace", &path_text]);
        let out = run_bin(bin, &args);
        assert!(out.status.success(), "{name}: {out:?}");
        let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/traces")
            .join(name);
        let (now, then) = (
            std::fs::read(&path).unwrap(),
            std::fs::read(&golden).unwrap(),
        );
        assert!(
            now == then,
            "{name}: the trace differs from the one in {} ({} lines now, {} then)",
            golden.display(),
            now.split(|&b| b == b'\n').count(),
            then.split(|&b| b == b'\n').count()
        );
    }
}

/// Every binary's output, to a reader that closes the pipe before reading a line (as
/// `| head -1` does after one): the output stops quietly and the run ends as it would
/// have (exit code 0, for these runs that hold every property), instead of panicking
/// with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_pipe_ends_every_binary_quietly() {
    let runs: &[(&str, &[&str])] = &[
        (
            env!("CARGO_BIN_EXE_ch00-world"),
            &["sim", "--seeds", "0..20"],
        ),
        (
            env!("CARGO_BIN_EXE_ch00-world"),
            &["sim", "--crash", "2@1s"],
        ),
        (env!("CARGO_BIN_EXE_ch00-world"), &["sim", "--json"]),
        (env!("CARGO_BIN_EXE_ch00-world"), &["--duration", "300ms"]),
        (
            env!("CARGO_BIN_EXE_ch01-paxos"),
            &["sim", "--seeds", "0..20"],
        ),
        (
            env!("CARGO_BIN_EXE_ch01-paxos"),
            &["sim", "--proposers", "3"],
        ),
        (
            env!("CARGO_BIN_EXE_ch01-paxos"),
            &["explore", "--ballots", "1"],
        ),
        (
            env!("CARGO_BIN_EXE_ch03-raft-election"),
            &["sim", "--seeds", "0..20"],
        ),
        (env!("CARGO_BIN_EXE_ch03-raft-election"), &["sim"]),
        (
            env!("CARGO_BIN_EXE_ch03-raft-election"),
            &["experiment", "--trials", "3"],
        ),
    ];
    for (bin, args) in runs {
        let mut child = Command::new(bin)
            .args(*args)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end at once: every write the binary makes finds the pipe
        // closed.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{bin} {args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{bin} {args:?}: {err}");
    }
}

fn shared_history(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/kv-histories")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn check_exits_0_on_a_linearizable_history_1_on_an_illegal_one_with_its_witness() {
    let ok = ch02(&["check", &shared_history("c10-ok.jsonl")]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(
        out.contains("337 operations (0 unanswered) on 10 key(s), kv model: linearizable"),
        "{out}"
    );

    let bad = ch02(&["check", &shared_history("c01-bad.jsonl")]);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("NOT linearizable (keys \"7\")"), "{out}");
    assert!(
        out.contains("key \"7\": 3 of its 5 operations admit no order"),
        "{out}"
    );
    assert!(
        out.contains(r#"c0 get("7") -> "x 0 0 y" [58..59 us]"#),
        "{out}"
    );

    let json = json(&ch02(&[
        "check",
        &shared_history("c01-bad.jsonl"),
        "--json",
    ]));
    assert_eq!(json["verdict"], "illegal");
    assert_eq!(json["ops"], 38);

    let dir = scratch("history-svg");
    let svg = dir.join("h.svg");
    let bad = shared_history("c01-bad.jsonl");
    let drawn = ch02(&["check", &bad, "--svg", svg.to_str().unwrap()]);
    assert_eq!(drawn.status.code(), Some(1));
    let text = std::fs::read_to_string(&svg).expect("the drawing is written");
    assert!(
        text.contains("NOT linearizable: keys &quot;7&quot;"),
        "{text}"
    );
    assert!(text.contains("get 7 → x 0 0 y<"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_out_of_budget_is_undecided_and_fails() {
    let out = ch02(&["check", &shared_history("c10-ok.jsonl"), "--budget", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("UNDECIDED"), "{text}");
}

#[test]
fn check_refuses_a_malformed_history_with_exit_2_naming_the_line() {
    let dir = scratch("history");
    let file = dir.join("h.jsonl");
    std::fs::write(
        &file,
        "{\"client\": 0, \"op\": \"get\", \"key\": \"k\", \"output\": \"\", \"call_us\": 0, \"return_us\": 1}\n\
         {\"client\": 0, \"op\": \"get\", \"key\": \"k\", \"call_us\": 3}\n",
    )
    .unwrap();
    let out = ch02(&["check", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("h.jsonl: line 2: missing field `return_us`"),
        "{err}"
    );
    let missing = ch02(&["check", dir.join("absent.jsonl").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ch02_runs_on_threads_by_default_and_checks_the_history() {
    let dir = scratch("ch02-run");
    let h = dir.join("h.jsonl");
    let out = ch02(&[
        "--clients",
        "32",
        "--ops",
        "640",
        "--client-threads",
        "2",
        "--history",
        h.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    assert_eq!(j["runtime"], "threads");
    assert_eq!(j["linearizable"], "ok");
    assert_eq!(j["ops"], 640);
    assert_eq!(j["unknown_ops"], 0);
    assert_eq!(j["client_threads"], 2);
    assert!(j["ops_per_sec"].as_f64().unwrap() > 0.0);
    let recheck = ch02(&["check", h.to_str().unwrap()]);
    assert_eq!(
        recheck.status.code(),
        Some(0),
        "the written history checks too"
    );
}

#[test]
fn ch02_sim_checks_the_single_server_and_finds_the_naive_replication_out() {
    let ok = ch02(&[
        "sim",
        "--seeds",
        "0..50",
        "--drop",
        "0.2",
        "--duplicate",
        "0.2",
        "--delay",
        "0ms..5ms",
        "--duration",
        "10s",
    ]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.contains("50 runs of the single service, 0 not linearizable"),
        "{text}"
    );

    let naive = [
        "--drop",
        "0.1",
        "--delay",
        "1ms..5ms",
        "--crash",
        "1@300ms",
        "--duration",
        "10s",
        "--service",
        "naive",
    ];
    let mut args = vec!["sim", "--seeds", "0..20"];
    args.extend(naive);
    let bad = ch02(&args);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1));
    assert!(err.contains("linearizable violated"), "{err}");
    assert!(err.contains("replay: ch02-multipaxos sim --seed"), "{err}");

    // Replayed with its history written and drawn, the failing seed says which keys.
    let seed = err
        .split("seed ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .expect("a failing seed")
        .to_string();
    let dir = scratch("ch02-sim");
    let (h, svg) = (dir.join("h.jsonl"), dir.join("h.svg"));
    let mut args = vec!["sim", "--seed", &seed, "--json"];
    args.extend(naive);
    let (h_s, svg_s) = (
        h.to_str().unwrap().to_string(),
        svg.to_str().unwrap().to_string(),
    );
    args.extend(["--history", &h_s, "--history-svg", &svg_s]);
    let replay = ch02(&args);
    assert_eq!(replay.status.code(), Some(1));
    let summary = json(&replay);
    assert_eq!(summary["linearizable"], "illegal");
    assert_eq!(summary["ops"], 100);
    assert!(summary["unknown_ops"].is_u64());
    let recheck = ch02(&["check", &h_s]);
    assert_eq!(
        recheck.status.code(),
        Some(1),
        "the written history checks the same"
    );
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("NOT linearizable"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ch02_refuses_bad_input_with_exit_2_naming_the_flag_before_running() {
    let dir = scratch("ch02-bad");
    let missing = dir.join("no-such-dir").join("h.jsonl");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sim", "--clients", "0"], "--clients"),
        (vec!["sim", "--workload", "zoo"], "--workload"),
        (
            vec!["sim", "--history", missing.to_str().unwrap()],
            "--history",
        ),
        (
            vec!["sim", "--history-svg", dir.to_str().unwrap()],
            "--history-svg",
        ),
        (vec!["sim", "--crash", "1@1s..2s"], "--crash 1@T..U"),
        (
            vec!["sim", "--service", "naive", "--nodes", "1"],
            "--nodes 2 or more",
        ),
    ];
    for (args, flag) in cases {
        let out = ch02(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    assert!(!missing.exists());
    let kv = shared_history("c01-ok.jsonl");
    let wrong = ch02(&["check", &kv, "--workload", "counter"]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--workload counter") && err.contains("holds kv operations"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
