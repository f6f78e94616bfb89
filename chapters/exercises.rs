//! `exercises`: every exercise of the book, with its status on your own code, and its
//! hints, one at a time.
//!
//! ```text
//! cargo run --bin exercises                    # every exercise: passes, fails, or not started
//! cargo run --bin exercises -- hint ex1.2      # the first hint; --level 2 for the next
//! cargo run --bin exercises -- check ex1.2     # ex1.2's tests against your code
//! cargo run --bin exercises -- verify          # the list is sound (CI)
//! ```
//!
//! The list is `chapters/exercises.tsv`. An exercise whose starter file is still as it
//! was shipped (its fingerprint says so) is *not started*; the others are built together
//! with their cargo features on and their tests run once, so the list costs one build.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, Subcommand};

use quorum::outln;

/// The book's exercises: their status on your code, their hints, their tests.
#[derive(Parser, Debug)]
#[command(name = "exercises", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Verb>,
}

const EXAMPLES: &str = "\
Examples:
  exercises                    every exercise, and whether your code passes its tests
  exercises hint ex1.2         the first hint of exercise 1.2
  exercises hint ex1.2 --level 3   its last, nearly the answer
  exercises check ex1.2        run exercise 1.2's tests against your code";

#[derive(Subcommand, Debug)]
enum Verb {
    /// List every exercise with its status on your code (the default)
    List,
    /// Show a hint of an exercise, from a nudge (level 1) to nearly the answer (example: hint ex1.2 --level 2)
    Hint {
        /// The exercise (example: ex1.2)
        id: String,
        /// Which hint, from 1 (example: --level 2)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3))]
        level: u32,
    },
    /// Run an exercise's tests against your code (example: check ex1.2)
    Check {
        /// The exercise (example: ex1.2)
        id: String,
    },
    /// Check that the list is sound: every file exists, every starter is marked and as shipped, every exercise has its hints
    Verify,
}

/// One line of `chapters/exercises.tsv`.
#[derive(Clone, Debug)]
struct Exercise {
    id: String,
    chapter: String,
    kind: String,
    name: String,
    /// The cargo feature that builds the starter, which is also the prefix of the
    /// exercise's test names.
    feature: String,
    starter: PathBuf,
    /// The fingerprint of the starter as shipped.
    fingerprint: u64,
    section: String,
    hints: Vec<String>,
}

/// How many tab-separated columns a line of the list has.
const COLUMNS: usize = 11;

/// The repository's root, where the list is.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads `chapters/exercises.tsv`: an error names the line and what is wrong with it.
fn load(root: &Path) -> Result<Vec<Exercise>, String> {
    let path = root.join("chapters/exercises.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut list = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != COLUMNS {
            return Err(format!(
                "{}:{}: {} tab-separated columns, not {COLUMNS} (id, chapter, kind, name, feature, starter, fingerprint, section, three hints)",
                path.display(),
                i + 1,
                cols.len()
            ));
        }
        let fingerprint = u64::from_str_radix(cols[6], 16).map_err(|_| {
            format!(
                "{}:{}: '{}' is not a fingerprint (16 hex digits)",
                path.display(),
                i + 1,
                cols[6]
            )
        })?;
        list.push(Exercise {
            id: cols[0].into(),
            chapter: cols[1].into(),
            kind: cols[2].into(),
            name: cols[3].into(),
            feature: cols[4].into(),
            starter: PathBuf::from(cols[5]),
            fingerprint,
            section: cols[7].into(),
            hints: cols[8..]
                .iter()
                .filter(|h| !h.trim().is_empty())
                .map(|h| h.to_string())
                .collect(),
        });
    }
    Ok(list)
}

/// FNV-1a over a file's bytes: enough to tell a starter as shipped from one edited.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether the reader has changed the exercise's starter.
fn started(root: &Path, e: &Exercise) -> bool {
    std::fs::read(root.join(&e.starter)).map_or(true, |b| fingerprint(&b) != e.fingerprint)
}

/// Where an exercise stands on the reader's code.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    NotStarted,
    Passes,
    Fails(Vec<String>),
    DoesNotBuild,
}

/// Builds the started exercises together (each with its feature on) and runs the
/// exercise tests once; returns each exercise's status.
fn statuses(root: &Path, list: &[Exercise]) -> Vec<Status> {
    let started: Vec<&Exercise> = list.iter().filter(|e| started(root, e)).collect();
    if started.is_empty() {
        return vec![Status::NotStarted; list.len()];
    }
    let features: Vec<&str> = started.iter().map(|e| e.feature.as_str()).collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--test", "exercises", "--features"])
        .arg(features.join(","))
        .stdin(Stdio::null())
        .output();
    let Ok(output) = output else {
        return list
            .iter()
            .map(|e| match started.iter().any(|s| s.id == e.id) {
                true => Status::DoesNotBuild,
                false => Status::NotStarted,
            })
            .collect();
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest prints `test NAME ... ok` or `... FAILED`, one line a test.
    let results: Vec<(&str, bool)> = stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("test ")?;
            let (name, verdict) = rest.split_once(" ... ")?;
            Some((name, verdict.trim() == "ok"))
        })
        .collect();
    list.iter()
        .map(|e| {
            if !started.iter().any(|s| s.id == e.id) {
                return Status::NotStarted;
            }
            let prefix = format!("{}_", e.feature);
            let mine: Vec<&(&str, bool)> = results
                .iter()
                .filter(|(n, _)| n.starts_with(&prefix))
                .collect();
            if mine.is_empty() {
                return Status::DoesNotBuild;
            }
            let failed: Vec<String> = mine
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(n, _)| n.to_string())
                .collect();
            match failed.is_empty() {
                true => Status::Passes,
                false => Status::Fails(failed),
            }
        })
        .collect()
}

