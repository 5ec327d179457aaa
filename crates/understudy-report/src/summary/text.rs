//! The summary as plain text for `understudy show`: the table, the baselines, shares, label
//! metrics, task metrics and paired comparisons. A pure function; printing is the CLI's job.

use super::{Row, Summary, TaskScore};
use crate::metrics;

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.0}", x * 100.0)
    } else {
        "-".into()
    }
}

/// One line per row and task with a baseline: the score beside chance and majority, the test,
/// and the answers given.
pub fn baseline_lines(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    let mut without: Vec<&str> = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            let Some(b) = &t.baseline else {
                if t.accuracy.n > 0 && !without.contains(&t.task.as_str()) {
                    without.push(&t.task);
                }
                continue;
            };
            let single = t
                .answers
                .single_line()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            lines.push(format!(
                "  {} {} {} · {}: {}% vs {} — {}; answers: {}{single}",
                r.model,
                r.strategy,
                r.format,
                t.task,
                pct(t.accuracy.value),
                b.describe(),
                b.verdict(),
                t.answers.describe(6)
            ));
        }
    }
    for task in without {
        lines.push(format!(
            "  {task}: no baseline — its answers are free-form (numbers, text or code), where no constant answer is a fair guess"
        ));
    }
    lines
}

/// The summary as a plain-text table.
pub fn render_text(summary: &Summary) -> String {
    let mut out = preamble(summary);
    out.push_str(&table(summary));
    out.push_str(&summary.load_line());
    out.push('\n');
    if summary.samples > 1 {
        out.push_str(&format!(
            "{} samples per item: n counts problems (each the mean of its samples), and intervals and tests resample problems\n",
            summary.samples
        ));
    }
    section(&mut out, "baselines fixed before scoring († in the table: not above them). Chance = 1/labels or 1/options; majority = the most common label of the task's unscored few-shot pool; the test is one-sided against the larger:", baseline_lines(summary));
    section(&mut out, "share of reference (95% CI: Tang's score interval for 0/1 scores, BCa bootstrap otherwise; given only where the reference is above its baseline):", share_lines(summary));
    section(&mut out, "cost per 1,000 answers (tokens per answer; dollars at the configured [models.NAME] price_in/price_out per million tokens; CPU-seconds = inference threads × wall time ÷ sequences run together, over cells produced on this machine in this run):", cost_lines(summary));
    section(&mut out, "label tasks:", label_lines(summary));
    section(&mut out, "task metrics:", metric_lines(summary));
    section(
        &mut out,
        "paired comparisons on the same items (A − B, percentage points):",
        comparison_lines(summary),
    );
    // Which latencies are not fresh, cold or alone: response cache, KV prefix cache, cells at once.
    out.push_str(&format!("\n{}\n", summary.measurement_line()));
    // Last, so that it is what the terminal shows when a run ends.
    out.push('\n');
    out.push_str(&super::headline::render(&super::headline::headline(
        summary,
    )));
    out
}

