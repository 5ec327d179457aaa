//! Building a [`Summary`] from a run's stored cells: rows of (model, strategy, format), a score
//! per task with its interval, baseline and share of the reference, and the paired comparisons.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use understudy_store::load_summary::LoadSummary;
use understudy_store::stored_plan::{StoredPlan, StoredTask};
use understudy_store::{Cell, RunInfo};
use understudy_tasks::answer_kind::AnswerKind;

use super::{not_meaningful, ComparisonLine, Row, Summary, TaskScore};
use crate::baseline::{self, AnswerCounts};
use crate::graded::{GraderFailure, ScoreSpread};
use crate::items::{by_item, paired};
use crate::metrics;
use crate::stats::{self, Estimate};

type RowKey = (String, String, String);

fn label(key: &RowKey) -> String {
    format!("{} {} {}", key.0, key.1, key.2)
}

/// What each task of the stored plan says, by task name (runs stored before the plan held it:
/// none).
fn per_task<T>(plan: &StoredPlan, pick: impl Fn(&StoredTask) -> Option<T>) -> HashMap<String, T> {
    plan.tasks
        .iter()
        .filter_map(|t| Some((t.name.clone(), pick(t)?)))
        .collect()
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values
}

/// A share of the reference, the share of its lead over the baseline kept, or why neither means
/// anything.
#[derive(Default)]
struct Share {
    share: Option<Estimate>,
    adjusted: Option<Estimate>,
    note: Option<String>,
}

/// A run's cells with what the plan says about them.
struct Cells<'c> {
    cells: &'c [Cell],
    samples: usize,
    kinds: HashMap<String, AnswerKind>,
    unscored: HashMap<String, BTreeMap<String, usize>>,
    /// Each multiple-choice item's option count, by task and item id.
    options: HashMap<String, BTreeMap<String, usize>>,
    /// The run used `--until-ci`, and the most items a row could take per task.
    until_ci: bool,
    limit: usize,
    items: HashMap<String, usize>,
    reference: Option<RowKey>,
    keys: Vec<RowKey>,
    tasks: Vec<String>,
}

impl<'c> Cells<'c> {
    fn new(cells: &'c [Cell], plan: &StoredPlan) -> Self {
        let samples = plan.samples();
        let reference = plan.reference.as_ref().map(|r| {
            let first = |list: &[String]| list.first().cloned().unwrap_or_default();
            (r.clone(), first(&plan.strategies), first(&plan.formats))
        });
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
        Cells {
            cells,
            samples,
            kinds: per_task(plan, |t| serde_json::from_value(t.answer.clone()?).ok()),
            unscored: per_task(plan, |t| t.unscored_golds.clone()),
            options: per_task(plan, |t| t.item_options.clone()),
            until_ci: plan.until_ci.is_some(),
            limit: plan.limit.unwrap_or(usize::MAX),
            items: per_task(plan, |t| t.items),
            reference,
            keys,
            tasks,
        }
    }

    fn of_row(&self, key: &RowKey) -> impl Iterator<Item = &'c Cell> + '_ {
        let key = key.clone();
        self.cells
            .iter()
            .filter(move |c| c.model == key.0 && c.strategy == key.1 && c.format == key.2)
    }

    /// The most items a row could take on `task`: the run's limit or the task's items.
    fn planned_items(&self, task: &str) -> usize {
        self.items
            .get(task)
            .map_or(self.limit, |n| (*n).min(self.limit))
    }

    /// Chance per unit (1 / the item's options), in the units' order; None unless every unit's
    /// option count is known.
    fn chances(&self, task: &str, units: &BTreeMap<String, f64>) -> Option<Vec<f64>> {
        let options = self.options.get(task)?;
        units
            .keys()
            .map(|id| options.get(id).filter(|k| **k > 0).map(|k| 1.0 / *k as f64))
            .collect()
    }

