//! The drawing: the SVG document, written back to front from the story and its layout,
//! with the diagram's colours and the escaping that keeps any message's text valid XML.

use std::fmt::{self, Write as _};

use super::layout::{
    label_style, name_place, place_mark_labels, tick_label, Course, Layout, Px, Room, AXIS_X,
    MAX_LABELS, MIN_ROW_LABEL_PX, NAME_SIZE, PLOT_TOP,
};
use super::story::{answer, clip, drop_reason, ms, short_name, Arrow, MarkKind, Story};
use super::{Axis, SvgOptions};
use crate::types::id::NodeId;

/// One color per sending node, readable on white.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#e6550d", "#7b4ea3", "#00897b", "#8c564b", "#c2185b", "#5f7d1c", "#3949ab",
];
const INK: &str = "#222222";
const FAINT: &str = "#777777";
const GRID: &str = "#eeeeee";
const LIFELINE: &str = "#555555";
const DOWN: &str = "#bbbbbb";
const DROPPED: &str = "#9e9e9e";
const RED: &str = "#d32f2f";
const GREEN: &str = "#2e7d32";
/// A white outline behind text, so that labels stay readable across arrows.
const HALO: &str =
    r#"stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke""#;

/// The color of messages from (and events on) `node`.
fn color(node: NodeId) -> &'static str {
    PALETTE[node.index() % PALETTE.len()]
}

/// The whole document, back to front: header, axis, network changes, node lines,
/// messages, marks (so that labels sit on top), then the legend and footnotes.
pub(super) fn draw(
    out: &mut String,
    story: &Story,
    layout: &Layout,
    options: &SvgOptions,
) -> fmt::Result {
    let footnotes = footnotes(story);
    let legend_y = layout.lines_bottom() + 30.0;
    let height = legend_y + 26.0 + 16.0 * footnotes.len() as f64 + 10.0;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#,
        w = Px(layout.width),
        h = Px(height),
    )?;
    let doc_title = match options.title.is_empty() {
        true => "Space-time diagram",
        false => options.title.as_str(),
    };
    writeln!(out, "<title>{}</title>", escape(doc_title))?;
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    draw_defs(out, story)?;
    draw_header(out, story, options)?;
    draw_axis(out, story, layout)?;
    draw_network(out, story, layout)?;
    draw_lines(out, story, layout)?;
    // Events' labels are placed first, so that they win the room over message names.
    let mut room = Room::new(layout.line_xs(story.nodes));
    let mark_labels = place_mark_labels(story, layout, &mut room);
    draw_arrows(out, story, layout, &mut room)?;
    draw_marks(out, story, layout, &mark_labels)?;
    draw_legend(out, legend_y)?;
    for (i, note) in footnotes.iter().enumerate() {
        let y = legend_y + 28.0 + 16.0 * i as f64;
        writeln!(
            out,
            r#"<text class="footnote" x="16" y="{}" fill="{FAINT}">{}</text>"#,
            Px(y),
            escape(note)
        )?;
    }
    writeln!(out, "</svg>")
}

/// One arrowhead per sender color (SVG 1.1 markers can't take the line's color).
fn draw_defs(out: &mut String, story: &Story) -> fmt::Result {
    writeln!(out, "<defs>")?;
    for (i, c) in PALETTE.iter().enumerate().take(story.nodes.max(1)) {
        writeln!(
            out,
            r#"<marker id="head{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{c}"/></marker>"#
        )?;
    }
    writeln!(out, "</defs>")
}

/// The title and a one-line summary of the run.
fn draw_header(out: &mut String, story: &Story, options: &SvgOptions) -> fmt::Result {
    let mut y = 24.0;
    if !options.title.is_empty() {
        writeln!(
            out,
            r#"<text x="16" y="{}" font-size="15" font-weight="bold" fill="{INK}">{}</text>"#,
            Px(y),
            escape(&options.title)
        )?;
        y += 18.0;
    }
    let steps = match story.axis {
        Axis::Time => String::new(),
        Axis::Steps => format!(", {} drawn by step", counted(story.instants, "row")),
    };
    let summary = format!(
        "{}, {} to {}{steps}: {} sent, {} delivered, {} dropped",
        counted(story.nodes, "node"),
        ms(story.t_min),
        ms(story.t_max),
        counted(story.sent, "message"),
        story.delivered,
        story.dropped
    );
    writeln!(
        out,
        r#"<text x="16" y="{}" fill="{FAINT}">{}</text>"#,
        Px(y),
        escape(&summary)
    )
}

