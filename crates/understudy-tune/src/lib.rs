//! `understudy tune`: from a stored run with a reference model, per task the cheapest row
//! (lowest mean latency) whose share of the reference reaches the target with its CI lower
//! bound, and — where the run measured a light model and the reference under the same program
//! on the same items — the cascade confidence threshold that meets the target at the lowest
//! expected latency. Choices are made on a calibration half of the items; what tune predicts
//! is measured on the other half. The result is a gateway profile per task, written from the
//! prompt program the chosen cells were sent (see `profile_toml`).

mod cascade_fit;
mod joint;
mod profile_toml;
mod split;

pub use cascade_fit::{Fit, NoFit, Outcome};
pub use joint::{choose_jointly, Joint};
pub use profile_toml::{program_of, render_profiles, row_profile};
pub use split::Split;

use split::{Units, MIN_PER_HALF};
use understudy_report::metrics;
use understudy_report::stats::{self, Estimate};
use understudy_report::summary::Summary;
use understudy_store::Cell;
use understudy_tasks::EvalError;

/// What tune aims for.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Share of the reference's score, with the CI lower bound (e.g. 0.95).
    pub share: f64,
    /// Rows slower than this (mean ms per item) are not considered.
    pub max_latency_ms: Option<f64>,
}

/// One candidate row on one task.
#[derive(Debug, Clone)]
pub struct Choice {
    pub model: String,
    pub strategy: String,
    pub format: String,
    /// Share of the reference on the calibration half (what the choice is made on).
    pub share: Estimate,
    /// Mean latency per item on the calibration half.
    pub latency_ms: Estimate,
    pub meets: bool,
    /// The row's score on the held-out half: what the profile should score on new items.
    pub predicted_score: Estimate,
    /// The row's share of the reference on the held-out half.
    pub predicted_share: Estimate,
}

/// A calibrated cascade from a light row to the reference model under the same program.
#[derive(Debug, Clone)]
pub struct CascadeFit {
    pub light: String,
    pub heavy: String,
    pub strategy: String,
    pub format: String,
    pub fit: Fit,
}

/// Tune's answer for one task.
#[derive(Debug, Clone)]
pub struct TaskTuning {
    pub task: String,
    pub choice: Choice,
    pub considered: Vec<Choice>,
    pub cascade: Option<CascadeFit>,
    /// Why no cascade could be calibrated, when the run could not offer one.
    pub no_cascade: Option<String>,
    /// Items (problems) in the calibration and held-out halves of the reference row.
    pub halves: (usize, usize),
}

/// A task tune will not choose on, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub task: String,
    pub reason: String,
}

/// Tune's answer for a run: the tasks it tuned and those it refused.
#[derive(Debug, Clone, Default)]
pub struct Tuned {
    pub tunings: Vec<TaskTuning>,
    pub refused: Vec<Refusal>,
    /// Set when one row was chosen for every task (`tune --jointly`).
    pub joint: Option<Joint>,
}

type RowKey = (String, String, String);

/// Why a share of the reference cannot choose a profile for `task`: the reference itself is
/// not significantly above the task's baseline (chance or majority class).
fn refusal(summary: &Summary, task: &str) -> Option<Refusal> {
    let reference = summary.rows.iter().find(|r| r.is_reference)?;
    let score = reference.tasks.iter().find(|t| t.task == task)?;
    let b = score.baseline.as_ref().filter(|b| !b.test.above)?;
    Some(Refusal {
        task: task.to_string(),
        reason: format!(
            "the share of the reference is {}; tune chooses on that share, so it will not choose a profile for this task. Use a reference that beats the baseline, or more items",
            understudy_report::summary::not_meaningful(&reference.model, score.accuracy.value, b)
        ),
    })
}

fn exact_one(n: usize) -> Estimate {
    Estimate {
        value: 1.0,
        low: 1.0,
        high: 1.0,
        n,
        method: "the reference against itself: 1 by definition",
    }
}

