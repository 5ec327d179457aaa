//! `understudy compare`: two rows (of one run or two) on the items both answered — per task the
//! paired difference with its interval and test, the flip table, equivalence at a margin (TOST),
//! a one-sided regression test for CI gates (Holm-adjusted over the tasks), and whether B keeps
//! a share of A — with each row's cost beside. Text, JSON and HTML renderings live beside.

mod html;
mod select;
mod text;

use std::collections::BTreeMap;

use serde::Serialize;

pub use html::{render_html, render_html_body};
pub use select::{pair_up, row_text, rows_of, RowKey, SelectError, Side, Spec};
pub use text::render_text;

use crate::cost::Cost;
use crate::items::by_item;
use crate::paired::{self, Equivalence, Flips, OneSided};
use crate::stats::{self, Estimate, ALPHA};

/// The margins and bar a comparison tests at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Margins {
    /// A regression is B below A by more than this (0..1); 0 flags any significant drop.
    pub regression: f64,
    /// Equivalence is B within ± this of A.
    pub equivalence: f64,
    /// The share of A that B should keep (0.95: "B ≥ 95% of A").
    pub share: f64,
}

impl Default for Margins {
    fn default() -> Self {
        Margins {
            regression: 0.0,
            equivalence: 0.05,
            share: 0.95,
        }
    }
}

/// One task of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TaskComparison {
    pub task: String,
    /// Items both rows answered (problems, when several samples were drawn).
    pub n: usize,
    /// Items only one side answered, left out.
    pub only_a: usize,
    pub only_b: usize,
    /// Every score is 0 or 1 (then flips read right → wrong and the tests are exact score tests).
    pub binary: bool,
    pub a: Estimate,
    pub b: Estimate,
    /// B − A with its 95% interval and the two-sided test the interval inverts.
    pub difference: stats::Comparison,
    /// Items on which B is below A (`worse`) and above it (`better`), as `task/item`.
    pub flips: Flips,
    pub equivalence: Option<Equivalence>,
    /// One-sided test: B below A by more than the regression margin.
    pub regression: Option<OneSided>,
    /// The regression p-value after Holm's adjustment over the tasks compared.
    pub regression_p_adjusted: Option<f64>,
    /// mean(B) ÷ mean(A) with its 95% interval.
    pub share: Estimate,
    /// One-sided test: B ≥ share × A.
    pub share_at_least: Option<OneSided>,
}

impl TaskComparison {
    pub fn regressed(&self) -> bool {
        self.regression_p_adjusted.is_some_and(|p| p < ALPHA)
    }

    pub fn equivalent(&self) -> bool {
        self.equivalence.is_some_and(|e| e.shown())
    }
}

/// Two rows compared, task by task.
#[derive(Debug, Clone, Serialize)]
pub struct RowComparison {
    pub a: String,
    pub b: String,
    pub margins: Margins,
    pub tasks: Vec<TaskComparison>,
    /// How many tasks the regression tests are Holm-adjusted over (all tasks of the pair, also
    /// when one task is rendered alone).
    pub family: usize,
    /// Tasks row A answered on which B shares no item: a gate cannot pass over them.
    pub missing_tasks: Vec<String>,
    /// Rows run A has that run B lacks (whole runs compared; listed on the first pair).
    pub missing_rows: Vec<String>,
    /// B's run status ("finished", "interrupted", ...): a gate refuses an unfinished run.
    pub b_status: String,
    pub a_cost: Cost,
    pub b_cost: Cost,
}

/// Below this many shared items a gate fails rather than passing on a test with no power.
pub const MIN_GATE_ITEMS: usize = 10;