/// The axis on the left, with a faint grid line across at each tick: time, or steps
/// with the time written where it moves on.
fn draw_axis(out: &mut String, story: &Story, layout: &Layout) -> fmt::Result {
    let bottom = layout.lines_bottom();
    // The longer name of a step axis starts at the left edge rather than ending at the
    // axis, so that it stays on the page.
    let (name, x, anchor) = match story.axis {
        Axis::Time => ("time (ms)", AXIS_X, "end"),
        Axis::Steps => ("by step; time (ms)", 8.0, "start"),
    };
    writeln!(out, r#"<g class="axis">"#)?;
    writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="{anchor}" fill="{FAINT}">{name}</text>"#,
        Px(x),
        Px(PLOT_TOP - 30.0)
    )?;
    writeln!(
        out,
        r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{FAINT}"/>"#,
        Px(PLOT_TOP - 8.0),
        Px(bottom),
        x = Px(AXIS_X)
    )?;
    match story.axis {
        Axis::Time => draw_time_ticks(out, story, layout)?,
        Axis::Steps => draw_step_ticks(out, story, layout)?,
    }
    writeln!(out, "</g>")
}

/// A tick on the axis at `y`: a grid line across the diagram and the tick's `label`
/// if it has one, or else just a notch.
fn draw_tick(out: &mut String, layout: &Layout, y: f64, label: Option<&str>) -> fmt::Result {
    let y = Px(y);
    let Some(label) = label else {
        return writeln!(
            out,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{FAINT}"/>"#,
            Px(AXIS_X - 2.0),
            Px(AXIS_X)
        );
    };
    writeln!(
        out,
        r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{GRID}"/>"#,
        Px(AXIS_X),
        Px(layout.width - 16.0)
    )?;
    writeln!(
        out,
        r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{FAINT}"/>"#,
        Px(AXIS_X - 4.0),
        Px(AXIS_X)
    )?;
    writeln!(
        out,
        r#"<text x="{}" y="{y}" dy="0.35em" text-anchor="end" fill="{FAINT}">{label}</text>"#,
        Px(AXIS_X - 7.0),
    )
}

/// Time ticks, evenly spaced. A trace of one instant gets one tick, labelled to the
/// microsecond.
fn draw_time_ticks(out: &mut String, story: &Story, layout: &Layout) -> fmt::Result {
    let step = layout.tick_us;
    let mut t = layout.origin;
    while t <= story.t_max {
        draw_tick(out, layout, layout.y(t), Some(&tick_label(t, step)))?;
        match t.checked_add(step) {
            Some(next) => t = next,
            None => break,
        }
    }
    Ok(())
}

/// A notch per row, and the time at the first row and wherever it moves on (unless
/// too close to the time written above it).
fn draw_step_ticks(out: &mut String, story: &Story, layout: &Layout) -> fmt::Result {
    let mut written: Option<(u64, f64)> = None;
    for (row, &t_us) in story.row_times.iter().enumerate() {
        let y = layout.y(row as u64);
        let moved = written.is_none_or(|(t, _)| t != t_us);
        let room = written.is_none_or(|(_, above)| y - above >= MIN_ROW_LABEL_PX);
        if moved && room {
            draw_tick(out, layout, y, Some(&tick_label(t_us, 1)))?;
            written = Some((t_us, y));
        } else {
            draw_tick(out, layout, y, None)?;
        }
    }
    Ok(())
}

