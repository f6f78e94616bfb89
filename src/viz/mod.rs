//! Space-time diagrams: a run drawn the way Lamport drew it.
//!
//! In "Time, Clocks, and the Ordering of Events in a Distributed System" (1978), Lamport
//! pictured a run as a *space-time diagram*: one vertical line per process with time
//! flowing along it, and one arrow per message, from the point where it was sent to the
//! point where it arrived. An event can have influenced another only if a path of line
//! segments and arrows leads from the first down to the second (it "happened before"
//! the second); two events with no such path are concurrent, whatever their clocks say.
//! A diagram is the quickest way to see why a node suspected a peer or how a vote split.
//!
//! How to read the diagrams drawn here:
//!
//! - one line per node, `n1` to `nN` from left to right; time flows down, to scale, with
//!   the run's time in milliseconds on the left (a long run is compressed evenly to fit
//!   a page). A run whose events crowd into a few instants (a model checker's
//!   counterexample, say) can be drawn by step instead ([`Axis::Steps`]): one row per
//!   step, in the trace's order, with the time written where it moves on;
//! - a solid arrow is a delivered message, in its sender's color and labelled with the
//!   message's name when there is room; hover over it for the whole message and its
//!   times. A duplicated message is one send with two arrows. An arrow that would run
//!   flat (sent and delivered at the same instant) is bowed so that it doesn't hide
//!   the arrows it would lie on;
//! - a short dashed grey arrow ending in a red ✕ is a message the network dropped; hover
//!   for why. When the receiver was down the ✕ sits on the receiver's line, where the
//!   message found nobody;
//! - a dot with a label is a protocol event (`suspect n3`, `became_leader t2`); hover
//!   for all its fields. A ring is one of the runtime's other events (a client reply),
//!   and a small grey ring a timer that fired, drawn only when asked for;
//! - a red ✕ on a node's line is a crash: the line is dashed grey while the node is down,
//!   and a green bar marks its restart;
//! - a dashed line across the diagram is the harness changing the network: red when it
//!   cuts links (a partition, a disconnected node), green when it gives them back (the
//!   end of a partition, a heal), with what it did written at the right.
//!
//! To make one, run a chapter binary with `--svg`: `ch00-world --svg run.svg`, then open
//! `run.svg` in a browser. From code, run a [`crate::runtime::Sim`] with
//! `SimConfig::trace` set (without it only protocol events are recorded, so there are no
//! arrows) and pass its records to [`write_svg`]; to draw them by step, set
//! [`SvgOptions::axis`] to [`Axis::Steps`].
//!
//! The output is deterministic: the same records give a byte-identical file, so a
//! diagram can be checked in next to the scenario that produced it and reviewed as a
//! diff.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use crate::error::{Error, Result};
use crate::runtime::trace::Record;
use crate::types::id::NodeId;

/// Options for a diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SvgOptions {
    /// The heading at the top of the diagram (none if empty).
    pub title: String,
    /// Draw at most this many messages, the first ones sent; a footnote says how many
    /// were left out. Events and crashes are always drawn.
    pub max_messages: usize,
    /// Also draw every timer that fired. Off by default: timers fire far more often
    /// than anything else happens, and the messages they cause already show.
    pub show_timers: bool,
    /// What runs down the page: time, to scale (the default), or the trace's steps.
    pub axis: Axis,
}

impl Default for SvgOptions {
    /// No title, the first 400 messages, no timers, time down the page.
    fn default() -> Self {
        SvgOptions {
            title: String::new(),
            max_messages: 400,
            show_timers: false,
            axis: Axis::Time,
        }
    }
}

/// What a diagram's vertical axis stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Axis {
    /// Time, to scale: an arrow's slant is the message's latency. Records are drawn in
    /// time order.
    #[default]
    Time,
    /// Steps, in the order the records are given, one row per step, whatever the clock
    /// said: for runs whose events crowd into a few instants, such as a model checker's
    /// counterexample. A step is one thing the runtime did and everything it caused at
    /// that instant on that node: a delivery, a timer, a drop, a crash, a restart or a
    /// harness action (each begins a new row), with the sends and events its handler
    /// recorded. Records of another node or another instant begin a new row too. The
    /// axis shows the time wherever it moves on.
    Steps,
}

impl Axis {
    /// The records that begin a step of their own under [`Axis::Steps`]: whatever the
    /// runtime did to a node or the network, as opposed to what a handler then did.
    const STEP_STARTS: &'static [&'static str] = &[
        "deliver",
        "timer",
        "drop",
        "crash",
        "restart",
        "partition",
        "heal",
        "slow",
    ];

    /// Where each of `records` goes down the page, in the axis's unit: its time in
    /// microseconds, or its step's row (0 for the first).
    fn positions(self, records: &[&Record]) -> Vec<u64> {
        match self {
            Axis::Time => records.iter().map(|r| r.t_us).collect(),
            Axis::Steps => {
                let mut row = 0;
                let mut previous: Option<&Record> = None;
                records
                    .iter()
                    .map(|r| {
                        let begins = previous.is_some_and(|p| {
                            p.node != r.node
                                || p.t_us != r.t_us
                                || Axis::STEP_STARTS.contains(&r.event.as_str())
                        });
                        if begins {
                            row += 1;
                        }
                        previous = Some(r);
                        row
                    })
                    .collect()
            }
        }
    }
}

/// Renders `records` (a trace, sorted by time; in the order of its steps for
/// [`Axis::Steps`]) as a standalone SVG document for a cluster of `nodes` nodes. Records about nodes outside `n1..=nN`, and deliveries
/// whose send is not in the trace, are counted in a footnote rather than drawn.
pub fn render(records: &[Record], nodes: usize, options: &SvgOptions) -> String {
    let story = Story::read(records, nodes, options);
    let layout = Layout::fit(&story);
    let mut svg = String::new();
    // `draw` only `write!`s into `svg`, and `fmt::Write for String` never returns an
    // error (it only grows the string): the `Result` exists only for `write!`'s `?`.
    if draw(&mut svg, &story, &layout, options).is_err() {
        svg.clear();
    }
    svg
}

/// Renders `records` as [`render`] does and writes the diagram to `path`, replacing it.
pub fn write_svg(
    path: &Path,
    records: &[Record],
    nodes: usize,
    options: &SvgOptions,
) -> Result<()> {
    std::fs::write(path, render(records, nodes, options)).map_err(|e| Error::io(path, e))
}

// --- What the trace says ---------------------------------------------------------------

