//! The book cannot drift from the code: every listing in `book/` is included from the
//! real source by `{{#include FILE:ANCHOR}}`, and this test proves each include resolves.
//!
//! mdBook itself is no help here: an include whose anchor is missing renders as an empty
//! code block, and `mdbook build` still exits 0. So this test reads every page under
//! `book/src/` the way mdBook's `links` preprocessor does and fails, listing every
//! problem at once, when
//!
//! - an included file does not exist;
//! - a named anchor is not opened (`ANCHOR: name`) in the file, is opened more than once,
//!   or is never closed (`ANCHOR_END: name`) after it opens; or any anchor of an included
//!   file is opened twice;
//! - an anchor or a line range would include nothing;
//! - an image (`![alt](path)` or `<img src>`) or a relative link points at no file, or
//!   a link's `#section` names no heading of its page;
//! - a section of the book that `chapters/exercises.tsv` names does not exist;
//! - a page listed in `SUMMARY.md` does not exist, or a page is not listed (mdBook would
//!   not render it);
//! - a listing does not name its file: a code block that includes a file must say which
//!   on its first line (`// src/raft/node.rs`), since a reader goes from the page to the
//!   file.
//!
//! The second test runs the checker on a small broken book in a temporary directory and
//! asserts that it reports each kind of problem, so this is not a check that cannot fail.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// mdBook stops expanding includes nested deeper than this.
const MAX_DEPTH: usize = 10;

/// What a check of a book found.
#[derive(Debug, Default)]
struct Report {
    /// One sentence per problem, naming the page and the include or link.
    problems: Vec<String>,
    /// How many `{{#include}}`-style links were resolved (to prove the check looked).
    includes: usize,
    /// How many of them named an anchor.
    anchors: usize,
    /// How many images were found.
    images: usize,
}

/// An include link as mdBook reads it.
#[derive(Debug, PartialEq)]
struct Include {
    /// `include`, `rustdoc_include` or `playground`.
    kind: String,
    /// The file, relative to the page (or to the including file).
    path: String,
    /// What part of the file.
    part: Part,
    /// The link's text, for messages.
    text: String,
}

/// The part of a file an include takes.
#[derive(Debug, PartialEq)]
enum Part {
    /// The whole file.
    All,
    /// Lines, 0-based: `start..end` (`end` `None`: to the end of the file).
    Lines { start: usize, end: Option<usize> },
    /// The lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
}

/// Reads what follows the path in `{{#include path:...}}`, exactly as mdBook does
/// (`parse_range_or_anchor` in mdbook-driver's links preprocessor): `:N` is line N,
/// `:N:M` lines N to M, `:N:` from line N on, `::M` up to line M, and anything else
/// that is not a number is an anchor name.
fn parse_part(rest: Option<&str>) -> Part {
    let Some(rest) = rest else {
        return Part::All;
    };
    let mut parts = rest.splitn(3, ':');
    let first = parts.next().unwrap_or("");
    let start = if let Ok(n) = first.parse::<usize>() {
        Some(n.saturating_sub(1))
    } else if first.is_empty() {
        None
    } else {
        return Part::Anchor(first.to_string());
    };
    let end = parts.next().map(|s| s.parse::<usize>());
    match (start, end) {
        (Some(s), Some(Ok(e))) => Part::Lines {
            start: s,
            end: Some(e),
        },
        (Some(s), Some(Err(_))) => Part::Lines {
            start: s,
            end: None,
        },
        (Some(s), None) => Part::Lines {
            start: s,
            end: Some(s + 1),
        },
        (None, Some(Ok(e))) => Part::Lines {
            start: 0,
            end: Some(e),
        },
        (None, _) => Part::All,
    }
}

/// Finds every include-style link in `text`, skipping escaped ones (`\{{#include …}}`),
/// with mdBook's grammar: `{{`, optional spaces, `#kind`, spaces, then everything up to
/// the first `}` (which must start `}}`); the first word of that is the path.
fn find_includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find("{{") {
        let open = i + off;
        // An escaped link: `\{{#…}}` up to the last `}}` on its line, left as text.
        if open > 0 && bytes[open - 1] == b'\\' && text[open + 2..].starts_with('#') {
            let line_end = text[open..].find('\n').map_or(text.len(), |e| open + e);
            i = match text[open..line_end].rfind("}}") {
                Some(close) => open + close + 2,
                None => open + 2,
            };
            continue;
        }
        let mut j = open + 2;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b'#' {
            i = open + 2;
            continue;
        }
        j += 1;
        let kind_start = j;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        let kind = &text[kind_start..j];
        let spaces_start = j;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if kind.is_empty() || j == spaces_start {
            i = open + 2;
            continue;
        }
        let body_start = j;
        let Some(brace) = text[body_start..].find('}') else {
            break;
        };
        let body_end = body_start + brace;
        if body_end == body_start || !text[body_end..].starts_with("}}") {
            i = open + 2;
            continue;
        }
        let link_text = &text[open..body_end + 2];
        if matches!(kind, "include" | "rustdoc_include" | "playground") {
            if let Some(target) = text[body_start..body_end].split_whitespace().next() {
                let (path, part) = if kind == "playground" {
                    (target, Part::All)
                } else {
                    let mut split = target.splitn(2, ':');
                    let path = split.next().unwrap_or("");
                    (path, parse_part(split.next()))
                };
                found.push(Include {
                    kind: kind.to_string(),
                    path: path.to_string(),
                    part,
                    text: link_text.to_string(),
                });
            }
        }
        i = body_end + 2;
    }
    found
}

