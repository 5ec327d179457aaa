//! The proof on the test split, which the search never sent: the winner, the baseline
//! (zero-shot), the best hand-written strategy by validation, and the reference model under the
//! baseline prompt, each measured on the same test items; the winner compared with each,
//! paired (McNemar's exact test for 0/1 scores, a paired bootstrap otherwise; the two tests
//! against the local rows Holm-corrected as one family), and its share of the reference with
//! a one-sided test at the target.

use serde::Serialize;

use understudy_report::paired::{self, OneSided};
use understudy_report::stats::{self, Comparison, Estimate};

use crate::budget::Spent;
use crate::candidate::Candidate;
use crate::error::OptimizeError;
use crate::measure::{Bench, Measured};
use crate::pareto;
use crate::search::{Search, Settings};

/// One row measured on the test split.
#[derive(Debug, Clone)]
pub struct Row {
    pub role: &'static str,
    pub model: String,
    pub candidate: Candidate,
    pub test: Measured,
    pub score: Estimate,
    pub p50_ms: f64,
}

/// The winner against one other row.
#[derive(Debug, Clone, Serialize)]
pub struct Versus {
    pub against: String,
    /// Winner minus the other row, with the test's p-value.
    pub comparison: Comparison,
    /// The p-value after Holm's correction over the comparisons with local rows.
    pub p_holm: f64,
    /// Items only the winner got right, and only the other row.
    pub only_winner: usize,
    pub only_other: usize,
}

/// What the test split shows.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub rows: Vec<Row>,
    pub versus: Vec<Versus>,
    /// The winner's share of the reference, and the one-sided test that it is at least `target`.
    pub share: Estimate,
    pub share_test: Option<OneSided>,
    pub target: f64,
    /// Calls spent on the test split (outside the search's budget).
    pub spent: Spent,
}

fn p50(m: &Measured) -> f64 {
    let mut ms: Vec<f64> = m.answers.iter().map(|a| a.ms).collect();
    ms.sort_by(f64::total_cmp);
    stats::quantile(&ms, 0.5)
}

/// The rows the test split measures: the winner (highest validation score, the faster of
/// equals; or the one chosen unvalidated when the budget paid for no validation), the
/// baseline, the best hand-written strategy when it is neither, and the reference.
fn rows_to_measure(
    settings: &Settings,
    search: &Search,
) -> Result<Vec<(&'static str, String, Candidate)>, OptimizeError> {
    let points = search.points();
    let winner = search
        .chosen
        .or_else(|| pareto::best(&points).map(|p| p.id))
        .unwrap_or(0);
    let seeds: Vec<_> = search
        .set
        .iter()
        .filter(|e| e.candidate.parent.is_none())
        .map(|e| e.point())
        .collect();
    let hand = pareto::best(&seeds).map(|p| p.id).unwrap_or(0);
    let candidate = |id: usize| search.candidate(id).cloned();
    let baseline = candidate(0).ok_or_else(|| OptimizeError::Config("no baseline".into()))?;
    let mut plan: Vec<(&'static str, String, Candidate)> = vec![(
        "optimized",
        settings.student.clone(),
        candidate(winner).unwrap_or_else(|| baseline.clone()),
    )];
    plan.push(("baseline", settings.student.clone(), baseline.clone()));
    if hand != 0 && hand != winner {
        plan.push((
            "best hand-written",
            settings.student.clone(),
            candidate(hand).unwrap_or_else(|| baseline.clone()),
        ));
    }
    plan.push(("reference", settings.teacher.clone(), baseline));
    Ok(plan)
}

/// Measures the rows on the test split and compares them.
pub async fn prove(
    bench: &Bench<'_>,
    settings: &Settings,
    search: &Search,
    target: f64,
) -> Result<Verdict, OptimizeError> {
    let plan = rows_to_measure(settings, search)?;
    let mut spent = Spent::default();
    let mut rows = Vec::new();
    for (role, model, candidate) in plan {
        // The winner may be the baseline itself: measured once, shown in both rows.
        let again = rows
            .iter()
            .find(|r: &&Row| r.model == model && r.candidate.id == candidate.id)
            .map(|r| r.test.clone());
        let test = match again {
            Some(test) => test,
            None => {
                bench
                    .measure(&model, &candidate, &search.split.test, &mut spent)
                    .await?
            }
        };
        rows.push(Row {
            role,
            score: stats::mean_interval(&test.scores()),
            p50_ms: p50(&test),
            model,
            candidate,
            test,
        });
    }
    let win = rows[0].test.scores();
    let mut versus: Vec<Versus> = rows[1..]
        .iter()
        .filter(|r| r.role != "reference")
        .map(|r| {
            let other = r.test.scores();
            let comparison = stats::compare(&win, &other);
            Versus {
                against: format!("{} ({})", r.role, r.candidate.strategy()),
                comparison,
                p_holm: comparison.p_upper(),
                only_winner: win.iter().zip(&other).filter(|(w, o)| w > o).count(),
                only_other: win.iter().zip(&other).filter(|(w, o)| w < o).count(),
            }
        })
        .collect();
    let adjusted = stats::holm(&versus.iter().map(|v| v.p_holm).collect::<Vec<_>>());
    for (v, p) in versus.iter_mut().zip(adjusted) {
        v.p_holm = p;
    }
    let reference = rows.last().map(|r| r.test.scores()).unwrap_or_default();
    Ok(Verdict {
        share: stats::share_of_reference(&win, &reference),
        share_test: paired::share_at_least(&reference, &win, target),
        target,
        versus,
        rows,
        spent,
    })
}
