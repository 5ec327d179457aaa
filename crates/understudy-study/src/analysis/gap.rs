//! reference-gap: each model's share of the reference score per strategy and task, its best
//! strategy, and the remaining gap (1 − share) with its CI, against the "few percent" claim.

use std::collections::{BTreeMap, HashMap};

use super::{models_by_size, paired, report_charts, scores};
use understudy_report::report::aggregates::Extras;
use understudy_report::report::charts::Chart;
use understudy_report::report::tables::{estimate, Table};
use understudy_report::stats;
use understudy_report::summary::{Row, Summary};
use understudy_store::Cell;

/// What "a few percent" means here.
pub const FEW_PERCENT: f64 = 0.05;

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let mut conclusions = Vec::new();
    let Some(reference) = summary.reference.clone() else {
        conclusions.push("This run has no reference model; pass --reference.".into());
        return (conclusions, Vec::new(), Vec::new());
    };
    let ref_row = summary.rows.iter().find(|r| r.is_reference);
    let (ref_strategy, ref_format) = ref_row
        .map(|r| (r.strategy.clone(), r.format.clone()))
        .unwrap_or_default();
    let excluded = excluded_tasks(ref_row, &reference);
    for (task, why) in &excluded {
        conclusions.push(format!(
            "{task} is left out of every share below: the share of reference on it is {why}."
        ));
    }
    let counted = |c: &&Cell| !excluded.iter().any(|(t, _)| *t == c.task);
    let kept: Vec<Cell> = cells.iter().filter(counted).cloned().collect();
    let cells = &kept[..];
    let reference_scores = scores(cells, &reference, &ref_strategy, Some(&ref_format), None);
    let pooled_over = if excluded.is_empty() {
        "all tasks pooled".to_string()
    } else {
        format!(
            "pooled over the tasks where the reference beats its baseline (not {})",
            excluded
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut table = Table {
        title: format!(
            "Share of the reference ({reference}, {ref_strategy}) per strategy, {pooled_over}"
        ),
        header: ["model", "strategy", "score", "share of reference", "gap"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for model in models_by_size(summary) {
        let reference = (reference.as_str(), &reference_scores, ref_format.as_str());
        conclusions.extend(model_rows(summary, cells, &model, reference, &mut table));
    }
    let charts = report_charts(summary, extras, &["share", "quality-latency-all"]);
    (conclusions, vec![table], charts)
}

/// One model's rows of the share table, and its conclusion: the best strategy chosen on one
/// half of the items and judged on the other.
fn model_rows(
    summary: &Summary,
    cells: &[Cell],
    model: &str,
    (reference, reference_scores, ref_format): (&str, &HashMap<String, f64>, &str),
    table: &mut Table,
) -> Option<String> {
    // The best strategy is chosen on one half of the items and judged on the other, so the
    // verdict is not the maximum of several noisy shares (the winner's curse).
    let mut best: Option<(String, stats::Estimate, HashMap<String, f64>)> = None;
    for row in summary
        .rows
        .iter()
        .filter(|r| r.model == model && !r.is_reference)
    {
        let mine = scores(cells, model, &row.strategy, Some(&row.format), None);
        let (score, share) = score_and_share(&mine, &row.format, reference_scores, ref_format);
        table.rows.push(vec![
            model.to_string(),
            row.strategy.clone(),
            estimate(&score),
            estimate(&share),
            gap_text(&share),
        ]);
        let (_, chosen_on) = score_and_share(
            &half(&mine, true),
            &row.format,
            reference_scores,
            ref_format,
        );
        if chosen_on.value.is_finite()
            && best
                .as_ref()
                .is_none_or(|(_, b, _)| chosen_on.value > b.value)
        {
            best = Some((format!("{}/{}", row.strategy, row.format), chosen_on, mine));
        }
    }
    if let Some((strategy, _, mine)) = best {
        let format = strategy.rsplit('/').next().unwrap_or_default().to_string();
        let (_, share) =
            score_and_share(&half(&mine, false), &format, reference_scores, ref_format);
        return Some(gap_conclusion(model, &strategy, &share, reference));
    }
    None
}

/// The items of one half: `choose` keeps those whose key hashes even (FNV-1a, stable across
/// runs and platforms), the other half the rest.
fn half(scores: &HashMap<String, f64>, choose: bool) -> HashMap<String, f64> {
    let even = |key: &str| {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        hash % 2 == 0
    };
    scores
        .iter()
        .filter(|(k, _)| even(k) == choose)
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Tasks where the reference does not beat its baseline: a share of it says nothing there, so
/// they are left out of the pooled share, with the reason.
fn excluded_tasks(ref_row: Option<&Row>, reference: &str) -> Vec<(String, String)> {
    ref_row
        .map(|r| {
            r.tasks
                .iter()
                .filter_map(|t| {
                    let b = t.baseline.as_ref().filter(|b| !b.test.above)?;
                    Some((
                        t.task.clone(),
                        understudy_report::summary::not_meaningful(reference, t.accuracy.value, b),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A row's pooled score, and its share of the reference paired on task/item (the reference
/// answered under its own format).
fn score_and_share(
    mine: &HashMap<String, f64>,
    format: &str,
    reference_scores: &HashMap<String, f64>,
    ref_format: &str,
) -> (stats::Estimate, stats::Estimate) {
    // In key order, so the interval is the same on every run.
    let ordered: BTreeMap<&String, f64> = mine.iter().map(|(k, v)| (k, *v)).collect();
    let score = stats::mean_interval(&ordered.into_values().collect::<Vec<_>>());
    let strip = |m: &HashMap<String, f64>, f: &str| {
        m.iter()
            .map(|(k, v)| (k.replacen(&format!("/{f}/"), "/", 1), *v))
            .collect::<HashMap<_, _>>()
    };
    let (a, b) = paired(&strip(mine, format), &strip(reference_scores, ref_format));
    (score, stats::share_of_reference(&a, &b))
}

fn gap_text(share: &stats::Estimate) -> String {
    if share.value.is_finite() {
        format!(
            "{:.1}% [{:.1}, {:.1}]",
            (1.0 - share.value) * 100.0,
            (1.0 - share.high) * 100.0,
            (1.0 - share.low) * 100.0
        )
    } else {
        "–".into()
    }
}

/// Whether a model's best strategy comes within a few percent of the reference.
fn gap_conclusion(model: &str, strategy: &str, share: &stats::Estimate, reference: &str) -> String {
    let (gap, gap_low, gap_high) = (1.0 - share.value, 1.0 - share.high, 1.0 - share.low);
    let claim = if gap_high <= FEW_PERCENT {
        "supported: the whole interval is within a few percent (5%)".to_string()
    } else if gap_low > FEW_PERCENT {
        "not supported: even the interval's best case leaves more than 5%".to_string()
    } else {
        "not settled at this sample size: the interval spans 5%".to_string()
    };
    format!(
        "{model}: best strategy {strategy} (chosen on one half of the items, judged on the other {} items) reaches {:.1}% of {reference} [{:.1}, {:.1}]; remaining gap {:.1}% [{:.1}, {:.1}] — {claim}.",
        share.n,
        share.value * 100.0,
        share.low * 100.0,
        share.high * 100.0,
        gap * 100.0,
        gap_low * 100.0,
        gap_high * 100.0
    )
}
