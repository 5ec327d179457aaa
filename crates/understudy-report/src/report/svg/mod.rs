//! Minimal SVG charts (scatter with log or linear x, grouped bars) with axes, ticks, labels,
//! legends and error whiskers. Hand-written rather than plotters: text is left to the browser (no
//! system font lookup at build or run time) and the output is deterministic for snapshot tests.

use std::fmt::Write;

mod bars;
mod scatter;

pub use bars::{bars, Bar, Bars};
pub use scatter::{scatter, Point, Scatter};

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

pub(crate) const W: f64 = 1000.0;
pub(crate) const H: f64 = 460.0;
pub(crate) const LEFT: f64 = 70.0;
pub(crate) const RIGHT: f64 = 200.0;
pub(crate) const TOP: f64 = 40.0;
pub(crate) const BOTTOM: f64 = 60.0;

pub(crate) fn nice_log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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

pub(crate) fn nice_linear_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
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

pub(crate) fn fmt_tick(v: f64) -> String {
    if v.abs() >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Ends a chart that has nothing to plot with its note in place of the plot.
pub(crate) fn no_data(mut out: String, note: &str) -> String {
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" fill="#555">{}</text></svg>"##,
        LEFT,
        TOP + 40.0,
        esc(note)
    );
    out
}

pub(crate) fn header(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}" font-family="system-ui, sans-serif" font-size="12"><rect width="{W}" height="{H}" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="600">{t}</text>"#,
        t = esc(title)
    );
}

/// Renders a scatter chart.
/// Long names keep their start and end (cascade specs differ at the end): `cascade:qwen…self_check`.
pub(crate) fn middle_ellipsis(text: &str, max: usize) -> String {
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

pub(crate) fn short(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
