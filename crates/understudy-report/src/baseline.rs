//! Baselines beside every score: what guessing (chance) and one constant answer for every item
//! (the majority class) would score on the same items, a one-sided test of the row against the
//! stronger of the two, and how often the row gave each answer ("one label for every item").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats;
use understudy_store::Cell;
use understudy_tasks::answer_kind::AnswerKind;

/// For runs stored without the kind: label-like gold values (2–10 distinct words) are
/// labels, single letters are choices, everything else gets a constant-answer baseline
/// unless the cells were graded open-ended.
pub fn infer_kind(cells: &[&Cell]) -> AnswerKind {
    if cells.iter().any(|c| crate::metrics::open_ended(c)) {
        return AnswerKind::Open;
    }
    let golds: std::collections::BTreeSet<&str> = cells.iter().map(|c| c.gold.as_str()).collect();
    if !golds.is_empty()
        && golds
            .iter()
            .all(|g| g.len() == 1 && g.chars().all(|c| c.is_ascii_uppercase()))
    {
        return AnswerKind::Choice { options: None };
    }
    if (2..=10).contains(&golds.len())
        && golds
            .iter()
            .all(|g| g.chars().count() > 1 && g.parse::<f64>().is_err())
    {
        return AnswerKind::Label {
            labels: golds.iter().map(|g| g.to_string()).collect(),
        };
    }
    AnswerKind::Constant
}

/// One-sided test of a row's score against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineTest {
    /// p-value for "the score is above the baseline".
    pub p_value: f64,
    /// "binomial" (exact, one 0/1 score per item) or "bootstrap" (graded or per-problem means).
    pub test: &'static str,
    /// Whether the score is significantly above the baseline (p < [`stats::ALPHA`]).
    pub above: bool,
}

/// The yardsticks for one task in one row, from the gold answers of the items it scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// 1 / labels or 1 / options: uniform guessing. None where guessing has no fixed rate.
    pub chance: Option<f64>,
    /// The most common gold answer among the items scored ...
    pub majority_answer: String,
    /// ... and the share of items it is right on: what answering it every time scores.
    pub majority: f64,
    /// The score to beat: the larger of chance and majority.
    pub bar: f64,
    /// Which of the two the bar is.
    pub bar_name: &'static str,
    pub test: BaselineTest,
}

impl Baseline {
    /// "chance 50.0% · majority 55.0% ("positive")".
    pub fn describe(&self) -> String {
        let chance = self
            .chance
            .map(|c| format!("chance {:.1}% · ", c * 100.0))
            .unwrap_or_default();
        format!(
            "{chance}majority {:.1}% ({:?})",
            self.majority * 100.0,
            self.majority_answer
        )
    }

    /// "above the majority baseline (binomial p = 0.012)" or "NOT above ...".
    pub fn verdict(&self) -> String {
        format!(
            "{} the {} baseline ({} {})",
            if self.test.above {
                "above"
            } else {
                "NOT above"
            },
            self.bar_name,
            self.test.test,
            stats::p_text(self.test.p_value, self.test.test)
        )
    }
}

/// How often a row gave each answer on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerCounts {
    /// (answer, items), most frequent first; format failures count as "(no answer)".
    pub counts: Vec<(String, usize)>,
    /// The answer, when every item got the same one (and there are at least two items).
    pub single: Option<String>,
}

/// What a format failure shows as in the answer counts.
pub const NO_ANSWER: &str = "(no answer)";

