//! The adaptive stopping rule (`--until-ci PP`) as a statistical rule: a row stops taking items
//! once the 95% interval the report prints beside its mean score is narrower than PP points,
//! checked from the tenth item on; and the rule in words, printed beside the numbers it shaped.

/// Items a row takes before the rule is first checked.
pub const MIN_ITEMS: usize = 10;

/// Stop a row once its interval is narrower than `width_points`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRule {
    pub width_points: f64,
}

impl StopRule {
    /// Whether a row with these item scores has taken enough items.
    pub fn settled(&self, scores: &[f64]) -> bool {
        scores.len() >= MIN_ITEMS && interval_width(scores) * 100.0 < self.width_points
    }

    /// The rule in words, for the report.
    pub fn describe(&self) -> String {
        format!(
            "adaptive stopping: each row stopped taking items once the printed 95% interval of its mean score (Clopper–Pearson for 0/1 scores) was narrower than {} points (checked after every item from the {MIN_ITEMS}th on), so rows differ in n and a row may have stopped on a lucky run; paired comparisons use the items both rows have",
            self.width_points
        )
    }
}

/// Width of the 95% interval the report prints for these scores (as a share, 0–1).
pub fn interval_width(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        return 1.0;
    }
    let e = crate::mean_interval(scores);
    e.high - e.low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_waits_for_its_minimum_and_says_so() {
        let rule = StopRule { width_points: 99.0 };
        assert!(!rule.settled(&[1.0; 9]));
        assert!(rule.settled(&[1.0; 10]));
        assert!(rule.describe().contains("narrower than 99 points"));
    }
}