/// What the diagram shows, read from the trace before anything is placed.
struct Story<'a> {
    /// The cluster's size: lines `n1..=nN`.
    nodes: usize,
    /// What runs down the page.
    axis: Axis,
    /// The first and last instants of the trace, in microseconds.
    t_min: u64,
    t_max: u64,
    /// The first and last positions down the page, in the axis's unit (microseconds,
    /// or rows); for [`Axis::Time`] the same as `t_min` and `t_max`.
    first: u64,
    last: u64,
    /// How many distinct positions the trace has: instants, or rows (scales a diagram
    /// with no messages).
    instants: usize,
    /// For [`Axis::Steps`], the time of each row; empty for [`Axis::Time`].
    row_times: Vec<u64>,
    /// Every delivery and drop of a drawn message, in trace order.
    arrows: Vec<Arrow<'a>>,
    /// Events drawn on a node's line, in trace order.
    marks: Vec<Mark>,
    /// The spans during which a node was down.
    outages: Vec<Outage>,
    /// The harness's partitions and heals.
    network: Vec<NetChange>,
    /// Messages sent in the whole trace; how many of them are drawn, and how many are
    /// left out because they came after the first `max_messages`.
    sent: usize,
    drawn: usize,
    left_out: usize,
    /// When the last drawn message was sent (for the truncation footnote).
    last_drawn_us: u64,
    /// Deliveries and drops in the whole trace (drawn or not).
    delivered: usize,
    dropped: usize,
    /// Records that could not be placed: no matching send, or a node outside the cluster.
    undrawable: usize,
}

/// One arrow: a message from its send to its delivery, or toward where it was dropped.
struct Arrow<'a> {
    /// The message id the runtime gave it (shared by the copies of a duplicate).
    id: u64,
    from: NodeId,
    to: NodeId,
    sent_us: u64,
    /// When it was delivered or dropped.
    end_us: u64,
    /// Where its send and its end go down the page, in the axis's unit.
    sent_at: u64,
    end_at: u64,
    /// The message's `Debug` text.
    msg: &'a str,
    /// Why it was dropped (`partitioned`, `lost`, `crashed`); `None` if delivered.
    dropped: Option<&'a str>,
}

/// Something drawn on one node's line.
struct Mark {
    /// Where it goes down the page, in the axis's unit.
    at: u64,
    node: NodeId,
    kind: MarkKind,
    /// The short text beside the mark.
    label: String,
    /// The hover text: everything the record says.
    title: String,
}

/// What a mark stands for, which decides its shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MarkKind {
    /// A protocol event (`suspect`, `voted`, …): a filled dot.
    Protocol,
    /// Another of the runtime's events (`reply`, `slow`): a ring.
    Runtime,
    /// A timer that fired: a small grey ring, labelled on the left.
    Timer,
    /// The node crashed: a red ✕.
    Crash,
    /// The node was restarted: a green bar.
    Restart,
}

/// A node was down from position `from` until `until` (or the end of the trace), in
/// the axis's unit.
struct Outage {
    node: NodeId,
    from: u64,
    until: Option<u64>,
}

/// The harness cut links of the network or restored them.
struct NetChange {
    t_us: u64,
    /// Where it goes down the page, in the axis's unit.
    at: u64,
    /// Whether links came back (`heal`, `end partition …`, `connect n2`) rather than
    /// went (`partition …`, `disconnect n2`).
    restores: bool,
    what: String,
}