fn list(root: &Path) -> Result<bool, String> {
    let exercises = load(root)?;
    let statuses = statuses(root, &exercises);
    let width = exercises
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0);
    outln!("{:<7} {:<12} {:<width$} status", "id", "kind", "exercise");
    let mut next = None;
    for (e, s) in exercises.iter().zip(&statuses) {
        let status = match s {
            Status::NotStarted => "not started".to_string(),
            Status::Passes => "passes".to_string(),
            Status::Fails(tests) => {
                format!("fails ({} test(s): {})", tests.len(), tests.join(", "))
            }
            Status::DoesNotBuild => "does not build (run `exercises check` to see why)".into(),
        };
        outln!("{:<7} {:<12} {:<width$} {status}", e.id, e.kind, e.name);
        if next.is_none() && *s != Status::Passes {
            next = Some(e);
        }
    }
    match next {
        Some(e) => outln!(
            "\nnext: {} ({}), in book/src/{}; stuck? `cargo run --bin exercises -- hint {}`",
            e.id,
            e.name,
            e.section,
            e.id
        ),
        None => outln!("\nevery exercise passes"),
    }
    Ok(true)
}

fn find<'a>(list: &'a [Exercise], id: &str) -> Result<&'a Exercise, String> {
    list.iter().find(|e| e.id == id).ok_or_else(|| {
        let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        format!(
            "there is no exercise '{id}'; the exercises are {}",
            ids.join(", ")
        )
    })
}

fn hint(root: &Path, id: &str, level: u32) -> Result<bool, String> {
    let list = load(root)?;
    let e = find(&list, id)?;
    let total = e.hints.len();
    let Some(text) = e.hints.get(level as usize - 1) else {
        return Err(format!(
            "{id} has {total} hints; ask for --level 1 to {total}"
        ));
    };
    outln!("{} ({}), hint {level} of {total}:", e.id, e.name);
    outln!("  {text}");
    if (level as usize) < total {
        outln!(
            "(still stuck? `cargo run --bin exercises -- hint {id} --level {}`)",
            level + 1
        );
    }
    Ok(true)
}

fn check(root: &Path, id: &str) -> Result<bool, String> {
    let list = load(root)?;
    let e = find(&list, id)?;
    outln!(
        "{}: running `cargo test --features {} --test exercises {}` against {}",
        e.id,
        e.feature,
        e.feature,
        e.starter.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "test",
            "--features",
            &e.feature,
            "--test",
            "exercises",
            &e.feature,
        ])
        // A failure's own lines (the property, the seed, the command that replays it)
        // matter; a backtrace of the test harness would bury them.
        .env("RUST_BACKTRACE", "0")
        .status()
        .map_err(|err| format!("could not run cargo: {err}"))?;
    Ok(status.success())
}

/// The list's own checks, for CI: every row well formed, every file present, every
/// starter marked `TODO(id)` with a `todo!()` to fill in (a find-the-bug starter has
/// no gap, only the marker), and as shipped (its
/// fingerprint matches), every section page present, two or three hints each, ids and
/// features unique.
fn verify(root: &Path) -> Result<bool, String> {
    let list = load(root)?;
    let mut problems = Vec::new();
    for e in &list {
        let starter = root.join(&e.starter);
        match std::fs::read(&starter) {
            Err(err) => problems.push(format!("{}: starter {}: {err}", e.id, starter.display())),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                // A find-the-bug starter is whole code with a bug in it: it has no gap.
                let gap = e.kind == "find-the-bug" || text.contains("todo!(");
                if !(text.contains(&format!("TODO({})", e.id)) && gap) {
                    problems.push(format!(
                        "{}: {} has no `TODO({})` with a `todo!()` for the reader to fill in",
                        e.id,
                        e.starter.display(),
                        e.id
                    ));
                }
                let actual = fingerprint(&bytes);
                if actual != e.fingerprint {
                    problems.push(format!(
                        "{}: {} is not the starter the list knows: put {actual:016x} in its fingerprint column once the starter is as it should ship",
                        e.id,
                        e.starter.display()
                    ));
                }
            }
        }
        let page = e.section.split('#').next().unwrap_or_default();
        if !root.join("book/src").join(page).exists() {
            problems.push(format!("{}: book page book/src/{page} is missing", e.id));
        }
        if !(2..=3).contains(&e.hints.len()) {
            problems.push(format!(
                "{}: {} hints; give two or three, from a nudge to nearly the answer",
                e.id,
                e.hints.len()
            ));
        }
        if !["core", "find-the-bug", "extension"].contains(&e.kind.as_str()) {
            problems.push(format!(
                "{}: kind '{}' is none of core, find-the-bug, extension",
                e.id, e.kind
            ));
        }
        if !e.chapter.is_empty() && !root.join("chapters").join(&e.chapter).is_dir() {
            problems.push(format!(
                "{}: chapter folder chapters/{} is missing",
                e.id, e.chapter
            ));
        }
        if list
            .iter()
            .filter(|o| o.id == e.id || o.feature == e.feature)
            .count()
            > 1
        {
            problems.push(format!("{}: its id or feature is used twice", e.id));
        }
    }
    for p in &problems {
        quorum::errln!("exercises verify: {p}");
    }
    if problems.is_empty() {
        outln!(
            "exercises verify: {} exercises, every one sound",
            list.len()
        );
    }
    Ok(problems.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = root();
    let result = match &cli.command {
        None | Some(Verb::List) => list(&root),
        Some(Verb::Hint { id, level }) => hint(&root, id, *level),
        Some(Verb::Check { id }) => check(&root, id),
        Some(Verb::Verify) => verify(&root),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            quorum::errln!("exercises: {e}");
            ExitCode::from(2)
        }
    }
}
