//! The report's tables as plain rows of cells, shared by the HTML and Markdown writers so both
//! print the same numbers with the same rounding.

use super::aggregates::Extras;
use crate::metrics::Unit;
use crate::stats::Estimate;
use crate::summary::{Summary, TaskScore};

/// A table: a title, a header and rows of text cells.
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A share or score as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "–".into()
    }
}

/// "61.0% [43.0–78.0] n=40".
pub fn estimate(e: &Estimate) -> String {
    if !e.value.is_finite() {
        return "–".into();
    }
    format!(
        "{} [{:.1}–{:.1}] n={}",
        pct(e.value),
        e.low * 100.0,
        e.high * 100.0,
        e.n
    )
}

pub fn summary_table(summary: &Summary) -> Table {
    let tasks: Vec<String> = summary
        .rows
        .first()
        .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
        .unwrap_or_default();
    let mut header = vec!["model".to_string(), "strategy".into(), "format".into()];
    for t in &tasks {
        header.push(format!("{t} score [95% CI]"));
        header.push(format!("{t} vs baseline"));
        header.push(format!("{t} share of ref"));
        header.push(format!("{t} FF"));
    }
    header.extend([
        "p50 ms".to_string(),
        "p95 ms".into(),
        "TTFT p50 ms".into(),
        "output tokens".into(),
    ]);
    let rows = summary
        .rows
        .iter()
        .map(|r| {
            let cached: usize = r.tasks.iter().map(|t| t.cached).sum();
            let mut cells = vec![
                format!(
                    "{}{}{}",
                    r.model,
                    if r.is_reference { " (reference)" } else { "" },
                    if cached > 0 {
                        format!(" (c: {cached} of {} cells cached)", r.cells)
                    } else {
                        String::new()
                    }
                ),
                r.strategy.clone(),
                r.format.clone(),
            ];
            for t in &tasks {
                match r.tasks.iter().find(|s| &s.task == t) {
                    Some(s) => cells.extend(task_cells(s)),
                    None => cells.extend(["–".to_string(), "–".into(), "–".into(), "–".into()]),
                }
            }
            cells.extend([
                format!(
                    "{:.0}{}",
                    r.latency_p50_ms,
                    if r.load.flagged() { " *" } else { "" }
                ),
                format!("{:.0}", r.latency_p95_ms),
                format!("{:.0}", r.ttft_p50_ms),
                format!("{:.1}", r.output_tokens_mean),
            ]);
            cells
        })
        .collect();
    Table {
        title: "Summary".into(),
        header,
        rows,
    }
}

/// A task's four cells in the summary table: score, baseline, share of reference, format
/// failures.
fn task_cells(s: &TaskScore) -> [String; 4] {
    [
        estimate(&s.accuracy),
        s.baseline
            .as_ref()
            .map(|b| {
                format!(
                    "{} {} — {}",
                    b.bar_name,
                    pct(b.bar),
                    if b.test.above { "above" } else { "NOT above" }
                )
            })
            .unwrap_or_else(|| "–".into()),
        match (&s.share_of_reference, &s.share_not_meaningful) {
            (Some(e), _) => estimate(e),
            (None, Some(_)) => "not meaningful (reference not above baseline)".into(),
            (None, None) => "–".into(),
        },
        s.format_failures.to_string(),
    ]
}

pub fn comparisons_table(summary: &Summary) -> Table {
    Table {
        title: "Paired comparisons (A − B on the same items)".into(),
        header: ["task", "A", "B", "A − B", "95% CI", "p", "test", "n"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: summary
            .comparisons
            .iter()
            .map(|c| {
                let d = &c.comparison.difference;
                vec![
                    c.task.clone(),
                    c.a.clone(),
                    c.b.clone(),
                    format!("{:+.1} pp", d.value * 100.0),
                    format!("[{:+.1}, {:+.1}]", d.low * 100.0, d.high * 100.0),
                    crate::stats::p_value_text(c.comparison.p_value, c.comparison.test),
                    c.comparison.test.to_string(),
                    d.n.to_string(),
                ]
            })
            .collect(),
    }
}

/// Every row and task with a baseline: the score beside chance and the majority class, the
/// one-sided test against the larger, and the answers the row gave.
pub fn baselines_table(summary: &Summary) -> Table {
    let mut rows = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            let Some(b) = &t.baseline else { continue };
            rows.push(vec![
                r.model.clone(),
                r.strategy.clone(),
                r.format.clone(),
                t.task.clone(),
                estimate(&t.accuracy),
                b.chance.map(pct).unwrap_or_else(|| "–".into()),
                b.majority
                    .as_ref()
                    .map(|m| format!("{} ({:?}, {})", pct(m.share), m.answer, m.source))
                    .unwrap_or_else(|| "– (no unscored labels)".into()),
                b.verdict(),
                match t.answers.single_line() {
                    Some(single) => format!("{} — {single}", t.answers.describe(6)),
                    None => t.answers.describe(6),
                },
            ]);
        }
    }
    Table {
        title: "Baselines fixed before scoring (chance = 1/labels or 1/options; majority = the most common label of the task's unscored few-shot pool; one-sided exact test against the larger)".into(),
        header: [
            "model", "strategy", "format", "task", "score", "chance", "majority", "test", "answers",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// Why shares of the reference are missing (once per task), and the baseline-adjusted share
/// where the reference beats its baseline.
pub fn share_notes_table(summary: &Summary) -> Table {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            if let Some(why) = &t.share_not_meaningful {
                if !rows
                    .iter()
                    .any(|row| row[0] == t.task && row[1] == "every row")
                {
                    rows.push(vec![
                        t.task.clone(),
                        "every row".into(),
                        format!("share of reference {why}"),
                    ]);
                }
            }
            if let Some(a) = &t.share_above_baseline {
                rows.push(vec![
                    t.task.clone(),
                    format!("{} {} {}", r.model, r.strategy, r.format),
                    format!(
                        "keeps {} of the reference's lead over the baseline",
                        estimate(a)
                    ),
                ]);
            }
        }
    }
    Table {
        title: "Share of the reference, qualified".into(),
        header: ["task", "rows", "note"].map(String::from).to_vec(),
        rows,
    }
}

