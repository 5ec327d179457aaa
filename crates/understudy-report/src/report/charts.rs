//! The report's charts, built from the summary and its extras: quality vs latency (per task and
//! averaged, Pareto front, reference marked), chain-of-thought cost, share of reference, format
//! sensitivity and the size ladder. Each returns (file name, title, SVG), or — where the run has
//! no data for it — why it is not drawn (no placeholder files).

use super::aggregates::Extras;
use super::svg::{self, Bar, Bars, Point, Scatter};
use crate::summary::Summary;

use super::chart::not_drawn;
pub use super::chart::{Chart, Charts, NotDrawn};
use super::ladder_charts::{ladder_chart, ladder_latency_chart};

fn model_series(summary: &Summary) -> Vec<String> {
    let mut models = Vec::new();
    for r in &summary.rows {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    models
}

/// Indices of points not beaten by another that is both faster and better, sorted by x.
fn pareto(points: &[Point]) -> Vec<usize> {
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let p = &points[i];
            p.x.is_finite()
                && p.y.is_finite()
                && !points
                    .iter()
                    .enumerate()
                    .any(|(j, q)| j != i && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y))
        })
        .collect();
    front.sort_by(|a, b| points[*a].x.total_cmp(&points[*b].x));
    front
}

fn quality_latency(summary: &Summary, task: Option<&str>) -> Chart {
    let models = model_series(summary);
    let mut points = Vec::new();
    let mut n_total = 0;
    for row in &summary.rows {
        let (x, y, lo, hi, n) = match task {
            Some(t) => match row.tasks.iter().find(|s| s.task == t) {
                Some(s) => (
                    s.latency_p50_ms,
                    s.accuracy.value,
                    s.accuracy.low,
                    s.accuracy.high,
                    s.accuracy.n,
                ),
                None => continue,
            },
            None => (
                row.latency_p50_ms,
                row.pooled.value,
                row.pooled.low,
                row.pooled.high,
                row.pooled.n,
            ),
        };
        n_total += n;
        points.push(Point {
            x,
            y,
            y_low: lo,
            y_high: hi,
            label: format!("{} · {} · {}", row.model, row.strategy, row.format),
            short: format!("{} · {}", row.strategy, row.format),
            series: models.iter().position(|m| *m == row.model).unwrap_or(0),
            highlight: row.is_reference,
        });
    }
    let front = pareto(&points);
    let name = task.unwrap_or("all tasks (pooled)");
    let svg = svg::scatter(&Scatter {
        title: &format!("Quality vs latency — {name}"),
        x_label: "median end-to-end latency per item (ms, log scale)",
        y_label: "score (% correct, 95% CI)",
        log_x: true,
        y_range: (0.0, 1.0),
        points,
        legend: model_legend(&models),
        front,
        note: format!("colour = model, label = strategy · format; n = {n_total} cells; whiskers: 95% CI over items (Clopper–Pearson for 0/1 scores)"),
    });
    Chart {
        file: format!("quality-latency-{}.svg", slug(name)),
        title: format!("Quality vs latency — {name}"),
        svg,
    }
}

fn cot_charts(extras: &Extras) -> Result<Vec<Chart>, NotDrawn> {
    let empty = "the run has no model with both cot and zero-shot; add --strategies zero-shot,cot";
    if extras.cot_cost.is_empty() {
        return Err(not_drawn("Chain-of-thought cost", empty));
    }
    let mut models: Vec<String> = Vec::new();
    for c in &extras.cot_cost {
        if !models.contains(&c.model) {
            models.push(c.model.clone());
        }
    }
    let ratio = svg::bars(&Bars {
        title: "Chain-of-thought latency cost (p50 cot ÷ p50 zero-shot)",
        y_label: "latency ratio (×)",
        bars: extras
            .cot_cost
            .iter()
            .map(|c| Bar {
                group: c.task.clone(),
                label: format!("{} {}", c.model, c.format),
                value: c.latency_ratio,
                low: f64::NAN,
                high: f64::NAN,
                series: models.iter().position(|m| *m == c.model).unwrap_or(0),
            })
            .collect(),
        baseline: Some(1.0),
        tick_scale: 1.0,
        legend: model_legend(&models),
        note: "dashed line: same speed as zero-shot".into(),
    });
    let change = svg::bars(&Bars {
        title: "Chain-of-thought score change (cot − zero-shot, same items)",
        y_label: "percentage points (95% CI)",
        bars: extras
            .cot_cost
            .iter()
            .map(|c| Bar {
                group: c.task.clone(),
                label: format!(
                    "{} {} (p = {:.3}, n = {})",
                    c.model, c.format, c.change.p_value, c.change.difference.n
                ),
                value: c.change.difference.value,
                low: c.change.difference.low,
                high: c.change.difference.high,
                series: models.iter().position(|m| *m == c.model).unwrap_or(0),
            })
            .collect(),
        baseline: Some(0.0),
        tick_scale: 100.0,
        legend: model_legend(&models),
        note: "95% CI and p of the exact score test (paired, 0/1 scores) in each bar's tooltip"
            .into(),
    });
    Ok(vec![
        Chart {
            file: "cot-latency.svg".into(),
            title: "Chain-of-thought latency cost".into(),
            svg: ratio,
        },
        Chart {
            file: "cot-score.svg".into(),
            title: "Chain-of-thought score change".into(),
            svg: change,
        },
    ])
}

