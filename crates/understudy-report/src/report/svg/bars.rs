//! The grouped bar chart: vertical bars with whiskers, an optional reference line, the legend.

use std::fmt::Write;

use super::{
    colour, esc, fmt_tick, header, middle_ellipsis, nice_linear_ticks, no_data, short, BOTTOM, H,
    LEFT, RIGHT, TOP, W,
};

/// One bar with an optional interval.
#[derive(Debug, Clone)]
pub struct Bar {
    pub group: String,
    pub label: String,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub series: usize,
}

pub struct Bars<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub bars: Vec<Bar>,
    /// A horizontal reference line (e.g. 1.0 for ratios, 0 for differences).
    pub baseline: Option<f64>,
    /// Multiply values by this for tick labels (100 for percentages).
    pub tick_scale: f64,
    pub legend: Vec<(String, usize)>,
    pub note: String,
}

/// The value axis: every value, whisker and the baseline fit, padded.
struct Scale {
    lo: f64,
    hi: f64,
    plot_h: f64,
}

impl Scale {
    fn new(chart: &Bars<'_>, plot_h: f64) -> Self {
        let values = chart
            .bars
            .iter()
            .flat_map(|b| [b.value, b.low, b.high])
            .filter(|v| v.is_finite());
        let (mut lo, mut hi) = values.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        if let Some(base) = chart.baseline {
            lo = lo.min(base);
            hi = hi.max(base);
        }
        if hi - lo < 1e-9 {
            hi = lo + 1.0;
        }
        let pad = (hi - lo) * 0.08;
        let lo = if lo < 0.0 { lo - pad } else { lo };
        Scale {
            lo,
            hi: hi + pad,
            plot_h,
        }
    }

    fn y(&self, v: f64) -> f64 {
        TOP + self.plot_h - (v - self.lo) / (self.hi - self.lo) * self.plot_h
    }
}

/// Renders grouped vertical bars with whiskers.
pub fn bars(chart: &Bars<'_>) -> String {
    let mut out = String::new();
    header(&mut out, chart.title);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM - 30.0;
    if chart.bars.is_empty() {
        return no_data(out, &chart.note);
    }
    let scale = Scale::new(chart, plot_h);
    for t in nice_linear_ticks(scale.lo, scale.hi, 5) {
        let y = scale.y(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t * chart.tick_scale)
        );
    }
    let mut groups: Vec<&str> = Vec::new();
    for b in &chart.bars {
        if !groups.contains(&b.group.as_str()) {
            groups.push(&b.group);
        }
    }
    let group_w = plot_w / groups.len() as f64;
    for (gi, group) in groups.iter().enumerate() {
        let members: Vec<&Bar> = chart.bars.iter().filter(|b| b.group == *group).collect();
        let bar_w = (group_w * 0.8 / members.len() as f64).min(48.0);
        let start = LEFT + gi as f64 * group_w + (group_w - bar_w * members.len() as f64) / 2.0;
        for (bi, b) in members.iter().enumerate() {
            bar(&mut out, chart, &scale, b, start + bi as f64 * bar_w, bar_w);
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            LEFT + (gi as f64 + 0.5) * group_w,
            TOP + plot_h + 16.0,
            esc(short(group, (group_w / 7.0) as usize))
        );
    }
    if let Some(base) = chart.baseline {
        let y = scale.y(base);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#333" stroke-dasharray="3 3"/>"##,
            LEFT + plot_w
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/><text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        TOP + plot_h / 2.0,
        esc(chart.y_label)
    );
    legend(&mut out, chart);
    out.push_str("</svg>");
    out
}

/// One bar from the baseline (or zero) to its value, and its whisker.
fn bar(out: &mut String, chart: &Bars<'_>, scale: &Scale, b: &Bar, x: f64, bar_w: f64) {
    let zero = scale.y(chart.baseline.unwrap_or(0.0).max(scale.lo));
    if b.value.is_finite() {
        let y = scale.y(b.value);
        let (top, height) = if y < zero {
            (y, zero - y)
        } else {
            (zero, y - zero)
        };
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{height:.1}" fill="{}"><title>{}: {}</title></rect>"#,
            x + 1.0,
            bar_w - 2.0,
            colour(b.series),
            esc(&b.label),
            fmt_tick(b.value * chart.tick_scale)
        );
    }
    if b.low.is_finite() && b.high.is_finite() {
        let cx = x + bar_w / 2.0;
        let _ = write!(
            out,
            r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>"#,
            scale.y(b.low),
            scale.y(b.high),
            cx - 4.0,
            cx + 4.0,
            scale.y(b.low),
            scale.y(b.low),
            cx - 4.0,
            cx + 4.0,
            scale.y(b.high),
            scale.y(b.high)
        );
    }
}

/// The series and the chart's note.
fn legend(out: &mut String, chart: &Bars<'_>) {
    let lx = W - RIGHT + 16.0;
    let mut ly = TOP + 8.0;
    for (name, series) in &chart.legend {
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx - 5.0,
            ly - 5.0,
            colour(*series),
            lx + 10.0,
            ly + 4.0,
            esc(&middle_ellipsis(name, 26))
        );
        ly += 18.0;
    }
    if !chart.note.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
            H - 8.0,
            esc(&chart.note)
        );
    }
}