/// Tunes every task of a run.
pub fn tune(summary: &Summary, cells: &[Cell], target: Target) -> Result<Tuned, EvalError> {
    let Some(reference) = summary.rows.iter().find(|r| r.is_reference) else {
        return Err(EvalError::Config(
            "tune needs a run with a reference model (eval --reference MODEL)".into(),
        ));
    };
    let reference_key: RowKey = (
        reference.model.clone(),
        reference.strategy.clone(),
        reference.format.clone(),
    );
    let mut tasks: Vec<String> = Vec::new();
    for c in cells {
        if !tasks.contains(&c.task) {
            tasks.push(c.task.clone());
        }
    }
    let mut out = Tuned::default();
    for task in tasks {
        if let Some(refused) = refusal(summary, &task) {
            out.refused.push(refused);
            continue;
        }
        match tune_task(summary, cells, &task, &reference_key, target) {
            Ok(t) => out.tunings.push(t),
            Err(reason) => out.refused.push(Refusal { task, reason }),
        }
    }
    Ok(out)
}

fn rows_of(cells: &[Cell], task: &str) -> Vec<RowKey> {
    let mut rows: Vec<RowKey> = Vec::new();
    for c in cells.iter().filter(|c| c.task == task) {
        let key = (c.model.clone(), c.strategy.clone(), c.format.clone());
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    rows
}

fn cells_of<'c>(cells: &'c [Cell], key: &RowKey, task: &str) -> Vec<&'c Cell> {
    cells
        .iter()
        .filter(|c| {
            c.task == task
                && c.model == key.0
                && c.strategy == key.1
                && c.format == key.2
                && !metrics::ungraded(c)
        })
        .collect()
}

/// The halves of `task`'s items, from every graded cell of it (all rows share one split).
fn task_split(cells: &[Cell], task: &str, samples: usize) -> Split {
    let graded = cells
        .iter()
        .filter(|c| c.task == task && !metrics::ungraded(c));
    Split::of(graded, samples)
}

/// The reference's halves must each hold enough items, and the reference must score somewhere
/// on the calibration half (a share of 0 has nothing to keep).
fn check_reference_halves(cal: &Units, hold: &Units) -> Result<(), String> {
    if cal.len() < MIN_PER_HALF || hold.len() < MIN_PER_HALF {
        return Err(format!(
            "too few items: tune chooses on one half of the items and predicts on the other, and needs at least {MIN_PER_HALF} in each (the reference row has {} and {})",
            cal.len(),
            hold.len()
        ));
    }
    if !cal.score.values().any(|s| *s > 0.0) {
        return Err(format!(
            "the reference scores 0 on the {} calibration items: there is no share of it to choose on",
            cal.len()
        ));
    }
    Ok(())
}