    /// The graded cells of a row on a task.
    fn graded(&self, key: &RowKey, task: &str) -> Vec<&'c Cell> {
        self.of_row(key)
            .filter(|c| c.task == task && !metrics::ungraded(c))
            .collect()
    }

    fn kind(&self, task: &str, these: &[&Cell]) -> AnswerKind {
        self.kinds
            .get(task)
            .cloned()
            .unwrap_or_else(|| baseline::infer_kind(these))
    }

    fn row(&self, key: &RowKey) -> Row {
        let tasks = self
            .tasks
            .iter()
            .filter_map(|task| self.task_score(key, task))
            .collect();
        let all: Vec<&Cell> = self.of_row(key).filter(|c| !metrics::ungraded(c)).collect();
        let totals = sorted(all.iter().map(|c| c.total_ms).collect());
        let ttfts = sorted(all.iter().map(|c| c.ttft_ms).collect());
        // Pooled over tasks: one unit per (task, problem).
        let pooled_units: Vec<f64> = self
            .tasks
            .iter()
            .flat_map(|t| {
                by_item(all.iter().copied().filter(|c| &c.task == t), self.samples).into_values()
            })
            .collect();
        let tokens: Vec<f64> = all.iter().map(|c| f64::from(c.completion_tokens)).collect();
        Row {
            model: key.0.clone(),
            strategy: key.1.clone(),
            format: key.2.clone(),
            is_reference: self.reference.as_ref() == Some(key),
            tasks,
            pooled: stats::mean_interval(&pooled_units),
            latency_p50_ms: stats::quantile(&totals, 0.5),
            latency_p95_ms: stats::quantile(&totals, 0.95),
            ttft_p50_ms: stats::quantile(&ttfts, 0.5),
            output_tokens_mean: stats::mean(&tokens),
            cells: all.len(),
            prompt_tokens: all.iter().map(|c| u64::from(c.prompt_tokens)).sum(),
            cached_prompt_tokens: all.iter().map(|c| u64::from(c.cached_prompt_tokens)).sum(),
            load: LoadSummary::of(all.iter().filter_map(|c| c.conditions.as_ref())),
            cost: crate::cost::Cost::of(all.iter().copied()),
        }
    }

    /// A row's score on a task; None when the row has no cell of it.
    fn task_score(&self, key: &RowKey, task: &str) -> Option<TaskScore> {
        let these = self.graded(key, task);
        let ungraded_cells: Vec<&Cell> = self
            .of_row(key)
            .filter(|c| c.task == task && metrics::ungraded(c))
            .collect();
        let ungraded = ungraded_cells.len();
        let grader_failures: Vec<GraderFailure> = ungraded_cells
            .iter()
            .filter_map(|c| GraderFailure::of(c))
            .collect();
        if these.is_empty() {
            // Every cell failed grading: the row keeps the task so the failures stay visible.
            return (ungraded > 0).then(|| super::ungraded_only(task, ungraded, grader_failures));
        }
        let kind = self.kind(task, &these);
        let units = by_item(these.iter().copied(), self.samples);
        let unit_scores: Vec<f64> = units.values().copied().collect();
        let per_class = matches!(kind, AnswerKind::Label { .. }).then(|| {
            let golds: BTreeSet<&str> = these.iter().map(|c| c.gold.as_str()).collect();
            let labels: Vec<String> = golds.iter().map(|s| s.to_string()).collect();
            let gold: Vec<String> = these.iter().map(|c| c.gold.clone()).collect();
            let predicted: Vec<Option<String>> = these.iter().map(|c| c.parsed.clone()).collect();
            stats::per_class(&gold, &predicted, &labels)
        });
        let share = self.share(key, task, &kind, &units);
        Some(TaskScore {
            task: task.to_string(),
            accuracy: stats::mean_interval(&unit_scores),
            macro_f1: per_class.as_ref().map(|(_, f)| *f),
            classes: per_class.map(|(c, _)| c).unwrap_or_default(),
            baseline: baseline::baseline(
                &kind,
                self.unscored.get(task),
                &unit_scores,
                self.chances(task, &units).as_deref(),
            ),
            answers: AnswerCounts::of(&these),
            share_of_reference: share.share,
            share_above_baseline: share.adjusted,
            share_not_meaningful: share.note,
            format_failures: these.iter().filter(|c| c.format_failure).count(),
            cached: these.iter().filter(|c| c.cached).count(),
            latency_p50_ms: stats::quantile(
                &sorted(these.iter().map(|c| c.total_ms).collect()),
                0.5,
            ),
            metrics: metrics::task_metrics(&these, self.samples),
            ungraded,
            grader_failures,
            score_spread: ScoreSpread::of(&unit_scores),
            stopped_by_rule: self.until_ci && units.len() < self.planned_items(task),
        })
    }

    /// The row's share of the reference on a task, paired on the items both answered.
    fn share(
        &self,
        key: &RowKey,
        task: &str,
        kind: &AnswerKind,
        units: &BTreeMap<String, f64>,
    ) -> Share {
        let Some(r) = self.reference.as_ref().filter(|r| *r != key) else {
            return Share::default();
        };
        let reference_cells = self.graded(r, task);
        if reference_cells.is_empty() {
            return Share::default();
        }
        let reference_units = by_item(reference_cells.iter().copied(), self.samples);
        let reference_scores: Vec<f64> = reference_units.values().copied().collect();
        let (m, rf) = paired(units, &reference_units);
        let chances = self.chances(task, &reference_units);
        match baseline::baseline(
            kind,
            self.unscored.get(task),
            &reference_scores,
            chances.as_deref(),
        ) {
            Some(b) if !b.test.above => Share {
                note: Some(not_meaningful(&r.0, stats::mean(&reference_scores), &b)),
                ..Share::default()
            },
            Some(b) => Share {
                share: Some(stats::share_of_reference(&m, &rf)),
                adjusted: Some(stats::adjusted_share(&m, &rf, b.bar)),
                note: None,
            },
            None => Share {
                share: Some(stats::share_of_reference(&m, &rf)),
                ..Share::default()
            },
        }
    }

    /// The pairs compared: every other row of a model against its first row, and each row of a
    /// model against the reference under the same strategy and format when the reference has it.
    fn pairs(&self) -> Vec<(RowKey, RowKey)> {
        let mut pairs = Vec::new();
        for key in &self.keys {
            if let Some(first) = self.keys.iter().find(|k| k.0 == key.0) {
                if first != key {
                    pairs.push((key.clone(), first.clone()));
                }
            }
            if let Some(r) = &self.reference {
                if key.0 != r.0 {
                    let same = (r.0.clone(), key.1.clone(), key.2.clone());
                    if self.keys.contains(&same) {
                        pairs.push((key.clone(), same));
                    } else if key.1 == r.1 && key.2 == r.2 {
                        pairs.push((key.clone(), r.clone()));
                    }
                }
            }
        }
        pairs
    }

    fn comparisons(&self) -> Vec<ComparisonLine> {
        let pairs = self.pairs();
        let mut lines = Vec::new();
        for task in &self.tasks {
            for (a, b) in &pairs {
                let (sa, sb) = paired(
                    &by_item(self.graded(a, task).into_iter(), self.samples),
                    &by_item(self.graded(b, task).into_iter(), self.samples),
                );
                if sa.is_empty() {
                    continue;
                }
                let differ = sa
                    .iter()
                    .zip(&sb)
                    .filter(|(x, y)| (*x - *y).abs() > 1e-9)
                    .count();
                lines.push(ComparisonLine {
                    task: task.clone(),
                    a: label(a),
                    b: label(b),
                    comparison: stats::compare(&sa, &sb),
                    discordant: differ as f64 / sa.len() as f64,
                });
            }
        }
        lines
    }
}

/// Everything `understudy show` and the report say about a run, from its stored cells.
pub fn summarise(run: RunInfo, cells: &[Cell]) -> Summary {
    let plan = run.plan();
    let view = Cells::new(cells, &plan);
    let rows = view.keys.iter().map(|key| view.row(key)).collect();
    Summary {
        reference: plan.reference.clone(),
        samples: view.samples,
        load: LoadSummary::of(cells.iter().filter_map(|c| c.conditions.as_ref())),
        comparisons: view.comparisons(),
        rows,
        run,
    }
}