impl RowComparison {
    /// Why a CI gate fails on this pair: with `on_regression` each significant regression, and
    /// with `require_equivalence` each task where equivalence is not shown. Empty: it passes.
    pub fn gate_failures(&self, on_regression: bool, require_equivalence: bool) -> Vec<String> {
        let mut why = Vec::new();
        let pair = format!("{} vs {}", self.a, self.b);
        if (on_regression || require_equivalence) && self.b_status != "finished" {
            why.push(format!(
                "{pair}: run B is {} (not finished): a gate checks finished runs only",
                self.b_status
            ));
        }
        for row in &self.missing_rows {
            why.push(format!("row {row} of run A has no counterpart in run B"));
        }
        for task in &self.missing_tasks {
            why.push(format!(
                "{pair} · {task}: A answered this task, B shares no item of it"
            ));
        }
        for t in &self.tasks {
            if t.only_a > 0 {
                why.push(format!(
                    "{pair} · {}: B did not answer {} items A answered",
                    t.task, t.only_a
                ));
            }
            if t.n < MIN_GATE_ITEMS {
                why.push(format!(
                    "{pair} · {}: only {} shared items; a gate needs at least {MIN_GATE_ITEMS}",
                    t.task, t.n
                ));
            }
            if on_regression && t.regressed() {
                why.push(format!(
                    "{pair} · {}: B is worse than A by more than {} pp (B − A = {:+.1} pp, {}, Holm-adjusted {})",
                    t.task,
                    stats::margin_text(self.margins.regression),
                    t.difference.difference.value * 100.0,
                    t.regression.map_or("", |r| r.method),
                    stats::p_text(t.regression_p_adjusted.unwrap_or(1.0), "holm")
                ));
            }
            if require_equivalence && !t.equivalent() {
                why.push(format!(
                    "{pair} · {}: equivalence within ±{} pp not shown ({})",
                    t.task,
                    stats::margin_text(self.margins.equivalence),
                    text::equivalence_text(t)
                ));
            }
        }
        why
    }
}

/// Why two specs could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("{side}: run {run}: {source}")]
    Run {
        side: &'static str,
        run: i64,
        source: understudy_store::StoreError,
    },
    #[error("{0} and {1} share no answered item: nothing to compare (the same tasks and item ids are needed)")]
    NothingShared(String, String),
}

/// Reads both specs' runs from the store, pairs their rows and compares each pair — what
/// `understudy compare` and the view's compare page both show.
pub async fn from_store(
    runs: &dyn understudy_store::RunStore,
    a: &str,
    b: &str,
    margins: Margins,
) -> Result<Vec<RowComparison>, CompareError> {
    let (spec_a, spec_b): (Spec, Spec) = (a.parse()?, b.parse()?);
    let mut loaded = Vec::new();
    for (side, spec) in [("A", &spec_a), ("B", &spec_b)] {
        let fail = |source| CompareError::Run {
            side,
            run: spec.run,
            source,
        };
        let info = runs.run(spec.run).await.map_err(fail)?;
        let cells = runs.cells(spec.run).await.map_err(fail)?;
        loaded.push((info, cells));
    }
    let pairs = pair_up(
        (&spec_a, &loaded[0].0, &loaded[0].1),
        (&spec_b, &loaded[1].0, &loaded[1].1),
    )?;
    let mut made: Vec<RowComparison> = pairs
        .iter()
        .map(|(x, y)| compare_rows(x, y, margins))
        .collect();
    if made.iter().all(|c| c.tasks.is_empty()) {
        return Err(CompareError::NothingShared(a.into(), b.into()));
    }
    if spec_a.row.is_none() && spec_b.row.is_none() {
        let rows_b = rows_of(&loaded[1].1);
        let missing: Vec<String> = rows_of(&loaded[0].1)
            .iter()
            .filter(|r| !rows_b.contains(r) && !pairs.iter().any(|(x, _)| &x.row == *r))
            .map(row_text)
            .collect();
        if let Some(first) = made.first_mut() {
            first.missing_rows = missing;
        }
    }
    holm_across_pairs(&mut made);
    Ok(made)
}

/// Holm's correction over every regression test of every pair (a whole-run gate asks one
/// question of all of them), replacing the per-pair adjustment.
fn holm_across_pairs(made: &mut [RowComparison]) {
    let p: Vec<f64> = made
        .iter()
        .flat_map(|c| {
            c.tasks
                .iter()
                .map(|t| t.regression.map_or(1.0, |r| r.p_value))
        })
        .collect();
    let mut adjusted = stats::holm(&p).into_iter();
    let family = p.len();
    for c in made.iter_mut() {
        c.family = family;
        for t in c.tasks.iter_mut() {
            let q = adjusted.next().unwrap_or(1.0);
            if t.regression.is_some() {
                t.regression_p_adjusted = Some(q);
            }
        }
    }
}