/// Partitions and heals: a dashed line across the diagram, its text at the right.
fn draw_network(out: &mut String, story: &Story, layout: &Layout) -> fmt::Result {
    writeln!(out, r#"<g class="network">"#)?;
    for change in &story.network {
        let y = Px(layout.y(change.at));
        let (class, c) = match change.restores {
            true => ("links-restored", GREEN),
            false => ("links-cut", RED),
        };
        writeln!(out, r#"<g class="{class}">"#)?;
        writeln!(
            out,
            "<title>harness at {}: {}</title>",
            ms(change.t_us),
            escape(&change.what)
        )?;
        writeln!(
            out,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{c}" stroke-width="1.2" stroke-dasharray="8 4"/>"#,
            Px(AXIS_X),
            Px(layout.width - 16.0)
        )?;
        writeln!(
            out,
            r#"<text x="{}" y="{y}" dy="-4" text-anchor="end" fill="{c}" {HALO}>{}</text>"#,
            Px(layout.width - 16.0),
            escape(&clip(&change.what, 30))
        )?;
        writeln!(out, "</g>")?;
    }
    writeln!(out, "</g>")
}

/// Each node's name and line: solid while up, dashed grey while down.
fn draw_lines(out: &mut String, story: &Story, layout: &Layout) -> fmt::Result {
    let top = PLOT_TOP - 8.0;
    let bottom = layout.lines_bottom();
    writeln!(out, r#"<g class="nodes">"#)?;
    for node in NodeId::all(story.nodes) {
        let x = Px(layout.x(node));
        writeln!(
            out,
            r#"<text class="node" x="{x}" y="{}" text-anchor="middle" font-size="14" font-weight="bold" fill="{}">{node}</text>"#,
            Px(PLOT_TOP - 16.0),
            color(node)
        )?;
        let segment = |out: &mut String, y1: f64, y2: f64, up: bool| {
            if y2 <= y1 {
                return Ok(());
            }
            let style = match up {
                true => format!(r#"stroke="{LIFELINE}" stroke-width="1.5""#),
                false => format!(r#"stroke="{DOWN}" stroke-width="1.5" stroke-dasharray="4 4""#),
            };
            writeln!(
                out,
                r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" {style}/>"#,
                Px(y1),
                Px(y2)
            )
        };
        let mut y = top;
        for outage in story.outages.iter().filter(|o| o.node == node) {
            let down = layout.y(outage.from);
            let up = outage.until.map_or(bottom, |at| layout.y(at));
            segment(out, y, down, true)?;
            segment(out, down, up, false)?;
            y = up;
        }
        segment(out, y, bottom, true)?;
    }
    writeln!(out, "</g>")
}

/// Every message: a delivered one as an arrow to its receiver, a dropped one as a
/// short dashed arrow ending in ✕.
fn draw_arrows(out: &mut String, story: &Story, layout: &Layout, room: &mut Room) -> fmt::Result {
    let labelled = story.arrows.len() <= MAX_LABELS;
    writeln!(out, r#"<g class="messages">"#)?;
    for arrow in &story.arrows {
        match arrow.dropped {
            None => draw_delivered(out, arrow, layout, labelled.then_some(&mut *room))?,
            Some(reason) => draw_dropped(out, arrow, reason, layout)?,
        }
    }
    writeln!(out, "</g>")
}

/// A delivered message: an arrow in its sender's color (dashed for a refusal), with its
/// name along it if names are wanted (`room` is given) and there is room for it.
fn draw_delivered(
    out: &mut String,
    a: &Arrow,
    layout: &Layout,
    room: Option<&mut Room>,
) -> fmt::Result {
    let course = Course::new(a, layout, layout.y(a.end_at));
    let c = color(a.from);
    writeln!(out, r#"<g class="msg">"#)?;
    writeln!(
        out,
        "<title>{}</title>",
        escape(&format!(
            "#{} {} → {}: {} (sent {}, delivered {})",
            a.id,
            a.from,
            a.to,
            a.msg,
            ms(a.sent_us),
            ms(a.end_us)
        ))
    )?;
    // A refusal (a vote not granted, a reply that failed) is dashed.
    let dash = match answer(a.msg) {
        Some(false) => r#" stroke-dasharray="5 3""#,
        _ => "",
    };
    writeln!(
        out,
        r#"<path d="{}" fill="none" stroke="{c}" stroke-width="1.3"{dash} marker-end="url(#head{})"/>"#,
        course.path(),
        a.from.index() % PALETTE.len()
    )?;
    // A message to itself keeps its name in its hover text.
    if let Some(room) = room.filter(|_| a.from != a.to) {
        let name = short_name(a.msg);
        if let Some((x, y, angle)) = name_place(&course, &name, room) {
            let (x, y) = (Px(x), Px(y));
            writeln!(
                out,
                r#"<text x="{x}" y="{y}" dy="-3" transform="rotate({} {x} {y})" text-anchor="middle" font-size="{NAME_SIZE}" fill="{c}" {HALO}>{}</text>"#,
                Px(angle),
                escape(&name)
            )?;
        }
    }
    writeln!(out, "</g>")
}

/// A dropped message: a dashed grey arrow toward its receiver, ending in a red ✕.
fn draw_dropped(out: &mut String, a: &Arrow, reason: &str, layout: &Layout) -> fmt::Result {
    // A message dropped the instant it was sent is drawn falling as a typical one would.
    let y_end = match a.end_at > a.sent_at {
        true => layout.y(a.end_at),
        false => layout.y(a.sent_at) + layout.drop_fall,
    };
    let course = Course::new(a, layout, y_end);
    // A message that reached a crashed node is drawn all the way to its line; one the
    // network lost or cut off stops short, 40% of the way.
    let reach = if reason == "crashed" { 1.0 } else { 0.4 };
    let (xe, ye) = course.at(reach);
    writeln!(out, r#"<g class="drop">"#)?;
    writeln!(
        out,
        "<title>{}</title>",
        escape(&format!(
            "#{} {} → {}: {} (sent {}, {})",
            a.id,
            a.from,
            a.to,
            a.msg,
            ms(a.sent_us),
            drop_reason(reason, a.to)
        ))
    )?;
    writeln!(
        out,
        r#"<path d="{}" fill="none" stroke="{DROPPED}" stroke-width="1.3" stroke-dasharray="4 3"/>"#,
        course.first(reach).path()
    )?;
    writeln!(
        out,
        r#"<path class="drop-x" d="{}" stroke="{RED}" stroke-width="2"/>"#,
        cross(xe, ye, 4.0)
    )?;
    writeln!(out, "</g>")
}

/// An ✕ of half-size `r` centred on (x, y), as path data.
fn cross(x: f64, y: f64, r: f64) -> String {
    format!(
        "M{},{} L{},{} M{},{} L{},{}",
        Px(x - r),
        Px(y - r),
        Px(x + r),
        Px(y + r),
        Px(x - r),
        Px(y + r),
        Px(x + r),
        Px(y - r)
    )
}

/// Events, crashes, restarts and timers on the nodes' lines, with their labels where
/// [`place_mark_labels`] found room.
fn draw_marks(
    out: &mut String,
    story: &Story,
    layout: &Layout,
    labels: &[Option<f64>],
) -> fmt::Result {
    writeln!(out, r#"<g class="events">"#)?;
    for (mark, label_y) in story.marks.iter().zip(labels) {
        let (x, y) = (layout.x(mark.node), layout.y(mark.at));
        let c = color(mark.node);
        let (class, shape, ink) = match mark.kind {
            MarkKind::Protocol => (
                "event",
                format!(
                    r#"<circle cx="{}" cy="{}" r="3.5" fill="{c}"/>"#,
                    Px(x),
                    Px(y)
                ),
                INK,
            ),
            MarkKind::Runtime => (
                "event",
                format!(
                    r#"<circle cx="{}" cy="{}" r="3.5" fill="white" stroke="{c}" stroke-width="1.5"/>"#,
                    Px(x),
                    Px(y)
                ),
                INK,
            ),
            MarkKind::Timer => (
                "timer",
                format!(
                    r#"<circle cx="{}" cy="{}" r="2.5" fill="white" stroke="{FAINT}"/>"#,
                    Px(x),
                    Px(y)
                ),
                FAINT,
            ),
            MarkKind::Crash => (
                "crash",
                format!(
                    r#"<path d="{}" stroke="{RED}" stroke-width="2.5"/>"#,
                    cross(x, y, 6.0)
                ),
                RED,
            ),
            MarkKind::Restart => (
                "restart",
                format!(
                    r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{GREEN}" stroke-width="3"/>"#,
                    Px(x - 8.0),
                    Px(x + 8.0),
                    y = Px(y)
                ),
                GREEN,
            ),
        };
        writeln!(out, r#"<g class="{class}">"#)?;
        writeln!(out, "<title>{}</title>", escape(&mark.title))?;
        writeln!(out, "{shape}")?;
        if let Some(ly) = label_y {
            let (dx, anchor, size) = label_style(mark.kind);
            writeln!(
                out,
                r#"<text x="{}" y="{}" dy="0.35em" text-anchor="{anchor}" font-size="{size}" fill="{ink}" {HALO}>{}</text>"#,
                Px(x + dx),
                Px(*ly),
                escape(&mark.label)
            )?;
        }
        writeln!(out, "</g>")?;
    }
    writeln!(out, "</g>")
}

/// A key to the marks, across the bottom: each entry a swatch 24 px wide and a word.
fn draw_legend(out: &mut String, y: f64) -> fmt::Result {
    let words = [
        "message",
        "dropped",
        "event",
        "crash",
        "restart",
        "partition",
        "heal",
    ];
    writeln!(out, r#"<g class="legend" font-size="10" fill="{FAINT}">"#)?;
    let mut x = 16.0;
    for word in words {
        let line = |style: String| {
            let (x1, x2, y) = (Px(x), Px(x + 24.0), Px(y));
            format!(r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" {style}/>"#)
        };
        let swatch = match word {
            "message" => line(format!(
                r#"stroke="{}" stroke-width="1.3" marker-end="url(#head0)""#,
                PALETTE[0]
            )),
            "dropped" => {
                let dashes = r#"stroke-width="1.3" stroke-dasharray="4 3""#;
                let x = cross(x + 20.0, y, 4.0);
                let line = line(format!(r#"stroke="{DROPPED}" {dashes}"#));
                format!(r#"{line}<path d="{x}" stroke="{RED}" stroke-width="2"/>"#)
            }
            "event" => format!(
                r#"<circle cx="{}" cy="{}" r="3.5" fill="{INK}"/>"#,
                Px(x + 16.0),
                Px(y)
            ),
            "crash" => format!(
                r#"<path d="{}" stroke="{RED}" stroke-width="2.5"/>"#,
                cross(x + 16.0, y, 5.0)
            ),
            "restart" => format!(
                r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{GREEN}" stroke-width="3"/>"#,
                Px(x + 8.0),
                Px(x + 24.0),
                y = Px(y)
            ),
            "partition" => line(format!(r#"stroke="{RED}" stroke-dasharray="8 4""#)),
            _ => line(format!(r#"stroke="{GREEN}" stroke-dasharray="8 4""#)),
        };
        writeln!(out, "{swatch}")?;
        writeln!(
            out,
            r#"<text x="{}" y="{}" dy="0.35em">{word}</text>"#,
            Px(x + 30.0),
            Px(y)
        )?;
        x += 30.0 + 6.0 * word.len() as f64 + 12.0;
    }
    writeln!(out, "</g>")
}

/// What the diagram leaves out, in words.
fn footnotes(story: &Story) -> Vec<String> {
    let mut notes = Vec::new();
    if story.left_out > 0 {
        let total = story.drawn + story.left_out;
        notes.push(match story.drawn {
            0 => format!("None of the {total} messages are drawn (SvgOptions::max_messages is 0)."),
            n => format!(
                "Only the first {n} of {total} messages are drawn, up to {} \
                 (SvgOptions::max_messages).",
                ms(story.last_drawn_us)
            ),
        });
    }
    if story.undrawable > 0 {
        notes.push(format!(
            "{} records not drawn: a delivery or drop without its send, or a node outside n1..n{}.",
            story.undrawable, story.nodes
        ));
    }
    notes
}

/// `n` and a noun, plural unless `n` is 1: `1 node`, `3 nodes`.
fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// `text` made safe for XML character data and attribute values. Characters XML 1.0
/// forbids even when escaped (most control characters) become U+FFFD.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_every_special_character() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("bell\u{7}"), "bell\u{FFFD}");
    }
}
