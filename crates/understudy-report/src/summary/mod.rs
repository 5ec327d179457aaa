//! Turns a run's stored cells into the summary: per (model, strategy, format) and task the score
//! with n and a 95% CI, macro-F1 where labels apply, share of the reference (paired), format
//! failures, latency; and paired comparisons ("A − B = +x pp [CI], p = …"). Rendering as text
//! is a pure function; printing is the CLI's job.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::baseline::{self, AnswerCounts, Baseline};
use crate::metrics;
use crate::stats::{self, Comparison, Estimate};
use understudy_eval::conditions::LoadSummary;
use understudy_store::{Cell, RunInfo};
use understudy_tasks::answer_kind::AnswerKind;

/// One task's numbers in one row.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScore {
    pub task: String,
    /// Mean score over items (over problems, each the mean of its samples, when several samples
    /// were drawn), with a bootstrap CI over those items.
    pub accuracy: Estimate,
    pub macro_f1: Option<f64>,
    /// Per-class precision, recall and F1 (label tasks only).
    pub classes: Vec<stats::ClassScore>,
    /// Chance and majority-class baselines on the same items with a test of the score against
    /// them; `None` for open-ended tasks.
    pub baseline: Option<Baseline>,
    /// How often each answer was given.
    pub answers: AnswerCounts,
    /// Score ÷ the reference's score on the same items; only when the reference is above its
    /// baseline (else see `share_not_meaningful`).
    pub share_of_reference: Option<Estimate>,
    /// (score − baseline) ÷ (reference − baseline) on the same items: the share of the
    /// reference's lead over the baseline this row keeps.
    pub share_above_baseline: Option<Estimate>,
    /// Why no share of the reference is given although the run has a reference.
    pub share_not_meaningful: Option<String>,
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
    /// Samples drawn per item; above one, scores and tests are over problems, not samples.
    pub samples: usize,
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
                understudy_eval::conditions::FLAG_SHARE * 100.0,
                flagged.join(", ")
            )
        }
    }

    /// Cells answered from the response cache, over the whole run.
    pub fn cached(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.tasks.iter().map(|t| t.cached))
            .sum()
    }

    /// One line on cached cells, for every page that shows latency.
    pub fn cache_line(&self) -> String {
        let cells: usize = self.rows.iter().map(|r| r.cells).sum();
        match self.cached() {
            0 => format!("none of the {cells} cells came from the response cache"),
            cached => format!(
                "{cached} of {cells} cells came from the response cache: their latency is the one measured when the answer was first produced, in an earlier run; rows that include them are marked (c)"
            ),
        }
    }
}

type RowKey = (String, String, String);

fn label(key: &RowKey) -> String {
    format!("{} {} {}", key.0, key.1, key.2)
}

/// Mean score per item of `cells`: a problem's samples (`ID#i`) are averaged into one unit, so
/// intervals and tests count problems, not samples.
fn by_item<'c>(cells: impl Iterator<Item = &'c Cell>, samples: usize) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for c in cells {
        let entry = sums
            .entry(understudy_tasks::ids::problem_id(&c.item_id, samples).to_string())
            .or_default();
        entry.0 += c.score;
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(k, (sum, n))| (k, sum / n as f64))
        .collect()
}

