//! A history drawn: one lane per client, one bar per operation from its call to its
//! return, and the checker's verdict on top of it.
//!
//! How to read it:
//!
//! - time runs left to right in order, not to scale: every distinct instant at which
//!   an operation is called or returns gets the same width, so that what decides
//!   linearizability (which operation returned before which was called) is what
//!   shows; each
//!   client has a lane (a client with several operations in flight at once gets a row
//!   for each);
//! - a bar is an operation, in its key's color, labelled with what it asked and what it
//!   returned; hover for the whole operation. A bar that fades out to the right edge
//!   never answered;
//! - for a linearizable history, a black tick on each bar marks an instant at which the
//!   operation can take effect, and a thin line joins the ticks of each key in the
//!   order the checker found: the history explained;
//! - for an illegal one, only the witness of each key with no explanation is drawn, in
//!   red: the few operations that no order can explain (the whole history is in its
//!   file). A dashed bar is one the witness takes as unanswered (its answer came after
//!   the witness's end).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::draw::escape;
use crate::check::history::Operation;
use crate::check::linearizable::{Report, Verdict};
use crate::error::{Error, Result};

const INK: &str = "#222222";
const FAINT: &str = "#777777";
const RED: &str = "#d32f2f";
/// One color per key, in turn.
const KEY_COLORS: [&str; 8] = [
    "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e", "#558b2f",
];

const LEFT: f64 = 64.0;
const PLOT_WIDTH: f64 = 960.0;
const ROW: f64 = 20.0;
/// The narrowest and widest step between two successive instants.
const MIN_STEP: f64 = 10.0;
const MAX_STEP: f64 = 90.0;
/// A history with at most this many distinct instants gets steps wide enough for its
/// labels (up to [`MAX_LABEL_STEP`]).
const FEW_INSTANTS: usize = 60;
const MAX_LABEL_STEP: f64 = 130.0;
const BAR: f64 = 14.0;
const LANE_GAP: f64 = 8.0;
/// About how wide a character of the labels' font is, to decide what fits in a bar.
const CHAR_PX: f64 = 6.2;

/// Writes the drawing of `ops` (checked as `report` says) to `path`.
pub fn write_history_svg(
    path: &Path,
    ops: &[Operation],
    report: &Report,
    title: &str,
) -> Result<()> {
    std::fs::write(path, history_svg(ops, report, title)).map_err(|e| Error::io(path, e))
}

/// The drawing of `ops`, checked as `report` says, as SVG text.
pub fn history_svg(ops: &[Operation], report: &Report, title: &str) -> String {
    let illegal: Vec<&str> = report
        .keys_with(Verdict::Illegal)
        .map(|k| k.key.as_str())
        .collect();
    let witness: Vec<usize> = report
        .keys
        .iter()
        .flat_map(|k| k.witness.iter().copied())
        .collect();
    // What to draw: for an illegal history, its witnesses alone (the whole history is in
    // its file); for any other, everything.
    let drawn: Vec<usize> = (0..ops.len())
        .filter(|&i| illegal.is_empty() || witness.contains(&i))
        .collect();
    let cut: Vec<usize> = report
        .keys
        .iter()
        .flat_map(|k| k.cut.iter().copied())
        .collect();
    let key_color: BTreeMap<&str, &str> = report
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.key.as_str(), KEY_COLORS[i % KEY_COLORS.len()]))
        .collect();

    // The time axis keeps the order of calls and returns, not their distances: each
    // distinct instant gets its own step, so that a 1 us operation between two long
    // pauses is as readable as any. An unanswered operation runs to the right edge.
    let mut instants: Vec<u64> = drawn
        .iter()
        .flat_map(|&i| [Some(ops[i].call_us), ops[i].return_us])
        .flatten()
        .collect();
    instants.sort_unstable();
    instants.dedup();
    // A short history (a witness, say) gets room for its labels, a long one a page.
    let longest = drawn
        .iter()
        .map(|&i| label(&ops[i]).chars().count())
        .max()
        .unwrap_or(0);
    let wanted = (longest as f64 * CHAR_PX + 8.0).min(MAX_LABEL_STEP);
    let fit = PLOT_WIDTH / instants.len().max(1) as f64;
    let step = match instants.len() <= FEW_INSTANTS {
        true => fit.max(wanted),
        false => fit.clamp(MIN_STEP, MAX_STEP),
    };
    let plot_width = step * (instants.len() + 1) as f64;
    let x = |t: u64| LEFT + step * (instants.partition_point(|&u| u < t) as f64 + 0.5);
    let (t0, last) = (
        instants.first().copied().unwrap_or(0),
        instants.last().copied().unwrap_or(0),
    );
    // Lanes: each client's operations packed into as few rows as overlap allows.
    let mut lanes: BTreeMap<u64, Vec<u64>> = BTreeMap::new(); // client -> each row's end
    let mut row_of: BTreeMap<usize, (u64, usize)> = BTreeMap::new();
    let mut by_call = drawn.clone();
    by_call.sort_by_key(|&i| (ops[i].call_us, i));
    for &i in &by_call {
        let rows = lanes.entry(ops[i].client).or_default();
        let end = ops[i].return_us.unwrap_or(u64::MAX);
        let row = match rows.iter().position(|&e| e < ops[i].call_us) {
            Some(r) => r,
            None => {
                rows.push(0);
                rows.len() - 1
            }
        };
        rows[row] = end;
        row_of.insert(i, (ops[i].client, row));
    }
    let top = 78.0;
    let mut lane_y: BTreeMap<u64, f64> = BTreeMap::new();
    let mut y = top;
    for (client, rows) in &lanes {
        lane_y.insert(*client, y);
        y += rows.len() as f64 * ROW + LANE_GAP;
    }
    let height = y + 30.0;
    let width = LEFT + plot_width + 24.0;

    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="16" y="22" font-size="15" font-weight="bold" fill="{INK}">{}</text>
