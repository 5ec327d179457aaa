//! size-ladder: score and latency against parameter count, and where the curve flattens (the
//! steps up the ladder whose gain is not significant).

use super::{
    difference_text, latencies as latencies_of, models_by_size, paired, report_charts, scores,
    verdict, ALPHA,
};
use understudy_report::report::aggregates::{params_billion, Extras};
use understudy_report::report::charts::Chart;
use understudy_report::report::tables::{estimate, Table};
use understudy_report::stats;
use understudy_report::summary::Summary;
use understudy_store::load_summary::comparable;
use understudy_store::Cell;

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let models = models_by_size(summary);
    let table = size_table(summary, &models);
    let (steps, mut conclusions) = score_steps(summary, cells, &models);
    let (latency_steps, latency) = latency_steps(summary, cells, &models);
    conclusions.extend(latency);
    let charts = report_charts(summary, extras, &["ladder"]);
    (conclusions, vec![table, steps, latency_steps], charts)
}

/// The strategy a model's first row ran (the ladder compares models under it).
fn strategy_of(summary: &Summary, model: &str) -> String {
    summary
        .rows
        .iter()
        .find(|r| r.model == model)
        .map(|r| r.strategy.clone())
        .unwrap_or_default()
}

/// The larger model against the smaller, paired on the same items under the smaller's strategy.
fn step(summary: &Summary, cells: &[Cell], small: &str, big: &str) -> stats::Comparison {
    let strategy = strategy_of(summary, small);
    let (b, s) = paired(
        &scores(cells, big, &strategy, None, None),
        &scores(cells, small, &strategy, None, None),
    );
    stats::compare(&b, &s)
}

fn size_table(summary: &Summary, models: &[String]) -> Table {
    let mut table = Table {
        title: "Score and latency by model size".into(),
        header: [
            "model",
            "parameters (B)",
            "score, all tasks",
            "p50 latency ms",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for model in models {
        let Some(row) = summary.rows.iter().find(|r| r.model == *model) else {
            continue;
        };
        table.rows.push(vec![
            model.clone(),
            params_billion(model)
                .map(|p| format!("{p:.2}"))
                .unwrap_or("?".into()),
            estimate(&row.pooled),
            format!("{:.0}", row.latency_p50_ms),
        ]);
    }
    table
}

/// Each step's score change, and whether the whole ladder and each step raise the score.
fn score_steps(summary: &Summary, cells: &[Cell], models: &[String]) -> (Table, Vec<String>) {
    let mut steps = Table {
        title: "Each step up the ladder (paired on the same items)".into(),
        header: ["from", "to", "score change"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    let mut flat = Vec::new();
    for pair in models.windows(2) {
        let c = step(summary, cells, &pair[0], &pair[1]);
        steps
            .rows
            .push(vec![pair[0].clone(), pair[1].clone(), difference_text(&c)]);
        if !(c.p_value < ALPHA && c.difference.value > 0.0) {
            flat.push(format!(
                "{} → {} ({})",
                pair[0],
                pair[1],
                difference_text(&c)
            ));
        }
    }
    if models.len() < 2 {
        return (
            steps,
            vec!["The ladder needs at least two models; nothing to conclude.".into()],
        );
    }
    let (first, last) = (&models[0], &models[models.len() - 1]);
    let c = step(summary, cells, first, last);
    let mut conclusions = vec![format!(
        "Scores, smallest to largest ({first} → {last}): {} — {}{}.",
        difference_text(&c),
        verdict(&c),
        if c.p_value < ALPHA && c.difference.value > 0.0 {
            "; supported"
        } else {
            ""
        }
    )];
    conclusions.push(if flat.is_empty() {
        format!(
            "Every step up the ladder ({}) raises the score significantly: no flattening within this range.",
            models.join(" → ")
        )
    } else {
        format!(
            "Steps this sample cannot separate (flat, or too few items to tell): {}.",
            flat.join("; ")
        )
    });
    (steps, conclusions)
}

/// Each step's latency ratio on the same items with its paired interval: a step "rises" only
/// when the whole interval is above 1. No verdict when the rows ran under different load.
fn latency_steps(summary: &Summary, cells: &[Cell], models: &[String]) -> (Table, Option<String>) {
    let mut table = Table {
        title: "Latency of each step up the ladder (mean latency ratio on the same items, paired bootstrap 95% CI)".into(),
        header: ["from", "to", "larger ÷ smaller"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    let loads: Vec<_> = models
        .iter()
        .filter_map(|m| summary.rows.iter().find(|r| r.model == *m))
        .map(|r| r.load)
        .collect();
    if loads.len() < 2 {
        return (table, None);
    }
    let unreliable = loads
        .iter()
        .enumerate()
        .flat_map(|(i, a)| loads[i + 1..].iter().map(move |b| comparable(a, b)))
        .find_map(Result::err);
    if let Some(why) = unreliable {
        return (table, Some(format!(
            "Latency along the ladder is {why}: no verdict on latency (rerun on a quiet machine, e.g. with --quiet-machine)."
        )));
    }
    let mut rises = Vec::new();
    for pair in models.windows(2) {
        let strategy = strategy_of(summary, &pair[0]);
        let (big, small) = paired(
            &latencies_of(cells, &pair[1], &strategy),
            &latencies_of(cells, &pair[0], &strategy),
        );
        let ratio = stats::share_of_reference(&big, &small);
        table.rows.push(vec![
            pair[0].clone(),
            pair[1].clone(),
            format!(
                "{:.2}x [{:.2}, {:.2}] n={}",
                ratio.value, ratio.low, ratio.high, ratio.n
            ),
        ]);
        rises.push((pair, ratio));
    }
    let all: Vec<String> = rises
        .iter()
        .map(|(pair, r)| {
            format!(
                "{} → {} {:.2}x [{:.2}, {:.2}]",
                pair[0], pair[1], r.value, r.low, r.high
            )
        })
        .collect();
    let verdict = if rises.iter().all(|(_, r)| r.low > 1.0) {
        format!(
            "Supported for latency: every step up the ladder is slower, with the whole 95% interval of its mean latency ratio (same items, paired bootstrap) above 1: {}.",
            all.join("; ")
        )
    } else if rises.iter().any(|(_, r)| r.high < 1.0) {
        format!(
            "Not supported for latency: at least one step up the ladder is faster, its whole interval below 1: {}.",
            all.join("; ")
        )
    } else {
        format!(
            "Latency: not settled at this sample size; some step's interval includes 1 (no difference): {}.",
            all.join("; ")
        )
    };
    (table, Some(verdict))
}
