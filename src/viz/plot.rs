//! Plots: numbers drawn as SVG, where a figure sums up many runs rather than showing
//! one (for one run, see the space-time diagrams of [`super`]).
//!
//! [`cdf_svg`] draws cumulative distributions, one graph per [`Panel`], one line per
//! setup, as the Raft paper's Figure 16 does: the share of trials (y) done within a time
//! (x), on a linear or a logarithmic time axis. Chapter 3's experiment computes what it
//! draws ([`crate::raft::experiment::downtimes_ms`]), and `ch03-raft-election experiment
//! --svg fig16.svg` draws it.

/// One graph of a CDF plot: its title, its x axis, and one line per setup.
pub struct Panel<'a> {
    /// The graph's title.
    pub title: &'a str,
    /// Whether the x axis is logarithmic (the paper's top graph spans 100 ms to 10 s).
    pub log_x: bool,
    /// The x axis's range, in milliseconds.
    pub x_ms: (f64, f64),
    /// The lines: a label and the sorted downtimes of its trials (with the count of
    /// trials, so that failures keep a line below 100%).
    pub lines: Vec<(String, Vec<f64>, usize)>,
}

/// Draws the panels one above the other as an SVG, as the Raft paper's Figure 16 does:
/// for each setup, the share of trials (y) that had elected a leader within a time (x).
pub fn cdf_svg(panels: &[Panel<'_>]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 150.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 40.0;
    let colors = [
        "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    ];
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        H * panels.len() as f64
    );
    for (p, panel) in panels.iter().enumerate() {
        let y0 = H * p as f64;
        let (lo, hi) = panel.x_ms;
        let x_of = |ms: f64| {
            let f = if panel.log_x {
                (ms.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
            } else {
                (ms - lo) / (hi - lo)
            };
            LEFT + f.clamp(0.0, 1.0) * plot_w
        };
        let y_of = |share: f64| y0 + TOP + (1.0 - share) * plot_h;
        s += &format!(
            "<text x=\"{LEFT}\" y=\"{}\" font-weight=\"bold\">{}</text>\n",
            y0 + 18.0,
            panel.title
        );
        // Axes, grid and ticks.
        for pct in [0, 25, 50, 75, 100] {
            let y = y_of(pct as f64 / 100.0);
            s += &format!(
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{pct}%</text>\n",
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0
            );
        }
        let ticks: Vec<f64> = if panel.log_x {
            let mut t = Vec::new();
            let mut v = 10f64.powf(lo.log10().floor());
            while v <= hi * 1.0001 {
                for m in [1.0, 2.0, 5.0] {
                    let x = v * m;
                    if x >= lo * 0.9999 && x <= hi * 1.0001 {
                        t.push(x);
                    }
                }
                v *= 10.0;
            }
            t
        } else {
            let step = ((hi - lo) / 6.0 / 50.0).ceil() * 50.0;
            let mut t = Vec::new();
            let mut x = lo;
            while x <= hi + 0.001 {
                t.push(x);
                x += step;
            }
            t
        };
        for t in ticks {
            let x = x_of(t);
            s += &format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                y_of(1.0),
                y_of(0.0),
                y_of(0.0) + 15.0,
                if t >= 1000.0 { format!("{}s", t / 1000.0) } else { format!("{t}") }
            );
        }
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time without leader (ms)</text>\n",
            LEFT + plot_w / 2.0,
            y_of(0.0) + 32.0
        );
        for (i, (label, ms, count)) in panel.lines.iter().enumerate() {
            let color = colors[i % colors.len()];
            let mut points = format!("{:.1},{:.1}", x_of(lo), y_of(0.0));
            for (k, &v) in ms.iter().enumerate() {
                let before = k as f64 / *count as f64;
                let after = (k + 1) as f64 / *count as f64;
                points += &format!(
                    " {:.1},{:.1} {:.1},{:.1}",
                    x_of(v),
                    y_of(before),
                    x_of(v),
                    y_of(after)
                );
            }
            let last = ms.len() as f64 / *count as f64;
            points += &format!(" {:.1},{:.1}", x_of(hi), y_of(last));
            s += &format!(
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{points}\"/>\n<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>\n<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>\n",
                LEFT + plot_w + 12.0,
                y0 + TOP + 10.0 + 16.0 * i as f64,
                LEFT + plot_w + 30.0,
                y0 + TOP + 10.0 + 16.0 * i as f64,
                LEFT + plot_w + 35.0,
                y0 + TOP + 14.0 + 16.0 * i as f64,
            );
        }
    }
    s += "</svg>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cdf_plot_has_a_graph_per_panel_and_a_line_per_setup() {
        let lines = vec![
            ("150–300ms".to_string(), vec![160.0, 200.0, 250.0], 4),
            ("150–151ms".to_string(), vec![900.0], 4),
        ];
        let panels = [
            Panel {
                title: "log",
                log_x: true,
                x_ms: (100.0, 10_000.0),
                lines: lines.clone(),
            },
            Panel {
                title: "linear",
                log_x: false,
                x_ms: (0.0, 600.0),
                lines,
            },
        ];
        let svg = cdf_svg(&panels);
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>\n"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"height="520""#),
            "two panels, 260 px each: {svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 4);
        // Three of four trials elected: that line ends at 75%, not at the top.
        let y_75 = 30.0 + 0.25 * 190.0;
        assert!(
            svg.contains(&format!("{:.1},{y_75:.1}\"/>", 60.0 + 430.0)),
            "{svg}"
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}