<text x="16" y="42" fill="{INK}">{}</text>
<text x="16" y="60" fill="{FAINT}">{}</text>
"##,
        escape(title),
        escape(&summary(report, drawn.len())),
        escape(legend(report.verdict)),
    );
    // Lanes and their names.
    for (client, rows) in &lanes {
        let ly = lane_y[client];
        let h = rows.len() as f64 * ROW;
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{:.1}" width="{plot_width:.1}" height="{h:.1}" fill="#f7f7f7"/><text x="{:.1}" y="{:.1}" fill="{INK}" text-anchor="end">c{client}</text>"##,
            ly,
            LEFT - 8.0,
            ly + ROW / 2.0 + 4.0
        );
    }
    // The bars.
    for &i in &drawn {
        let op = &ops[i];
        let (client, row) = row_of[&i];
        let by = lane_y[&client] + row as f64 * ROW + (ROW - BAR) / 2.0;
        let x0 = x(op.call_us);
        let x1 = op.return_us.map_or(LEFT + plot_width, &x).max(x0 + 2.0);
        let in_witness = witness.contains(&i);
        let color = if in_witness {
            RED
        } else {
            key_color.get(op.key.as_str()).copied().unwrap_or(INK)
        };
        let dash = if cut.contains(&i) && in_witness {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let fill = match op.return_us {
            Some(_) => format!(r#"fill="{color}" fill-opacity="0.18""#),
            None => format!(r#"fill="url(#fade{})""#, color.trim_start_matches('#')),
        };
        let _ = writeln!(
            out,
            r#"<g><title>{}</title><rect x="{x0:.1}" y="{by:.1}" width="{:.1}" height="{BAR}" rx="3" {fill} stroke="{color}" stroke-width="{}"{dash}/>"#,
            escape(&op.to_string()),
            x1 - x0,
            if in_witness { 2 } else { 1 },
        );
        let label = label(op);
        let room = ((x1 - x0 - 6.0) / CHAR_PX).floor().max(0.0) as usize;
        if room >= 4 {
            let shown: String = match label.chars().count() > room {
                true => label
                    .chars()
                    .take(room.saturating_sub(1))
                    .chain(['…'])
                    .collect(),
                false => label,
            };
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" fill="{INK}">{}</text>"#,
                x0 + 3.0,
                by + BAR - 3.5,
                escape(&shown)
            );
        }
        out.push_str("</g>\n");
    }
    // Fades for the bars of operations that never answered.
    out.push_str("<defs>");
    let mut colors: Vec<&str> = key_color.values().copied().chain([RED]).collect();
    colors.dedup();
    for c in colors {
        let _ = write!(
            out,
            r#"<linearGradient id="fade{}"><stop offset="0" stop-color="{c}" stop-opacity="0.3"/><stop offset="1" stop-color="{c}" stop-opacity="0"/></linearGradient>"#,
            c.trim_start_matches('#')
        );
    }
    out.push_str("</defs>\n");
    // The order found: an instant inside each bar, in order, joined key by key.
    if illegal.is_empty() {
        for key in &report.keys {
            let mut at = 0u64;
            let mut points = Vec::new();
            for &i in &key.order {
                let op = &ops[i];
                at = at.max(op.call_us);
                let (client, row) = row_of[&i];
                let py = lane_y[&client] + row as f64 * ROW + ROW / 2.0;
                points.push(format!("{:.1},{py:.1}", x(at)));
                let _ = writeln!(
                    out,
                    r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{INK}" stroke-width="2"/>"#,
                    x(at),
                    py - BAR / 2.0,
                    py + BAR / 2.0
                );
            }
            if points.len() > 1 {
                let color = key_color.get(key.key.as_str()).copied().unwrap_or(INK);
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1" stroke-opacity="0.7"/>"#,
                    points.join(" ")
                );
            }
        }
    }
    // The time axis.
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" fill="{FAINT}">{t0} us … {last} us: calls and returns in their order, evenly spaced (not to scale)</text>"#,
        height - 10.0
    );
    out.push_str("</svg>\n");
    out
}