impl<'a> Story<'a> {
    /// Reads what there is to draw from `records`: each message matched to its send,
    /// each crash to its restart, each event made a mark.
    fn read(records: &'a [Record], nodes: usize, options: &SvgOptions) -> Story<'a> {
        // Traces are written in time order; sorting (stably) costs little and keeps a
        // hand-made or merged trace from drawing nonsense. Drawn by step, the order is
        // the caller's.
        let mut records: Vec<&'a Record> = records.iter().collect();
        if options.axis == Axis::Time {
            records.sort_by_key(|r| r.t_us);
        }
        let positions = options.axis.positions(&records);
        let mut row_times = Vec::new();
        if options.axis == Axis::Steps {
            for (r, &at) in records.iter().zip(&positions) {
                if at as usize == row_times.len() {
                    row_times.push(r.t_us);
                }
            }
        }
        let mut instants = positions.clone();
        instants.dedup();
        let mut story = Story {
            nodes,
            axis: options.axis,
            t_min: records.iter().map(|r| r.t_us).min().unwrap_or(0),
            t_max: records.iter().map(|r| r.t_us).max().unwrap_or(0),
            first: instants.first().copied().unwrap_or(0),
            last: instants.last().copied().unwrap_or(0),
            instants: instants.len(),
            row_times,
            arrows: Vec::new(),
            marks: Vec::new(),
            outages: Vec::new(),
            network: Vec::new(),
            sent: 0,
            drawn: 0,
            left_out: 0,
            last_drawn_us: 0,
            delivered: 0,
            dropped: 0,
            undrawable: 0,
        };

        // First the sends, so that every delivery and drop can find its message: id ->
        // the send record and its position, or None for a message past `max_messages`.
        let mut sends: BTreeMap<u64, Option<(&'a Record, u64)>> = BTreeMap::new();
        for (r, &at) in records.iter().zip(&positions) {
            if r.event != "send" {
                continue;
            }
            story.sent += 1;
            match r.u64_field("id") {
                Some(id) if story.on_a_line(r.node) => {
                    let drawn = story.drawn < options.max_messages;
                    if drawn {
                        story.drawn += 1;
                        story.last_drawn_us = r.t_us;
                    } else {
                        story.left_out += 1;
                    }
                    sends.insert(id, drawn.then_some((*r, at)));
                }
                _ => story.undrawable += 1,
            }
        }

        // Then everything else, in order. Per node: since when it has been down.
        let mut down_since: Vec<Option<u64>> = vec![None; nodes];
        for (r, at) in records.into_iter().zip(positions) {
            match r.event.as_str() {
                "send" => {}
                "partition" | "heal" => story.network.push(NetChange {
                    t_us: r.t_us,
                    at,
                    restores: restores_links(r),
                    what: r.str_field("what").unwrap_or(&r.event).to_string(),
                }),
                _ if !story.on_a_line(r.node) => story.undrawable += 1,
                "deliver" | "drop" => {
                    let delivered = r.event == "deliver";
                    if delivered {
                        story.delivered += 1;
                    } else {
                        story.dropped += 1;
                    }
                    let send = r.u64_field("id").and_then(|id| sends.get(&id));
                    match send {
                        Some(Some((send, sent_at))) => match story.arrow(send, *sent_at, r, at) {
                            Some(arrow) => story.arrows.push(arrow),
                            None => story.undrawable += 1,
                        },
                        Some(None) => {} // past max_messages; the footnote says so
                        None => story.undrawable += 1,
                    }
                }
                "crash" => {
                    let down = &mut down_since[r.node.index()];
                    if down.is_none() {
                        *down = Some(at);
                    }
                    story.mark(r, at, MarkKind::Crash, "crash".to_string());
                }
                "restart" => {
                    if let Some(from) = down_since[r.node.index()].take() {
                        story.outages.push(Outage {
                            node: r.node,
                            from,
                            until: Some(at),
                        });
                    }
                    story.mark(r, at, MarkKind::Restart, "restart".to_string());
                }
                "timer" => {
                    if options.show_timers {
                        let label = short_name(r.str_field("timer").unwrap_or("timer"));
                        story.mark(r, at, MarkKind::Timer, label);
                    }
                }
                _ => {
                    let kind = match r.is_runtime_event() {
                        true => MarkKind::Runtime,
                        false => MarkKind::Protocol,
                    };
                    story.mark(r, at, kind, event_label(r));
                }
            }
        }
        for (i, since) in down_since.into_iter().enumerate() {
            if let Some(from) = since {
                story.outages.push(Outage {
                    node: NodeId::from_index(i),
                    from,
                    until: None,
                });
            }
        }
        story
    }

    /// Whether `node` has a line in this diagram (`n1..=nN`; not the harness).
    fn on_a_line(&self, node: NodeId) -> bool {
        node.0 >= 1 && node.index() < self.nodes
    }

    /// The arrow for message `send` (at position `sent_at`), which `end` (a `deliver`
    /// or `drop`, at `end_at`) finished.
    fn arrow(
        &self,
        send: &'a Record,
        sent_at: u64,
        end: &'a Record,
        end_at: u64,
    ) -> Option<Arrow<'a>> {
        let node_field = |r: &Record, key| r.u64_field(key).and_then(|v| u32::try_from(v).ok());
        let to = NodeId(node_field(send, "to")?);
        if !self.on_a_line(to) {
            return None;
        }
        Some(Arrow {
            id: send.u64_field("id")?,
            from: send.node,
            to,
            sent_us: send.t_us,
            end_us: end.t_us.max(send.t_us),
            sent_at,
            end_at: end_at.max(sent_at),
            msg: send.str_field("msg").unwrap_or("?"),
            dropped: match end.event.as_str() {
                "drop" => Some(end.str_field("reason").unwrap_or("unknown")),
                _ => None,
            },
        })
    }

    fn mark(&mut self, r: &Record, at: u64, kind: MarkKind, label: String) {
        self.marks.push(Mark {
            at,
            node: r.node,
            kind,
            label,
            title: format!("{} at {}: {}", r.node, ms(r.t_us), describe(r)),
        });
    }

    /// The median time a delivered message took, if any took time: what the vertical
    /// scale of [`Axis::Time`] is fitted to, so that a typical arrow visibly slants.
    fn typical_latency_us(&self) -> Option<u64> {
        let mut latencies: Vec<u64> = self
            .arrows
            .iter()
            .filter(|a| a.dropped.is_none())
            .map(|a| a.end_us - a.sent_us)
            .filter(|&l| l > 0)
            .collect();
        latencies.sort_unstable();
        latencies.get(latencies.len() / 2).copied()
    }
}

// --- Labels ----------------------------------------------------------------------------

/// A message's or timer's name: its `Debug` text up to the first `{`, `(` or space
/// (`Heartbeat { incarnation: 1, seq: 4 }` is `Heartbeat`).
fn short_name(debug: &str) -> String {
    let name = debug.split(['{', '(', ' ']).next().unwrap_or("").trim();
    clip(if name.is_empty() { debug } else { name }, 24)
}

/// The label beside a protocol event: its name and what it is most about: the node it
/// concerns, the value, the term, the incarnation (`suspect n3`, `voted n1 t4`,
/// `became_leader t2`, `chosen 7`, `started #2`), or else its first field
/// (`applied index=4`). Short enough to stay clear of the next node's line.
fn event_label(r: &Record) -> String {
    const ABOUT_A_NODE: &[&str] = &["peer", "for", "leader", "candidate", "node", "to", "from"];
    let mut parts = vec![r.event.clone()];
    if let Some(v) = ABOUT_A_NODE.iter().find_map(|k| r.u64_field(k)) {
        parts.push(format!("n{v}"));
    } else if let Some(c) = r.u64_field("client") {
        parts.push(format!("c{c}"));
    }
    if let Some(v) = r.fields.get("value") {
        parts.push(show(v));
    }
    if let Some(t) = r.u64_field("term") {
        parts.push(format!("t{t}"));
    }
    if let Some(i) = r.u64_field("incarnation") {
        parts.push(format!("#{i}"));
    }
    if parts.len() == 1 {
        if let Some((k, v)) = r.fields.iter().next() {
            parts.push(format!("{k}={}", show(v)));
        }
    }
    clip(&parts.join(" "), 22)
}

/// Everything a record says, for hover text: `suspect { peer: 3 }`.
fn describe(r: &Record) -> String {
    if r.fields.is_empty() {
        return r.event.clone();
    }
    let fields: Vec<String> = r
        .fields
        .iter()
        .map(|(k, v)| format!("{k}: {}", show(v)))
        .collect();
    format!("{} {{ {} }}", r.event, fields.join(", "))
}

/// A field's value as a reader would write it: strings without their quotes.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a `partition` or `heal` record gave links back. A `partition` record's
/// `what` is the harness action's `Display` text (see [`crate::runtime::Action`]).
fn restores_links(r: &Record) -> bool {
    let what = r.str_field("what").unwrap_or("");
    r.event == "heal" || what.starts_with("end partition") || what.starts_with("connect")
}

/// `text` cut to at most `max` characters, ending in `…` if it was cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `n` and a noun, plural unless `n` is 1: `1 node`, `3 nodes`.
fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// A time as `12.345 ms`, from exact integer arithmetic.
fn ms(t_us: u64) -> String {
    format!("{}.{:03} ms", t_us / 1000, t_us % 1000)
}

/// Why a message was dropped, in words.
fn drop_reason(reason: &str, to: NodeId) -> String {
    match reason {
        "partitioned" => "dropped: the network between them is partitioned".to_string(),
        "lost" => "dropped: lost by the network".to_string(),
        "crashed" => format!("dropped: {to} was down when it arrived"),
        other => format!("dropped: {other}"),
    }
}

/// `text` made safe for XML character data and attribute values. Characters XML 1.0
/// forbids even when escaped (most control characters) become U+FFFD.
fn escape(text: &str) -> String {
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

// --- Where things go -------------------------------------------------------------------

/// The x of the time axis.
const AXIS_X: f64 = 72.0;
/// The x of `n1`'s line, and the distance between neighbouring lines.
const FIRST_LINE_X: f64 = 136.0;
const LINE_SPACING: f64 = 140.0;
/// Room right of the last line, for its labels and the network changes' text.
const RIGHT_MARGIN: f64 = 190.0;
/// Wide enough for the legend, however few nodes.
const MIN_WIDTH: f64 = 600.0;
/// The y of the trace's first instant.
const PLOT_TOP: f64 = 96.0;
/// The plot's height stays between these, whatever the trace's length.
const MIN_PLOT_HEIGHT: f64 = 240.0;
const MAX_PLOT_HEIGHT: f64 = 1600.0;
/// How far a typical message falls on screen, when the scale allows.
const LATENCY_PX: f64 = 32.0;
/// Room per distinct instant when no message took time to scale by.
const INSTANT_PX: f64 = 40.0;
/// Room per step, drawn by step; rows may close up to [`MIN_ROW_PX`] in a long trace.
const ROW_PX: f64 = 26.0;
const MIN_ROW_PX: f64 = 13.0;
/// Times written on a step axis are at least this far apart.
const MIN_ROW_LABEL_PX: f64 = 14.0;
/// An arrow whose ends are closer than this in y is bowed rather than drawn straight.
const FLAT_PX: f64 = 8.0;
/// Ticks on the time axis are at least this far apart.
const MIN_TICK_PX: f64 = 48.0;
/// Messages are named, and timers labelled, only when there are at most this many.
const MAX_LABELS: usize = 60;
/// Labels on one side of a line are at least this far apart; a label that would have
/// to move further than `MAX_LABEL_SHIFT` from its mark is left out (hover still works).
const LABEL_GAP: f64 = 12.0;
const MAX_LABEL_SHIFT: f64 = 36.0;
/// The least room between a message's name and any other label.
const LABEL_MARGIN: f64 = 4.0;

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

/// A coordinate, printed with one decimal so that output is byte-for-byte stable.
#[derive(Clone, Copy)]
struct Px(f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print `-0.0`.
        let v = if self.0.abs() < 0.05 { 0.0 } else { self.0 };
        write!(f, "{v:.1}")
    }
}

/// Where time and nodes land on the page.
struct Layout {
    /// The position at the top of the plot, in the axis's unit: the trace's first
    /// instant rounded down to a tick, or the first row.
    origin: u64,
    /// Pixels per microsecond, or per row.
    px_per_unit: f64,
    /// The time between ticks on a time axis.
    tick_us: u64,
    /// The y of the trace's last position; lines run a little past it.
    plot_bottom: f64,
    width: f64,
    /// How far a message dropped at the instant it was sent is drawn to fall.
    drop_fall: f64,
}

impl Layout {
    /// Fits the trace into the page, by time or by step.
    fn fit(story: &Story) -> Layout {
        match story.axis {
            Axis::Time => Layout::fit_time(story),
            Axis::Steps => Layout::fit_steps(story),
        }
    }