fn task_order(a: &Side, b: &Side) -> Vec<String> {
    let mut tasks: Vec<String> = Vec::new();
    for c in a.cells.iter().chain(&b.cells) {
        if !tasks.contains(&c.task) {
            tasks.push(c.task.clone());
        }
    }
    tasks
}

/// Compares row B against row A on every task both have.
pub fn compare_rows(a: &Side, b: &Side, margins: Margins) -> RowComparison {
    let mut tasks: Vec<TaskComparison> = task_order(a, b)
        .into_iter()
        .filter_map(|task| compare_task(a, b, &task, &margins))
        .collect();
    let p: Vec<f64> = tasks
        .iter()
        .map(|t| t.regression.map_or(1.0, |r| r.p_value))
        .collect();
    for (t, adjusted) in tasks.iter_mut().zip(stats::holm(&p)) {
        if t.regression.is_some() {
            t.regression_p_adjusted = Some(adjusted);
        }
    }
    let missing_tasks = task_order(a, a)
        .into_iter()
        .filter(|task| !tasks.iter().any(|t| &t.task == task))
        .collect();
    RowComparison {
        a: a.label(),
        b: b.label(),
        margins,
        family: tasks.len(),
        tasks,
        missing_tasks,
        missing_rows: Vec::new(),
        b_status: b.run.status.clone(),
        a_cost: Cost::of(&a.cells),
        b_cost: Cost::of(&b.cells),
    }
}

fn units(side: &Side, task: &str) -> BTreeMap<String, f64> {
    by_item(side.cells.iter().filter(|c| c.task == task), side.samples)
}