/// The name of the anchor a line opens (`ANCHOR: name`) or closes (`ANCHOR_END: name`),
/// read as mdBook's regexes `ANCHOR:\s*([\w_-]+)` and `ANCHOR_END:\s*([\w_-]+)` read it.
fn anchor_on_line<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let at = line.find(marker)?;
    let rest = line[at + marker.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Every anchor a file opens, with the 1-based lines it opens on.
fn anchor_openings(source: &str) -> Vec<(String, usize)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(i, l)| anchor_on_line(l, "ANCHOR:").map(|a| (a.to_string(), i + 1)))
        .collect()
}

/// The text an include of `part` takes from `source`, as mdBook computes it.
fn take(source: &str, part: &Part) -> String {
    match part {
        Part::All => source.to_string(),
        Part::Lines { start, end } => {
            let lines = source.lines().skip(*start);
            match end {
                Some(e) => lines
                    .take(e.saturating_sub(*start))
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => lines.collect::<Vec<_>>().join("\n"),
            }
        }
        Part::Anchor(name) => {
            let mut kept = Vec::new();
            let mut inside = false;
            for l in source.lines() {
                if inside {
                    match anchor_on_line(l, "ANCHOR_END:") {
                        Some(a) if a == name => break,
                        Some(_) => {}
                        None => {
                            if anchor_on_line(l, "ANCHOR:").is_none() {
                                kept.push(l);
                            }
                        }
                    }
                } else if anchor_on_line(l, "ANCHOR:") == Some(name.as_str()) {
                    inside = true;
                }
            }
            kept.join("\n")
        }
    }
}

/// `path` relative to `root` for messages (`book/src/ch00-world.md`).
fn shown(path: &Path, root: &Path) -> String {
    let clean = normalize(path);
    clean
        .strip_prefix(normalize(root))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| clean.display().to_string())
}

/// Resolves `.` and `..` without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Checks the includes of `text`, which lives in directory `base`; `page` names the
/// book page for messages; `depth` counts nested includes.
/// The longest listing a chapter page may show: a learner reads it whole, beside the
/// prose, so it stays short (most are 15 to 30 lines).
const MAX_LISTING: usize = 40;

/// The page whose listings may be longer: the runtimes' and the explorer's internals.
const DEEP_PAGE: &str = "going-deeper.md";

fn check_includes(
    text: &str,
    base: &Path,
    page: &str,
    root: &Path,
    depth: usize,
    report: &mut Report,
) {
    for inc in find_includes(text) {
        report.includes += 1;
        let file = base.join(&inc.path);
        let name = shown(&file, root);
        let source = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                report
                    .problems
                    .push(format!("{page}: {}: cannot read {name}: {e}", inc.text));
                continue;
            }
        };
        // Any anchor opened twice in a file the book includes from is a trap: mdBook
        // takes the first and silently ignores the second.
        let openings = anchor_openings(&source);
        let mut seen = BTreeSet::new();
        for (anchor, _) in &openings {
            if !seen.insert(anchor.as_str()) {
                let lines: Vec<String> = openings
                    .iter()
                    .filter(|(a, _)| a == anchor)
                    .map(|(_, l)| l.to_string())
                    .collect();
                let problem = format!(
                    "{name}: anchor `{anchor}` is opened {} times (lines {})",
                    lines.len(),
                    lines.join(", ")
                );
                if !report.problems.contains(&problem) {
                    report.problems.push(problem);
                }
            }
        }
        match &inc.part {
            Part::Anchor(anchor) => {
                report.anchors += 1;
                let opened: Vec<usize> = openings
                    .iter()
                    .filter(|(a, _)| a == anchor)
                    .map(|(_, l)| *l)
                    .collect();
                let Some(&first) = opened.first() else {
                    report.problems.push(format!(
                        "{page}: {}: anchor `{anchor}` is not in {name} (no `ANCHOR: {anchor}`)",
                        inc.text
                    ));
                    continue;
                };
                let closed = source
                    .lines()
                    .enumerate()
                    .skip(first)
                    .any(|(_, l)| anchor_on_line(l, "ANCHOR_END:") == Some(anchor.as_str()));
                if !closed {
                    report.problems.push(format!(
                        "{page}: {}: anchor `{anchor}` opens at {name}:{first} but is never \
                         closed (no `ANCHOR_END: {anchor}` after it)",
                        inc.text
                    ));
                    continue;
                }
            }
            Part::Lines { start, .. } => {
                let count = source.lines().count();
                if *start >= count {
                    report.problems.push(format!(
                        "{page}: {}: {name} has only {count} lines, the range starts at line {}",
                        inc.text,
                        start + 1
                    ));
                    continue;
                }
            }
            Part::All => {}
        }
        let taken = take(&source, &inc.part);
        if taken.trim().is_empty() {
            report.problems.push(format!(
                "{page}: {}: includes nothing from {name}",
                inc.text
            ));
            continue;
        }
        let lines = taken.lines().count();
        if depth == 0 && lines > MAX_LISTING && !page.ends_with(DEEP_PAGE) {
            report.problems.push(format!(
                "{page}: {}: a listing of {lines} lines from {name}; a chapter's listings \
                 stay within {MAX_LISTING} (narrow the anchor, or move detail into a \
                 function of its own), and longer ones belong in {DEEP_PAGE}",
                inc.text
            ));
        }
        // mdBook expands links inside included text too, relative to the included file.
        if depth + 1 < MAX_DEPTH && taken.contains("{{") {
            let dir = file.parent().unwrap_or(base).to_path_buf();
            check_includes(&taken, &dir, page, root, depth + 1, report);
        }
    }
}