/// The verdict in a line.
fn summary(report: &Report, drawn: usize) -> String {
    let keys = |v: Verdict| {
        report
            .keys_with(v)
            .map(|k| format!("{:?}", k.key))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let verdict = match report.verdict {
        Verdict::Ok => "linearizable".to_string(),
        Verdict::Illegal => format!(
            "NOT linearizable: keys {} (drawn: the {drawn} operations of their witnesses)",
            keys(Verdict::Illegal)
        ),
        Verdict::Unknown => format!(
            "UNDECIDED on keys {} (out of budget)",
            keys(Verdict::Unknown)
        ),
    };
    format!(
        "{} operations ({} unanswered), {} key(s), {} model: {verdict}",
        report.ops,
        report.unknown_ops,
        report.keys.len(),
        report.workload
    )
}

fn legend(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Illegal => "drawn: the witness of each illegal key, operations that no order can explain (the whole history is in its file); dashed: answered only later, taken as unanswered",
        _ => "a bar: call to return (fading out: no answer); a black tick: when it can take effect; a thin line: each key's order",
    }
}

/// What a bar says: the operation and its answer.
fn label(op: &Operation) -> String {
    let ask = match (&op.expected, op.value.is_empty()) {
        (Some(e), _) => format!("{} {} {e}→{}", op.op, op.key, op.value),
        (None, false) => format!("{} {} {}", op.op, op.key, op.value),
        (None, true) => format!("{} {}", op.op, op.key),
    };
    match (op.return_us, op.output.is_empty()) {
        (None, _) => format!("{ask} ?"),
        (Some(_), true) => ask,
        (Some(_), false) => format!("{ask} → {}", op.output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{OpKind, Workload};
    use crate::check::linearizable::check;
    use std::time::Duration;

    fn op(
        client: u64,
        kind: OpKind,
        value: &str,
        output: &str,
        call: u64,
        ret: Option<u64>,
    ) -> Operation {
        Operation {
            client,
            op: kind,
            key: "k".into(),
            value: value.into(),
            expected: None,
            output: output.into(),
            call_us: call,
            return_us: ret,
        }
    }

    fn drawn(ops: &[Operation]) -> String {
        let report = check(ops, Workload::Kv, Duration::from_secs(5));
        history_svg(ops, &report, "t")
    }

    #[test]
    fn an_illegal_history_shows_its_witness_in_red() {
        let ops = [
            op(0, OpKind::Put, "a", "", 0, Some(10)),
            op(1, OpKind::Get, "", "a", 11, Some(12)),
            op(1, OpKind::Get, "", "", 13, Some(14)),
        ];
        let svg = drawn(&ops);
        assert_eq!(
            svg.matches(r##"stroke="#d32f2f" stroke-width="2""##)
                .count(),
            2,
            "{svg}"
        );
        assert!(svg.contains("NOT linearizable"), "{svg}");
        assert_eq!(svg, drawn(&ops), "the same history draws the same file");
    }

    #[test]
    fn a_linearizable_history_shows_an_instant_for_every_operation_in_order() {
        let ops = [
            op(0, OpKind::Put, "a", "", 0, Some(10)),
            op(1, OpKind::Put, "b", "", 2, Some(12)),
            op(2, OpKind::Get, "", "b", 14, Some(16)),
            op(3, OpKind::Append, "c", "", 15, None),
        ];
        let svg = drawn(&ops);
        // Every answered operation gets its tick; the unanswered append may never act.
        assert!(svg.matches("<line ").count() >= 3, "{svg}");
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(
            svg.contains("fadeb") || svg.contains("url(#fade"),
            "the unanswered bar fades: {svg}"
        );
    }

    #[test]
    fn a_client_with_two_operations_in_flight_gets_two_rows() {
        let ops = [
            op(0, OpKind::Put, "a", "", 0, Some(10)),
            op(0, OpKind::Put, "b", "", 5, Some(15)),
        ];
        let svg = drawn(&ops);
        let ys: std::collections::BTreeSet<&str> = svg
            .split("<rect x=")
            .skip(1)
            .filter(|r| r.contains("rx=\"3\""))
            .filter_map(|r| r.split("y=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(ys.len(), 2, "two bars, two rows: {svg}");
    }
}
