//! strategies: which strategy gives the best mean F1 on a classification task, whether few-shot
//! beats the others on the same items, and what chain-of-thought costs in time and accuracy.

use super::{difference_text, models_by_size, paired, report_charts, scores, verdict, ALPHA};
use crate::report::aggregates::Extras;
use crate::report::charts::Chart;
use crate::report::tables::{estimate, pct, Table};
use crate::stats;
use crate::summary::Summary;
use understudy_store::Cell;

pub fn analyse(
    summary: &Summary,
    cells: &[Cell],
    extras: &Extras,
) -> (Vec<String>, Vec<Table>, Vec<Chart>) {
    let mut table = Table {
        title: "Strategies per model and task".into(),
        header: [
            "model",
            "task",
            "strategy",
            "accuracy",
            "macro F1",
            "FF",
            "vs baseline",
            "p50 ms",
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
    // The few-shot tests of the whole page are one family, Holm-corrected together.
    struct FewTest {
        model: String,
        task: String,
        other: String,
        comparison: stats::Comparison,
    }
    let mut few_tests: Vec<FewTest> = Vec::new();
    let mut bests: Vec<(String, String, String)> = Vec::new(); // model, task, line
    for model in models_by_size(summary) {
        let rows: Vec<_> = summary.rows.iter().filter(|r| r.model == model).collect();
        let tasks: Vec<String> = rows
            .first()
            .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
            .unwrap_or_default();
        for task in &tasks {
            let mut best_f1: Option<(&str, &crate::summary::TaskScore)> = None;
            let mut best_accuracy: Option<(&str, &crate::summary::TaskScore)> = None;
            for row in &rows {
                let Some(t) = row.tasks.iter().find(|t| t.task == *task) else {
                    continue;
                };
                table.rows.push(vec![
                    model.clone(),
                    task.clone(),
                    row.strategy.clone(),
                    estimate(&t.accuracy),
                    t.macro_f1.map(pct).unwrap_or("–".into()),
                    t.format_failures.to_string(),
                    t.baseline
                        .as_ref()
                        .map(|b| {
                            if b.test.above {
                                "above".to_string()
                            } else {
                                format!("NOT above ({})", b.bar_name)
                            }
                        })
                        .unwrap_or("–".into()),
                    format!("{:.0}", t.latency_p50_ms),
                ]);
                let f1 = t.macro_f1.unwrap_or(t.accuracy.value);
                if best_f1.is_none_or(|(_, b)| f1 > b.macro_f1.unwrap_or(b.accuracy.value)) {
                    best_f1 = Some((&row.strategy, t));
                }
                if best_accuracy.is_none_or(|(_, b)| t.accuracy.value > b.accuracy.value) {
                    best_accuracy = Some((&row.strategy, t));
                }
            }
            let few = scores(cells, &model, "few-shot:3", None, Some(task));
            for row in rows.iter().filter(|r| r.strategy != "few-shot:3") {
                if few.is_empty() {
                    break;
                }
                let other = scores(cells, &model, &row.strategy, None, Some(task));
                let (a, b) = paired(&few, &other);
                few_tests.push(FewTest {
                    model: model.clone(),
                    task: task.clone(),
                    other: row.strategy.clone(),
                    comparison: stats::compare(&a, &b),
                });
            }
            if let (Some((name, t)), Some((acc_name, acc))) = (best_f1, best_accuracy) {
                judged += 1;
                if name == "few-shot:3" {
                    few_best += 1;
                }
                let accuracy_note = if acc_name == name {
                    format!("also the best accuracy, {}", estimate(&t.accuracy))
                } else {
                    format!(
                        "accuracy {}, while the best accuracy is under {acc_name}: {}",
                        estimate(&t.accuracy),
                        estimate(&acc.accuracy)
                    )
                };
                let baseline_note = match &t.baseline {
                    Some(b) if !b.test.above => format!(
                        " — but this row is {}: {}{}",
                        b.verdict(),
                        b.describe(),
                        t.answers
                            .single_line()
                            .map(|s| format!("; it {s}"))
                            .unwrap_or_default()
                    ),
                    Some(b) => format!("; {}", b.verdict()),
                    None => String::new(),
                };
                bests.push((
                    model.clone(),
                    task.clone(),
                    format!(
                        "{model} on {task}: highest macro-F1 under {name} ({}; {accuracy_note}; {} format failures){baseline_note}",
                        t.macro_f1.map(pct).unwrap_or_else(|| "no labels".into()),
                        t.format_failures
                    ),
                ));
            }
        }
    }
    let adjusted = stats::holm(
        &few_tests
            .iter()
            .map(|t| t.comparison.p_upper())
            .collect::<Vec<_>>(),
    );
    for (t, p_holm) in few_tests.iter().zip(&adjusted) {
        tests.rows.push(vec![
            t.model.clone(),
            t.task.clone(),
            format!(
                "vs {}: {} — Holm-adjusted {}: {}",
                t.other,
                difference_text(&t.comparison),
                stats::p_text(*p_holm, "holm"),
                if *p_holm < ALPHA {
                    "significant"
                } else {
                    "not significant at this sample size"
                }
            ),
        ]);
    }
    for (model, task, line) in bests {
        let mine: Vec<(&FewTest, f64)> = few_tests
            .iter()
            .zip(adjusted.iter().copied())
            .filter(|(t, _)| t.model == model && t.task == task)
            .collect();
        let beaten_all = !mine.is_empty()
            && mine
                .iter()
                .all(|(t, p)| *p < ALPHA && t.comparison.difference.value > 0.0);
        conclusions.push(format!(
            "{line}{}.",
            if mine.is_empty() {
                ""
            } else if beaten_all {
                "; few-shot:3 beats every other strategy significantly (Holm-adjusted)"
            } else {
                "; few-shot:3 is not significantly better than every other strategy (Holm-adjusted)"
            }
        ));
    }
    if judged > 0 {
        conclusions.insert(
            0,
            format!(
                "Few-shot has the highest macro-F1 for {few_best} of {judged} model/task pairs (point estimates). Whether few-shot:3 beats each other strategy is decided by the {} paired tests below, Holm-corrected as one family.",
                few_tests.len()
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
        let r = &c.mean_latency_ratio;
        let range = if r.low >= 2.0 && r.high <= 5.0 {
            "the whole interval is within the report's 2-5x"
        } else if r.high < 2.0 || r.low > 5.0 {
            "the whole interval is outside the report's 2-5x"
        } else {
            "the interval overlaps the report's 2-5x without lying inside it: not settled at this sample size"
        };
        conclusions.push(format!(
            "{} on {}: cot takes {:.1}x the time of zero-shot [{:.1}, {:.1}] (mean latency ratio on the same items, paired bootstrap, n = {}) — {range}; it changes accuracy by {:+.1} pp ({}).",
            c.model,
            c.task,
            r.value,
            r.low,
            r.high,
            r.n,
            c.change.difference.value * 100.0,
            verdict(&c.change)
        ));
    }
    let charts = report_charts(summary, extras, &["quality-latency", "cot"]);
    (conclusions, vec![table, tests, cot], charts)
}
