//! size-ladder: score and latency against parameter count, and where the curve flattens (the
//! first step up the ladder whose gain is not significant).

use super::{difference_text, models_by_size, paired, report_charts, scores, verdict, ALPHA};
use crate::report::aggregates::{params_billion, Extras};
use crate::report::charts::Chart;
use crate::report::tables::{estimate, Table};
use crate::stats;
use crate::store::Cell;
use crate::summary::Summary;

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let models = models_by_size(summary);
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
    let mut latencies = Vec::new();
    for model in &models {
        let Some(row) = summary.rows.iter().find(|r| r.model == *model) else {
            continue;
        };
        latencies.push(row.latency_p50_ms);
        table.rows.push(vec![
            model.clone(),
            params_billion(model)
                .map(|p| format!("{p:.2}"))
                .unwrap_or("?".into()),
            estimate(&row.pooled),
            format!("{:.0}", row.latency_p50_ms),
        ]);
    }
    let mut steps = Table {
        title: "Each step up the ladder (paired on the same items)".into(),
        header: ["from", "to", "score change"].map(String::from).to_vec(),
        rows: Vec::new(),
    };
    let mut conclusions = Vec::new();
    let mut flattened = None;
    let mut all_up = true;
    for pair in models.windows(2) {
        let strategy = summary
            .rows
            .iter()
            .find(|r| r.model == pair[0])
            .map(|r| r.strategy.clone())
            .unwrap_or_default();
        let (big, small) = paired(
            &scores(cells, &pair[1], &strategy, None, None),
            &scores(cells, &pair[0], &strategy, None, None),
        );
        let c = stats::compare(&big, &small);
        steps
            .rows
            .push(vec![pair[0].clone(), pair[1].clone(), difference_text(&c)]);
        if !(c.p_value < ALPHA && c.difference.value > 0.0) {
            all_up = false;
            flattened.get_or_insert((pair[0].clone(), pair[1].clone(), c));
        }
    }
    if models.len() < 2 {
        conclusions.push("The ladder needs at least two models; nothing to conclude.".into());
    } else if all_up {
        conclusions.push(format!(
            "Supported for scores: every step up the ladder ({}) raises the score significantly (p < {ALPHA}).",
            models.join(" → ")
        ));
    } else if let Some((a, b, c)) = &flattened {
        conclusions.push(format!(
            "The curve flattens (or this sample cannot separate the rungs) from {a} to {b}: {} — {}.",
            difference_text(c),
            verdict(c)
        ));
    }
    if latencies.len() >= 2 {
        let rising = latencies.windows(2).all(|w| w[1] > w[0]);
        let ratio = latencies[latencies.len() - 1] / latencies[0];
        conclusions.push(if rising {
            format!(
                "Supported for latency: median latency rises at every step; the largest model is {ratio:.1}x slower than the smallest."
            )
        } else {
            format!(
                "Not supported for latency: median latency does not rise at every step (largest ÷ smallest = {ratio:.1}x)."
            )
        });
    }
    let charts = report_charts(summary, extras, &["ladder"]);
    (conclusions, vec![table, steps], charts)
}
