//! The story of a trace: what happened, read from the records before anything is
//! placed. Each message is matched to its send and becomes an arrow, each crash to its
//! restart and becomes an outage, each other event a mark with a label and a hover
//! text; the harness's partitions and heals are network changes. What cannot be drawn
//! is counted, for the footnotes.

use std::collections::BTreeMap;

use super::{Axis, SvgOptions};
use crate::runtime::trace::Record;
use crate::types::id::NodeId;

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

/// What the diagram shows, read from the trace before anything is placed.
pub(super) struct Story<'a> {
    /// The cluster's size: lines `n1..=nN`.
    pub(super) nodes: usize,
    /// What runs down the page.
    pub(super) axis: Axis,
    /// The first and last instants of the trace, in microseconds.
    pub(super) t_min: u64,
    pub(super) t_max: u64,
    /// The first and last positions down the page, in the axis's unit (microseconds,
    /// or rows); for [`Axis::Time`] the same as `t_min` and `t_max`.
    pub(super) first: u64,
    pub(super) last: u64,
    /// How many distinct positions the trace has: instants, or rows (scales a diagram
    /// with no messages).
    pub(super) instants: usize,
    /// For [`Axis::Steps`], the time of each row; empty for [`Axis::Time`].
    pub(super) row_times: Vec<u64>,
    /// Every delivery and drop of a drawn message, in trace order.
    pub(super) arrows: Vec<Arrow<'a>>,
    /// Events drawn on a node's line, in trace order.
    pub(super) marks: Vec<Mark>,
    /// The spans during which a node was down.
    pub(super) outages: Vec<Outage>,
    /// The harness's partitions and heals.
    pub(super) network: Vec<NetChange>,
    /// Messages sent in the whole trace; how many of them are drawn, and how many are
    /// left out because they came after the first `max_messages`.
    pub(super) sent: usize,
    pub(super) drawn: usize,
    pub(super) left_out: usize,
    /// When the last drawn message was sent (for the truncation footnote).
    pub(super) last_drawn_us: u64,
    /// Deliveries and drops in the whole trace (drawn or not).
    pub(super) delivered: usize,
    pub(super) dropped: usize,
    /// Records that could not be placed: no matching send, or a node outside the cluster.
    pub(super) undrawable: usize,
}

/// One arrow: a message from its send to its delivery, or toward where it was dropped.
pub(super) struct Arrow<'a> {
    /// The message id the runtime gave it (shared by the copies of a duplicate).
    pub(super) id: u64,
    pub(super) from: NodeId,
    pub(super) to: NodeId,
    pub(super) sent_us: u64,
    /// When it was delivered or dropped.
    pub(super) end_us: u64,
    /// Where its send and its end go down the page, in the axis's unit.
    pub(super) sent_at: u64,
    pub(super) end_at: u64,
    /// The message's `Debug` text.
    pub(super) msg: &'a str,
    /// Why it was dropped (`partitioned`, `lost`, `crashed`); `None` if delivered.
    pub(super) dropped: Option<&'a str>,
}

/// Something drawn on one node's line.
pub(super) struct Mark {
    /// Where it goes down the page, in the axis's unit.
    pub(super) at: u64,
    pub(super) node: NodeId,
    pub(super) kind: MarkKind,
    /// The short text beside the mark.
    pub(super) label: String,
    /// The hover text: everything the record says.
    pub(super) title: String,
}

/// What a mark stands for, which decides its shape.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MarkKind {
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
pub(super) struct Outage {
    pub(super) node: NodeId,
    pub(super) from: u64,
    pub(super) until: Option<u64>,
}

/// The harness cut links of the network or restored them.
pub(super) struct NetChange {
    pub(super) t_us: u64,
    /// Where it goes down the page, in the axis's unit.
    pub(super) at: u64,
    /// Whether links came back (`heal`, `end partition …`, `connect n2`) rather than
    /// went (`partition …`, `disconnect n2`).
    pub(super) restores: bool,
    pub(super) what: String,
}

impl<'a> Story<'a> {
    /// Reads what there is to draw from `records`: each message matched to its send,
    /// each crash to its restart, each event made a mark.
    pub(super) fn read(records: &'a [Record], nodes: usize, options: &SvgOptions) -> Story<'a> {
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
    pub(super) fn typical_latency_us(&self) -> Option<u64> {
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
/// (`Heartbeat { incarnation: 1, seq: 4 }` is `Heartbeat`), and, for an answer that says
/// yes or no ([`answer`]), which (`Vote yes`, `Vote no`).
pub(super) fn short_name(debug: &str) -> String {
    let name = debug.split(['{', '(', ' ']).next().unwrap_or("").trim();
    let name = if name.is_empty() { debug } else { name };
    match answer(debug) {
        Some(true) => clip(&format!("{name} yes"), 24),
        Some(false) => clip(&format!("{name} no"), 24),
        None => clip(name, 24),
    }
}

/// What an answer says, if the message is one that says yes or no: its `granted` or
/// `success` field (a Raft vote, a PreVote's answer, an AppendEntries reply). A refusal
/// is drawn dashed, so that a split vote shows who refused whom.
pub(super) fn answer(debug: &str) -> Option<bool> {
    ["granted: ", "success: "]
        .iter()
        .find_map(|field| debug.split(field).nth(1))
        .map(|rest| rest.starts_with("true"))
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
    } else if let Some(c) = r.u64_field("call") {
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
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A time as `12.345 ms`, from exact integer arithmetic.
pub(super) fn ms(t_us: u64) -> String {
    format!("{}.{:03} ms", t_us / 1000, t_us % 1000)
}

/// Why a message was dropped, in words.
pub(super) fn drop_reason(reason: &str, to: NodeId) -> String {
    match reason {
        "partitioned" => "dropped: the network between them is partitioned".to_string(),
        "lost" => "dropped: lost by the network".to_string(),
        "crashed" => format!("dropped: {to} was down when it arrived"),
        other => format!("dropped: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::trace::HARNESS;
    use crate::viz::tests::{one_instant_steps, rec};
    use serde_json::json;

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
    fn labels_name_the_message_and_the_event() {
        assert_eq!(
            short_name("Heartbeat { incarnation: 1, seq: 4 }"),
            "Heartbeat"
        );
        assert_eq!(short_name("Suspect(NodeId(3))"), "Suspect");
        assert_eq!(short_name("Commit"), "Commit");
        assert_eq!(short_name("Vote { term: 2, granted: true }"), "Vote yes");
        assert_eq!(short_name("Vote { term: 2, granted: false }"), "Vote no");
        assert_eq!(
            short_name("AppendReply { term: 1, success: false, match_index: 0 }"),
            "AppendReply no"
        );
        assert_eq!(answer("Vote { term: 2, granted: false }"), Some(false));
        assert_eq!(answer("Promise { ballot: 1.n1, accepted: None }"), None);
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
}
