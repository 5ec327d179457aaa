//! Adaptive stopping (`--until-ci PP`): a row (model, strategy, format, task) stops taking items
//! once the 95% interval of its mean item score is narrower than PP points. The interval is the
//! one the report prints beside the score (`understudy_stats::mean_interval`: Clopper–Pearson for
//! 0/1 scores), checked after every answered cell from the tenth item on, so the rule and the
//! printed interval are one. Rows then end at different n, and a rule that looks at the data can
//! stop on a lucky streak: the report states the rule beside the numbers, and under this rule
//! the printed interval still covers (an enumeration of the rule at cap 100, W = 30, true rate
//! 0.9 gives 96.5% for a score interval of this kind; see the validity audit).

use understudy_tasks::EvalError;

pub use understudy_stats::stopping::{interval_width, StopRule, MIN_ITEMS};

/// The rule, refused for a width outside (0, 100] points or with several samples per item
/// (samples of one item are not independent items, so their interval says nothing).
pub fn checked_rule(width_points: f64, samples: usize) -> Result<StopRule, EvalError> {
    if !(width_points > 0.0 && width_points <= 100.0) {
        return Err(EvalError::Config(format!(
            "`--until-ci` (`until_ci`) is the 95% interval width to stop at, in points: more than 0 and at most 100 (e.g. 20 stops at ±10 points); got {width_points}"
        )));
    }
    if samples > 1 {
        return Err(EvalError::Config(
            "`until_ci` cannot be combined with `samples` above 1: samples of one item are not independent items"
                .into(),
        ));
    }
    Ok(StopRule { width_points })
}

/// Each row's item scores so far, and whether the rule says it has enough.
#[derive(Default)]
pub struct RowScores {
    rule: Option<StopRule>,
    scores: std::sync::Mutex<std::collections::HashMap<String, Vec<f64>>>,
}

impl RowScores {
    /// Scores under `rule` (none: no row ever settles), starting from the cells a resumed run
    /// already has.
    pub fn new(rule: Option<StopRule>, existing: &[understudy_store::Cell]) -> Self {
        let rows = Self {
            rule,
            ..Self::default()
        };
        for cell in existing {
            rows.record(cell);
        }
        rows
    }

    fn key(model: &str, strategy: &str, format: &str, task: &str) -> String {
        format!("{model}\u{1f}{strategy}\u{1f}{format}\u{1f}{task}")
    }

    /// Whether the row has taken enough items.
    pub fn settled(&self, model: &str, strategy: &str, format: &str, task: &str) -> bool {
        let Some(rule) = &self.rule else {
            return false;
        };
        let scores = match self.scores.lock() {
            Ok(scores) => scores,
            Err(poisoned) => poisoned.into_inner(),
        };
        scores
            .get(&Self::key(model, strategy, format, task))
            .is_some_and(|s| rule.settled(s))
    }

    /// Adds an answered cell's score to its row.
    pub fn record(&self, cell: &understudy_store::Cell) {
        // An ungraded cell is no item score: the rule looks at the interval the report prints,
        // which leaves it out.
        if self.rule.is_none() || cell.ungraded() {
            return;
        }
        let mut scores = match self.scores.lock() {
            Ok(scores) => scores,
            Err(poisoned) => poisoned.into_inner(),
        };
        scores
            .entry(Self::key(
                &cell.model,
                &cell.strategy,
                &cell.format,
                &cell.task,
            ))
            .or_default()
            .push(cell.score);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_right_is_not_settled_early() {
        // Ten of ten right: Clopper–Pearson's interval is still 30.8 points wide.
        let ten = vec![1.0; 10];
        assert!(
            (interval_width(&ten) - 0.3085).abs() < 0.001,
            "{}",
            interval_width(&ten)
        );
        let rule = checked_rule(20.0, 1).unwrap();
        assert!(!rule.settled(&ten));
        assert!(rule.settled(&vec![1.0; 30]));
        // Half right needs about 105 items for a 20-point interval.
        let half = |n: usize| (0..n).map(|i| (i % 2) as f64).collect::<Vec<_>>();
        assert!(!rule.settled(&half(100)));
        assert!(rule.settled(&half(110)));
        // Never before the minimum.
        assert!(!checked_rule(99.0, 1).unwrap().settled(&[1.0; 9]));
    }

    #[test]
    fn ungraded_cells_are_no_item_scores() {
        let rule = checked_rule(99.0, 1).unwrap();
        let graded: Vec<understudy_store::Cell> = (0..10)
            .map(|i| understudy_store::Cell::for_test(&format!("i{i}"), 1.0))
            .collect();
        let failed = understudy_store::Cell {
            detail: Some(r#"{"grader_failure":{"kind":"crashed"},"ungraded":true}"#.into()),
            ..understudy_store::Cell::for_test("bad", 0.0)
        };
        // Nine graded cells and one that failed grading: still below the ten-item minimum.
        let rows = RowScores::new(Some(rule), &[&graded[..9], &[failed]].concat());
        let c = &graded[0];
        assert!(!rows.settled(&c.model, &c.strategy, &c.format, &c.task));
        rows.record(&graded[9]);
        assert!(rows.settled(&c.model, &c.strategy, &c.format, &c.task));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(checked_rule(0.0, 1).is_err());
        assert!(checked_rule(120.0, 1).is_err());
        assert!(checked_rule(f64::NAN, 1).is_err());
        assert!(checked_rule(10.0, 5).is_err());
    }
}