/// `text` with fenced code blocks and inline code spans blanked out, so that a link
/// shown as code is not taken for a link.
fn prose_only(text: &str) -> String {
    outside_fences(text, true)
}

/// `text` with fenced code blocks blanked out (lines kept, so line numbers hold), and
/// inline code spans too when `blank_inline_code`.
fn outside_fences(text: &str, blank_inline_code: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match &fence {
            Some(f) => {
                if trimmed.starts_with(f.as_str()) {
                    fence = None;
                }
                out.push('\n');
                continue;
            }
            None => {
                if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                    let ch = trimmed.chars().next().unwrap_or('`');
                    let n = trimmed.chars().take_while(|&c| c == ch).count();
                    fence = Some(ch.to_string().repeat(n));
                    out.push('\n');
                    continue;
                }
            }
        }
        if !blank_inline_code {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // Blank inline code spans: `…`.
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                out.push(' ');
            } else {
                out.push(if in_code { ' ' } else { c });
            }
        }
        out.push('\n');
    }
    out
}

/// Every Markdown link target in `text` as `(is_image, target)`, for `[..](target)` and
/// `![..](target)`, plus `<img src="target">`.
fn link_targets(text: &str) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find("](") {
        let at = i + off;
        let start = at + 2;
        let Some(len) = text[start..].find(')') else {
            break;
        };
        let raw = text[start..start + len].trim();
        let target = raw
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_start_matches('<')
            .trim_end_matches('>');
        // Is it an image? Find the `[` that opens this link text and look before it.
        let is_image = text[..at]
            .rfind('[')
            .is_some_and(|b| b > 0 && text.as_bytes()[b - 1] == b'!');
        found.push((is_image, target.to_string()));
        i = start + len;
    }
    let mut i = 0;
    while let Some(off) = text[i..].find("<img") {
        let at = i + off;
        let tag_end = text[at..].find('>').map_or(text.len(), |e| at + e);
        let tag = &text[at..tag_end];
        if let Some(s) = tag.find("src=") {
            let v = &tag[s + 4..];
            let quote = v.chars().next().unwrap_or('"');
            let v = v.trim_start_matches(quote);
            let end = v.find(quote).unwrap_or(v.len());
            found.push((true, v[..end].to_string()));
        }
        i = tag_end.max(at + 4);
    }
    found
}

/// Whether a link target points outside the book (a URL, a mail address) or within the
/// page (`#section`): nothing to check on disk.
fn is_external(target: &str) -> bool {
    target.is_empty()
        || target.starts_with('#')
        || target.contains("://")
        || target.starts_with("mailto:")
        || target.starts_with("data:")
}

/// The id mdBook gives a heading (`id_from_content` in mdbook-html): the heading's text,
/// trimmed and lowercased, keeping letters, digits, `_` and `-`, with each space a `-`.
fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The text a heading renders to: Markdown's emphasis and code marks dropped, a link
/// reduced to its text.
fn heading_text(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some(close) = rest[open + mid..].find(')') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    out.push_str(rest);
    out.chars().filter(|c| !matches!(c, '`' | '*')).collect()
}

/// The ids of every heading of a page, made unique as mdBook makes them (`-1`, `-2`, …).
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for line in outside_fences(text, false).lines() {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let mut title = line[hashes..].trim().trim_end_matches('#').trim();
        // An explicit id: `## Title {#id}`.
        if let Some(open) = title.rfind("{#") {
            if title.ends_with('}') {
                ids.insert(title[open + 2..title.len() - 1].to_string());
                continue;
            }
        }
        title = title.trim();
        let id = heading_id(&heading_text(title));
        let mut unique = id.clone();
        let mut n = 1;
        while !ids.insert(unique.clone()) {
            unique = format!("{id}-{n}");
            n += 1;
        }
    }
    ids
}