pub fn classes_table(summary: &Summary) -> Table {
    let mut rows = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            if let Some(f1) = t.macro_f1 {
                for c in &t.classes {
                    rows.push(vec![
                        r.model.clone(),
                        r.strategy.clone(),
                        r.format.clone(),
                        t.task.clone(),
                        c.label.clone(),
                        format!("{:.2}", c.precision),
                        format!("{:.2}", c.recall),
                        format!("{:.2}", c.f1),
                        c.support.to_string(),
                        format!("{f1:.2}"),
                    ]);
                }
            }
        }
    }
    Table {
        title: "Per-class precision, recall and F1 (classification tasks)".into(),
        header: [
            "model",
            "strategy",
            "format",
            "task",
            "class",
            "precision",
            "recall",
            "F1",
            "support",
            "macro-F1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}

pub fn format_failures_table(summary: &Summary) -> Table {
    let mut rows = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            let rate = if t.accuracy.n > 0 {
                t.format_failures as f64 / t.accuracy.n as f64
            } else {
                f64::NAN
            };
            rows.push(vec![
                r.model.clone(),
                r.strategy.clone(),
                r.format.clone(),
                t.task.clone(),
                t.format_failures.to_string(),
                t.accuracy.n.to_string(),
                pct(rate),
            ]);
        }
    }
    Table {
        title: "Format failures (answers that could not be read)".into(),
        header: [
            "model", "strategy", "format", "task", "failures", "n", "rate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}

/// Task-specific metrics (pass@k, IFEval accuracies, ROUGE, judge ratings), one row per figure.
pub fn task_metrics_table(summary: &Summary) -> Table {
    let mut rows = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            for m in &t.metrics {
                let value = match (&m.estimate, m.unit) {
                    (Some(e), Unit::Share) => estimate(e),
                    (Some(e), Unit::Score) => {
                        format!("{:.3} [{:.3}–{:.3}] n={}", e.value, e.low, e.high, e.n)
                    }
                    (Some(e), Unit::Rating) => {
                        format!("{:.2} [{:.2}–{:.2}] n={}", e.value, e.low, e.high, e.n)
                    }
                    (None, _) => String::new(),
                };
                rows.push(vec![
                    r.model.clone(),
                    r.strategy.clone(),
                    t.task.clone(),
                    m.name.trim().to_string(),
                    value,
                    m.note.clone(),
                ]);
            }
            if let Some(spread) = &t.score_spread {
                rows.push(vec![
                    r.model.clone(),
                    r.strategy.clone(),
                    t.task.clone(),
                    "score distribution".into(),
                    spread.render(),
                    "items by score".into(),
                ]);
            }
            if t.ungraded > 0 {
                let why = if t.grader_failures.is_empty() {
                    String::new()
                } else {
                    format!("{} grader failures", t.grader_failures.len())
                };
                rows.push(vec![
                    r.model.clone(),
                    r.strategy.clone(),
                    t.task.clone(),
                    "ungraded (left out of the score)".into(),
                    t.ungraded.to_string(),
                    why,
                ]);
            }
        }
    }
    Table {
        title: "Task metrics".into(),
        header: [
            "model",
            "strategy",
            "task",
            "metric",
            "value [95% CI]",
            "note",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

mod cost;
mod extras;
mod grader_failures;
pub use cost::cost_table;
pub use extras::{confusion_tables, cot_table, format_spread_table};
pub use grader_failures::grader_failures_table;

/// Every table of the report, in reading order (the HTML and Markdown writers both use this).
pub fn all(summary: &Summary, extras: &Extras) -> Vec<Table> {
    let mut out = vec![
        summary_table(summary),
        baselines_table(summary),
        share_notes_table(summary),
        cost_table(summary),
        task_metrics_table(summary),
        comparisons_table(summary),
        cot_table(extras),
        format_spread_table(extras),
        classes_table(summary),
    ];
    out.extend(confusion_tables(extras));
    out.push(format_failures_table(summary));
    if let Some(table) = grader_failures_table(summary) {
        out.push(table);
    }
    out
}