fn compare_task(a: &Side, b: &Side, task: &str, margins: &Margins) -> Option<TaskComparison> {
    let (ua, ub) = (units(a, task), units(b, task));
    let shared: Vec<&String> = ua.keys().filter(|k| ub.contains_key(*k)).collect();
    if shared.is_empty() {
        return None;
    }
    let xa: Vec<f64> = shared.iter().map(|k| ua[*k]).collect();
    let xb: Vec<f64> = shared.iter().map(|k| ub[*k]).collect();
    let ids: Vec<String> = shared.iter().map(|k| format!("{task}/{k}")).collect();
    Some(TaskComparison {
        task: task.to_string(),
        n: shared.len(),
        only_a: ua.len() - shared.len(),
        only_b: ub.len() - shared.len(),
        binary: xa.iter().chain(&xb).all(|x| *x == 0.0 || *x == 1.0),
        a: stats::mean_interval(&xa),
        b: stats::mean_interval(&xb),
        difference: stats::compare(&xb, &xa),
        flips: paired::flips(&ids, &xa, &xb),
        equivalence: paired::equivalence(&xa, &xb, margins.equivalence),
        regression: paired::regression(&xa, &xb, margins.regression),
        regression_p_adjusted: None,
        share: stats::share_of_reference(&xb, &xa),
        share_at_least: paired::share_at_least(&xa, &xb, margins.share),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_store::{Cell, RunInfo};

    fn side(run: i64, scores: &[(&str, &str, f64)]) -> Side {
        Side {
            run: RunInfo {
                id: run,
                plan_key: "k".into(),
                created_at: "now".into(),
                finished_at: None,
                status: "finished".into(),
                plan_json: "{}".into(),
                cells: scores.len() as i64,
            },
            row: ("m".into(), "zero-shot".into(), "plain".into()),
            samples: 1,
            cells: scores
                .iter()
                .map(|(task, item, s)| Cell {
                    task: task.to_string(),
                    ..Cell::for_test(item, *s)
                })
                .collect(),
        }
    }

    #[test]
    fn a_clear_drop_fails_the_gate_and_the_same_row_passes_it() {
        let items: Vec<String> = (0..60).map(|i| format!("i{i}")).collect();
        let base: Vec<(&str, &str, f64)> = items.iter().map(|i| ("t", i.as_str(), 1.0)).collect();
        let worse: Vec<(&str, &str, f64)> = items
            .iter()
            .enumerate()
            .map(|(k, i)| ("t", i.as_str(), if k % 3 == 0 { 0.0 } else { 1.0 }))
            .collect();
        let (a, b) = (side(1, &base), side(2, &worse));
        let c = compare_rows(&a, &b, Margins::default());
        assert_eq!(c.tasks[0].n, 60);
        assert_eq!(c.tasks[0].flips.worse.len(), 20);
        assert!(c.tasks[0].flips.worse[0].starts_with("t/"));
        assert_eq!(
            c.gate_failures(true, false).len(),
            1,
            "{:?}",
            c.gate_failures(true, false)
        );
        let same = compare_rows(&a, &side(3, &base), Margins::default());
        assert!(same.gate_failures(true, true).is_empty());
        assert!(same.tasks[0].equivalent());
    }

    #[test]
    fn a_baseline_that_scores_zero_has_no_share_to_keep() {
        let zeros: Vec<String> = (0..12).map(|i| format!("i{i}")).collect();
        let a: Vec<(&str, &str, f64)> = zeros.iter().map(|i| ("t", i.as_str(), 0.0)).collect();
        let b: Vec<(&str, &str, f64)> = zeros.iter().map(|i| ("t", i.as_str(), 0.5)).collect();
        let c = compare_rows(&side(1, &a), &side(2, &b), Margins::default());
        let text = render_text(&[c]);
        assert!(
            text.contains("B keeps – of A: undefined, A scores 0 on these items"),
            "{text}"
        );
        assert!(!text.contains("too few items"), "{text}");
    }

    #[test]
    fn only_shared_items_are_paired() {
        let a = side(1, &[("t", "x", 1.0), ("t", "y", 0.0), ("u", "z", 1.0)]);
        let b = side(2, &[("t", "x", 1.0), ("t", "w", 1.0)]);
        let c = compare_rows(&a, &b, Margins::default());
        assert_eq!(c.tasks.len(), 1);
        assert_eq!(
            (c.tasks[0].n, c.tasks[0].only_a, c.tasks[0].only_b),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_gate_fails_when_it_could_not_check_everything() {
        let items: Vec<String> = (0..30).map(|i| format!("i{i}")).collect();
        let all: Vec<(&str, &str, f64)> = items.iter().map(|i| ("t", i.as_str(), 1.0)).collect();
        let a = side(1, &all);
        // B interrupted after 3 items: the old gate passed ("no significant regression").
        let mut b = side(2, &all[..3]);
        b.run.status = "interrupted".into();
        let why = compare_rows(&a, &b, Margins::default()).gate_failures(true, false);
        assert!(why.iter().any(|w| w.contains("not finished")), "{why:?}");
        assert!(
            why.iter().any(|w| w.contains("did not answer 27 items")),
            "{why:?}"
        );
        assert!(
            why.iter().any(|w| w.contains("only 3 shared items")),
            "{why:?}"
        );
        // A task A has and B lacks entirely.
        let mut with_u = all.clone();
        with_u.push(("u", "z", 1.0));
        let why = compare_rows(&side(1, &with_u), &side(2, &all), Margins::default())
            .gate_failures(true, false);
        assert!(
            why.iter().any(|w| w.contains("· u: A answered this task")),
            "{why:?}"
        );
    }

    #[test]
    fn a_whole_run_gate_corrects_over_every_pair() {
        // 4 of 40 items right → wrong and none back: one-sided p = 0.024 on its own, so one pair
        // alone fails the gate; three such pairs are one question, and Holm lifts each to 0.073.
        let items: Vec<String> = (0..40).map(|i| format!("i{i}")).collect();
        let a_scores: Vec<(&str, &str, f64)> = items
            .iter()
            .enumerate()
            .map(|(k, i)| ("t", i.as_str(), f64::from(u8::from(k < 30))))
            .collect();
        let b_scores: Vec<(&str, &str, f64)> = a_scores
            .iter()
            .enumerate()
            .map(|(k, (t, i, s))| (*t, *i, if k < 4 { 0.0 } else { *s }))
            .collect();
        let one = compare_rows(&side(1, &a_scores), &side(2, &b_scores), Margins::default());
        assert!(one.tasks[0].regressed(), "{:?}", one.tasks[0].regression);
        let mut three = vec![one.clone(), one.clone(), one];
        holm_across_pairs(&mut three);
        for c in &three {
            assert_eq!(c.family, 3);
            assert!(
                !c.tasks[0].regressed(),
                "{:?}",
                c.tasks[0].regression_p_adjusted
            );
        }
    }
}
