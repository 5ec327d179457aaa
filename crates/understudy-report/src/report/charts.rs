//! The report's charts, built from the summary and its extras: quality vs latency (per task and
//! averaged, Pareto front, reference marked), chain-of-thought cost, share of reference, format
//! sensitivity and the size ladder. Each returns (file name, title, SVG).

use super::aggregates::Extras;
use super::svg::{self, Bar, Bars, Point, Scatter};
use crate::summary::Summary;

/// A rendered chart.
pub struct Chart {
    pub file: String,
    pub title: String,
    pub svg: String,
}

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

fn cot_charts(extras: &Extras) -> Vec<Chart> {
    let mut models: Vec<String> = Vec::new();
    for c in &extras.cot_cost {
        if !models.contains(&c.model) {
            models.push(c.model.clone());
        }
    }
    let empty = "the run has no model with both cot and zero-shot; add --strategies zero-shot,cot";
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
        note: if extras.cot_cost.is_empty() {
            empty.into()
        } else {
            "dashed line: same speed as zero-shot".into()
        },
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
        note: if extras.cot_cost.is_empty() {
            empty.into()
        } else {
            "95% CI and p of the exact score test (paired, 0/1 scores) in each bar's tooltip".into()
        },
    });
    vec![
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
    ]
}

fn share_chart(summary: &Summary) -> Chart {
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
        Some(_) => "the reference has no scored items in common with the other rows".into(),
        None => "no reference model in this run (eval --reference MODEL)".into(),
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
    Chart {
        file: "share-of-reference.svg".into(),
        title: "Share of reference".into(),
        svg,
    }
}

fn format_chart(extras: &Extras) -> Chart {
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
    let note = if bars.is_empty() {
        "the run used one prompt format; add --formats plain,markdown,json,yaml".to_string()
    } else {
        "same content rendered four ways; spread = best − worst format".to_string()
    };
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
    Chart {
        file: "format-sensitivity.svg".into(),
        title: "Format sensitivity".into(),
        svg,
    }
}

fn ladder_chart(extras: &Extras) -> Chart {
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
    let note = if points.len() < 2 {
        "needs models of at least two known sizes (e.g. the default ladder)".to_string()
    } else {
        "each model's first strategy and format; labels give p50 latency".to_string()
    };
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
    Chart {
        file: "size-ladder.svg".into(),
        title: "Size ladder".into(),
        svg,
    }
}

fn ladder_latency_chart(extras: &Extras) -> Chart {
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
    let note = if bars.len() < 2 {
        "needs models of at least two known sizes (e.g. the default ladder)".to_string()
    } else {
        "median end-to-end latency per item, each model's first strategy and format, smallest first"
            .to_string()
    };
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
    Chart {
        file: "size-ladder-latency.svg".into(),
        title: "Size ladder: latency".into(),
        svg,
    }
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

/// Every chart of the report, in reading order.
pub fn all(summary: &Summary, extras: &Extras) -> Vec<Chart> {
    let mut charts = vec![quality_latency(summary, None)];
    let tasks: Vec<String> = summary
        .rows
        .first()
        .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
        .unwrap_or_default();
    for task in &tasks {
        charts.push(quality_latency(summary, Some(task)));
    }
    charts.extend(cot_charts(extras));
    charts.push(share_chart(summary));
    charts.push(format_chart(extras));
    charts.push(ladder_chart(extras));
    charts.push(ladder_latency_chart(extras));
    charts
}

/// A legend with one entry per model, coloured as the model's series.
pub fn model_legend(models: &[String]) -> Vec<(String, usize)> {
    models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), i))
        .collect()
}
