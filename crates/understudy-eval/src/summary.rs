//! Turns a run's stored cells into the summary: per (model, strategy, format) and task the score
//! with n and a 95% CI, macro-F1 where labels apply, share of the reference (paired), format
//! failures, latency; and paired comparisons ("A − B = +x pp [CI], p = …"). Rendering as text
//! is a pure function; printing is the CLI's job.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::conditions::LoadSummary;
use crate::metrics;
use crate::stats::{self, Comparison, Estimate};
use crate::store::{Cell, RunInfo};

/// One task's numbers in one row.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScore {
    pub task: String,
    pub accuracy: Estimate,
    pub macro_f1: Option<f64>,
    /// Per-class precision, recall and F1 (label tasks only).
    pub classes: Vec<stats::ClassScore>,
    pub share_of_reference: Option<Estimate>,
    pub format_failures: usize,
    pub cached: usize,
    /// Median end-to-end latency per item on this task, in ms.
    pub latency_p50_ms: f64,
    /// Task-specific figures (pass@1, IFEval accuracies, ROUGE, judge ratings).
    pub metrics: Vec<metrics::Metric>,
    /// Cells without a usable grade (judge failures), left out of the score.
    pub ungraded: usize,
}

/// One row: a model under a strategy and format.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub is_reference: bool,
    pub tasks: Vec<TaskScore>,
    /// Score over every item of every task in the row, with a bootstrap CI over those items.
    pub pooled: Estimate,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub ttft_p50_ms: f64,
    pub output_tokens_mean: f64,
    pub cells: usize,
    /// The machine's load while this row's latency was measured.
    pub load: LoadSummary,
}

/// A paired comparison on one task.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonLine {
    pub task: String,
    pub a: String,
    pub b: String,
    pub comparison: Comparison,
}

/// Everything `understudy show` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub run: RunInfo,
    pub reference: Option<String>,
    pub rows: Vec<Row>,
    pub comparisons: Vec<ComparisonLine>,
    /// The machine's load over every cell measured in this run.
    pub load: LoadSummary,
}

impl Summary {
    /// One line on the conditions latency was measured under, for every page that shows it.
    pub fn load_line(&self) -> String {
        let flagged: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.load.flagged())
            .map(|r| format!("{} {} {}", r.model, r.strategy, r.format))
            .collect();
        if flagged.is_empty() {
            format!(
                "latency conditions: {}; no row's latency was measured under load",
                self.load.describe()
            )
        } else {
            format!(
                "latency conditions: {}; LATENCY MEASURED UNDER LOAD (marked *, at least {:.0}% of the row's cells) for: {}",
                self.load.describe(),
                crate::conditions::FLAG_SHARE * 100.0,
                flagged.join(", ")
            )
        }
    }
}

type RowKey = (String, String, String);

fn label(key: &RowKey) -> String {
    format!("{} {} {}", key.0, key.1, key.2)
}

/// Scores of `cells` by item id.
fn by_item<'c>(cells: impl Iterator<Item = &'c Cell>) -> HashMap<String, f64> {
    cells.map(|c| (c.item_id.clone(), c.score)).collect()
}