    /// Fits the trace's time span into a plot between [`MIN_PLOT_HEIGHT`] and
    /// [`MAX_PLOT_HEIGHT`], aiming for a typical message to fall [`LATENCY_PX`]; the
    /// scale is linear, so a long run is compressed evenly.
    fn fit_time(story: &Story) -> Layout {
        let span = story.t_max - story.t_min;
        let latency = story.typical_latency_us();
        let wanted = match latency {
            Some(l) => span as f64 * LATENCY_PX / l as f64,
            None => story.instants as f64 * INSTANT_PX,
        };
        let plot_height = wanted.clamp(MIN_PLOT_HEIGHT, MAX_PLOT_HEIGHT);
        // Start the plot on a tick (a run's trace starts at 0 ms, not at its first
        // record's 0.377 ms), which stretches the span by less than a tick.
        let (t_origin, tick_us, px_per_us) = match span {
            0 => (story.t_min, 1, 0.0),
            _ => {
                let tick_us = tick_step_us(plot_height / span as f64, MIN_TICK_PX);
                let t_origin = story.t_min - story.t_min % tick_us;
                let px_per_us = plot_height / (story.t_max - t_origin) as f64;
                (t_origin, tick_us, px_per_us)
            }
        };
        let drop_fall = match latency {
            Some(l) => (l as f64 * px_per_us).clamp(14.0, 40.0),
            None => 24.0,
        };
        Layout {
            origin: t_origin,
            px_per_unit: px_per_us,
            tick_us,
            plot_bottom: PLOT_TOP + plot_height,
            width: Layout::width(story.nodes),
            drop_fall,
        }
    }

    /// One row per step, [`ROW_PX`] apart, closer (down to [`MIN_ROW_PX`]) when that
    /// keeps the plot within [`MAX_PLOT_HEIGHT`].
    fn fit_steps(story: &Story) -> Layout {
        let gaps = story.last - story.first;
        let row_px = (MAX_PLOT_HEIGHT / gaps.max(1) as f64).clamp(MIN_ROW_PX, ROW_PX);
        Layout {
            origin: story.first,
            px_per_unit: row_px,
            tick_us: 1,
            plot_bottom: PLOT_TOP + gaps as f64 * row_px,
            width: Layout::width(story.nodes),
            drop_fall: row_px.clamp(14.0, 40.0),
        }
    }

    /// Room for `nodes` lines, their labels, and the legend.
    fn width(nodes: usize) -> f64 {
        let lines = nodes.max(1) - 1;
        (FIRST_LINE_X + lines as f64 * LINE_SPACING + RIGHT_MARGIN).max(MIN_WIDTH)
    }

    fn x(&self, node: NodeId) -> f64 {
        FIRST_LINE_X + node.index() as f64 * LINE_SPACING
    }

    /// The y of position `at`, in the axis's unit.
    fn y(&self, at: u64) -> f64 {
        PLOT_TOP + at.saturating_sub(self.origin) as f64 * self.px_per_unit
    }

    /// The x of every node's line.
    fn line_xs(&self, nodes: usize) -> Vec<f64> {
        NodeId::all(nodes).into_iter().map(|n| self.x(n)).collect()
    }

    /// Where node lines and the grid end: far enough past the last instant for a
    /// message dropped then to be drawn falling.
    fn lines_bottom(&self) -> f64 {
        self.plot_bottom + self.drop_fall + 8.0
    }
}

/// The time axis's tick spacing: the smallest 1, 2 or 5 × 10^k µs that puts ticks at
/// least `min_px` apart at `px_per_us`.
fn tick_step_us(px_per_us: f64, min_px: f64) -> u64 {
    let mut power = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            if step as f64 * px_per_us >= min_px || power >= 1_000_000_000_000 {
                return step;
            }
        }
        power *= 10;
    }
}

/// A tick's label in milliseconds, with as many decimals as `step_us` needs.
fn tick_label(t_us: u64, step_us: u64) -> String {
    let decimals = match step_us {
        s if s % 1000 == 0 => return (t_us / 1000).to_string(),
        s if s % 100 == 0 => 1,
        s if s % 10 == 0 => 2,
        _ => 3,
    };
    let frac = format!("{:03}", t_us % 1000);
    format!("{}.{}", t_us / 1000, &frac[..decimals])
}

/// Keeps labels on one side of each line from overlapping: each asks for a y and
/// gets the nearest free one at or below it, or none if that is too far from its mark.
struct LabelTrack {
    next_free: Vec<f64>,
}

impl LabelTrack {
    fn new(nodes: usize) -> LabelTrack {
        LabelTrack {
            next_free: vec![f64::NEG_INFINITY; nodes],
        }
    }

