//! strategies: which strategy gives the best mean F1 on a classification task, whether few-shot
//! beats the others on the same items, and what chain-of-thought costs in time and accuracy.

use super::{difference_text, models_by_size, paired, report_charts, scores, verdict, ALPHA};
use crate::report::aggregates::Extras;
use crate::report::charts::Chart;
use crate::report::tables::{estimate, pct, Table};
use crate::stats;
use crate::store::Cell;
use crate::summary::Summary;

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let mut table = Table {
        title: "Strategies per model and task".into(),
        header: [
            "model", "task", "strategy", "accuracy", "macro F1", "p50 ms",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut tests = Table {
        title: "few-shot:3 against each other strategy (paired on the same items)".into(),
        header: ["model", "task", "few-shot:3 − strategy"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    let mut conclusions = Vec::new();
    let (mut few_best, mut judged) = (0, 0);
    for model in models_by_size(summary) {
        let rows: Vec<_> = summary.rows.iter().filter(|r| r.model == model).collect();
        let tasks: Vec<String> = rows
            .first()
            .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
            .unwrap_or_default();
        for task in &tasks {
            let mut best: Option<(String, f64)> = None;
            for row in &rows {
                let Some(t) = row.tasks.iter().find(|t| t.task == *task) else {
                    continue;
                };
                let f1 = t.macro_f1.unwrap_or(t.accuracy.value);
                table.rows.push(vec![
                    model.clone(),
                    task.clone(),
                    row.strategy.clone(),
                    estimate(&t.accuracy),
                    t.macro_f1.map(pct).unwrap_or("–".into()),
                    format!("{:.0}", t.latency_p50_ms),
                ]);
                if best.as_ref().is_none_or(|(_, b)| f1 > *b) {
                    best = Some((row.strategy.clone(), f1));
                }
            }
            let few = scores(cells, &model, "few-shot:3", None, Some(task));
            let mut beaten_all = !few.is_empty();
            for row in rows.iter().filter(|r| r.strategy != "few-shot:3") {
                if few.is_empty() {
                    break;
                }
                let other = scores(cells, &model, &row.strategy, None, Some(task));
                let (a, b) = paired(&few, &other);
                let c = stats::compare(&a, &b);
                tests.rows.push(vec![
                    model.clone(),
                    task.clone(),
                    format!(
                        "vs {}: {} — {}",
                        row.strategy,
                        difference_text(&c),
                        verdict(&c)
                    ),
                ]);
                beaten_all &= c.p_value < ALPHA && c.difference.value > 0.0;
            }
            if let Some((name, f1)) = best {
                judged += 1;
                if name == "few-shot:3" {
                    few_best += 1;
                }
                conclusions.push(format!(
                    "{model} on {task}: best mean F1 under {name} ({}){}.",
                    pct(f1),
                    if beaten_all {
                        "; few-shot:3 beats every other strategy significantly"
                    } else if !few.is_empty() {
                        "; few-shot:3 is not significantly better than every other strategy"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    if judged > 0 {
        conclusions.insert(
            0,
            format!(
                "Few-shot best by mean F1 for {few_best} of {judged} model/task pairs (point estimates; see the paired tests for which differences are significant)."
            ),
        );
    }
    let mut cot = Table {
        title: "Chain-of-thought cost (cot vs zero-shot on the same items)".into(),
        header: [
            "model",
            "task",
            "p50 slowdown",
            "mean slowdown [95% CI]",
            "accuracy change",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for c in &extras.cot_cost {
        cot.rows.push(vec![
            c.model.clone(),
            c.task.clone(),
            format!("{:.1}x", c.latency_ratio),
            format!(
                "{:.1}x [{:.1}, {:.1}]",
                c.mean_latency_ratio.value, c.mean_latency_ratio.low, c.mean_latency_ratio.high
            ),
            format!("{} — {}", difference_text(&c.change), verdict(&c.change)),
        ]);
        if let Some(why) = &c.unreliable {
            conclusions.push(format!(
                "{} on {}: cot's slowdown is {why}; no verdict on the report's 2-5x. It changes accuracy by {:+.1} pp ({}).",
                c.model,
                c.task,
                c.change.difference.value * 100.0,
                verdict(&c.change)
            ));
            continue;
        }
        let within = (2.0..=5.0).contains(&c.latency_ratio);
        conclusions.push(format!(
            "{} on {}: cot is {:.1}x slower at the median ({}the report's 2-5x) and changes accuracy by {:+.1} pp ({}).",
            c.model,
            c.task,
            c.latency_ratio,
            if within { "within " } else { "outside " },
            c.change.difference.value * 100.0,
            verdict(&c.change)
        ));
    }
    let charts = report_charts(summary, extras, &["quality-latency", "cot"]);
    (conclusions, vec![table, tests, cot], charts)
}