/// Paired score vectors over the items both maps have, in a stable order.
fn paired(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> (Vec<f64>, Vec<f64>) {
    a.iter()
        .filter_map(|(k, x)| b.get(k).map(|y| (*x, *y)))
        .unzip()
}

/// Each task's answer kind as the plan stored it (runs stored before it did: none).
fn answer_kinds(plan: &serde_json::Value) -> HashMap<String, AnswerKind> {
    plan["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| {
                    let kind = serde_json::from_value(t.get("answer")?.clone()).ok()?;
                    Some((t["name"].as_str()?.to_string(), kind))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Why a share of the reference means nothing: the reference does not beat guessing.
pub fn not_meaningful(reference: &str, score: f64, b: &Baseline) -> String {
    format!(
        "not meaningful: the reference {reference} scores {:.1}%, {} — {}",
        score * 100.0,
        b.verdict(),
        b.describe()
    )
}

mod text;
pub use text::{baseline_lines, render_text};

pub fn summarise(run: RunInfo, cells: &[Cell]) -> Summary {
    let plan: serde_json::Value = serde_json::from_str(&run.plan_json).unwrap_or_default();
    let reference = plan["reference"].as_str().map(str::to_string);
    let samples = plan["samples"].as_u64().unwrap_or(1).max(1) as usize;
    let kinds = answer_kinds(&plan);
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
    let kind_of = |task: &str, these: &[&Cell]| -> AnswerKind {
        kinds
            .get(task)
            .cloned()
            .unwrap_or_else(|| baseline::infer_kind(these))
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
                // Every cell failed judging: the row keeps the task so the failures stay visible.
                if ungraded > 0 {
                    task_scores.push(ungraded_only(task, ungraded));
                }
                continue;
            }
            let kind = kind_of(task, &these);
            let units = by_item(these.iter().copied(), samples);
            let unit_scores: Vec<f64> = units.values().copied().collect();
            let golds: BTreeSet<&str> = these.iter().map(|c| c.gold.as_str()).collect();
            let per_class = matches!(kind, AnswerKind::Label { .. }).then(|| {
                let labels: Vec<String> = golds.iter().map(|s| s.to_string()).collect();
                let gold: Vec<String> = these.iter().map(|c| c.gold.clone()).collect();
                let predicted: Vec<Option<String>> =
                    these.iter().map(|c| c.parsed.clone()).collect();
                stats::per_class(&gold, &predicted, &labels)
            });
            let macro_f1 = per_class.as_ref().map(|(_, f)| *f);
            let classes = per_class.map(|(c, _)| c).unwrap_or_default();
            let own_baseline = baseline::baseline(&kind, &these, &unit_scores);
            let (mut share, mut adjusted, mut share_note) = (None, None, None);
            if let Some(r) = reference_key.as_ref().filter(|r| *r != key) {
                let reference_cells = cells_of(r, task);
                if !reference_cells.is_empty() {
                    let reference_units = by_item(reference_cells.iter().copied(), samples);
                    let reference_scores: Vec<f64> = reference_units.values().copied().collect();
                    let reference_baseline =
                        baseline::baseline(&kind, &reference_cells, &reference_scores);
                    let (m, rf) = paired(&units, &reference_units);
                    match reference_baseline {
                        Some(b) if !b.test.above => {
                            share_note =
                                Some(not_meaningful(&r.0, stats::mean(&reference_scores), &b));
                        }
                        Some(b) => {
                            share = Some(stats::share_of_reference(&m, &rf));
                            adjusted = Some(stats::adjusted_share(&m, &rf, b.bar));
                        }
                        None => share = Some(stats::share_of_reference(&m, &rf)),
                    }
                }
            }
            task_scores.push(TaskScore {
                task: task.clone(),
                accuracy: stats::bootstrap_mean(&unit_scores),
                macro_f1,
                classes,
                baseline: own_baseline,
                answers: AnswerCounts::of(&these),
                share_of_reference: share,
                share_above_baseline: adjusted,
                share_not_meaningful: share_note,
                format_failures: these.iter().filter(|c| c.format_failure).count(),
                cached: these.iter().filter(|c| c.cached).count(),
                latency_p50_ms: {
                    let mut t: Vec<f64> = these.iter().map(|c| c.total_ms).collect();
                    t.sort_by(|a, b| a.total_cmp(b));
                    stats::quantile(&t, 0.5)
                },
                metrics: metrics::task_metrics(&these, samples),
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
        // Pooled over tasks: one unit per (task, problem).
        let pooled_units: Vec<f64> = tasks
            .iter()
            .flat_map(|t| {
                by_item(all.iter().copied().filter(|c| &c.task == t), samples).into_values()
            })
            .collect();
        rows.push(Row {
            model: key.0.clone(),
            strategy: key.1.clone(),
            format: key.2.clone(),
            is_reference: reference_key.as_ref() == Some(key),
            tasks: task_scores,
            pooled: stats::bootstrap_mean(&pooled_units),
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
                &by_item(cells_of(&a, task).into_iter(), samples),
                &by_item(cells_of(&b, task).into_iter(), samples),
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
        samples,
        load: LoadSummary::of(cells.iter().filter_map(|c| c.conditions.as_ref())),
        rows,
        comparisons,
    }
}

/// A task whose every cell failed judging: no score, but the failures are counted.
fn ungraded_only(task: &str, ungraded: usize) -> TaskScore {
    let none = stats::bootstrap_mean(&[]);
    TaskScore {
        task: task.to_string(),
        accuracy: none,
        macro_f1: None,
        classes: Vec::new(),
        baseline: None,
        answers: AnswerCounts::of(&[]),
        share_of_reference: None,
        share_above_baseline: None,
        share_not_meaningful: None,
        format_failures: 0,
        cached: 0,
        latency_p50_ms: f64::NAN,
        metrics: Vec::new(),
        ungraded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(model: &str, item: &str, score: f64) -> Cell {
        Cell {
            model: model.into(),
            task: "code".into(),
            ..Cell::for_test(item, score)
        }
    }

    fn run(plan: &str, cells: &[Cell]) -> RunInfo {
        RunInfo {
            id: 1,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: plan.into(),
            cells: cells.len() as i64,
        }
    }

    #[test]
    fn samples_of_one_problem_are_one_item_in_intervals_and_tests() {
        // 10 problems × 5 samples: n is 10, not 50, and the paired test counts problems.
        let mut cells = Vec::new();
        for p in 0..10 {
            for s in 0..5 {
                let a = f64::from(u8::from(p < 6 && s < 4));
                cells.push(cell("a", &format!("P{p}#{s}"), a));
                cells.push(cell("b", &format!("P{p}#{s}"), f64::from(u8::from(p < 5))));
            }
        }
        let plan = r#"{"samples": 5, "reference": "b", "strategies": ["zero-shot"], "formats": ["plain"]}"#;
        let summary = summarise(run(plan, &cells), &cells);
        let row_a = summary.rows.iter().find(|r| r.model == "a").unwrap();
        let a = &row_a.tasks[0];
        assert_eq!(a.accuracy.n, 10);
        assert!((a.accuracy.value - 0.48).abs() < 1e-12);
        assert_eq!(row_a.pooled.n, 10);
        // a against the reference b, paired over the 10 problems.
        assert_eq!(summary.comparisons.len(), 1);
        assert_eq!(summary.comparisons[0].comparison.difference.n, 10);
        assert_eq!(summary.samples, 5);
        // Sampled runs resample problems: wider than treating 50 samples as independent.
        let flat: Vec<f64> = cells
            .iter()
            .filter(|c| c.model == "a")
            .map(|c| c.score)
            .collect();
        let naive = stats::bootstrap_mean(&flat);
        assert!(a.accuracy.high - a.accuracy.low > naive.high - naive.low);
    }

    #[test]
    fn one_sample_never_splits_a_users_id() {
        let cells = vec![
            cell("a", "issue#1", 1.0),
            cell("a", "issue#2", 0.0),
            cell("a", "issue#3", 1.0),
        ];
        let plan = r#"{"strategies": ["zero-shot"], "formats": ["plain"]}"#;
        let summary = summarise(run(plan, &cells), &cells);
        assert_eq!(summary.rows[0].tasks[0].accuracy.n, 3);
        assert_eq!(summary.samples, 1);
    }
}
