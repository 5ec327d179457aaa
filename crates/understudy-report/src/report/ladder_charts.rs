//! The size-ladder charts: score and latency against parameters, for runs with models of at
//! least two known sizes.

use super::aggregates::Extras;
use super::chart::{not_drawn, Chart, NotDrawn};
use super::svg::{self, Bar, Bars, Point, Scatter};

pub(super) fn ladder_chart(extras: &Extras) -> Result<Chart, NotDrawn> {
    let points: Vec<Point> = extras
        .ladder
        .iter()
        .enumerate()
        .map(|(i, r)| Point {
            x: r.params_billion,
            y: r.mean_score,
            y_low: f64::NAN,
            y_high: f64::NAN,
            label: format!("{} · p50 {:.0} ms", r.model, r.latency_p50_ms),
            short: format!("p50 {:.0} ms", r.latency_p50_ms),
            series: i,
            highlight: false,
        })
        .collect();
    if points.len() < 2 {
        return Err(not_drawn("Size ladder", LADDER_NEEDS));
    }
    let note = "each model's first strategy and format; labels give p50 latency".to_string();
    let svg = svg::scatter(&Scatter {
        title: "Size ladder: score vs parameters",
        x_label: "parameters (billions, log scale)",
        y_label: "mean score over tasks (%)",
        log_x: true,
        y_range: (0.0, 1.0),
        legend: extras
            .ladder
            .iter()
            .enumerate()
            .map(|(i, r)| (r.model.clone(), i))
            .collect(),
        front: Vec::new(),
        points,
        note,
    });
    Ok(Chart {
        file: "size-ladder.svg".into(),
        title: "Size ladder".into(),
        svg,
    })
}

const LADDER_NEEDS: &str = "needs models of at least two known sizes (e.g. the default ladder)";

pub(super) fn ladder_latency_chart(extras: &Extras) -> Result<Chart, NotDrawn> {
    let bars: Vec<Bar> = extras
        .ladder
        .iter()
        .enumerate()
        .map(|(i, r)| Bar {
            group: format!("{} ({:.2}B)", r.model, r.params_billion),
            label: format!("{} {} {}", r.model, r.strategy, r.format),
            value: r.latency_p50_ms,
            low: f64::NAN,
            high: f64::NAN,
            series: i,
        })
        .collect();
    if bars.len() < 2 {
        return Err(not_drawn("Size ladder: latency", LADDER_NEEDS));
    }
    let note =
        "median end-to-end latency per item, each model's first strategy and format, smallest first"
            .to_string();
    let svg = svg::bars(&Bars {
        title: "Size ladder: latency vs parameters",
        y_label: "p50 latency per item (ms)",
        bars,
        baseline: None,
        tick_scale: 1.0,
        legend: extras
            .ladder
            .iter()
            .enumerate()
            .map(|(i, r)| (r.model.clone(), i))
            .collect(),
        note,
    });
    Ok(Chart {
        file: "size-ladder-latency.svg".into(),
        title: "Size ladder: latency".into(),
        svg,
    })
}
