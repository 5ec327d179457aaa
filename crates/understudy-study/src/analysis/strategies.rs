//! strategies: which strategy gives the best mean F1 on a classification task, whether few-shot
//! beats the others on the same items, and what chain-of-thought costs in time and accuracy.

use super::{difference_text, models_by_size, paired, report_charts, scores, verdict, ALPHA};
use understudy_report::report::aggregates::{CotCost, Extras};
use understudy_report::report::charts::Chart;
use understudy_report::report::tables::{estimate, pct, Table};
use understudy_report::stats;
use understudy_report::summary::{Row, Summary, TaskScore};
use understudy_store::Cell;

/// One paired test of few-shot:3 against another strategy; the page's tests are one family,
/// Holm-corrected together.
struct FewTest {
    model: String,
    task: String,
    other: String,
    comparison: stats::Comparison,
}

/// What one model on one task contributes: its table rows, its few-shot tests, and its best
/// strategy with the line naming it.
struct Survey {
    rows: Vec<Vec<String>>,
    tests: Vec<FewTest>,
    best: Option<(String, String)>,
}

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
    let mut few_tests: Vec<FewTest> = Vec::new();
    let mut bests: Vec<(String, String, String)> = Vec::new(); // model, task, line
    let mut few_best = 0;
    for model in models_by_size(summary) {
        let rows: Vec<&Row> = summary.rows.iter().filter(|r| r.model == model).collect();
        let tasks: Vec<String> = rows
            .first()
            .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
            .unwrap_or_default();
        for task in &tasks {
            let survey = survey(&model, task, &rows, cells);
            table.rows.extend(survey.rows);
            few_tests.extend(survey.tests);
            if let Some((strategy, line)) = survey.best {
                few_best += usize::from(strategy == "few-shot:3");
                bests.push((model.clone(), task.clone(), line));
            }
        }
    }
    let adjusted = stats::holm(
        &few_tests
            .iter()
            .map(|t| t.comparison.p_upper())
            .collect::<Vec<_>>(),
    );
    let mut conclusions: Vec<String> = bests
        .iter()
        .map(|(model, task, line)| best_conclusion(line, model, task, &few_tests, &adjusted))
        .collect();
    if !bests.is_empty() {
        conclusions.insert(
            0,
            format!(
                "Few-shot has the highest macro-F1 for {few_best} of {} model/task pairs (point estimates). Whether few-shot:3 beats each other strategy is decided by the {} paired tests below, Holm-corrected as one family.",
                bests.len(),
                few_tests.len()
            ),
        );
    }
    let tests = few_shot_table(&few_tests, &adjusted);
    let (cot, cot_lines) = cot_section(&extras.cot_cost);
    conclusions.extend(cot_lines);
    let charts = report_charts(summary, extras, &["quality-latency", "cot"]);
    (conclusions, vec![table, tests, cot], charts)
}

/// One model on one task: a table row per strategy, few-shot:3 tested against each other
/// strategy, and the strategy with the highest macro-F1.
fn survey(model: &str, task: &str, rows: &[&Row], cells: &[Cell]) -> Survey {
    let mut table_rows = Vec::new();
    let mut best_f1: Option<(&str, &TaskScore)> = None;
    let mut best_accuracy: Option<(&str, &TaskScore)> = None;
    for row in rows {
        let Some(t) = row.tasks.iter().find(|t| t.task == task) else {
            continue;
        };
        table_rows.push(strategy_row(model, task, &row.strategy, t));
        let f1 = t.macro_f1.unwrap_or(t.accuracy.value);
        if best_f1.is_none_or(|(_, b)| f1 > b.macro_f1.unwrap_or(b.accuracy.value)) {
            best_f1 = Some((&row.strategy, t));
        }
        if best_accuracy.is_none_or(|(_, b)| t.accuracy.value > b.accuracy.value) {
            best_accuracy = Some((&row.strategy, t));
        }
    }
    let few = scores(cells, model, "few-shot:3", None, Some(task));
    let tests = if few.is_empty() {
        Vec::new()
    } else {
        rows.iter()
            .filter(|r| r.strategy != "few-shot:3")
            .map(|row| {
                let other = scores(cells, model, &row.strategy, None, Some(task));
                let (a, b) = paired(&few, &other);
                FewTest {
                    model: model.to_string(),
                    task: task.to_string(),
                    other: row.strategy.clone(),
                    comparison: stats::compare(&a, &b),
                }
            })
            .collect()
    };
    let best = best_f1
        .zip(best_accuracy)
        .map(|(f1, accuracy)| (f1.0.to_string(), best_line(model, task, f1, accuracy)));
    Survey {
        rows: table_rows,
        tests,
        best,
    }
}