    fn place(&mut self, node: NodeId, y: f64) -> Option<f64> {
        let free = &mut self.next_free[node.index()];
        let at = y.max(*free);
        if at - y > MAX_LABEL_SHIFT {
            return None;
        }
        *free = at + LABEL_GAP;
        Some(at)
    }
}

/// About how wide `text` is at `size` px: a sans-serif character is about 0.6 em.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// The box a label takes up on the page.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Rect {
    /// The box around `text` set at `size` px, centred on (cx, cy) and turned by
    /// `angle` degrees.
    fn around(cx: f64, cy: f64, text: &str, size: f64, angle: f64) -> Rect {
        let (w, h) = (text_width(text, size), size);
        let (sin, cos) = angle.to_radians().sin_cos();
        let half_w = (w * cos.abs() + h * sin.abs()) / 2.0;
        let half_h = (w * sin.abs() + h * cos.abs()) / 2.0;
        Rect {
            left: cx - half_w,
            top: cy - half_h,
            right: cx + half_w,
            bottom: cy + half_h,
        }
    }

    /// The rectangle with `by` more room on every side.
    fn grown(&self, by: f64) -> Rect {
        Rect {
            left: self.left - by,
            top: self.top - by,
            right: self.right + by,
            bottom: self.bottom + by,
        }
    }

    fn overlaps(&self, other: &Rect) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }
}

/// The room left for labels: the boxes of the labels placed so far, and the nodes'
/// lines, which a message's name must not sit on.
struct Room {
    taken: Vec<Rect>,
    lines: Vec<f64>,
}

impl Room {
    fn new(lines: Vec<f64>) -> Room {
        Room {
            taken: Vec::new(),
            lines,
        }
    }

    /// Marks `rect` as taken.
    fn take(&mut self, rect: Rect) {
        self.taken.push(rect);
    }

    /// Takes `rect` if it crosses no line and comes no nearer than a few pixels to
    /// another label (so that two labels never read as one); says whether it did.
    fn take_if_free(&mut self, rect: Rect) -> bool {
        let on_a_line = self.lines.iter().any(|&x| rect.left < x && x < rect.right);
        let margin = rect.grown(LABEL_MARGIN);
        let free = !on_a_line && !self.taken.iter().any(|t| t.overlaps(&margin));
        if free {
            self.take(rect);
        }
        free
    }
}

// --- Drawing ---------------------------------------------------------------------------

/// The whole document, back to front: header, axis, network changes, node lines,
/// messages, marks (so that labels sit on top), then the legend and footnotes.
fn draw(out: &mut String, story: &Story, layout: &Layout, options: &SvgOptions) -> fmt::Result {
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
        Axis::Steps => format!(", {} drawn one per row", counted(story.instants, "step")),
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

/// The course of an arrow on the page, as a cubic Bézier curve from `p0` to `p3`: a
/// straight line when the message took visible time, a bow when it would lie flat, and
/// a loop for a message a node sends itself.
struct Course {
    p0: (f64, f64),
    p1: (f64, f64),
    p2: (f64, f64),
    p3: (f64, f64),
}

impl Course {
    /// From `a`'s sender at its send time to its receiver at `y_end`.
    fn new(a: &Arrow, layout: &Layout, y_end: f64) -> Course {
        let (x0, y0) = (layout.x(a.from), layout.y(a.sent_at));
        let x1 = layout.x(a.to);
        if a.from == a.to {
            // A loop out to the right of the line.
            let y1 = y_end.max(y0 + 12.0);
            return Course {
                p0: (x0, y0),
                p1: (x0 + 40.0, y0),
                p2: (x0 + 40.0, y1),
                p3: (x0, y1),
            };
        }
        let (p0, p3) = ((x0, y0), (x1, y_end));
        if (y_end - y0).abs() >= FLAT_PX {
            return Course {
                p0,
                p1: lerp(p0, p3, 1.0 / 3.0),
                p2: lerp(p0, p3, 2.0 / 3.0),
                p3,
            };
        }
        // Nearly flat, it would lie on the arrows to nearer nodes, or on an arrow going
        // the other way at the same instant. Bow it, up when going right and down when
        // going left, further the more lines it crosses. Its middle is `bow` off the
        // chord: a quadratic curve's control point twice as far, raised to a cubic.
        let columns = (x1 - x0).abs() / LINE_SPACING;
        let bow = if x1 > x0 { -1.0 } else { 1.0 } * (3.0 + 4.0 * columns);
        let mid = lerp(p0, p3, 0.5);
        let control = (mid.0, mid.1 + 2.0 * bow);
        Course {
            p0,
            p1: lerp(p0, control, 2.0 / 3.0),
            p2: lerp(p3, control, 2.0 / 3.0),
            p3,
        }
    }

    /// The point at `t` (0 at the start, 1 at the end).
    fn at(&self, t: f64) -> (f64, f64) {
        self.first(t).p3
    }

    /// The part of the course from its start to `t` (de Casteljau's construction).
    fn first(&self, t: f64) -> Course {
        let (a, b, c) = (
            lerp(self.p0, self.p1, t),
            lerp(self.p1, self.p2, t),
            lerp(self.p2, self.p3, t),
        );
        let (d, e) = (lerp(a, b, t), lerp(b, c, t));
        Course {
            p0: self.p0,
            p1: a,
            p2: d,
            p3: lerp(d, e, t),
        }
    }

    /// The course as SVG path data.
    fn path(&self) -> String {
        let p = |(x, y): (f64, f64)| format!("{},{}", Px(x), Px(y));
        format!(
            "M{} C{} {} {}",
            p(self.p0),
            p(self.p1),
            p(self.p2),
            p(self.p3)
        )
    }
}

/// The point a fraction `t` of the way from `a` to `b`.
fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
}