/// Paired score vectors over the items both maps have, in a stable order.
fn paired(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> (Vec<f64>, Vec<f64>) {
    let mut ids: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    ids.sort();
    (
        ids.iter().map(|k| a[*k]).collect(),
        ids.iter().map(|k| b[*k]).collect(),
    )
}

pub fn summarise(run: RunInfo, cells: &[Cell]) -> Summary {
    let plan: serde_json::Value = serde_json::from_str(&run.plan_json).unwrap_or_default();
    let reference = plan["reference"].as_str().map(str::to_string);
    let first_strategy = plan["strategies"][0].as_str().unwrap_or("").to_string();
    let first_format = plan["formats"][0].as_str().unwrap_or("").to_string();
    let reference_key = reference
        .clone()
        .map(|r| (r, first_strategy.clone(), first_format.clone()));

    let mut keys: Vec<RowKey> = Vec::new();
    let mut tasks: Vec<String> = Vec::new();
    for c in cells {
        let key = (c.model.clone(), c.strategy.clone(), c.format.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
        if !tasks.contains(&c.task) {
            tasks.push(c.task.clone());
        }
    }
    let cells_of = |key: &RowKey, task: &str| -> Vec<&Cell> {
        cells
            .iter()
            .filter(|c| {
                c.model == key.0
                    && c.strategy == key.1
                    && c.format == key.2
                    && c.task == task
                    && !metrics::ungraded(c)
            })
            .collect()
    };

    let mut rows = Vec::new();
    for key in &keys {
        let mut task_scores = Vec::new();
        for task in &tasks {
            let these = cells_of(key, task);
            let ungraded = cells
                .iter()
                .filter(|c| {
                    c.model == key.0
                        && c.strategy == key.1
                        && c.format == key.2
                        && c.task == *task
                        && metrics::ungraded(c)
                })
                .count();
            if these.is_empty() {
                continue;
            }
            let scores: Vec<f64> = these.iter().map(|c| c.score).collect();
            let golds: BTreeSet<&str> = these.iter().map(|c| c.gold.as_str()).collect();
            // Macro-F1 only for label-like tasks: few distinct gold values, none numeric letters.
            let labelish = !these.iter().any(|c| metrics::open_ended(c))
                && golds.len() >= 2
                && golds.len() <= 10
                && golds
                    .iter()
                    .all(|g| g.chars().count() > 1 && g.parse::<f64>().is_err());
            let per_class = labelish.then(|| {
                let labels: Vec<String> = golds.iter().map(|s| s.to_string()).collect();
                let gold: Vec<String> = these.iter().map(|c| c.gold.clone()).collect();
                let predicted: Vec<Option<String>> =
                    these.iter().map(|c| c.parsed.clone()).collect();
                stats::per_class(&gold, &predicted, &labels)
            });
            let macro_f1 = per_class.as_ref().map(|(_, f)| *f);
            let classes = per_class.map(|(c, _)| c).unwrap_or_default();
            let share = reference_key.as_ref().filter(|r| *r != key).and_then(|r| {
                let reference_cells = cells_of(r, task);
                if reference_cells.is_empty() {
                    return None;
                }
                let (m, rf) = paired(
                    &by_item(these.iter().copied()),
                    &by_item(reference_cells.into_iter()),
                );
                Some(stats::share_of_reference(&m, &rf))
            });
            task_scores.push(TaskScore {
                task: task.clone(),
                accuracy: stats::bootstrap_mean(&scores),
                macro_f1,
                classes,
                share_of_reference: share,
                format_failures: these.iter().filter(|c| c.format_failure).count(),
                cached: these.iter().filter(|c| c.cached).count(),
                latency_p50_ms: {
                    let mut t: Vec<f64> = these.iter().map(|c| c.total_ms).collect();
                    t.sort_by(|a, b| a.total_cmp(b));
                    stats::quantile(&t, 0.5)
                },
                metrics: metrics::task_metrics(&these),
                ungraded,
            });
        }
        let all: Vec<&Cell> = cells
            .iter()
            .filter(|c| {
                c.model == key.0
                    && c.strategy == key.1
                    && c.format == key.2
                    && !metrics::ungraded(c)
            })
            .collect();
        let mut totals: Vec<f64> = all.iter().map(|c| c.total_ms).collect();
        totals.sort_by(|a, b| a.total_cmp(b));
        let mut ttfts: Vec<f64> = all.iter().map(|c| c.ttft_ms).collect();
        ttfts.sort_by(|a, b| a.total_cmp(b));
        rows.push(Row {
            model: key.0.clone(),
            strategy: key.1.clone(),
            format: key.2.clone(),
            is_reference: reference_key.as_ref() == Some(key),
            tasks: task_scores,
            pooled: stats::bootstrap_mean(&all.iter().map(|c| c.score).collect::<Vec<_>>()),
            latency_p50_ms: stats::quantile(&totals, 0.5),
            latency_p95_ms: stats::quantile(&totals, 0.95),
            ttft_p50_ms: stats::quantile(&ttfts, 0.5),
            output_tokens_mean: stats::mean(
                &all.iter()
                    .map(|c| f64::from(c.completion_tokens))
                    .collect::<Vec<_>>(),
            ),
            cells: all.len(),
            load: LoadSummary::of(all.iter().filter_map(|c| c.conditions.as_ref())),
        });
    }

    // Paired comparisons: every other row of a model against its first row, and each row of a
    // model against the reference under the same strategy and format when the reference has it.
    let mut comparisons = Vec::new();
    for task in &tasks {
        let mut pairs: Vec<(RowKey, RowKey)> = Vec::new();
        for key in &keys {
            if let Some(first) = keys.iter().find(|k| k.0 == key.0) {
                if first != key {
                    pairs.push((key.clone(), first.clone()));
                }
            }
            if let Some(r) = &reference_key {
                if key.0 != r.0 {
                    let same = (r.0.clone(), key.1.clone(), key.2.clone());
                    if keys.contains(&same) {
                        pairs.push((key.clone(), same));
                    } else if key.1 == r.1 && key.2 == r.2 {
                        pairs.push((key.clone(), r.clone()));
                    }
                }
            }
        }
        for (a, b) in pairs {
            let (sa, sb) = paired(
                &by_item(cells_of(&a, task).into_iter()),
                &by_item(cells_of(&b, task).into_iter()),
            );
            if sa.is_empty() {
                continue;
            }
            comparisons.push(ComparisonLine {
                task: task.clone(),
                a: label(&a),
                b: label(&b),
                comparison: stats::compare(&sa, &sb),
            });
        }
    }
    Summary {
        run,
        reference,
        load: LoadSummary::of(cells.iter().filter_map(|c| c.conditions.as_ref())),
        rows,
        comparisons,
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.0}", x * 100.0)
    } else {
        "-".into()
    }
}

/// The summary as a plain-text table.
pub fn render_text(summary: &Summary) -> String {
    let mut out = String::new();
    let run = &summary.run;
    out.push_str(&format!(
        "run {} · {} · {} cells · created {}\n",
        run.id, run.status, run.cells, run.created_at
    ));
    if let Some(r) = &summary.reference {
        out.push_str(&format!(
            "reference: {r} (share of reference = score ÷ reference score on the same items)\n"
        ));
    } else {
        out.push_str("no reference model: scores are against the gold answers\n");
    }
    out.push_str(
        "scores are mean item scores in % (correct answers; pass@1, ROUGE-L, judge rating / 10 for those tasks) with 95% bootstrap CI [low–high] and n; FF = format failures\n\n",
    );
    let tasks: Vec<String> = summary
        .rows
        .first()
        .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
        .unwrap_or_default();
    let mut header = format!("{:<26} {:<20} {:<8}", "model", "strategy", "format");
    for t in &tasks {
        header.push_str(&format!(" │ {:<34}", t));
    }
    header.push_str(" │ p50 ms  p95 ms  TTFT ms  out tok");
    out.push_str(&header);
    out.push('\n');
    out.push_str(&"─".repeat(header.chars().count()));
    out.push('\n');
    for row in &summary.rows {
        let name = if row.is_reference {
            format!("{} (ref)", row.model)
        } else {
            row.model.clone()
        };
        let mut line = format!("{:<26} {:<20} {:<8}", name, row.strategy, row.format);
        for t in &tasks {
            let cell = match row.tasks.iter().find(|s| &s.task == t) {
                Some(s) => {
                    let a = &s.accuracy;
                    let share = s
                        .share_of_reference
                        .map(|e| format!(" ref {}%", pct(e.value)))
                        .unwrap_or_default();
                    format!(
                        "{}% [{}–{}] n={} FF={}{}",
                        pct(a.value),
                        pct(a.low),
                        pct(a.high),
                        a.n,
                        s.format_failures,
                        share
                    )
                }
                None => "-".to_string(),
            };
            line.push_str(&format!(" │ {:<34}", cell));
        }
        line.push_str(&format!(
            " │ {:>6.0}{} {:>6.0}  {:>7.0}  {:>7.1}",
            row.latency_p50_ms,
            if row.load.flagged() { "*" } else { " " },
            row.latency_p95_ms,
            row.ttft_p50_ms,
            row.output_tokens_mean
        ));
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&summary.load_line());
    out.push('\n');
    let shares: Vec<String> = summary
        .rows
        .iter()
        .flat_map(|r| {
            r.tasks.iter().filter_map(move |t| {
                t.share_of_reference.map(|e| {
                    format!(
                        "  {} {} {} · {}: {}% of reference [{}–{}] (n={})",
                        r.model,
                        r.strategy,
                        r.format,
                        t.task,
                        pct(e.value),
                        pct(e.low),
                        pct(e.high),
                        e.n
                    )
                })
            })
        })
        .collect();
    if !shares.is_empty() {
        out.push_str("\nshare of reference (paired bootstrap 95% CI):\n");
        for s in shares {
            out.push_str(&s);
            out.push('\n');
        }
    }
    let f1: Vec<String> = summary
        .rows
        .iter()
        .flat_map(|r| {
            r.tasks.iter().filter_map(move |t| {
                t.macro_f1.map(|f| {
                    let classes: Vec<String> = t
                        .classes
                        .iter()
                        .map(|c| {
                            format!(
                                "{} P {:.2} R {:.2} F1 {:.2} (n={})",
                                c.label, c.precision, c.recall, c.f1, c.support
                            )
                        })
                        .collect();
                    format!(
                        "  {} {} {} · {}: accuracy {}% · macro-F1 {:.2} · {}",
                        r.model,
                        r.strategy,
                        r.format,
                        t.task,
                        pct(t.accuracy.value),
                        f,
                        classes.join(" · ")
                    )
                })
            })
        })
        .collect();
    if !f1.is_empty() {
        out.push_str("\nlabel tasks:\n");
        for s in f1 {
            out.push_str(&s);
            out.push('\n');
        }
    }
    let mut metric_lines = Vec::new();
    for r in &summary.rows {
        for t in r.tasks.iter().filter(|t| !t.metrics.is_empty()) {
            metric_lines.push(format!(
                "  {} {} {} · {}:",
                r.model, r.strategy, r.format, t.task
            ));
            for m in &t.metrics {
                let value = match (&m.estimate, m.unit) {
                    (Some(e), metrics::Unit::Rating) => {
                        format!("{:.2} [{:.2}–{:.2}] n={}", e.value, e.low, e.high, e.n)
                    }
                    (Some(e), metrics::Unit::Score) => {
                        format!("{:.3} [{:.3}–{:.3}] n={}", e.value, e.low, e.high, e.n)
                    }
                    (Some(e), metrics::Unit::Share) => {
                        format!(
                            "{}% [{}–{}] n={}",
                            pct(e.value),
                            pct(e.low),
                            pct(e.high),
                            e.n
                        )
                    }
                    (None, _) => m.note.clone(),
                };
                metric_lines.push(format!("    {}: {value}", m.name));
            }
            if t.ungraded > 0 {
                metric_lines.push(format!(
                    "    ungraded (judge failed twice, left out of the score): {}",
                    t.ungraded
                ));
            }
        }
    }
    if !metric_lines.is_empty() {
        out.push_str("\ntask metrics:\n");
        for line in metric_lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !summary.comparisons.is_empty() {
        out.push_str("\npaired comparisons on the same items (A − B, percentage points):\n");
        for c in &summary.comparisons {
            let d = &c.comparison.difference;
            out.push_str(&format!(
                "  {} · {} − {} = {:+.0} pp [{:+.0}, {:+.0}], p = {:.3} ({}, n={})\n",
                c.task,
                c.a,
                c.b,
                d.value * 100.0,
                d.low * 100.0,
                d.high * 100.0,
                c.comparison.p_value,
                c.comparison.test,
                d.n
            ));
        }
    }
    let cached: usize = summary
        .rows
        .iter()
        .flat_map(|r| r.tasks.iter().map(|t| t.cached))
        .sum();
    if cached > 0 {
        out.push_str(&format!(
            "\n{cached} cells came from the response cache; their latency is the one measured when the answer was produced\n"
        ));
    }
    out
}