impl AnswerCounts {
    pub fn of(cells: &[&Cell]) -> Self {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for c in cells {
            let answer = c
                .parsed
                .clone()
                .filter(|_| !c.format_failure)
                .unwrap_or_else(|| NO_ANSWER.to_string());
            *by.entry(answer).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = by.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let single = match counts.as_slice() {
            [(answer, n)] if *n >= 2 => Some(answer.clone()),
            _ => None,
        };
        Self { counts, single }
    }

    /// "positive 40" or "positive 22 · negative 18"; long lists keep the first `keep`.
    pub fn describe(&self, keep: usize) -> String {
        let mut parts: Vec<String> = self
            .counts
            .iter()
            .take(keep)
            .map(|(a, n)| format!("{a} {n}"))
            .collect();
        if self.counts.len() > keep {
            parts.push(format!("{} other answers", self.counts.len() - keep));
        }
        parts.join(" · ")
    }

    /// "answered \"positive\" for every item" when that is what happened.
    pub fn single_line(&self) -> Option<String> {
        self.single
            .as_ref()
            .map(|a| format!("answered {a:?} for every item"))
    }
}

/// The baseline of one task's cells in one row. `scores` are the row's scores per scored unit
/// (items, or problems when several samples were drawn): one 0/1 score per cell gets the exact
/// binomial test, anything else a one-sided bootstrap over the units.
pub fn baseline(kind: &AnswerKind, cells: &[&Cell], scores: &[f64]) -> Option<Baseline> {
    let chance = match kind {
        AnswerKind::Label { labels } if !labels.is_empty() => Some(1.0 / labels.len() as f64),
        AnswerKind::Choice {
            options: Some(options),
        } if *options > 0 => Some(1.0 / *options as f64),
        AnswerKind::Label { .. } | AnswerKind::Choice { .. } | AnswerKind::Constant => None,
        AnswerKind::Open => return None,
    };
    if cells.is_empty() || scores.is_empty() {
        return None;
    }
    let mut gold: BTreeMap<String, usize> = BTreeMap::new();
    for c in cells {
        *gold.entry(c.gold.trim().to_lowercase()).or_default() += 1;
    }
    let (majority_answer, count) = gold
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(g, n)| (g.clone(), *n))?;
    let majority = count as f64 / cells.len() as f64;
    let (bar, bar_name) = match chance {
        Some(c) if c > majority => (c, "chance"),
        _ => (majority, "majority-class"),
    };
    let binary = scores.len() == cells.len() && scores.iter().all(|s| *s == 0.0 || *s == 1.0);
    let (p_value, test) = if binary {
        let right = scores.iter().filter(|s| **s == 1.0).count();
        (
            stats::binomial_upper_tail(right, scores.len(), bar),
            "binomial",
        )
    } else {
        (stats::bootstrap_above(scores, bar), "bootstrap")
    };
    Some(Baseline {
        chance,
        majority_answer,
        majority,
        bar,
        bar_name,
        test: BaselineTest {
            p_value,
            test,
            above: p_value < stats::ALPHA,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(gold: &str, parsed: Option<&str>) -> Cell {
        Cell {
            answer: parsed.unwrap_or("").into(),
            parsed: parsed.map(str::to_string),
            format_failure: parsed.is_none(),
            ..Cell::for_test(gold, f64::from(u8::from(parsed == Some(gold))))
        }
    }

    #[test]
    fn one_label_for_every_item_scores_exactly_the_majority_and_is_not_above_it() {
        let cells: Vec<Cell> = (0..40)
            .map(|i| {
                cell(
                    if i % 2 == 0 { "positive" } else { "negative" },
                    Some("positive"),
                )
            })
            .collect();
        let refs: Vec<&Cell> = cells.iter().collect();
        let scores: Vec<f64> = cells.iter().map(|c| c.score).collect();
        let kind = AnswerKind::Label {
            labels: vec!["negative".into(), "positive".into()],
        };
        let b = baseline(&kind, &refs, &scores).unwrap();
        assert_eq!(b.chance, Some(0.5));
        assert!((b.majority - 0.5).abs() < 1e-12);
        assert!(!b.test.above, "{b:?}");
        assert_eq!(b.test.test, "binomial");
        let answers = AnswerCounts::of(&refs);
        assert_eq!(answers.single.as_deref(), Some("positive"));
        assert_eq!(
            answers.single_line().unwrap(),
            "answered \"positive\" for every item"
        );
    }

    #[test]
    fn a_clear_lead_is_above_the_baseline_and_chance_can_be_the_bar() {
        let golds = ["A", "B", "C", "D"];
        let cells: Vec<Cell> = (0..40)
            .map(|i| {
                let g = golds[i % 4];
                cell(g, Some(if i < 30 { g } else { "A" }))
            })
            .collect();
        let refs: Vec<&Cell> = cells.iter().collect();
        let scores: Vec<f64> = cells.iter().map(|c| c.score).collect();
        let b = baseline(&AnswerKind::Choice { options: Some(4) }, &refs, &scores).unwrap();
        assert_eq!(b.bar_name, "majority-class"); // 25% each: the tie goes to majority
        assert!((b.bar - 0.25).abs() < 1e-12);
        assert!(b.test.above && b.test.p_value < 1e-6, "{b:?}");
        assert!(AnswerCounts::of(&refs).single.is_none());
        // Choice with 5 options on 4-way balanced gold: majority 25% beats chance 20%.
        let b = baseline(&AnswerKind::Choice { options: Some(5) }, &refs, &scores).unwrap();
        assert_eq!(b.bar_name, "majority-class");
        // Three labels, all gold the same: majority 100% is the bar.
        let same: Vec<Cell> = (0..6).map(|_| cell("yes", Some("yes"))).collect();
        let same_refs: Vec<&Cell> = same.iter().collect();
        let kind = AnswerKind::Label {
            labels: vec!["yes".into(), "no".into(), "maybe".into()],
        };
        let b = baseline(&kind, &same_refs, &[1.0; 6]).unwrap();
        assert!((b.bar - 1.0).abs() < 1e-12);
        assert!(!b.test.above);
    }

    #[test]
    fn open_tasks_have_no_baseline_and_old_runs_are_inferred() {
        let cells = [cell("positive", Some("positive")), cell("negative", None)];
        let refs: Vec<&Cell> = cells.iter().collect();
        assert!(baseline(&AnswerKind::Open, &refs, &[1.0, 0.0]).is_none());
        assert!(matches!(infer_kind(&refs), AnswerKind::Label { .. }));
        let letters = [cell("A", Some("A")), cell("C", Some("B"))];
        let refs: Vec<&Cell> = letters.iter().collect();
        assert_eq!(infer_kind(&refs), AnswerKind::Choice { options: None });
        let numbers = [cell("12", Some("12")), cell("7", Some("7"))];
        let refs: Vec<&Cell> = numbers.iter().collect();
        assert_eq!(infer_kind(&refs), AnswerKind::Constant);
        let b = baseline(&AnswerKind::Constant, &refs, &[1.0, 1.0]).unwrap();
        assert_eq!(b.chance, None);
        assert!((b.majority - 0.5).abs() < 1e-12);
        let counts = AnswerCounts::of(&[&cells[0], &cells[1]]);
        assert_eq!(counts.describe(5), "(no answer) 1 · positive 1");
    }
}