fn tune_task(
    summary: &Summary,
    cells: &[Cell],
    task: &str,
    reference_key: &RowKey,
    target: Target,
) -> Result<TaskTuning, String> {
    let samples = summary.samples;
    let reference_cells = cells_of(cells, reference_key, task);
    let split = task_split(cells, task, samples);
    let reference_half = |hold| Units::of(reference_cells.iter().copied(), samples, &split, hold);
    let (ref_cal, ref_hold) = (reference_half(false), reference_half(true));
    check_reference_halves(&ref_cal, &ref_hold)?;
    let mut considered = Vec::new();
    for key in rows_of(cells, task) {
        let these = cells_of(cells, &key, task);
        let cal = Units::of(these.iter().copied(), samples, &split, false);
        let hold = Units::of(these.iter().copied(), samples, &split, true);
        if cal.is_empty() || hold.is_empty() {
            continue;
        }
        let is_reference = key == *reference_key;
        let share_on = |mine: &Units, theirs: &Units| {
            if is_reference {
                exact_one(mine.len())
            } else {
                let (m, r) = mine.paired(theirs);
                stats::share_of_reference(&m, &r)
            }
        };
        let share = share_on(&cal, &ref_cal);
        let latency_ms = stats::mean_interval(&cal.ms.values().copied().collect::<Vec<_>>());
        let meets = share.low.is_finite()
            && share.low >= target.share
            && target.max_latency_ms.is_none_or(|m| latency_ms.value <= m);
        considered.push(Choice {
            model: key.0.clone(),
            strategy: key.1.clone(),
            format: key.2.clone(),
            share,
            latency_ms,
            meets,
            predicted_score: stats::mean_interval(
                &hold.score.values().copied().collect::<Vec<_>>(),
            ),
            predicted_share: share_on(&hold, &ref_hold),
        });
    }
    let choice = considered
        .iter()
        .filter(|c| c.meets)
        .min_by(|a, b| a.latency_ms.value.total_cmp(&b.latency_ms.value))
        .or_else(|| {
            considered
                .iter()
                .filter(|c| c.share.low.is_finite())
                .max_by(|a, b| a.share.low.total_cmp(&b.share.low))
        })
        .cloned()
        .ok_or_else(|| "no row has a share of the reference to choose on".to_string())?;
    let (cascade, no_cascade) = calibrate(summary, cells, task, &reference_key.0, &split, target);
    Ok(TaskTuning {
        task: task.to_string(),
        choice,
        considered,
        cascade,
        no_cascade,
        halves: (ref_cal.len(), ref_hold.len()),
    })
}

/// The fastest calibrated cascade from any plain light row to the reference model under the
/// same (strategy, format) — the same program, so the served cascade is the simulated one.
fn calibrate(
    summary: &Summary,
    cells: &[Cell],
    task: &str,
    reference: &str,
    split: &Split,
    target: Target,
) -> (Option<CascadeFit>, Option<String>) {
    if summary.samples > 1 {
        return (
            None,
            Some("no cascade calibrated: the run drew several samples per item".into()),
        );
    }
    let mut best: Option<CascadeFit> = None;
    let mut reasons: Vec<String> = Vec::new();
    for key in rows_of(cells, task) {
        let (light, strategy, format) = &key;
        // The reference itself, and measured techniques (`cascade:`, `plan:`), are not light rows.
        if light == reference || light.starts_with("cascade:") || light.starts_with("plan:") {
            continue;
        }
        let heavy_key = (reference.to_string(), strategy.clone(), format.clone());
        let heavy = cells_of(cells, &heavy_key, task);
        if heavy.is_empty() {
            reasons.push(format!(
                "{light} {strategy} {format}: the reference was not run under the same strategy and format"
            ));
            continue;
        }
        match cascade_fit::fit(&cells_of(cells, &key, task), &heavy, split, target) {
            Ok(fit) => {
                if best.as_ref().is_none_or(|b| {
                    fit.calibration.latency_ms.value < b.fit.calibration.latency_ms.value
                }) {
                    best = Some(CascadeFit {
                        light: light.clone(),
                        heavy: reference.to_string(),
                        strategy: strategy.clone(),
                        format: format.clone(),
                        fit,
                    });
                }
            }
            Err(NoFit::NoConfidence) => reasons.push(
                "no cascade calibrated: the run recorded no answer confidences (run eval with --confidence to calibrate one)".into(),
            ),
            Err(NoFit::TooFewItems(n)) => reasons.push(format!(
                "{light} {strategy} {format}: only {n} paired items in a half"
            )),
            Err(NoFit::MissesTarget) => {}
        }
    }
    if best.is_some() {
        return (best, None);
    }
    reasons.dedup();
    let reason = reasons
        .iter()
        .find(|r| r.starts_with("no cascade calibrated"))
        .cloned()
        .or_else(|| {
            reasons
                .first()
                .map(|r| format!("no cascade calibrated: {r}"))
        });
    (None, reason)
}
