//! Aggregates the report needs beyond the summary: chain-of-thought cost, format spread, the size
//! ladder, confusion matrices and worst-case examples. Computed from the same stored cells.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::items::{by_item, paired};
use crate::metrics;
use crate::stats::{self, Comparison};
use crate::summary::{Row, Summary, TaskScore};
use understudy_store::load_summary::{comparable, LoadSummary};
use understudy_store::Cell;

/// How much slower chain-of-thought is, and what it does to the score, for one model and task.
#[derive(Debug, Clone, Serialize)]
pub struct CotCost {
    pub model: String,
    pub format: String,
    pub task: String,
    /// p50 latency under cot ÷ p50 latency under zero-shot, on this task.
    pub latency_ratio: f64,
    /// Mean latency under cot ÷ mean under zero-shot on the same items, with a paired 95% CI.
    pub mean_latency_ratio: stats::Estimate,
    /// cot − zero-shot on the same items.
    pub change: Comparison,
    /// Why the latency ratio cannot be trusted (the two were measured under different load).
    pub unreliable: Option<String>,
}

/// Scores of one model, strategy and task across prompt formats.
#[derive(Debug, Clone, Serialize)]
pub struct FormatSpread {
    pub model: String,
    pub strategy: String,
    pub task: String,
    pub scores: Vec<(String, f64)>,
    /// max − min across formats.
    pub spread: f64,
}

/// One rung of the size ladder.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    pub model: String,
    pub params_billion: f64,
    pub strategy: String,
    pub format: String,
    pub mean_score: f64,
    pub latency_p50_ms: f64,
}

/// Confusion matrix for a label task: `counts[gold][predicted]`, the last column is "unreadable".
#[derive(Debug, Clone, Serialize)]
pub struct Confusion {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub task: String,
    pub labels: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

/// A wrong answer worth reading.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub task: String,
    pub item_id: String,
    pub gold: String,
    pub parsed: Option<String>,
    pub answer: String,
    pub prompt: String,
}

/// Everything the report adds to the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Extras {
    pub cot_cost: Vec<CotCost>,
    pub format_spread: Vec<FormatSpread>,
    pub ladder: Vec<Rung>,
    pub confusion: Vec<Confusion>,
    pub worst: Vec<Example>,
}

/// Parameter count in billions: the catalogue's for default models (also inside a longer name),
/// else read from a name like `…-7B…`.
pub fn params_billion(model: &str) -> Option<f64> {
    let lower = model.to_lowercase();
    if let Some(known) = understudy_models::catalog::known_models()
        .into_iter()
        .find(|k| lower.contains(k.name))
    {
        return Some(known.params_billion);
    }
    let re = regex::Regex::new(r"(\d+(?:\.\d+)?)\s*([bm])(?:[^a-z0-9]|$)").ok()?;
    let caps = re.captures_iter(&lower).last()?;
    let n: f64 = caps[1].parse().ok()?;
    Some(if &caps[2] == "m" { n / 1000.0 } else { n })
}

fn select<'c>(
    cells: &'c [Cell],
    model: &str,
    strategy: &str,
    format: &str,
    task: &str,
) -> Vec<&'c Cell> {
    cells
        .iter()
        .filter(|c| {
            c.model == model && c.strategy == strategy && c.format == format && c.task == task
        })
        .collect()
}

fn p50(cells: &[&Cell]) -> f64 {
    let mut t: Vec<f64> = cells.iter().map(|c| c.total_ms).collect();
    t.sort_by(|a, b| a.total_cmp(b));
    stats::quantile(&t, 0.5)
}

pub fn compute(summary: &Summary, cells: &[Cell]) -> Extras {
    let mut tasks: Vec<&str> = Vec::new();
    for c in cells {
        if !tasks.contains(&c.task.as_str()) {
            tasks.push(&c.task);
        }
    }
    let mut models: Vec<&str> = Vec::new();
    for r in &summary.rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let mut cot_cost = Vec::new();
    let mut format_spread = Vec::new();
    for model in &models {
        let rows: Vec<_> = summary.rows.iter().filter(|r| r.model == *model).collect();
        let formats: BTreeSet<&str> = rows.iter().map(|r| r.format.as_str()).collect();
        let mut strategies: Vec<&str> = Vec::new();
        for r in &rows {
            if !strategies.contains(&r.strategy.as_str()) {
                strategies.push(r.strategy.as_str());
            }
        }
        for task in &tasks {
            cot_cost.extend(
                formats
                    .iter()
                    .filter_map(|format| cot_cost_of(cells, model, format, task, summary.samples)),
            );
            if formats.len() > 1 {
                format_spread.extend(
                    strategies
                        .iter()
                        .filter_map(|strategy| spread_of(cells, model, strategy, &formats, task)),
                );
            }
        }
    }
    let mut confusion = Vec::new();
    let mut worst = Vec::new();
    for row in &summary.rows {
        for t in &row.tasks {
            let these = select(cells, &row.model, &row.strategy, &row.format, &t.task);
            if t.macro_f1.is_some() {
                confusion.push(confusion_of(row, t, &these));
            }
            worst.extend(
                these
                    .iter()
                    .filter(|c| c.score < 1.0)
                    .take(2)
                    .map(|c| example_of(c)),
            );
        }
    }
    Extras {
        cot_cost,
        format_spread,
        ladder: ladder(summary, &models),
        confusion,
        worst,
    }
}

