//! The geometry of a diagram: where time and nodes land on the page (the scale, the
//! ticks), the course of each arrow, and room for labels, so that no label hides
//! another or sits on a node's line. Every size and spacing is a constant here.

use std::fmt;

use super::story::{Arrow, MarkKind, Story};
use super::Axis;
use crate::types::id::NodeId;

/// The x of the time axis.
pub(super) const AXIS_X: f64 = 72.0;
/// The x of `n1`'s line, and the distance between neighbouring lines.
const FIRST_LINE_X: f64 = 136.0;
const LINE_SPACING: f64 = 140.0;
/// Room right of the last line, for its labels and the network changes' text.
const RIGHT_MARGIN: f64 = 190.0;
/// Wide enough for the legend, however few nodes.
const MIN_WIDTH: f64 = 600.0;
/// The y of the trace's first instant.
pub(super) const PLOT_TOP: f64 = 96.0;
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
pub(super) const MIN_ROW_LABEL_PX: f64 = 14.0;
/// An arrow whose ends are closer than this in y is bowed rather than drawn straight.
const FLAT_PX: f64 = 8.0;
/// Ticks on the time axis are at least this far apart.
const MIN_TICK_PX: f64 = 48.0;
/// Messages are named, and timers labelled, only when there are at most this many.
pub(super) const MAX_LABELS: usize = 60;
/// Labels on one side of a line are at least this far apart; a label that would have
/// to move further than `MAX_LABEL_SHIFT` from its mark is left out (hover still works).
const LABEL_GAP: f64 = 12.0;
const MAX_LABEL_SHIFT: f64 = 36.0;
/// The least room between a message's name and any other label.
const LABEL_MARGIN: f64 = 4.0;

/// A coordinate, printed with one decimal so that output is byte-for-byte stable.
#[derive(Clone, Copy)]
pub(super) struct Px(pub(super) f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print `-0.0`.
        let v = if self.0.abs() < 0.05 { 0.0 } else { self.0 };
        write!(f, "{v:.1}")
    }
}

/// Where time and nodes land on the page.
pub(super) struct Layout {
    /// The position at the top of the plot, in the axis's unit: the trace's first
    /// instant rounded down to a tick, or the first row.
    pub(super) origin: u64,
    /// Pixels per microsecond, or per row.
    px_per_unit: f64,
    /// The time between ticks on a time axis.
    pub(super) tick_us: u64,
    /// The y of the trace's last position; lines run a little past it.
    plot_bottom: f64,
    pub(super) width: f64,
    /// How far a message dropped at the instant it was sent is drawn to fall.
    pub(super) drop_fall: f64,
}

impl Layout {
    /// Fits the trace into the page, by time or by step.
    pub(super) fn fit(story: &Story) -> Layout {
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

    pub(super) fn x(&self, node: NodeId) -> f64 {
        FIRST_LINE_X + node.index() as f64 * LINE_SPACING
    }

    /// The y of position `at`, in the axis's unit.
    pub(super) fn y(&self, at: u64) -> f64 {
        PLOT_TOP + at.saturating_sub(self.origin) as f64 * self.px_per_unit
    }

    /// The x of every node's line.
    pub(super) fn line_xs(&self, nodes: usize) -> Vec<f64> {
        NodeId::all(nodes).into_iter().map(|n| self.x(n)).collect()
    }

    /// Where node lines and the grid end: far enough past the last instant for a
    /// message dropped then to be drawn falling.
    pub(super) fn lines_bottom(&self) -> f64 {
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
pub(super) fn tick_label(t_us: u64, step_us: u64) -> String {
    let decimals = match step_us {
        s if s % 1000 == 0 => return (t_us / 1000).to_string(),
        s if s % 100 == 0 => 1,
        s if s % 10 == 0 => 2,
        _ => 3,
    };
    let frac = format!("{:03}", t_us % 1000);
    format!("{}.{}", t_us / 1000, &frac[..decimals])
}

// --- An arrow's course -----------------------------------------------------------------

/// The course of an arrow on the page, as a cubic Bézier curve from `p0` to `p3`: a
/// straight line when the message took visible time, a bow when it would lie flat, and
/// a loop for a message a node sends itself.
pub(super) struct Course {
    p0: (f64, f64),
    p1: (f64, f64),
    p2: (f64, f64),
    p3: (f64, f64),
}

impl Course {
    /// From `a`'s sender at its send time to its receiver at `y_end`.
    pub(super) fn new(a: &Arrow, layout: &Layout, y_end: f64) -> Course {
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
    pub(super) fn at(&self, t: f64) -> (f64, f64) {
        self.first(t).p3
    }

    /// The part of the course from its start to `t` (de Casteljau's construction).
    pub(super) fn first(&self, t: f64) -> Course {
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
    pub(super) fn path(&self) -> String {
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

// --- Room for labels -------------------------------------------------------------------

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
pub(super) struct Room {
    taken: Vec<Rect>,
    lines: Vec<f64>,
}

impl Room {
    pub(super) fn new(lines: Vec<f64>) -> Room {
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

/// The font size of a message's name.
pub(super) const NAME_SIZE: f64 = 9.5;

/// Where a message's name goes: just above the arrow, along it and kept upright, in
/// one of the gaps between the lines it spans (the sender's side first; the middle of
/// a gap, else a little either side), wherever it first sits on no line and no other
/// label. `None` if there is no such place.
pub(super) fn name_place(course: &Course, name: &str, room: &mut Room) -> Option<(f64, f64, f64)> {
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

/// How a mark's label is set: its offset from the line, its anchor and its font size.
/// Timers are labelled on the left in small print, everything else on the right.
pub(super) fn label_style(kind: MarkKind) -> (f64, &'static str, f64) {
    match kind {
        MarkKind::Timer => (-6.0, "end", 9.0),
        _ => (9.0, "start", 10.5),
    }
}

/// The y of each mark's label, in `story.marks` order: the mark's own y, or a little
/// below it to clear the label above, or `None` if it would drift too far (its hover
/// text still says it all). Timers are labelled only while there are few of them.
pub(super) fn place_mark_labels(
    story: &Story,
    layout: &Layout,
    room: &mut Room,
) -> Vec<Option<f64>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::tests::{count, deliver, one_instant_steps, send};
    use crate::viz::{render, SvgOptions};

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
        assert!(svg.contains("7 rows drawn by step"), "{svg}");
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
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(tick_step_us(1.0, 48.0), 50);
        assert_eq!(tick_step_us(0.001, 48.0), 50_000);
        assert_eq!(tick_step_us(0.0004, 48.0), 200_000);
        assert_eq!(tick_label(150_000, 50_000), "150");
        assert_eq!(tick_label(1_500, 500), "1.5");
        assert_eq!(tick_label(1_250, 50), "1.25");
        assert_eq!(tick_label(7, 1), "0.007");
    }
}
