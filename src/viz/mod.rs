//! Drawings: a run's trace as a space-time diagram, the way Lamport drew it, and plots.
//!
//! The world ([`crate::runtime`]) records a run as a trace, one record per fact
//! ([`crate::runtime::trace`]); this module only reads traces and draws them. Nothing
//! here runs a node or changes what a run does. Figures that sum up many runs, such as
//! chapter 3's Figure 16, are plots ([`plot`]) of numbers the chapters compute; a
//! client history and the linearizability checker's verdict on it is [`history`].
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
//!
//! A diagram is made in three passes, one file each: `story.rs` reads from the records
//! what happened (each message matched to its send, each crash to its restart, each
//! event given a label and a hover text); `layout.rs` decides where everything goes (the
//! scale, the ticks, the course of each arrow, room for each label); `draw.rs` writes
//! the SVG, back to front.

mod draw;
pub mod history;
mod layout;
pub mod plot;
mod story;

use std::path::Path;

use self::draw::draw;
use self::layout::Layout;
use self::story::Story;
use crate::error::{Error, Result};
use crate::runtime::trace::Record;

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

/// Renders `records` (a trace, sorted by time; in the order of its steps for
/// [`Axis::Steps`]) as a standalone SVG document for a cluster of `nodes` nodes. Records
/// about nodes outside `n1..=nN`, and deliveries whose send is not in the trace, are
/// counted in a footnote rather than drawn.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::trace::HARNESS;
    use crate::types::id::NodeId;
    use serde_json::json;

    // The helpers marked `pub(super)` are shared with the tests of `story.rs` and
    // `layout.rs`.

    /// A record by hand: `rec(10, 1, "send", json!({"to": 2, "id": 1, "msg": "Ping"}))`.
    pub(super) fn rec(t_us: u64, node: u32, event: &str, fields: serde_json::Value) -> Record {
        Record {
            t_us,
            node: NodeId(node),
            event: event.to_string(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    pub(super) fn send(t_us: u64, from: u32, to: u32, id: u64, msg: &str) -> Record {
        rec(t_us, from, "send", json!({"to": to, "id": id, "msg": msg}))
    }

    pub(super) fn deliver(t_us: u64, to: u32, from: u32, id: u64) -> Record {
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

    pub(super) fn count(haystack: &str, needle: &str) -> usize {
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

    /// A model checker's run: everything at one instant, one step after another.
    pub(super) fn one_instant_steps() -> Vec<Record> {
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
    fn write_svg_reports_the_path_it_could_not_write() {
        let path = Path::new("/nonexistent-dir-for-quorum-tests/run.svg");
        let err = write_svg(path, &scenario(), 3, &SvgOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("nonexistent-dir-for-quorum-tests"),
            "{err}"
        );
    }
}