/// Checks that `fragment` names a heading of the page `file`.
fn check_fragment(file: &Path, fragment: &str, what: &str, root: &Path, report: &mut Report) {
    if fragment.is_empty() || file.extension() != Some(std::ffi::OsStr::new("md")) {
        return;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return; // reported as a missing file by the caller
    };
    if !heading_ids(&text).contains(fragment) {
        report.problems.push(format!(
            "{what}: {} has no heading whose id is `{fragment}`",
            shown(file, root)
        ));
    }
}

/// Checks the images and relative links of one page.
fn check_links(text: &str, file: &Path, base: &Path, page: &str, root: &Path, report: &mut Report) {
    for (is_image, target) in link_targets(&prose_only(text)) {
        if let Some(fragment) = target.strip_prefix('#') {
            let what = format!("{page}: link `{target}`");
            check_fragment(file, fragment, &what, root, report);
            continue;
        }
        if is_external(&target) {
            continue;
        }
        if is_image {
            report.images += 1;
        }
        let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
        let path = path.split('?').next().unwrap_or("");
        let linked = base.join(path);
        if !linked.exists() {
            let what = if is_image { "image" } else { "link" };
            report.problems.push(format!(
                "{page}: {what} `{target}` points at {}, which does not exist",
                shown(&linked, root)
            ));
            continue;
        }
        let what = format!("{page}: link `{target}`");
        check_fragment(&linked, fragment, &what, root, report);
    }
}

/// Checks that every book section `chapters/exercises.tsv` names (its eighth column,
/// `page.md#section`) is a heading of an existing page.
fn check_exercise_sections(root: &Path, src: &Path, report: &mut Report) {
    let list = root.join("chapters/exercises.tsv");
    let Ok(text) = std::fs::read_to_string(&list) else {
        return; // no exercises yet
    };
    let name = shown(&list, root);
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(section) = cols.get(7) else {
            report.problems.push(format!(
                "{name}:{}: has no book section (eighth column)",
                i + 1
            ));
            continue;
        };
        let (page, fragment) = section.split_once('#').unwrap_or((section, ""));
        let file = src.join(page);
        let what = format!("{name}:{}: {} names {section}", i + 1, cols[0]);
        if !file.is_file() {
            report
                .problems
                .push(format!("{what}, but {} does not exist", shown(&file, root)));
            continue;
        }
        check_fragment(&file, fragment, &what, root, report);
    }
}

/// The pages `SUMMARY.md` lists (draft entries `[Title]()` have no page).
fn summary_pages(summary: &str) -> Vec<String> {
    link_targets(&prose_only(summary))
        .into_iter()
        .filter(|(img, t)| !img && !is_external(t))
        .map(|(_, t)| t.split('#').next().unwrap_or("").to_string())
        .collect()
}

/// Every `.md` file under `dir`, sorted.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Checks the book whose `book.toml` is in `book`, for the repository at `root`.
fn check_book(root: &Path, book: &Path) -> Report {
    let mut report = Report::default();
    let src = book.join("src");
    let summary_path = src.join("SUMMARY.md");
    let listed: Vec<String> = match std::fs::read_to_string(&summary_path) {
        Ok(s) => summary_pages(&s),
        Err(e) => {
            report
                .problems
                .push(format!("{}: cannot read: {e}", shown(&summary_path, root)));
            Vec::new()
        }
    };
    for page in &listed {
        let file = src.join(page);
        if !file.is_file() {
            report.problems.push(format!(
                "{}: lists {page}, but {} does not exist",
                shown(&summary_path, root),
                shown(&file, root)
            ));
        }
    }
    let listed: BTreeSet<PathBuf> = listed.iter().map(|p| normalize(&src.join(p))).collect();
    let mut pages = Vec::new();
    markdown_files(&src, &mut pages);
    for file in pages {
        let page = shown(&file, root);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                report.problems.push(format!("{page}: cannot read: {e}"));
                continue;
            }
        };
        let is_summary = file.file_name().is_some_and(|n| n == "SUMMARY.md");
        if !is_summary && !listed.contains(&normalize(&file)) {
            report.problems.push(format!(
                "{page} is not listed in SUMMARY.md, so mdBook does not render it"
            ));
        }
        let base = file.parent().unwrap_or(&src).to_path_buf();
        check_includes(&text, &base, &page, root, 0, &mut report);
        check_labels(&text, &base, &page, root, &mut report);
        if !is_summary {
            check_links(&text, &file, &base, &page, root, &mut report);
        }
    }
    check_exercise_sections(root, &src, &mut report);
    report
}