/// A delivered message: an arrow in its sender's color, with its name along it if
/// names are wanted (`room` is given) and there is room for it.
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
    writeln!(
        out,
        r#"<path d="{}" fill="none" stroke="{c}" stroke-width="1.3" marker-end="url(#head{})"/>"#,
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

/// The font size of a message's name.
const NAME_SIZE: f64 = 9.5;

/// Where a message's name goes: just above the arrow, along it and kept upright, in
/// one of the gaps between the lines it spans (the sender's side first; the middle of
/// a gap, else a little either side), wherever it first sits on no line and no other
/// label. `None` if there is no such place.
fn name_place(course: &Course, name: &str, room: &mut Room) -> Option<(f64, f64, f64)> {
    let (dx, dy) = (course.p3.0 - course.p0.0, course.p3.1 - course.p0.1);
    let angle = dy.atan2(dx).to_degrees();
    let angle = if angle.abs() > 90.0 {
        angle - 180.0 * angle.signum()
    } else {
        angle
    };
    // The text sits 3 px above the arrow, so its middle is this far off it.
    let lift = 3.0 + 0.35 * NAME_SIZE;
    let (sin, cos) = angle.to_radians().sin_cos();
    // x runs evenly along a course (its control points are a third of the way apart),
    // so the middle of gap k is at t = (k + ½) / gaps.
    let gaps = (dx.abs() / LINE_SPACING).round().max(1.0) as usize;
    let in_gap = |k: usize| [0.5, 0.3, 0.7].map(|f| (k as f64 + f) / gaps as f64);
    (0..gaps).flat_map(in_gap).find_map(|t| {
        let (x, y) = course.at(t);
        let rect = Rect::around(x + lift * sin, y - lift * cos, name, NAME_SIZE, angle);
        room.take_if_free(rect).then_some((x, y, angle))
    })
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

/// How a mark's label is set: its offset from the line, its anchor and its font size.
/// Timers are labelled on the left in small print, everything else on the right.
fn label_style(kind: MarkKind) -> (f64, &'static str, f64) {
    match kind {
        MarkKind::Timer => (-6.0, "end", 9.0),
        _ => (9.0, "start", 10.5),
    }
}

/// The y of each mark's label, in `story.marks` order: the mark's own y, or a little
/// below it to clear the label above, or `None` if it would drift too far (its hover
/// text still says it all). Timers are labelled only while there are few of them.
fn place_mark_labels(story: &Story, layout: &Layout, room: &mut Room) -> Vec<Option<f64>> {
    let mut right = LabelTrack::new(story.nodes);
    let mut left = LabelTrack::new(story.nodes);
    let timers = story
        .marks
        .iter()
        .filter(|m| m.kind == MarkKind::Timer)
        .count();
    let mut placed = Vec::with_capacity(story.marks.len());
    for mark in &story.marks {
        let (x, y) = (layout.x(mark.node), layout.y(mark.at));
        let at = match mark.kind {
            MarkKind::Timer if timers > MAX_LABELS => None,
            MarkKind::Timer => left.place(mark.node, y),
            _ => right.place(mark.node, y),
        };
        if let Some(ly) = at {
            let (dx, _, size) = label_style(mark.kind);
            let w = text_width(&mark.label, size);
            let left = if dx < 0.0 { x + dx - w } else { x + dx };
            room.take(Rect {
                left,
                top: ly - size / 2.0,
                right: left + w,
                bottom: ly + size / 2.0,
            });
        }
        placed.push(at);
    }
    placed
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::trace::HARNESS;
    use serde_json::json;

    /// A record by hand: `rec(10, 1, "send", json!({"to": 2, "id": 1, "msg": "Ping"}))`.
    fn rec(t_us: u64, node: u32, event: &str, fields: serde_json::Value) -> Record {
        Record {
            t_us,
            node: NodeId(node),
            event: event.to_string(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    fn send(t_us: u64, from: u32, to: u32, id: u64, msg: &str) -> Record {
        rec(t_us, from, "send", json!({"to": to, "id": id, "msg": msg}))
    }

    fn deliver(t_us: u64, to: u32, from: u32, id: u64) -> Record {
        rec(t_us, to, "deliver", json!({"from": from, "id": id}))
    }

    /// A bit of everything: a delivered message (with a `<&>` in it), a dropped one, a
    /// protocol event, a crash and restart, a partition and heal.
    fn scenario() -> Vec<Record> {
        vec![
            rec(0, 1, "started", json!({"incarnation": 1})),
            send(1_000, 1, 2, 1, "Heartbeat { note: \"<&>\" }"),
            deliver(3_000, 2, 1, 1),
            rec(
                4_000,
                HARNESS.0,
                "partition",
                json!({"what": "partition n1 | n2 n3"}),
            ),
            send(5_000, 1, 3, 2, "Heartbeat { seq: 2 }"),
            rec(
                5_000,
                1,
                "drop",
                json!({"to": 3, "id": 2, "reason": "partitioned"}),
            ),
            rec(6_000, 3, "crash", json!({})),
            rec(8_000, 2, "suspect", json!({"peer": 3})),
            rec(9_000, HARNESS.0, "heal", json!({})),
            rec(10_000, 3, "restart", json!({})),
        ]
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn output_is_a_well_formed_svg_document() {
        let one_instant = vec![rec(1_500, 2, "started", json!({"incarnation": 1}))];
        for records in [scenario(), one_instant, Vec::new()] {
            let svg = render(&records, 3, &SvgOptions::default());
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.trim_end().ends_with("</svg>"));
            assert_eq!(count(&svg, "<svg"), 1);
            assert_eq!(count(&svg, "</svg>"), 1);
            let opened_groups = count(&svg, "<g>") + count(&svg, "<g ");
            assert_eq!(opened_groups, count(&svg, "</g>"));
            for tag in ["title", "text", "defs", "marker"] {
                let opened = count(&svg, &format!("<{tag}>")) + count(&svg, &format!("<{tag} "));
                assert_eq!(opened, count(&svg, &format!("</{tag}>")), "<{tag}> balance");
            }
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
    }

    #[test]
    fn a_trace_of_one_instant_gets_one_tick() {
        let records = vec![rec(1_500, 2, "started", json!({"incarnation": 1}))];
        let svg = render(&records, 3, &SvgOptions::default());
        assert!(svg.contains(">1.500</text>"), "{svg}");
    }

    #[test]
    fn text_is_escaped_for_xml() {
        let svg = render(&scenario(), 3, &SvgOptions::default());
        assert!(
            svg.contains("&lt;&amp;&gt;"),
            "the message's <&> should be escaped"
        );
        for title in svg.split("<title>").skip(1) {
            let body = title.split("</title>").next().unwrap();
            assert!(
                !body.contains('<') && !body.contains('>'),
                "unescaped title: {body}"
            );
        }
        let options = SvgOptions {
            title: "a \"quoted\" 'title' & <more>".to_string(),
            ..SvgOptions::default()
        };
        let svg = render(&[], 1, &options);
        assert!(svg.contains("a &quot;quoted&quot; &apos;title&apos; &amp; &lt;more&gt;"));
        assert!(!svg.contains("<more>"));
    }

    #[test]
    fn one_arrow_per_delivery_and_two_for_a_duplicate() {
        let svg = render(&scenario(), 3, &SvgOptions::default());
        assert_eq!(count(&svg, r#"<g class="msg">"#), 1);

        let duplicated = vec![
            send(0, 1, 2, 1, "Ping"),
            send(0, 2, 3, 2, "Ping"),
            deliver(2_000, 2, 1, 1),
            deliver(3_000, 3, 2, 2),
            deliver(4_000, 2, 1, 1), // the duplicate
        ];
        let svg = render(&duplicated, 3, &SvgOptions::default());
        assert_eq!(count(&svg, r#"<g class="msg">"#), 3);
        assert_eq!(
            count(&svg, "marker-end=\"url(#head"),
            3 + 1,
            "three arrows and the legend's"
        );
    }

    #[test]
    fn a_dropped_message_ends_in_a_cross_saying_why() {
        let svg = render(&scenario(), 3, &SvgOptions::default());
        assert_eq!(count(&svg, r#"<g class="drop">"#), 1);
        assert_eq!(count(&svg, r#"class="drop-x""#), 1);
        assert!(svg.contains("n1 → n3: Heartbeat { seq: 2 } (sent 5.000 ms, dropped: the network"));
    }

    #[test]
    fn a_dropped_message_stops_short_unless_its_receiver_was_down() {
        let records = vec![
            send(0, 1, 2, 1, "Ping"),
            rec(0, 1, "drop", json!({"to": 2, "id": 1, "reason": "lost"})),
            send(1_000, 1, 2, 2, "Ping"),
            rec(
                5_000,
                1,
                "drop",
                json!({"to": 2, "id": 2, "reason": "crashed"}),
            ),
        ];
        let svg = render(&records, 2, &SvgOptions::default());
        // n1's line is at x = 136, n2's at 276; an ✕ of half-size 4 starts 4 left of
        // its centre.
        let lost_x = 136.0 + 0.4 * 140.0 - 4.0;
        let crashed_x = 276.0 - 4.0;
        assert!(
            svg.contains(&format!(r#"class="drop-x" d="M{lost_x:.1},"#)),
            "{svg}"
        );
        assert!(
            svg.contains(&format!(r#"class="drop-x" d="M{crashed_x:.1},"#)),
            "{svg}"
        );
        assert!(svg.contains("dropped: lost by the network"));
        assert!(svg.contains("dropped: n2 was down when it arrived"));
    }

    #[test]
    fn a_flat_arrow_bows_up_going_right_and_down_going_left() {
        let records = vec![
            send(0, 1, 2, 1, "Ping"),
            send(0, 2, 1, 2, "Pong"),
            deliver(0, 2, 1, 1),
            deliver(0, 1, 2, 2),
            send(100_000, 1, 2, 3, "Ping"),
            deliver(200_000, 2, 1, 3),
        ];
        let story = Story::read(&records, 2, &SvgOptions::default());
        let layout = Layout::fit(&story);
        let course =
            |i: usize| Course::new(&story.arrows[i], &layout, layout.y(story.arrows[i].end_at));
        let y = layout.y(0);
        assert!(course(0).at(0.5).1 < y - 3.0, "n1 → n2 should bow up");
        assert!(course(1).at(0.5).1 > y + 3.0, "n2 → n1 should bow down");
        let slanted = course(2);
        let middle = lerp(slanted.p0, slanted.p3, 0.5);
        assert!(
            (slanted.at(0.5).1 - middle.1).abs() < 0.01,
            "a slanted arrow is straight"
        );
        assert_eq!(slanted.first(0.4).p3, slanted.at(0.4));
    }

    #[test]
    fn a_message_name_stays_off_the_lines_and_the_labels_it_would_cover() {
        // n1 → n3 crosses n2's line (x = 276) at its middle: its name goes in the
        // middle of the first gap instead, x = 206.
        let records = vec![send(0, 1, 3, 1, "Ping"), deliver(0, 3, 1, 1)];
        let svg = render(&records, 3, &SvgOptions::default());
        assert!(svg.contains(r#"<text x="206.0""#), "{svg}");
        assert!(svg.contains(">Ping</text>"));

        let mut room = Room::new(vec![100.0]);
        let label = |x| Rect::around(x, 50.0, "Heartbeat", NAME_SIZE, 0.0);
        assert!(room.take_if_free(label(40.0)));
        assert!(!room.take_if_free(label(50.0)), "overlaps the first");
        assert!(!room.take_if_free(label(100.0)), "sits on the line");
        assert!(room.take_if_free(label(160.0)));
    }

    #[test]
    fn nodes_are_labelled_and_events_crashes_and_the_network_drawn() {
        let svg = render(&scenario(), 3, &SvgOptions::default());
        for node in ["n1", "n2", "n3"] {
            assert!(
                svg.contains(&format!(">{node}</text>")),
                "no label for {node}"
            );
        }
        assert!(!svg.contains(">n4</text>"));
        let summary = "3 nodes, 0.000 ms to 10.000 ms: 2 messages sent, 1 delivered, 1 dropped";
        assert!(svg.contains(summary), "{svg}");
        assert!(svg.contains(">suspect n3</text>"));
        assert!(svg.contains("<title>n2 at 8.000 ms: suspect { peer: 3 }</title>"));
        assert_eq!(count(&svg, r#"<g class="crash">"#), 1);
        assert_eq!(count(&svg, r#"<g class="restart">"#), 1);
        assert_eq!(
            count(&svg, r#"stroke-dasharray="4 4""#),
            1,
            "n3 is dashed while down"
        );
        assert_eq!(count(&svg, r#"<g class="links-cut">"#), 1);
        assert_eq!(count(&svg, r#"<g class="links-restored">"#), 1);
        assert!(svg.contains(">partition n1 | n2 n3</text>"));
    }

    #[test]
    fn ending_a_partition_restores_links() {
        let what = |text: &str| rec(0, HARNESS.0, "partition", json!({ "what": text }));
        assert!(!restores_links(&what("partition n1|n2,n3")));
        assert!(!restores_links(&what("disconnect n2")));
        assert!(restores_links(&what("end partition n1|n2,n3")));
        assert!(restores_links(&what("connect n2")));
        assert!(restores_links(&rec(0, HARNESS.0, "heal", json!({}))));
    }

    #[test]
    fn timers_are_drawn_only_when_asked_for() {
        let mut records = scenario();
        records.push(rec(
            11_000,
            2,
            "timer",
            json!({"timer": "Suspect(NodeId(3))"}),
        ));
        let without = render(&records, 3, &SvgOptions::default());
        assert_eq!(count(&without, r#"<g class="timer">"#), 0);
        let options = SvgOptions {
            show_timers: true,
            ..SvgOptions::default()
        };
        let with = render(&records, 3, &options);
        assert_eq!(count(&with, r#"<g class="timer">"#), 1);
        assert!(with.contains(">Suspect</text>"));
    }

    #[test]
    fn the_same_trace_gives_the_same_bytes() {
        let a = render(&scenario(), 3, &SvgOptions::default());
        let b = render(&scenario(), 3, &SvgOptions::default());
        assert_eq!(a, b);
        let mut later = scenario();
        later[2].t_us += 500;
        assert_ne!(
            a,
            render(&later, 3, &SvgOptions::default()),
            "times should matter"
        );
    }

    #[test]
    fn beyond_max_messages_only_the_first_are_drawn_and_a_footnote_says_so() {
        let records: Vec<Record> = (0..5u64)
            .flat_map(|i| {
                [
                    send(i * 1_000, 1, 2, i + 1, "Ping"),
                    deliver(i * 1_000 + 500, 2, 1, i + 1),
                ]
            })
            .collect();
        let all = render(&records, 2, &SvgOptions::default());
        assert_eq!(count(&all, r#"<g class="msg">"#), 5);
        assert!(!all.contains("class=\"footnote\""));

        let options = SvgOptions {
            max_messages: 2,
            ..SvgOptions::default()
        };
        let some = render(&records, 2, &options);
        assert_eq!(count(&some, r#"<g class="msg">"#), 2);
        assert!(some.contains("Only the first 2 of 5 messages are drawn, up to 1.000 ms"));
    }

    #[test]
    fn records_outside_the_cluster_are_counted_not_drawn() {
        let records = vec![
            send(0, 1, 7, 1, "Ping"),
            deliver(10, 7, 1, 1),
            deliver(20, 2, 1, 99),
        ];
        let svg = render(&records, 2, &SvgOptions::default());
        assert_eq!(count(&svg, r#"<g class="msg">"#), 0);
        assert!(svg.contains("2 records not drawn"), "{svg}");
    }

    #[test]
    fn labels_name_the_message_and_the_event() {
        assert_eq!(
            short_name("Heartbeat { incarnation: 1, seq: 4 }"),
            "Heartbeat"
        );
        assert_eq!(short_name("Suspect(NodeId(3))"), "Suspect");
        assert_eq!(short_name("Commit"), "Commit");
        let label = |event, fields| event_label(&rec(0, 1, event, fields));
        assert_eq!(label("suspect", json!({"peer": 3})), "suspect n3");
        assert_eq!(
            label("became_leader", json!({"term": 2})),
            "became_leader t2"
        );
        assert_eq!(label("voted", json!({"term": 4, "for": 1})), "voted n1 t4");
        assert_eq!(
            label("chosen", json!({"ballot": 3, "value": "x"})),
            "chosen x"
        );
        assert_eq!(label("started", json!({"incarnation": 1})), "started #1");
        let restarted = json!({"incarnation": 2, "peer": 3});
        assert_eq!(label("restarted", restarted), "restarted n3 #2");
        assert_eq!(label("applied", json!({"index": 4})), "applied index=4");
        assert_eq!(label("ready", json!({})), "ready");
        let long = json!({"value": "a value far too long to fit"});
        assert_eq!(label("chosen", long), "chosen a value far to…");
    }

    /// A model checker's run: everything at one instant, one step after another.
    fn one_instant_steps() -> Vec<Record> {
        vec![
            rec(0, 1, "timer", json!({"timer": "Retry"})),
            rec(0, 1, "prepare", json!({"ballot": "1.n1"})),
            send(0, 1, 2, 1, "Prepare"),
            send(0, 1, 3, 2, "Prepare"),
            deliver(0, 2, 1, 1),
            rec(0, 2, "promised", json!({"ballot": "1.n1"})),
            send(0, 2, 1, 3, "Promise"),
            rec(0, 1, "drop", json!({"to": 3, "id": 2, "reason": "lost"})),
            deliver(0, 1, 2, 3),
            rec(0, 3, "crash", json!({})),
            rec(0, 3, "restart", json!({})),
            rec(2_000, 3, "started", json!({})),
        ]
    }

    #[test]
    fn by_step_each_step_gets_a_row_and_a_handlers_records_share_it() {
        let records = one_instant_steps();
        let refs: Vec<&Record> = records.iter().collect();
        assert_eq!(
            Axis::Steps.positions(&refs),
            // timer and what it caused | delivery and its effects | drop | delivery |
            // crash | restart | a later instant
            vec![0, 0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            Axis::Time.positions(&refs),
            vec![0; 11].into_iter().chain([2_000]).collect::<Vec<_>>()
        );
    }

    #[test]
    fn drawn_by_step_a_crowded_instant_spreads_out_row_by_row() {
        let records = one_instant_steps();
        let by_time = SvgOptions::default();
        let by_step = SvgOptions {
            axis: Axis::Steps,
            ..SvgOptions::default()
        };
        assert_eq!(by_time.axis, Axis::Time, "time is the default");

        let story = Story::read(&records, 3, &by_step);
        let layout = Layout::fit(&story);
        let ys: Vec<f64> = story.marks.iter().map(|m| layout.y(m.at)).collect();
        assert!(ys.windows(2).all(|w| w[0] <= w[1]), "{ys:?}");
        assert_eq!(ys.last(), Some(&(PLOT_TOP + 6.0 * ROW_PX)));
        for a in &story.arrows {
            assert!(a.end_at > a.sent_at, "every message falls at least a row");
            let course = Course::new(a, &layout, layout.y(a.end_at));
            assert!(course.p3.1 - course.p0.1 >= ROW_PX, "{} slants", a.id);
        }
        let svg = render(&records, 3, &by_step);
        assert!(svg.contains("7 steps drawn one per row"), "{svg}");
        assert!(svg.contains(">by step; time (ms)</text>"));
        // The time is written at the first row and where it moves on, and nowhere else.
        assert_eq!(count(&svg, ">0.000</text>"), 1, "{svg}");
        assert_eq!(count(&svg, ">2.000</text>"), 1, "{svg}");
        // The hover text keeps each record's own time.
        assert!(svg.contains("n3 at 2.000 ms: started"));

        // By time, the same records lie on one line, and the messages are bowed flat.
        let story = Story::read(&records, 3, &by_time);
        let layout = Layout::fit(&story);
        let crowded = story.marks.iter().filter(|m| layout.y(m.at) == PLOT_TOP);
        assert_eq!(crowded.count(), story.marks.len() - 1);
    }

    #[test]
    fn drawn_by_step_records_keep_the_order_they_are_given() {
        let records = vec![
            rec(5_000, 1, "chosen", json!({"value": "late"})),
            rec(1_000, 2, "chosen", json!({"value": "early"})),
        ];
        let by_step = SvgOptions {
            axis: Axis::Steps,
            ..SvgOptions::default()
        };
        let story = Story::read(&records, 2, &by_step);
        let at: Vec<(String, u64)> = story
            .marks
            .iter()
            .map(|m| (m.label.clone(), m.at))
            .collect();
        assert_eq!(
            at,
            vec![("chosen late".into(), 0), ("chosen early".into(), 1)]
        );
        assert_eq!((story.t_min, story.t_max), (1_000, 5_000));
    }

    #[test]
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(tick_step_us(1.0, 48.0), 50);
        assert_eq!(tick_step_us(0.001, 48.0), 50_000);
        assert_eq!(tick_step_us(0.0004, 48.0), 200_000);
        assert_eq!(tick_label(150_000, 50_000), "150");
        assert_eq!(tick_label(1_500, 500), "1.5");
        assert_eq!(tick_label(1_250, 50), "1.25");
        assert_eq!(tick_label(7, 1), "0.007");
    }

    #[test]
    fn escape_replaces_every_special_character() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("bell\u{7}"), "bell\u{FFFD}");
    }

    #[test]
    fn write_svg_reports_the_path_it_could_not_write() {
        let path = Path::new("/nonexistent-dir-for-quorum-tests/run.svg");
        let err = write_svg(path, &scenario(), 3, &SvgOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("nonexistent-dir-for-quorum-tests"),
            "{err}"
        );
    }
}
