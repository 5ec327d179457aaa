//! The scatter chart (log or linear x): points with vertical whiskers, the Pareto front, labels
//! placed where they cover no other label, and the legend.

use std::fmt::Write;

use super::{
    colour, esc, fmt_tick, header, middle_ellipsis, nice_linear_ticks, nice_log_ticks, no_data,
    short, BOTTOM, H, LEFT, RIGHT, TOP, W,
};

/// One point of a scatter chart.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub y_low: f64,
    pub y_high: f64,
    pub label: String,
    /// Text printed beside the mark (the full label is its tooltip).
    pub short: String,
    pub series: usize,
    /// Drawn as a diamond (the reference model).
    pub highlight: bool,
}

pub struct Scatter<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub y_range: (f64, f64),
    pub points: Vec<Point>,
    pub legend: Vec<(String, usize)>,
    /// Indices of points on the Pareto front, in x order, drawn as a dashed line.
    pub front: Vec<usize>,
    pub note: String,
}

/// Where values land on the plot.
struct Axes {
    log_x: bool,
    x_lo: f64,
    x_hi: f64,
    y_lo: f64,
    y_hi: f64,
    plot_w: f64,
    plot_h: f64,
}

impl Axes {
    /// The x range padded around the points (by a factor on a log axis), the chart's y range.
    fn new(chart: &Scatter<'_>, xs: &[f64]) -> Self {
        let (mut x_lo, mut x_hi) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        if chart.log_x {
            x_lo /= 1.5;
            x_hi *= 1.5;
        } else {
            let pad = ((x_hi - x_lo) * 0.1).max(x_hi.abs() * 0.1).max(1e-9);
            x_lo -= pad;
            x_hi += pad;
        }
        Axes {
            log_x: chart.log_x,
            x_lo,
            x_hi,
            y_lo: chart.y_range.0,
            y_hi: chart.y_range.1,
            plot_w: W - LEFT - RIGHT,
            plot_h: H - TOP - BOTTOM,
        }
    }

    fn x(&self, x: f64) -> f64 {
        if self.log_x {
            LEFT + (x.ln() - self.x_lo.ln()) / (self.x_hi.ln() - self.x_lo.ln()) * self.plot_w
        } else {
            LEFT + (x - self.x_lo) / (self.x_hi - self.x_lo) * self.plot_w
        }
    }

    fn y(&self, y: f64) -> f64 {
        TOP + self.plot_h
            - (y.clamp(self.y_lo, self.y_hi) - self.y_lo) / (self.y_hi - self.y_lo) * self.plot_h
    }
}

/// Renders a scatter chart.
pub fn scatter(chart: &Scatter<'_>) -> String {
    let mut out = String::new();
    header(&mut out, chart.title);
    let xs: Vec<f64> = chart
        .points
        .iter()
        .map(|p| p.x)
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if xs.is_empty() {
        return no_data(out, &chart.note);
    }
    let axes = Axes::new(chart, &xs);
    grid(&mut out, chart, &axes);
    front(&mut out, chart, &axes);
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    for p in &chart.points {
        if p.x.is_finite() && p.x > 0.0 && p.y.is_finite() {
            point(&mut out, p, &axes, &mut placed);
        }
    }
    legend(&mut out, chart);
    out.push_str("</svg>");
    out
}

/// Grid lines, ticks, the frame and the axis labels.
fn grid(out: &mut String, chart: &Scatter<'_>, axes: &Axes) {
    let (plot_w, plot_h) = (axes.plot_w, axes.plot_h);
    for t in nice_linear_ticks(axes.y_lo, axes.y_hi, 5) {
        let y = axes.y(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t * 100.0)
        );
    }
    let x_ticks = if axes.log_x {
        nice_log_ticks(axes.x_lo, axes.x_hi)
    } else {
        nice_linear_ticks(axes.x_lo, axes.x_hi, 6)
    };
    for t in x_ticks {
        let x = axes.x(t);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#f0f0f0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            fmt_tick(t)
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        LEFT + plot_w / 2.0,
        H - 18.0,
        esc(chart.x_label),
        TOP + plot_h / 2.0,
        esc(chart.y_label)
    );
}

/// The Pareto front as a dashed line through its points.
fn front(out: &mut String, chart: &Scatter<'_>, axes: &Axes) {
    if chart.front.len() < 2 {
        return;
    }
    let path: Vec<String> = chart
        .front
        .iter()
        .map(|i| {
            format!(
                "{:.1},{:.1}",
                axes.x(chart.points[*i].x),
                axes.y(chart.points[*i].y)
            )
        })
        .collect();
    let _ = write!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#888" stroke-dasharray="5 4"/>"##,
        path.join(" ")
    );
}

