//! What a task with graded (partial-credit) scores shows beyond its mean: how the item scores are
//! spread between 0 and 1, and the items whose own grader failed (left out of the score), each
//! with why and the end of the grader's stderr.

use serde::Serialize;
use serde_json::Value;
use understudy_store::Cell;

use crate::metrics::detail;

/// The edges of the spread's bins, written as printed: exactly 0, four quarters, exactly 1.
pub const BINS: [&str; 6] = ["0", "0–¼", "¼–½", "½–¾", "¾–1", "1"];

/// How many items scored in each of [`BINS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSpread {
    pub n: usize,
    pub counts: [usize; 6],
}

impl ScoreSpread {
    /// The spread of item scores; `None` when every score is 0 or 1 (the mean says it all).
    pub fn of(scores: &[f64]) -> Option<Self> {
        if !scores.iter().any(|s| *s > 0.0 && *s < 1.0) {
            return None;
        }
        let mut counts = [0; 6];
        for &s in scores {
            let bin = if s <= 0.0 {
                0
            } else if s >= 1.0 {
                5
            } else {
                1 + ((s * 4.0) as usize).min(3)
            };
            counts[bin] += 1;
        }
        Some(Self {
            n: scores.len(),
            counts,
        })
    }

    /// "0: 3 · 0–¼: 0 · … · 1: 6 (n=20 items)".
    pub fn render(&self) -> String {
        let bins: Vec<String> = BINS
            .iter()
            .zip(self.counts)
            .map(|(bin, count)| format!("{bin}: {count}"))
            .collect();
        format!("{} (n={} items)", bins.join(" · "), self.n)
    }
}

/// An item the task's own grader could not grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraderFailure {
    pub item_id: String,
    /// `crashed`, `timeout` or `bad_output`.
    pub kind: String,
    pub message: String,
    pub stderr: String,
}

impl GraderFailure {
    /// The failure a cell records, if its grader failed.
    pub fn of(cell: &Cell) -> Option<Self> {
        let d = detail(cell)?;
        let f = d.get("grader_failure")?;
        let text = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Some(Self {
            item_id: cell.item_id.clone(),
            kind: text("kind"),
            message: text("message"),
            stderr: text("stderr"),
        })
    }

    /// "item 7: timeout — gave no verdict within 10s; stderr: …(last line)".
    pub fn render(&self) -> String {
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!("; stderr: {}", l.trim()))
            .unwrap_or_default();
        format!(
            "item {}: {} — {}{last}",
            self.item_id, self.kind, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_bins_edges_and_skips_all_or_nothing_scores() {
        assert_eq!(ScoreSpread::of(&[0.0, 1.0, 1.0]), None);
        let s = ScoreSpread::of(&[0.0, 0.2, 0.25, 0.5, 0.74, 0.75, 0.99, 1.0]).unwrap();
        assert_eq!(s.counts, [1, 1, 1, 2, 2, 1]);
        assert_eq!(
            s.render(),
            "0: 1 · 0–¼: 1 · ¼–½: 1 · ½–¾: 2 · ¾–1: 2 · 1: 1 (n=8 items)"
        );
    }

    #[test]
    fn a_failure_is_read_from_the_cell_with_its_last_stderr_line() {
        let cell = Cell {
            detail: Some(
                r#"{"grader_failure":{"kind":"crashed","message":"exited with status 1","stderr":"Traceback\nKeyError: 'x'\n"},"ungraded":true}"#
                    .into(),
            ),
            ..Cell::for_test("7", 0.0)
        };
        let f = GraderFailure::of(&cell).unwrap();
        assert_eq!(
            f.render(),
            "item 7: crashed — exited with status 1; stderr: KeyError: 'x'"
        );
        assert_eq!(GraderFailure::of(&Cell::for_test("8", 1.0)), None);
    }
}