/// A titled block of lines after a blank line; nothing when there are no lines.
fn section(out: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(title);
    out.push('\n');
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The run, the reference and how to read the scores.
fn preamble(summary: &Summary) -> String {
    let run = &summary.run;
    let mut out = format!(
        "run {} · {} · {} cells · created {}\n",
        run.id, run.status, run.cells, run.created_at
    );
    if let Some(r) = &summary.reference {
        out.push_str(&format!(
            "reference: {r} (share of reference = score ÷ reference score on the same items)\n"
        ));
    } else {
        out.push_str("no reference model: scores are against the gold answers\n");
    }
    out.push_str(
        "scores are mean item scores in % (correct answers; pass@1, ROUGE-L, judge rating / 10 for those tasks) with a 95% CI [low–high] (Clopper–Pearson for 0/1 scores, BCa bootstrap otherwise) and n; FF = format failures; GF = items whose own grader failed (left out of n, listed below)\n\n",
    );
    out
}

/// The table: one line per row, one column per task, then latency and output length.
fn table(summary: &Summary) -> String {
    let tasks: Vec<String> = summary
        .rows
        .first()
        .map(|r| r.tasks.iter().map(|t| t.task.clone()).collect())
        .unwrap_or_default();
    let mut header = format!("{:<26} {:<20} {:<8}", "model", "strategy", "format");
    for t in &tasks {
        header.push_str(&format!(" │ {:<34}", t));
    }
    header.push_str(" │ p50 ms  p95 ms  TTFT ms  out tok");
    let mut out = format!("{header}\n{}\n", "─".repeat(header.chars().count()));
    for row in &summary.rows {
        out.push_str(&row_line(row, &tasks));
        out.push('\n');
    }
    out
}

/// One row of the table.
fn row_line(row: &Row, tasks: &[String]) -> String {
    let mut name = if row.is_reference {
        format!("{} (ref)", row.model)
    } else {
        row.model.clone()
    };
    if row.tasks.iter().any(|t| t.cached > 0) {
        name.push_str(" (c)");
    }
    let mut line = format!("{:<26} {:<20} {:<8}", name, row.strategy, row.format);
    for t in tasks {
        let cell = match row.tasks.iter().find(|s| &s.task == t) {
            Some(s) => score_cell(s),
            None => "-".to_string(),
        };
        line.push_str(&format!(" │ {:<34}", cell));
    }
    line.push_str(&format!(
        " │ {:>6.0}{} {:>6.0}  {:>7.0}  {:>7.1}",
        row.latency_p50_ms,
        if row.load.flagged() { "*" } else { " " },
        row.latency_p95_ms,
        row.ttft_p50_ms,
        row.output_tokens_mean
    ));
    line
}

/// A task's cell in the table: score, interval, n, format failures, share of reference.
fn score_cell(s: &TaskScore) -> String {
    let a = &s.accuracy;
    let share = match (&s.share_of_reference, &s.share_not_meaningful) {
        (Some(e), _) if !e.value.is_finite() => " ref undefined".to_string(),
        (Some(e), _) => format!(" ref {}%", pct(e.value)),
        (None, Some(_)) => " ref n/m".to_string(),
        (None, None) => String::new(),
    };
    let below = if s.baseline.as_ref().is_some_and(|b| !b.test.above) {
        "†"
    } else {
        ""
    };
    let stopped = if s.stopped_by_rule {
        " (stopped by --until-ci)"
    } else {
        ""
    };
    let grader_failed = match s.grader_failures.len() {
        0 => String::new(),
        n => format!(" GF={n}"),
    };
    format!(
        "{}%{below} [{}–{}] n={}{stopped} FF={}{grader_failed}{}",
        pct(a.value),
        pct(a.low),
        pct(a.high),
        a.n,
        s.format_failures,
        share
    )
}

/// Share of reference per row and task, with the share of the reference's lead kept.
fn cost_lines(summary: &Summary) -> Vec<String> {
    summary
        .rows
        .iter()
        .map(|r| {
            format!(
                "  {} {} {}: {} · {}",
                r.model,
                r.strategy,
                r.format,
                r.cost.per_1000_text(),
                r.cost.tokens_text()
            )
        })
        .collect()
}

fn share_lines(summary: &Summary) -> Vec<String> {
    summary
        .rows
        .iter()
        .flat_map(|r| {
            r.tasks.iter().filter_map(move |t| {
                let head = format!("  {} {} {} · {}: ", r.model, r.strategy, r.format, t.task);
                if let Some(why) = &t.share_not_meaningful {
                    return Some(format!("{head}share of reference {why}"));
                }
                t.share_of_reference.map(|e| {
                    if !e.value.is_finite() && e.n > 0 {
                        // A gate on it fails (junit): an undefined share is no pass.
                        return format!(
                            "{head}share of reference undefined: the reference scores 0 on these {} items",
                            e.n
                        );
                    }
                    let adjusted = t
                        .share_above_baseline
                        .map(|a| {
                            format!(
                                " · keeps {}% [{}–{}] of the reference's lead over the baseline",
                                pct(a.value),
                                pct(a.low),
                                pct(a.high)
                            )
                        })
                        .unwrap_or_default();
                    format!(
                        "{head}{}% of reference [{}–{}] (n={}){adjusted}",
                        pct(e.value),
                        pct(e.low),
                        pct(e.high),
                        e.n
                    )
                })
            })
        })
        .collect()
}

/// Macro-F1 and per-class precision and recall for label tasks.
fn label_lines(summary: &Summary) -> Vec<String> {
    summary
        .rows
        .iter()
        .flat_map(|r| {
            r.tasks.iter().filter_map(move |t| {
                t.macro_f1.map(|f| {
                    let classes: Vec<String> = t
                        .classes
                        .iter()
                        .map(|c| {
                            format!(
                                "{} P {:.2} R {:.2} F1 {:.2} (n={})",
                                c.label, c.precision, c.recall, c.f1, c.support
                            )
                        })
                        .collect();
                    format!(
                        "  {} {} {} · {}: accuracy {}% · macro-F1 {:.2} · {}",
                        r.model,
                        r.strategy,
                        r.format,
                        t.task,
                        pct(t.accuracy.value),
                        f,
                        classes.join(" · ")
                    )
                })
            })
        })
        .collect()
}

/// Each task's own metrics (ratings, ROUGE, pass rates), how graded scores spread, and the
/// items left ungraded (with why, for a failed grader).
fn metric_lines(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &summary.rows {
        for t in r
            .tasks
            .iter()
            .filter(|t| !t.metrics.is_empty() || t.ungraded > 0 || t.score_spread.is_some())
        {
            lines.push(format!(
                "  {} {} {} · {}:",
                r.model, r.strategy, r.format, t.task
            ));
            for m in &t.metrics {
                lines.push(format!("    {}: {}", m.name, metric_value(m)));
            }
            if let Some(spread) = &t.score_spread {
                lines.push(format!("    score distribution: {}", spread.render()));
            }
            let judge_failed = t.ungraded - t.grader_failures.len();
            if judge_failed > 0 {
                lines.push(format!(
                    "    ungraded (judge failed twice, left out of the score): {judge_failed}"
                ));
            }
            if !t.grader_failures.is_empty() {
                lines.push(format!(
                    "    grader failures (left out of the score, not the model's fault): {}",
                    t.grader_failures.len()
                ));
                for f in &t.grader_failures {
                    lines.push(format!("      {}", f.render()));
                }
            }
        }
    }
    lines
}

/// A metric's estimate in its unit, or why there is none.
fn metric_value(m: &metrics::Metric) -> String {
    match (&m.estimate, m.unit) {
        (Some(e), metrics::Unit::Rating) => {
            format!("{:.2} [{:.2}–{:.2}] n={}", e.value, e.low, e.high, e.n)
        }
        (Some(e), metrics::Unit::Score) => {
            format!("{:.3} [{:.3}–{:.3}] n={}", e.value, e.low, e.high, e.n)
        }
        (Some(e), metrics::Unit::Share) => format!(
            "{}% [{}–{}] n={}",
            pct(e.value),
            pct(e.low),
            pct(e.high),
            e.n
        ),
        (None, _) => m.note.clone(),
    }
}

/// Paired differences between rows on the same items.
fn comparison_lines(summary: &Summary) -> Vec<String> {
    summary
        .comparisons
        .iter()
        .map(|c| {
            let d = &c.comparison.difference;
            format!(
                "  {} · {} − {} = {:+.0} pp [{:+.0}, {:+.0}], {} ({}, n={})",
                c.task,
                c.a,
                c.b,
                d.value * 100.0,
                d.low * 100.0,
                d.high * 100.0,
                c.comparison.p_text(),
                c.comparison.test,
                d.n
            )
        })
        .collect()
}