fn strategy_row(model: &str, task: &str, strategy: &str, t: &TaskScore) -> Vec<String> {
    vec![
        model.to_string(),
        task.to_string(),
        strategy.to_string(),
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
    ]
}

/// "MODEL on TASK: highest macro-F1 under STRATEGY (…)", with its accuracy and baseline.
fn best_line(
    model: &str,
    task: &str,
    (name, t): (&str, &TaskScore),
    (acc_name, acc): (&str, &TaskScore),
) -> String {
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
    format!(
        "{model} on {task}: highest macro-F1 under {name} ({}; {accuracy_note}; {} format failures){baseline_note}",
        t.macro_f1.map(pct).unwrap_or_else(|| "no labels".into()),
        t.format_failures
    )
}

/// The best-strategy line with the verdict of its few-shot tests (Holm-adjusted).
fn best_conclusion(
    line: &str,
    model: &str,
    task: &str,
    few_tests: &[FewTest],
    adjusted: &[f64],
) -> String {
    let mine: Vec<(&FewTest, f64)> = few_tests
        .iter()
        .zip(adjusted.iter().copied())
        .filter(|(t, _)| t.model == model && t.task == task)
        .collect();
    let beaten_all = !mine.is_empty()
        && mine
            .iter()
            .all(|(t, p)| *p < ALPHA && t.comparison.difference.value > 0.0);
    format!(
        "{line}{}.",
        if mine.is_empty() {
            ""
        } else if beaten_all {
            "; few-shot:3 beats every other strategy significantly (Holm-adjusted)"
        } else {
            "; few-shot:3 is not significantly better than every other strategy (Holm-adjusted)"
        }
    )
}

fn few_shot_table(few_tests: &[FewTest], adjusted: &[f64]) -> Table {
    Table {
        title: "few-shot:3 against each other strategy (paired on the same items)".into(),
        header: ["model", "task", "few-shot:3 − strategy"]
            .map(String::from)
            .to_vec(),
        rows: few_tests
            .iter()
            .zip(adjusted)
            .map(|(t, p_holm)| {
                vec![
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
                ]
            })
            .collect(),
    }
}

/// The chain-of-thought cost table and one conclusion per model and task.
fn cot_section(costs: &[CotCost]) -> (Table, Vec<String>) {
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
    let mut conclusions = Vec::new();
    // The accuracy changes are one family across models and tasks: Holm-corrected.
    let p: Vec<f64> = costs.iter().map(|c| c.change.p_value).collect();
    let family = p.len();
    for (c, p_holm) in costs.iter().zip(stats::holm(&p)) {
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
        conclusions.push(cot_conclusion(c, p_holm, family));
    }
    (cot, conclusions)
}

/// Whether an accuracy change holds after Holm's correction over `family` tests, in words.
fn holm_verdict(p_holm: f64, family: usize) -> String {
    format!(
        "{}, Holm-adjusted over {family} tests: {}",
        if p_holm < ALPHA {
            "significant"
        } else {
            "not significant at this sample size"
        },
        stats::p_text(p_holm, "holm")
    )
}

fn cot_conclusion(c: &CotCost, p_holm: f64, family: usize) -> String {
    if let Some(why) = &c.unreliable {
        return format!(
            "{} on {}: cot's slowdown is {why}; no verdict on the report's 2-5x. It changes accuracy by {:+.1} pp ({}).",
            c.model,
            c.task,
            c.change.difference.value * 100.0,
            holm_verdict(p_holm, family)
        );
    }
    let r = &c.mean_latency_ratio;
    let range = if r.low >= 2.0 && r.high <= 5.0 {
        "the whole interval is within the report's 2-5x"
    } else if r.high < 2.0 || r.low > 5.0 {
        "the whole interval is outside the report's 2-5x"
    } else {
        "the interval overlaps the report's 2-5x without lying inside it: not settled at this sample size"
    };
    format!(
        "{} on {}: cot takes {:.1}x the time of zero-shot [{:.1}, {:.1}] (mean latency ratio on the same freshly timed items, {}, n = {}) — {range}; it changes accuracy by {:+.1} pp ({}).",
        c.model,
        c.task,
        r.value,
        r.low,
        r.high,
        r.method,
        r.n,
        c.change.difference.value * 100.0,
        holm_verdict(p_holm, family)
    )
}
