//! prompt-detail: the gain of the detailed system prompt (`role`) over the minimal one per model
//! and task, paired on the same items, and whether the smallest model gains more than the
//! largest (paired on items: gain of the small − gain of the big).

use super::{difference_text, models_by_size, paired, scores, verdict, ALPHA};
use understudy_report::report::aggregates::params_billion;
use understudy_report::report::charts::Chart;
use understudy_report::report::svg::{self, Bar, Bars};
use understudy_report::report::tables::Table;
use understudy_report::stats;
use understudy_report::summary::Summary;
use understudy_store::Cell;

const DETAILED: &str = "role";
const MINIMAL: &str = "minimal";

/// Per-item gain (detailed − minimal) of one model, keyed by task/format/item.
fn gains(
    cells: &[Cell],
    model: &str,
    task: Option<&str>,
) -> std::collections::HashMap<String, f64> {
    let detailed = scores(cells, model, DETAILED, None, task);
    let minimal = scores(cells, model, MINIMAL, None, task);
    detailed
        .iter()
        .filter_map(|(k, d)| minimal.get(k).map(|m| (k.clone(), d - m)))
        .collect()
}

pub fn analyse(summary: &Summary, cells: &[Cell]) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let models = models_by_size(summary);
    let mut tasks: Vec<String> = Vec::new();
    for c in cells {
        if !tasks.contains(&c.task) {
            tasks.push(c.task.clone());
        }
    }
    let mut table = Table {
        title: "Detailed (role) − minimal system prompt, paired on the same items (each row's own p, not corrected; the conclusions above are Holm-corrected)".into(),
        header: ["model", "parameters (B)", "task", "gain"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    let mut bars = Vec::new();
    // Each model's all-task gain: one family, Holm-corrected below.
    let mut per_model: Vec<(String, stats::Comparison)> = Vec::new();
    for (series, model) in models.iter().enumerate() {
        for task in tasks.iter().map(|t| Some(t.as_str())).chain([None]) {
            let (d, m) = paired(
                &scores(cells, model, DETAILED, None, task),
                &scores(cells, model, MINIMAL, None, task),
            );
            if d.is_empty() {
                continue;
            }
            let c = stats::compare(&d, &m);
            table.rows.push(vec![
                model.clone(),
                params_billion(model)
                    .map(|p| format!("{p:.2}"))
                    .unwrap_or("?".into()),
                task.unwrap_or("all tasks").to_string(),
                format!("{} — {}", difference_text(&c), verdict(&c)),
            ]);
            if let Some(task) = task {
                bars.push(Bar {
                    group: task.to_string(),
                    label: model.clone(),
                    value: c.difference.value,
                    low: c.difference.low,
                    high: c.difference.high,
                    series,
                });
            } else {
                per_model.push((model.clone(), c));
            }
        }
    }
    let p: Vec<f64> = per_model.iter().map(|(_, c)| c.p_value).collect();
    let mut conclusions: Vec<String> = per_model
        .iter()
        .zip(stats::holm(&p))
        .map(|((model, c), p_holm)| {
            format!(
                "{model}: the detailed prompt changes the score by {} — {} (Holm-adjusted over the {} models: {}).",
                difference_text(c),
                if p_holm < ALPHA { "significant" } else { "not significant at this sample size" },
                p.len(),
                stats::p_text(p_holm, "holm")
            )
        })
        .collect();
    if let Some(line) = small_versus_big(cells, &models) {
        conclusions.insert(0, line);
    }
    conclusions.extend(below_baseline(summary));
    let chart = gain_chart(&models, bars);
    (conclusions, vec![table], vec![chart])
}

/// Whether the smallest model gains more from the detailed prompt than the largest, paired on
/// items (None with one model).
fn small_versus_big(cells: &[Cell], models: &[String]) -> Option<String> {
    let (small, big) = (models.first()?, models.last()?);
    if small == big {
        return None;
    }
    let (gs, gb) = paired(&gains(cells, small, None), &gains(cells, big, None));
    let c = stats::compare(&gs, &gb);
    let claim = if c.p_value < ALPHA && c.difference.value > 0.0 {
        "supported: the smallest model gains more"
    } else if c.p_value < ALPHA {
        "contradicted: the largest model gains more"
    } else {
        "not supported at this sample size"
    };
    Some(format!(
        "Gain of {small} − gain of {big} on the same items: {} — {claim}.",
        difference_text(&c)
    ))
}

fn gain_chart(models: &[String], bars: Vec<Bar>) -> Chart {
    Chart {
        file: "prompt-detail.svg".into(),
        title: "Gain of the detailed system prompt".into(),
        svg: svg::bars(&Bars {
            title: "Detailed − minimal system prompt, by task and model",
            y_label: "score change (percentage points)",
            bars,
            baseline: Some(0.0),
            tick_scale: 100.0,
            legend: understudy_report::report::charts::model_legend(models),
            note: "whiskers: paired bootstrap 95% CI over items".into(),
        }),
    }
}

/// A gain between two scores that are not above the chance or majority-class baseline compares
/// two results no better than a constant answer: each such model and task is named.
fn below_baseline(summary: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for row in &summary.rows {
        for t in &row.tasks {
            let Some(b) = t.baseline.as_ref().filter(|b| !b.test.above) else {
                continue;
            };
            let key = (row.model.clone(), t.task.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let prompts: Vec<String> = summary
                .rows
                .iter()
                .filter(|r| r.model == row.model)
                .filter_map(|r| {
                    let x = r.tasks.iter().find(|x| x.task == t.task)?;
                    let b = x.baseline.as_ref().filter(|b| !b.test.above)?;
                    Some(format!("{} is {}", r.strategy, b.verdict()))
                })
                .collect();
            out.push(format!(
                "{} on {} ({}): {}; a gain there is a change between results no better than a constant answer.",
                row.model,
                t.task,
                b.describe(),
                prompts.join("; ")
            ));
        }
    }
    out
}