/// One point with its whisker and, where it covers no label already printed, its label
/// (tooltips keep all).
fn point(out: &mut String, p: &Point, axes: &Axes, placed: &mut Vec<(f64, f64, f64)>) {
    let (x, y) = (axes.x(p.x), axes.y(p.y));
    let c = colour(p.series);
    if p.y_low.is_finite() && p.y_high.is_finite() {
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="1.5"/>"#,
            axes.y(p.y_low),
            axes.y(p.y_high)
        );
    }
    if p.highlight {
        let _ = write!(
            out,
            r##"<path d="M{x:.1} {:.1} L{:.1} {y:.1} L{x:.1} {:.1} L{:.1} {y:.1} Z" fill="{c}" stroke="#000"><title>{}</title></path>"##,
            y - 8.0,
            x + 8.0,
            y + 8.0,
            x - 8.0,
            esc(&p.label)
        );
    } else {
        let _ = write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{c}"><title>{}</title></circle>"#,
            esc(&p.label)
        );
    }
    let text = short(&p.short, 28);
    let width = text.chars().count() as f64 * 5.6;
    let candidates = [
        (x + 8.0, y - 6.0),
        (x + 8.0, y + 14.0),
        (x - 8.0 - width, y - 6.0),
        (x - 8.0 - width, y + 14.0),
    ];
    let free = candidates.into_iter().find(|&(lx, ly)| {
        lx >= LEFT
            && lx + width <= W - RIGHT + 8.0
            && !placed
                .iter()
                .any(|&(px, py, pw)| lx < px + pw && px < lx + width && (ly - py).abs() < 11.0)
    });
    if let Some((lx, ly)) = free {
        placed.push((lx, ly, width));
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{ly:.1}" font-size="10" fill="#333">{}</text>"##,
            esc(text)
        );
    }
}

/// The series, the reference and the Pareto front explained, and the chart's note.
fn legend(out: &mut String, chart: &Scatter<'_>) {
    let lx = W - RIGHT + 16.0;
    let mut ly = TOP + 8.0;
    for (name, series) in &chart.legend {
        let _ = write!(
            out,
            r#"<circle cx="{lx}" cy="{ly:.1}" r="5" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            colour(*series),
            lx + 10.0,
            ly + 4.0,
            esc(&middle_ellipsis(name, 26))
        );
        ly += 18.0;
    }
    // The reference's diamond only where the chart draws one (a run without a reference has none).
    if chart.points.iter().any(|p| p.highlight) {
        let _ = write!(
            out,
            r##"<path d="M{lx} {:.1} L{:.1} {:.1} L{lx} {:.1} L{:.1} {:.1} Z" fill="#fff" stroke="#000"/><text x="{:.1}" y="{:.1}">reference</text>"##,
            ly - 6.0,
            lx + 6.0,
            ly,
            ly + 6.0,
            lx - 6.0,
            ly,
            lx + 10.0,
            ly + 4.0
        );
        ly += 18.0;
    }
    if !chart.front.is_empty() {
        let _ = write!(
            out,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="#888" stroke-dasharray="5 4"/><text x="{:.1}" y="{:.1}">Pareto front</text>"##,
            lx - 6.0,
            lx + 6.0,
            lx + 10.0,
            ly + 4.0
        );
    }
    if !chart.note.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
            H - 4.0,
            esc(&chart.note)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(highlight: bool) -> String {
        let point = |x: f64, series| Point {
            x,
            y: 0.5,
            y_low: 0.4,
            y_high: 0.6,
            label: "m".into(),
            short: "m".into(),
            series,
            highlight: highlight && series == 1,
        };
        scatter(&Scatter {
            title: "t",
            x_label: "x",
            y_label: "y",
            log_x: true,
            y_range: (0.0, 1.0),
            points: vec![point(100.0, 0), point(200.0, 1)],
            legend: vec![("a".into(), 0), ("b".into(), 1)],
            front: Vec::new(),
            note: String::new(),
        })
    }

    #[test]
    fn the_reference_symbol_is_in_the_legend_only_when_a_reference_is_drawn() {
        assert!(chart(true).contains(">reference</text>"));
        assert!(!chart(false).contains(">reference</text>"));
        assert!(!chart(false).contains(">Pareto front</text>"));
    }
}
