//! Minimal SVG charts (scatter with log or linear x, grouped bars) with axes, ticks, labels,
//! legends and error whiskers. Hand-written rather than plotters: text is left to the browser (no
//! system font lookup at build or run time) and the output is deterministic for snapshot tests.

use std::fmt::Write;

/// Colours for series, chosen to stay distinct for colour-blind readers.
pub const PALETTE: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];

pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// Escapes text for SVG/HTML.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

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

const W: f64 = 1000.0;
const H: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn nice_log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo * 0.9999 && t <= hi * 1.0001 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    if ticks.len() < 2 {
        ticks = vec![lo, hi];
    }
    ticks
}

fn nice_linear_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / count as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= count as f64)
        .unwrap_or(raw);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-6 {
        out.push(t);
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn header(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}" font-family="system-ui, sans-serif" font-size="12"><rect width="{W}" height="{H}" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
}

/// Renders a scatter chart.
pub fn scatter(chart: &Scatter<'_>) -> String {
    let mut out = String::new();
    header(&mut out, chart.title);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let xs: Vec<f64> = chart
        .points
        .iter()
        .map(|p| p.x)
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if xs.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" fill="#555">{}</text></svg>"##,
            LEFT,
            TOP + 40.0,
            esc(&chart.note)
        );
        return out;
    }
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
    let map_x = |x: f64| -> f64 {
        if chart.log_x {
            LEFT + (x.ln() - x_lo.ln()) / (x_hi.ln() - x_lo.ln()) * plot_w
        } else {
            LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w
        }
    };
    let (y_lo, y_hi) = chart.y_range;
    let map_y =
        |y: f64| -> f64 { TOP + plot_h - (y.clamp(y_lo, y_hi) - y_lo) / (y_hi - y_lo) * plot_h };
    // Grid and ticks.
    for t in nice_linear_ticks(y_lo, y_hi, 5) {
        let y = map_y(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t * 100.0)
        );
    }
    let x_ticks = if chart.log_x {
        nice_log_ticks(x_lo, x_hi)
    } else {
        nice_linear_ticks(x_lo, x_hi, 6)
    };
    for t in x_ticks {
        let x = map_x(t);
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
    // Pareto front.
    if chart.front.len() > 1 {
        let path: Vec<String> = chart
            .front
            .iter()
            .map(|i| {
                format!(
                    "{:.1},{:.1}",
                    map_x(chart.points[*i].x),
                    map_y(chart.points[*i].y)
                )
            })
            .collect();
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#888" stroke-dasharray="5 4"/>"##,
            path.join(" ")
        );
    }
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    for p in &chart.points {
        if !(p.x.is_finite() && p.x > 0.0 && p.y.is_finite()) {
            continue;
        }
        let (x, y) = (map_x(p.x), map_y(p.y));
        let c = colour(p.series);
        if p.y_low.is_finite() && p.y_high.is_finite() {
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="1.5"/>"#,
                map_y(p.y_low),
                map_y(p.y_high)
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
        // Print the label only where it covers no label already printed (tooltips keep all).
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
    // Legend.
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
    let _ = write!(
        out,
        r##"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="#888" stroke-dasharray="5 4"/><text x="{:.1}" y="{:.1}">Pareto front</text>"##,
        lx - 6.0,
        lx + 6.0,
        lx + 10.0,
        ly + 4.0
    );
    if !chart.note.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
            H - 4.0,
            esc(&chart.note)
        );
    }
    out.push_str("</svg>");
    out
}

/// Long names keep their start and end (cascade specs differ at the end): `cascade:qwen…self_check`.
fn middle_ellipsis(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

fn short(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

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

/// Renders grouped vertical bars with whiskers.
pub fn bars(chart: &Bars<'_>) -> String {
    let mut out = String::new();
    header(&mut out, chart.title);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM - 30.0;
    if chart.bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" fill="#555">{}</text></svg>"##,
            LEFT,
            TOP + 40.0,
            esc(&chart.note)
        );
        return out;
    }
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
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { lo }, hi + pad);
    let map_y = |v: f64| TOP + plot_h - (v - lo) / (hi - lo) * plot_h;
    for t in nice_linear_ticks(lo, hi, 5) {
        let y = map_y(t);
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
            let x = start + bi as f64 * bar_w;
            let zero = map_y(chart.baseline.unwrap_or(0.0).max(lo));
            if b.value.is_finite() {
                let y = map_y(b.value);
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
                    map_y(b.low),
                    map_y(b.high),
                    cx - 4.0,
                    cx + 4.0,
                    map_y(b.low),
                    map_y(b.low),
                    cx - 4.0,
                    cx + 4.0,
                    map_y(b.high),
                    map_y(b.high)
                );
            }
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
        let y = map_y(base);
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
    out.push_str("</svg>");
    out
}
