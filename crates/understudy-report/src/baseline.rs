//! Baselines beside every score, fixed before scoring: what guessing (chance) and one constant
//! answer (the majority class of the task's unscored few-shot pool) would score, a one-sided
//! test of the row against the stronger of the two, and how often the row gave each answer
//! ("one label for every item").

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

/// The most common gold answer among labels that were not scored (the task's few-shot pool),
/// and the share of those labels it makes up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Majority {
    pub answer: String,
    pub share: f64,
    /// Where the labels came from and how many: "the few-shot pool (20 labels)".
    pub source: String,
}

/// The yardsticks for one task in one row. The bar is fixed before the row is scored: chance
/// from the answer kind, and the majority class from unscored labels only (the scored items'
/// own golds would raise the bar after the fact: 42% on average for four balanced options at
/// n = 10, where a constant answer expects 25%).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// 1 / labels or 1 / options: uniform guessing. None where guessing has no fixed rate.
    pub chance: Option<f64>,
    /// The majority class of the unscored labels; None when the task has none.
    pub majority: Option<Majority>,
    /// The score to beat: the larger of chance and majority.
    pub bar: f64,
    /// Which of the two the bar is.
    pub bar_name: &'static str,
    pub test: BaselineTest,
}

impl Baseline {
    /// "chance 25.0% · majority 40.0% ("b", from the few-shot pool (20 labels))".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.chance {
            parts.push(format!("chance {:.1}%", c * 100.0));
        }
        match &self.majority {
            Some(m) => parts.push(format!(
                "majority {:.1}% ({:?}, from {})",
                m.share * 100.0,
                m.answer,
                m.source
            )),
            None => {
                parts.push("no majority baseline (multiple choice, or no unscored labels)".into())
            }
        }
        parts.join(" · ")
    }

    /// "above the chance baseline (binomial p = 0.012)" or "NOT above ...".
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

/// The majority class of unscored golds (label → count), when there are any.
pub fn majority_of(unscored: &BTreeMap<String, usize>) -> Option<Majority> {
    let total: usize = unscored.values().sum();
    let (answer, count) = unscored
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
    (total > 0).then(|| Majority {
        answer: answer.clone(),
        share: *count as f64 / total as f64,
        source: format!("the few-shot pool ({total} labels)"),
    })
}