/// Every code block of `text` that includes a file names it on its first line, as a
/// comment (`// path` or `# path`, the path from the repository's root): the reader
/// reads the listing, then opens the file.
fn check_labels(text: &str, base: &Path, page: &str, root: &Path, report: &mut Report) {
    let mut lines = text.lines().enumerate();
    while let Some((at, line)) = lines.next() {
        if !line.trim_start().starts_with("```") {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.trim_start().starts_with("```"))
            .collect();
        let Some(include) = body.iter().flat_map(|l| find_includes(l)).next() else {
            continue;
        };
        let file = normalize(&base.join(&include.path));
        let label = file
            .strip_prefix(normalize(root))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| include.path.clone());
        let first = body.first().map(|l| l.trim()).unwrap_or("");
        let named = first == format!("// {label}") || first == format!("# {label}");
        if !named {
            report.problems.push(format!(
                "{page}:{}: the listing {} does not name its file: make its first line \
                 `// {label}`",
                at + 1,
                include.text
            ));
        }
    }
}

fn format_problems(report: &Report) -> String {
    let mut s = String::new();
    for p in &report.problems {
        let _ = writeln!(s, "  - {p}");
    }
    s
}

/// Every include, anchor, image and page of the real book resolves.
#[test]
fn every_include_anchor_image_and_page_of_the_book_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = check_book(root, &root.join("book"));
    assert!(
        report.problems.is_empty(),
        "the book has {} problem(s):\n{}",
        report.problems.len(),
        format_problems(&report)
    );
    assert!(
        report.anchors > 0,
        "no `{{{{#include FILE:ANCHOR}}}}` found in book/src: is the checker looking in \
         the right place?"
    );
}

/// A scratch directory of this test's own, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quorum-book-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    std::fs::write(path, text).expect("write file");
}

