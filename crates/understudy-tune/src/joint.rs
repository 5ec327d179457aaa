//! `tune --jointly`: one row for every task of a run, for tasks one application serves together
//! (BFCL's call categories and its irrelevance category: a row that "declines" well only because
//! it never calls must not win the irrelevance task alone). A row meets the joint target when it
//! meets the target on every task; among those the lowest mean latency over the tasks wins, and
//! when none does, the row with the highest worst-task lower bound.

use crate::{Choice, Tuned};

/// What the joint choice was made over.
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    pub tasks: Vec<String>,
    pub model: String,
    pub strategy: String,
    pub format: String,
    /// The row meets the target on every task.
    pub meets_all: bool,
}

type RowKey = (String, String, String);

fn key_of(c: &Choice) -> RowKey {
    (c.model.clone(), c.strategy.clone(), c.format.clone())
}

/// Replaces each task's choice with the one row chosen for all of them. Cascades are calibrated
/// per task, so none is kept. Errs when no row was measured on every tuned task.
pub fn choose_jointly(tuned: &mut Tuned) -> Result<(), String> {
    if tuned.tunings.is_empty() {
        return Err("no task could be tuned".into());
    }
    // Rows every tuned task considered, each with its choice per task.
    let mut common: Vec<(RowKey, Vec<&Choice>)> = Vec::new();
    if let Some(first) = tuned.tunings.first() {
        for c in &first.considered {
            let key = key_of(c);
            let per_task: Vec<&Choice> = tuned
                .tunings
                .iter()
                .filter_map(|t| t.considered.iter().find(|k| key_of(k) == key))
                .collect();
            if per_task.len() == tuned.tunings.len() {
                common.push((key, per_task));
            }
        }
    }
    let mean_latency =
        |cs: &[&Choice]| cs.iter().map(|c| c.latency_ms.value).sum::<f64>() / cs.len() as f64;
    let worst_low = |cs: &[&Choice]| cs.iter().map(|c| c.share.low).fold(f64::INFINITY, f64::min);
    let meeting = common
        .iter()
        .filter(|(_, cs)| cs.iter().all(|c| c.meets))
        .min_by(|a, b| mean_latency(&a.1).total_cmp(&mean_latency(&b.1)));
    let (key, meets_all) = match meeting {
        Some((key, _)) => (key.clone(), true),
        None => {
            let best = common
                .iter()
                .filter(|(_, cs)| worst_low(cs).is_finite())
                .max_by(|a, b| worst_low(&a.1).total_cmp(&worst_low(&b.1)))
                .ok_or_else(|| {
                    "no row was measured with a share of the reference on every tuned task"
                        .to_string()
                })?;
            (best.0.clone(), false)
        }
    };
    for t in &mut tuned.tunings {
        if let Some(c) = t.considered.iter().find(|k| key_of(k) == key) {
            t.choice = c.clone();
        }
        t.cascade = None;
        t.no_cascade = Some(
            "no cascade: tuned jointly, and a cascade is calibrated per task (tune without --jointly for one)"
                .into(),
        );
    }
    tuned.joint = Some(Joint {
        tasks: tuned.tunings.iter().map(|t| t.task.clone()).collect(),
        model: key.0,
        strategy: key.1,
        format: key.2,
        meets_all,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskTuning;
    use understudy_report::stats::Estimate;

    fn est(value: f64, low: f64) -> Estimate {
        Estimate {
            value,
            low,
            high: 1.0,
            n: 10,
            method: "test",
        }
    }

    fn row(model: &str, share_low: f64, ms: f64, meets: bool) -> Choice {
        Choice {
            model: model.into(),
            strategy: "zero-shot".into(),
            format: "plain".into(),
            share: est(share_low + 0.1, share_low),
            latency_ms: est(ms, ms),
            meets,
            predicted_score: est(0.5, 0.3),
            predicted_share: est(0.9, 0.7),
        }
    }

    fn task(name: &str, considered: Vec<Choice>) -> TaskTuning {
        // Per-task tune would pick the fastest row that meets the target.
        let choice = considered
            .iter()
            .filter(|c| c.meets)
            .min_by(|a, b| a.latency_ms.value.total_cmp(&b.latency_ms.value))
            .unwrap_or(&considered[0])
            .clone();
        TaskTuning {
            task: name.into(),
            choice,
            considered,
            cascade: None,
            no_cascade: None,
            halves: (10, 10),
        }
    }

    #[test]
    fn a_row_that_wins_one_task_by_never_calling_loses_to_one_that_meets_every_task() {
        let mut tuned = Tuned {
            tunings: vec![
                task(
                    "bfcl-simple",
                    vec![
                        row("never-calls", 0.0, 100.0, false),
                        row("caller", 0.96, 900.0, true),
                        row("slow-caller", 0.97, 2000.0, true),
                    ],
                ),
                task(
                    "bfcl-irrelevance",
                    vec![
                        row("never-calls", 0.99, 100.0, true),
                        row("caller", 0.95, 900.0, true),
                        row("slow-caller", 0.98, 2000.0, true),
                    ],
                ),
            ],
            ..Tuned::default()
        };
        assert_eq!(tuned.tunings[1].choice.model, "never-calls");
        choose_jointly(&mut tuned).unwrap_or_else(|e| panic!("{e}"));
        let joint = tuned.joint.clone().unwrap_or_else(|| panic!("no joint"));
        assert_eq!(joint.model, "caller");
        assert!(joint.meets_all);
        assert!(tuned.tunings.iter().all(|t| t.choice.model == "caller"));
        assert!(tuned.tunings.iter().all(|t| t.cascade.is_none()));
    }

    #[test]
    fn when_no_row_meets_every_task_the_best_worst_task_bound_wins() {
        let mut tuned = Tuned {
            tunings: vec![
                task(
                    "a",
                    vec![row("x", 0.2, 100.0, false), row("y", 0.6, 500.0, false)],
                ),
                task(
                    "b",
                    vec![row("x", 0.99, 100.0, true), row("y", 0.7, 500.0, false)],
                ),
            ],
            ..Tuned::default()
        };
        choose_jointly(&mut tuned).unwrap_or_else(|e| panic!("{e}"));
        let joint = tuned.joint.unwrap_or_else(|| panic!("no joint"));
        assert_eq!((joint.model.as_str(), joint.meets_all), ("y", false));
    }

    #[test]
    fn rows_not_measured_on_every_task_are_not_candidates() {
        let mut tuned = Tuned {
            tunings: vec![
                task("a", vec![row("x", 0.99, 100.0, true)]),
                task("b", vec![row("y", 0.99, 100.0, true)]),
            ],
            ..Tuned::default()
        };
        let err = choose_jointly(&mut tuned).unwrap_err();
        assert!(err.contains("every tuned task"), "{err}");
    }
}