/// Mean of `value` per item (a problem's samples are one unit) over the cells kept by `keep`.
fn per_item(
    set: &[&Cell],
    samples: usize,
    keep: impl Fn(&Cell) -> bool,
    value: impl Fn(&Cell) -> f64,
) -> BTreeMap<String, f64> {
    let valued: Vec<Cell> = set
        .iter()
        .filter(|c| keep(c))
        .map(|c| Cell {
            score: value(c),
            ..(*c).clone()
        })
        .collect();
    by_item(valued.iter(), samples)
}

/// cot against zero-shot for one model, format and task, paired on the same items (a
/// problem's samples averaged into one unit; ungraded cells left out, never counted as 0). The
/// latency ratio uses freshly measured cells only: a cached answer keeps the time of an earlier
/// run, under conditions nobody recorded.
fn cot_cost_of(
    cells: &[Cell],
    model: &str,
    format: &str,
    task: &str,
    samples: usize,
) -> Option<CotCost> {
    let cot = select(cells, model, "cot", format, task);
    let zero = select(cells, model, "zero-shot", format, task);
    if cot.is_empty() || zero.is_empty() {
        return None;
    }
    let graded = |set: &[&Cell]| per_item(set, samples, |c| !metrics::ungraded(c), |c| c.score);
    let (a, b) = paired(&graded(&cot), &graded(&zero));
    let fresh = |set: &[&Cell]| per_item(set, samples, |c| !c.cached, |c| c.total_ms);
    let (la, lb) = paired(&fresh(&cot), &fresh(&zero));
    let unreliable = if la.len() * 2 < a.len().max(1) || la.len() < 2 {
        Some(format!(
            "latency measured fresh on only {} of {} shared items (the rest were cached answers, timed in an earlier run)",
            la.len(),
            a.len()
        ))
    } else {
        comparable(
            &LoadSummary::of(cot.iter().filter_map(|c| c.conditions.as_ref())),
            &LoadSummary::of(zero.iter().filter_map(|c| c.conditions.as_ref())),
        )
        .err()
    };
    Some(CotCost {
        model: model.to_string(),
        format: format.to_string(),
        task: task.to_string(),
        latency_ratio: p50(&cot) / p50(&zero),
        mean_latency_ratio: stats::share_of_reference(&la, &lb),
        change: stats::compare(&a, &b),
        unreliable,
    })
}

/// How far one strategy's score moves across output formats.
fn spread_of(
    cells: &[Cell],
    model: &str,
    strategy: &str,
    formats: &BTreeSet<&str>,
    task: &str,
) -> Option<FormatSpread> {
    let scores: Vec<(String, f64)> = formats
        .iter()
        .filter_map(|f| {
            let these = select(cells, model, strategy, f, task);
            (!these.is_empty()).then(|| {
                (
                    f.to_string(),
                    stats::mean(&these.iter().map(|c| c.score).collect::<Vec<_>>()),
                )
            })
        })
        .collect();
    if scores.len() < 2 {
        return None;
    }
    let max = scores.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    let min = scores.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    Some(FormatSpread {
        model: model.to_string(),
        strategy: strategy.to_string(),
        task: task.to_string(),
        scores,
        spread: max - min,
    })
}

/// Gold label × answered label counts (the last column: no label read).
fn confusion_of(row: &Row, t: &TaskScore, these: &[&Cell]) -> Confusion {
    let labels: Vec<String> = t.classes.iter().map(|c| c.label.clone()).collect();
    let mut counts = vec![vec![0usize; labels.len() + 1]; labels.len()];
    for c in these {
        if let Some(g) = labels.iter().position(|l| *l == c.gold) {
            let p = c
                .parsed
                .as_ref()
                .and_then(|p| labels.iter().position(|l| l == p))
                .unwrap_or(labels.len());
            counts[g][p] += 1;
        }
    }
    Confusion {
        model: row.model.clone(),
        strategy: row.strategy.clone(),
        format: row.format.clone(),
        task: t.task.clone(),
        labels,
        counts,
    }
}

/// A wrong answer with the prompt that produced it.
fn example_of(c: &Cell) -> Example {
    let prompt = serde_json::from_str::<Vec<understudy_core::ChatMessage>>(&c.prompt_json)
        .map(|m| {
            m.iter()
                .map(|m| format!("[{}] {}", m.role, m.content))
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_else(|_| c.prompt_json.clone());
    Example {
        model: c.model.clone(),
        strategy: c.strategy.clone(),
        format: c.format.clone(),
        task: c.task.clone(),
        item_id: c.item_id.clone(),
        gold: c.gold.clone(),
        parsed: c.parsed.clone(),
        answer: c.answer.clone(),
        prompt,
    }
}

/// Each model's first row (its zero-shot/plain baseline when the run has one), by size.
fn ladder(summary: &Summary, models: &[&str]) -> Vec<Rung> {
    let mut ladder: Vec<Rung> = models
        .iter()
        .filter_map(|m| {
            let row = summary.rows.iter().find(|r| r.model == *m)?;
            Some(Rung {
                model: m.to_string(),
                params_billion: params_billion(m)?,
                strategy: row.strategy.clone(),
                format: row.format.clone(),
                mean_score: stats::mean(
                    &row.tasks
                        .iter()
                        .map(|t| t.accuracy.value)
                        .collect::<Vec<_>>(),
                ),
                latency_p50_ms: row.latency_p50_ms,
            })
        })
        .collect();
    ladder.sort_by(|a, b| a.params_billion.total_cmp(&b.params_billion));
    ladder
}