/// The checker finds each kind of problem in a broken book, and nothing in the parts
/// that are right: it can fail.
#[test]
fn the_checker_reports_every_kind_of_broken_reference() {
    let root = scratch("checker");
    write(
        &root.join("src/code.rs"),
        "fn a() {}\n\
         // ANCHOR: good\n\
         fn good() {}\n\
         // ANCHOR_END: good\n\
         // ANCHOR: twice\n\
         fn one() {}\n\
         // ANCHOR_END: twice\n\
         // ANCHOR: twice\n\
         fn two() {}\n\
         // ANCHOR_END: twice\n\
         // ANCHOR: unclosed\n\
         fn open() {}\n\
         // ANCHOR: empty\n\
         // ANCHOR_END: empty\n",
    );
    let book = root.join("book");
    write(
        &book.join("src/SUMMARY.md"),
        "# Summary\n\n- [Page](page.md)\n- [Gone](gone.md)\n- [Draft]()\n",
    );
    write(
        &book.join("src/page.md"),
        "# Page\n\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs:good}}\n```\n\
         ```rust\n// src/other.rs\n{{#include ../../src/code.rs:1:1}}\n```\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs}}\n```\n\
         ```rust\n// src/missing.rs\n{{#include ../../src/missing.rs:good}}\n```\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs:no_such_anchor}}\n```\n\
         ```rust\n// src/code.rs\n{{#rustdoc_include ../../src/code.rs:twice}}\n```\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs:unclosed}}\n```\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs:empty}}\n```\n\
         ```rust\n// src/code.rs\n{{#include ../../src/code.rs:99:100}}\n```\n\
         Escaped, and so not an include: \\{{#include ../../src/escaped.rs}}.\n\n\
         ![a diagram](img/missing.svg) and ![another](img/there.svg)\n\n\
         See [the other page](other.md), [this one](#page), [its section](page.md#a-b-c) \
         and [a section it lacks](#no-such-section).\n\n\
         ## A `b`: c\n\n\
         `![shown as code](img/not-an-image.svg)`\n\n\
         ```rust\n// src/long.rs\n{{#include ../../src/long.rs:long}}\n```\n",
    );
    write(
        &root.join("chapters/exercises.tsv"),
        "# id\tchapter\tkind\tname\tfeature\tstarter\tfingerprint\tsection\thints\n\
         ex9.1\tch\tcore\tGood\tex9_1\ts.rs\t0\tpage.md#a-b-c\thint\n\
         ex9.2\tch\tcore\tNo section\tex9_2\ts.rs\t0\tpage.md#exercise-92\thint\n\
         ex9.3\tch\tcore\tNo page\tex9_3\ts.rs\t0\tgone.md#x\thint\n",
    );
    let long: String = (0..41).map(|i| format!("let x{i} = {i};\n")).collect();
    write(
        &root.join("src/long.rs"),
        &format!("// ANCHOR: long\n{long}// ANCHOR_END: long\n"),
    );
    write(
        &book.join("src/going-deeper.md"),
        "# Deep\n\n```rust\n// src/long.rs\n{{#include ../../src/long.rs:long}}\n```\n",
    );
    write(
        &book.join("src/SUMMARY.md"),
        "# Summary\n\n- [Page](page.md)\n- [Gone](gone.md)\n- [Draft]()\n\
         - [Deep](going-deeper.md)\n",
    );
    write(&book.join("src/img/there.svg"), "<svg/>");
    write(&book.join("src/orphan.md"), "# Not in the summary\n");
    let report = check_book(&root, &book);
    let problems = report.problems.join("\n");
    let expect = [
        "lists gone.md, but book/src/gone.md does not exist",
        "cannot read src/missing.rs",
        "anchor `no_such_anchor` is not in src/code.rs",
        "src/code.rs: anchor `twice` is opened 2 times (lines 5, 8)",
        "anchor `unclosed` opens at src/code.rs:11 but is never closed",
        "{{#include ../../src/code.rs:empty}}: includes nothing from src/code.rs",
        "src/code.rs has only 14 lines, the range starts at line 99",
        "page.md:7: the listing {{#include ../../src/code.rs:1:1}} does not name its file",
        "image `img/missing.svg` points at book/src/img/missing.svg, which does not exist",
        "link `other.md` points at book/src/other.md, which does not exist",
        "book/src/orphan.md is not listed in SUMMARY.md",
        "link `#no-such-section`: book/src/page.md has no heading whose id is `no-such-section`",
        "exercises.tsv:3: ex9.2 names page.md#exercise-92: book/src/page.md has no heading",
        "exercises.tsv:4: ex9.3 names gone.md#x, but book/src/gone.md does not exist",
        "book/src/page.md: {{#include ../../src/long.rs:long}}: a listing of 41 lines",
    ];
    for e in expect {
        assert!(
            problems.contains(e),
            "the checker missed: {e}\nit reported:\n{problems}"
        );
    }
    assert_eq!(
        report.problems.len(),
        expect.len(),
        "the checker reported something that is not a problem:\n{problems}"
    );
    for wrong in [
        "escaped.rs",
        "there.svg",
        "not-an-image",
        "code.rs:good",
        "Draft",
        "#page`",
        "a-b-c",
    ] {
        assert!(
            !problems.contains(wrong),
            "false alarm about {wrong}:\n{problems}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The include grammar, read as mdBook reads it.
#[test]
fn includes_parse_as_mdbook_parses_them() {
    let found = find_includes(
        "{{#include a.rs}} {{ #include b.rs:name }} {{#include c.rs:3}} \
         {{#include d.rs:2:5}} {{#include e.rs:4:}} {{#include f.rs::6}} \
         {{#rustdoc_include g.rs:x}} \\{{#include skipped.rs}} {{#title T}}",
    );
    let got: Vec<(&str, &str, &Part)> = found
        .iter()
        .map(|i| (i.kind.as_str(), i.path.as_str(), &i.part))
        .collect();
    let lines = |start, end| Part::Lines { start, end };
    assert_eq!(
        got,
        vec![
            ("include", "a.rs", &Part::All),
            ("include", "b.rs", &Part::Anchor("name".into())),
            ("include", "c.rs", &lines(2, Some(3))),
            ("include", "d.rs", &lines(1, Some(5))),
            ("include", "e.rs", &lines(3, None)),
            ("include", "f.rs", &lines(0, Some(6))),
            ("rustdoc_include", "g.rs", &Part::Anchor("x".into())),
        ]
    );
}

// --- Pasted outputs ---------------------------------------------------------------------

/// The chapter binaries a pasted output may run, and where `cargo test` built them.
const BINARIES: [(&str, &str); 4] = [
    ("ch00-world", env!("CARGO_BIN_EXE_ch00-world")),
    ("ch01-paxos", env!("CARGO_BIN_EXE_ch01-paxos")),
    ("ch02-multipaxos", env!("CARGO_BIN_EXE_ch02-multipaxos")),
    (
        "ch03-raft-election",
        env!("CARGO_BIN_EXE_ch03-raft-election"),
    ),
];

/// A ```text block of a page that shows commands (`$ …`) and what they printed.
#[derive(Debug)]
struct Session {
    /// The page, from the repository's root.
    page: PathBuf,
    /// The line of the page the block's first command is on (1-based).
    line: usize,
    /// Each command, without its `$ `, and what the page says it prints, one entry per
    /// line (`…` elides any lines).
    steps: Vec<(String, Vec<String>)>,
    /// Where the block's lines sit in the page: the lines to replace when blessing.
    span: std::ops::Range<usize>,
    /// Why the block is not checked, when an `<!-- unchecked: why -->` comment
    /// precedes it.
    unchecked: Option<String>,
    /// Whether an `<!-- slow: why -->` comment precedes it: checked only with
    /// `QUORUM_BOOK_SLOW=1`.
    slow: bool,
}

impl Session {
    /// The commands, joined for a message.
    fn commands(&self) -> String {
        let commands: Vec<&str> = self.steps.iter().map(|(c, _)| c.as_str()).collect();
        commands.join(" && ")
    }
}

/// The sessions of a page.
fn sessions(page: &Path, text: &str) -> Vec<Session> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let opens = lines[i].trim_end() == "```text";
        let first = lines.get(i + 1).copied().unwrap_or("");
        if !(opens && first.starts_with("$ ")) {
            i += 1;
            continue;
        }
        let end = (i + 1..lines.len())
            .find(|&k| lines[k].trim_end() == "```")
            .unwrap_or(lines.len());
        let above = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map_or("", |l| l.trim());
        let unchecked = above
            .strip_prefix("<!-- unchecked:")
            .map(|r| r.trim_end_matches("-->").trim().to_string());
        let mut steps: Vec<(String, Vec<String>)> = Vec::new();
        for line in &lines[i + 1..end] {
            match (line.strip_prefix("$ "), steps.last_mut()) {
                (Some(command), _) => steps.push((command.to_string(), Vec::new())),
                (None, Some((_, shown))) => shown.push(line.to_string()),
                (None, None) => {}
            }
        }
        out.push(Session {
            page: page.to_path_buf(),
            line: i + 2,
            steps,
            span: i + 1..end,
            unchecked,
            slow: above.starts_with("<!-- slow:"),
        });
        i = end + 1;
    }
    out
}

/// Whether a command is a seeded simulator run of a chapter binary (`sim`, `explore`
/// or `experiment`), a check of a history file (`check`), or a checksum of what such
/// runs wrote: what a test can rerun and expect the same output from. Runs on threads,
/// benchmarks and `cargo` are not.
fn replayable(command: &str) -> bool {
    let words: Vec<&str> = command
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .collect();
    match words.first() {
        Some(&"sha256sum") => true,
        Some(program) if BINARIES.iter().any(|(name, _)| name == program) => {
            let sub = words[1..].iter().find(|w| !w.starts_with('-'));
            matches!(
                sub,
                Some(&"sim") | Some(&"explore") | Some(&"experiment") | Some(&"check")
            )
        }
        _ => false,
    }
}

/// A line with its wall-clock figures blanked, since they differ from one machine and
/// one run to the next: `in 0.3s` and `in 12.5 s` become `in <time>`, and a JSON
/// `"wall_seconds":0.04` becomes `"wall_seconds":<time>`.
fn without_wall_clock(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let next = ["in ", "seconds\":"]
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, m.len())))
            .min();
        let Some((at, len)) = next else { break };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
            .unwrap_or(rest.len());
        let after = &rest[digits..];
        let unit = if len != 3 {
            0
        } else if after.starts_with(" s") {
            2
        } else {
            usize::from(after.starts_with('s'))
        };
        let ends = after[unit..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if digits > 0 && (unit > 0 || len != 3) && ends {
            out.push_str("<time>");
            rest = &after[unit..];
        }
    }
    out.push_str(rest);
    out
}