/// The baseline of one task in one row. `scores` are the row's scores per scored unit (items,
/// or problems when several samples were drawn); `unscored` the golds of the task's unscored
/// labels. Labels get chance and, with unscored labels, their majority class; multiple choice
/// gets chance (1 / options);
/// free-form answers (numbers, text, code) get no baseline: no constant answer is a fair guess.
pub fn baseline(
    kind: &AnswerKind,
    unscored: Option<&BTreeMap<String, usize>>,
    scores: &[f64],
    chances: Option<&[f64]>,
) -> Option<Baseline> {
    // Multiple choice with each item's own option count: chance is their mean, tested exactly.
    let per_item = chances.filter(|c| {
        c.len() == scores.len() && matches!(kind, AnswerKind::Choice { .. }) && !c.is_empty()
    });
    let declared = match kind {
        AnswerKind::Label { labels } if !labels.is_empty() => Some(1.0 / labels.len() as f64),
        AnswerKind::Choice {
            options: Some(options),
        } if *options > 0 => Some(1.0 / *options as f64),
        AnswerKind::Label { .. } | AnswerKind::Choice { .. } => None,
        AnswerKind::Constant | AnswerKind::Open => return None,
    };
    let chance = per_item.map(stats::mean).or(declared);
    if scores.is_empty() {
        return None;
    }
    // Labels are classes a constant answer can favour; the letters of a multiple-choice item are
    // positions whose gold is spread evenly by the dataset (a pool of 16 mmlu items that happens
    // to hold 8 "d" would otherwise set a 50% bar for a 25% guess), so choices get chance alone.
    let majority = match kind {
        AnswerKind::Label { .. } => unscored.and_then(majority_of),
        _ => None,
    };
    let (bar, bar_name) = match (chance, &majority) {
        (Some(c), Some(m)) if m.share > c => (m.share, "majority-class"),
        (None, Some(m)) => (m.share, "majority-class"),
        (Some(c), _) => (c, "chance"),
        (None, None) => return None,
    };
    let uneven = per_item.filter(|c| c.iter().any(|x| (x - c[0]).abs() > 1e-12));
    let (p_value, test) = match uneven.filter(|_| bar_name == "chance") {
        Some(c) => stats::above_chances(scores, c)
            .map(|p| (p, "Poisson-binomial"))
            .unwrap_or_else(|| stats::above_bar(scores, bar)),
        None => stats::above_bar(scores, bar),
    };
    Some(Baseline {
        chance,
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
    fn the_bar_is_fixed_before_scoring_never_taken_from_the_scored_golds() {
        // Four balanced options, 10 items whose golds happen to be 40% "d": the bar stays at
        // chance, 25%, with no unscored labels.
        let kind = AnswerKind::Choice { options: Some(4) };
        let scores = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let b = baseline(&kind, None, &scores, None).unwrap();
        assert_eq!((b.bar, b.bar_name), (0.25, "chance"));
        assert!(b.majority.is_none());
        // With a pool that is 60% "positive", the majority bar is 60%.
        let pool: BTreeMap<String, usize> =
            [("positive".to_string(), 12), ("negative".to_string(), 8)].into();
        let labels = AnswerKind::Label {
            labels: vec!["negative".into(), "positive".into()],
        };
        let b = baseline(&labels, Some(&pool), &scores, None).unwrap();
        assert_eq!(b.bar_name, "majority-class");
        assert!((b.bar - 0.6).abs() < 1e-12);
        assert!(
            b.describe().contains("few-shot pool (20 labels)"),
            "{}",
            b.describe()
        );
    }

    #[test]
    fn chance_is_each_items_own_one_over_options() {
        // Two-option and four-option items: chance is 37.5%, not 1 / 4.
        let kind = AnswerKind::Choice { options: Some(4) };
        let chances = [0.5, 0.25, 0.5, 0.25];
        let b = baseline(&kind, None, &[1.0, 1.0, 1.0, 0.0], Some(&chances)).unwrap();
        assert_eq!(b.chance, Some(0.375));
        assert_eq!(b.test.test, "Poisson-binomial");
        // P(all 4) = 1/64; P(exactly 3) = 1/64 + 3/64 + 1/64 + 3/64 (missing each item in
        // turn): 9/64 in all.
        let expected = 9.0 / 64.0;
        assert!((b.test.p_value - expected).abs() < 1e-12, "{b:?}");
    }

    #[test]
    fn free_form_answers_have_no_baseline() {
        assert!(baseline(&AnswerKind::Constant, None, &[1.0, 0.0], None).is_none());
        assert!(baseline(&AnswerKind::Open, None, &[1.0, 0.0], None).is_none());
    }

    #[test]
    fn a_clear_lead_is_above_chance_and_a_coin_is_not() {
        let kind = AnswerKind::Choice { options: Some(4) };
        let strong: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i < 30))).collect();
        let b = baseline(&kind, None, &strong, None).unwrap();
        assert!(b.test.above && b.test.p_value < 1e-6, "{b:?}");
        let labels = AnswerKind::Label {
            labels: vec!["n".into(), "p".into()],
        };
        let half: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i % 2 == 0))).collect();
        assert!(!baseline(&labels, None, &half, None).unwrap().test.above);
    }

    #[test]
    fn old_runs_are_inferred_and_answers_counted() {
        let cells = [cell("positive", Some("positive")), cell("negative", None)];
        let refs: Vec<&Cell> = cells.iter().collect();
        assert!(matches!(infer_kind(&refs), AnswerKind::Label { .. }));
        let letters = [cell("A", Some("A")), cell("C", Some("B"))];
        let refs: Vec<&Cell> = letters.iter().collect();
        assert_eq!(infer_kind(&refs), AnswerKind::Choice { options: None });
        let numbers = [cell("12", Some("12")), cell("7", Some("7"))];
        let refs: Vec<&Cell> = numbers.iter().collect();
        assert_eq!(infer_kind(&refs), AnswerKind::Constant);
        let counts = AnswerCounts::of(&[&cells[0], &cells[1]]);
        assert_eq!(counts.describe(5), "(no answer) 1 · positive 1");
        let same: Vec<Cell> = (0..3).map(|_| cell("yes", Some("yes"))).collect();
        let refs: Vec<&Cell> = same.iter().collect();
        assert_eq!(AnswerCounts::of(&refs).single.as_deref(), Some("yes"));
    }
}