fn share_chart(summary: &Summary) -> Result<Chart, NotDrawn> {
    let rows: Vec<_> = summary.rows.iter().filter(|r| !r.is_reference).collect();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r.model, r.strategy, r.format))
        .collect();
    let mut bars = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        for t in &row.tasks {
            if let Some(e) = t.share_of_reference {
                bars.push(Bar {
                    group: t.task.clone(),
                    label: labels[i].clone(),
                    value: e.value,
                    low: e.low,
                    high: e.high,
                    series: i,
                });
            }
        }
    }
    let note = match &summary.reference {
        Some(r) if !bars.is_empty() => {
            format!("share = score ÷ {r}'s score on the same items; dashed line: parity")
        }
        Some(_) => {
            return Err(not_drawn(
                "Share of reference",
                "no row has a share of the reference (no items in common, or the reference is not above the baseline)",
            ))
        }
        None => {
            return Err(not_drawn(
                "Share of reference",
                "no reference model in this run (eval --reference MODEL)",
            ))
        }
    };
    let svg = svg::bars(&Bars {
        title: "Share of reference per task",
        y_label: "% of the reference's score (95% CI)",
        bars,
        baseline: Some(1.0),
        tick_scale: 100.0,
        legend: labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect(),
        note,
    });
    Ok(Chart {
        file: "share-of-reference.svg".into(),
        title: "Share of reference".into(),
        svg,
    })
}

fn format_chart(extras: &Extras) -> Result<Chart, NotDrawn> {
    let formats = ["plain", "markdown", "json", "yaml"];
    let mut bars = Vec::new();
    for s in &extras.format_spread {
        for (format, score) in &s.scores {
            bars.push(Bar {
                group: format!(
                    "{} {} {} (spread {:.0} pp)",
                    s.model,
                    s.strategy,
                    s.task,
                    s.spread * 100.0
                ),
                label: format.clone(),
                value: *score,
                low: f64::NAN,
                high: f64::NAN,
                series: formats.iter().position(|f| f == format).unwrap_or(0),
            });
        }
    }
    if bars.is_empty() {
        return Err(not_drawn(
            "Format sensitivity",
            "the run used one prompt format; add --formats plain,markdown,json,yaml",
        ));
    }
    let note = "same content rendered four ways; spread = best − worst format".to_string();
    let svg = svg::bars(&Bars {
        title: "Format sensitivity (score per prompt format)",
        y_label: "score (% correct)",
        bars,
        baseline: None,
        tick_scale: 100.0,
        legend: formats
            .iter()
            .enumerate()
            .map(|(i, f)| (f.to_string(), i))
            .collect(),
        note,
    });
    Ok(Chart {
        file: "format-sensitivity.svg".into(),
        title: "Format sensitivity".into(),
        svg,
    })
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Every chart of the report the run has data for, in reading order, and the others by name.
pub fn all(summary: &Summary, extras: &Extras) -> Charts {
    let mut charts = vec![quality_latency(summary, None)];
    let tasks: Vec<String> = summary
        .rows
        .first()
        .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
        .unwrap_or_default();
    for task in &tasks {
        charts.push(quality_latency(summary, Some(task)));
    }
    let mut out = Charts {
        drawn: charts,
        not_drawn: Vec::new(),
    };
    let mut add = |chart: Result<Vec<Chart>, NotDrawn>| match chart {
        Ok(charts) => out.drawn.extend(charts),
        Err(why) => out.not_drawn.push(why),
    };
    add(cot_charts(extras));
    add(share_chart(summary).map(|c| vec![c]));
    add(format_chart(extras).map(|c| vec![c]));
    add(ladder_chart(extras).map(|c| vec![c]));
    add(ladder_latency_chart(extras).map(|c| vec![c]));
    out
}

/// A legend with one entry per model, coloured as the model's series.
pub fn model_legend(models: &[String]) -> Vec<(String, usize)> {
    models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), i))
        .collect()
}