/// `lines` with their wall-clock figures blanked and trailing spaces dropped.
fn comparable(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| without_wall_clock(l.trim_end()))
        .collect()
}

/// Where `part` first occurs in `lines` as a run of lines, from `from` on.
fn find_run(lines: &[String], part: &[String], from: usize) -> Option<usize> {
    (from..=lines.len().checked_sub(part.len())?).find(|&k| lines[k..k + part.len()] == *part)
}

/// Whether `actual` is what `shown` says, a `…` line standing for any lines.
fn matches_shown(shown: &[String], actual: &[String]) -> bool {
    let (shown, actual) = (comparable(shown), comparable(actual));
    let parts: Vec<&[String]> = shown.split(|l| l == "…").collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if actual.len() < first.len() + last.len()
        || actual[..first.len()] != *first
        || actual[actual.len() - last.len()..] != *last
    {
        return false;
    }
    let stop = actual.len() - last.len();
    let mut at = first.len();
    for part in &parts[1..parts.len() - 1] {
        match find_run(&actual[..stop], part, at) {
            Some(k) => at = k + part.len(),
            None => return false,
        }
    }
    true
}

/// What `shown` becomes when blessed with `actual`. A page that showed an excerpt (its
/// lines, as they are, somewhere in the output) keeps it, with `…` where it leaves lines
/// out; a page that elided with `…` keeps as many lines of the start and of the end;
/// otherwise the page shows all of the output. A line whose only change is a wall-clock
/// figure keeps the page's.
fn blessed(shown: &[String], actual: &[String]) -> Vec<String> {
    let (s, a) = (comparable(shown), comparable(actual));
    let parts: Vec<&[String]> = s.split(|l| l == "…").collect();
    let keep = |k: usize, line: &String| -> String {
        match shown.iter().zip(&s).find(|(_, n)| **n == a[k]) {
            Some((old, _)) => old.clone(),
            None => line.clone(),
        }
    };
    let ellipsis = "…".to_string();
    if parts.len() == 1 && !s.is_empty() {
        if let Some(k) = find_run(&a, &s, 0) {
            let mut out = Vec::new();
            if k > 0 {
                out.push(ellipsis.clone());
            }
            out.extend_from_slice(shown);
            if k + s.len() < a.len() {
                out.push(ellipsis);
            }
            return out;
        }
    }
    let (head, tail) = match parts.len() {
        1 => (actual.len(), 0),
        n => (parts[0].len(), parts[n - 1].len()),
    };
    if head + tail >= actual.len() {
        return actual.iter().enumerate().map(|(k, l)| keep(k, l)).collect();
    }
    let mut out: Vec<String> = (0..head).map(|k| keep(k, &actual[k])).collect();
    out.push(ellipsis);
    out.extend((actual.len() - tail..actual.len()).map(|k| keep(k, &actual[k])));
    out
}

/// Runs one command of a session in `dir`, the chapter binaries first on the path.
/// Returns what it printed, stdout and stderr together, as a terminal shows it.
fn run_command(command: &str, dir: &Path) -> Vec<String> {
    let bin = Path::new(BINARIES[0].1)
        .parent()
        .expect("the binaries' directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{command}\n"))
        .current_dir(dir)
        .env("PATH", path)
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_LOG")
        .output()
        .expect("run sh");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The SVGs a session draws into the book (`--svg book/src/img/…`).
fn drawn_svgs(session: &Session) -> Vec<String> {
    let mut svgs = Vec::new();
    for (command, _) in &session.steps {
        let words: Vec<&str> = command.split_whitespace().collect();
        for w in words.windows(2) {
            if (w[0] == "--svg" || w[0] == "--history-svg") && w[1].starts_with("book/src/img/") {
                svgs.push(w[1].to_string());
            }
        }
    }
    svgs
}

/// Every pasted output of a seeded simulator run in the book is what its command prints
/// today, and every SVG such a command draws into the book is the one the book shows.
/// `QUORUM_BLESS=1 cargo test --test book pasted` rewrites the pages and the SVGs from
/// the commands instead; review the diff. A block the test cannot rerun (a search of
/// minutes, a run of a modified build) says why in an `<!-- unchecked: … -->` comment
/// just above it; one that takes long in a debug build says so in `<!-- slow: … -->`,
/// and `QUORUM_BOOK_SLOW=1` checks it too (best with `--release`).
#[test]
fn every_pasted_output_is_what_its_command_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var("QUORUM_BLESS").is_ok_and(|v| v == "1");
    let slow = std::env::var("QUORUM_BOOK_SLOW").is_ok_and(|v| v == "1");
    let mut pages = Vec::new();
    markdown_files(&root.join("book/src"), &mut pages);
    let mut problems = Vec::new();
    let (mut checked, mut unchecked) = (0, 0);
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("read a page");
        let shown_as = shown(&page, root);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut sessions = sessions(Path::new(&shown_as), &text);
        // From the end, so that blessing one block leaves the spans above it in place.
        sessions.reverse();
        for s in sessions {
            if !s.steps.iter().all(|(c, _)| replayable(c)) {
                continue;
            }
            if s.unchecked.is_some() || (s.slow && !slow) {
                unchecked += 1;
                continue;
            }
            checked += 1;
            // A scratch copy of the repository's place: `main/` to run in, beside a
            // link to the shared data, so `../shared/data/…` means what it does for a
            // reader at the repository's root.
            let base = std::env::temp_dir()
                .join(format!("quorum-book-run-{}-{checked}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            let dir = base.join("main");
            std::fs::create_dir_all(dir.join("book/src/img")).expect("create a scratch dir");
            #[cfg(unix)]
            let _ = std::os::unix::fs::symlink(root.join("../shared"), base.join("shared"));
            let mut block = Vec::new();
            let mut differs = false;
            for (command, shown) in &s.steps {
                let actual = run_command(command, &dir);
                block.push(format!("$ {command}"));
                if matches_shown(shown, &actual) {
                    block.extend(shown.iter().cloned());
                    continue;
                }
                differs = true;
                block.extend(blessed(shown, &actual));
                problems.push(format!(
                    "{}:{}: `{command}` prints\n{}\n  but the page shows\n{}",
                    s.page.display(),
                    s.line,
                    indent(&actual),
                    indent(shown)
                ));
            }
            if differs && bless {
                lines.splice(s.span.clone(), block);
            }
            for svg in drawn_svgs(&s) {
                let made = std::fs::read(dir.join(&svg)).unwrap_or_default();
                let kept = std::fs::read(root.join(&svg)).unwrap_or_default();
                if made == kept {
                    continue;
                }
                if bless {
                    std::fs::write(root.join(&svg), &made).expect("write the SVG");
                }
                problems.push(format!(
                    "{}:{}: {svg} is not what `{}` draws",
                    s.page.display(),
                    s.line,
                    s.commands()
                ));
            }
            let _ = std::fs::remove_dir_all(&base);
        }
        if bless {
            let mut new = lines.join("\n");
            if text.ends_with('\n') {
                new.push('\n');
            }
            if new != text {
                std::fs::write(&page, new).expect("write the page");
            }
        }
    }
    let blessing = if bless {
        " (rewritten: review the diff)"
    } else {
        ""
    };
    assert!(
        bless || problems.is_empty(),
        "{} pasted output(s) differ from what their commands print now{blessing}; rerun \
         with QUORUM_BLESS=1 to rewrite them, and review the diff:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(
        checked >= 20,
        "only {checked} pasted outputs checked ({unchecked} not): is the checker finding \
         the book's sessions?"
    );
}

fn indent(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| format!("    {l}")).collect();
    lines.join("\n")
}
