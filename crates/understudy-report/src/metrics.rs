//! Task-specific metrics read from the cells' detail records: pass@1 and sandbox outcomes for
//! code, IFEval's four accuracies, ROUGE-1/2/L with lengths, judge ratings per category with the
//! judge's failure rate. Each figure carries its sample size and, where it is a mean, a 95% CI.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::stats;
use understudy_store::Cell;

use crate::metric::by_problem;
pub use crate::metric::{Metric, Unit};

/// A cell's detail record, if any.
pub fn detail(cell: &Cell) -> Option<Value> {
    cell.detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
}

/// Whether the cell was graded by a scorer with its own record (code, IFEval, ROUGE, judge)
/// rather than read as a label, letter or number.
pub fn open_ended(cell: &Cell) -> bool {
    detail(cell).is_some_and(|d| {
        [
            "outcome",
            "instructions",
            "rougeL",
            "ratings",
            "grader",
            "structured",
            "reference_kind",
        ]
        .iter()
        .any(|k| d.get(k).is_some())
    })
}

/// Whether the cell has no usable grade (left out of means, counted apart).
pub fn ungraded(cell: &Cell) -> bool {
    cell.ungraded()
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The metrics for one task's cells in one row; empty for tasks without detail records.
/// `samples` is how many samples the run drew per item (their ids are `ID#i` when above one).
pub fn task_metrics(cells: &[&Cell], samples: usize) -> Vec<Metric> {
    let details: Vec<Value> = cells.iter().filter_map(|c| detail(c)).collect();
    // Each detail's problem, so figures with several values per problem resample problems.
    let problems: Vec<String> = cells
        .iter()
        .filter(|c| detail(c).is_some())
        .map(|c| understudy_tasks::ids::problem_id(&c.item_id, samples).to_string())
        .collect();
    let mut out = Vec::new();
    let truncated = details
        .iter()
        .filter(|d| d["truncated"] == Value::Bool(true))
        .count();
    if details.iter().any(|d| d.get("outcome").is_some()) {
        out.extend(code_metrics(cells, samples, &details));
    }
    if details.iter().any(|d| d.get("instructions").is_some()) {
        out.extend(ifeval_metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("rougeL").is_some()) {
        out.extend(rouge_metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("ratings").is_some()) {
        out.extend(judge_metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("structured").is_some()) {
        out.extend(crate::structured_metrics::metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("reference_kind").is_some()) {
        out.extend(crate::reference_metrics::metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("cascade").is_some()) {
        out.extend(cascade_metrics(&details, &problems));
    }
    if details.iter().any(|d| d.get("map_reduce").is_some()) {
        out.extend(map_reduce_metrics(&details));
    }
    if truncated > 0 {
        out.push(Metric::note(
            "truncated inputs",
            format!(
                "{truncated} of {} items were cut to the task's max_input_chars",
                cells.len()
            ),
        ));
    }
    out
}

/// Pass@k and sandbox outcomes for code tasks.
fn code_metrics(cells: &[&Cell], samples: usize, details: &[Value]) -> Vec<Metric> {
    let mut out = Vec::new();
    // Samples of one problem are stored as `ID#i`; pass@k is averaged over problems.
    let mut problems: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in cells {
        let base = understudy_tasks::ids::problem_id(&c.item_id, samples);
        let entry = problems.entry(base).or_default();
        entry.0 += 1;
        entry.1 += usize::from(c.score >= 1.0);
    }
    let fewest = problems.values().map(|(n, _)| *n).min().unwrap_or(0);
    for k in [1, 5, 10, 100]
        .into_iter()
        .filter(|k| *k == 1 || *k <= fewest)
    {
        let values: Vec<f64> = problems
            .values()
            .map(|(n, c)| stats::pass_at_k(*n, *c, k))
            .collect();
        let mut metric = Metric::mean(&format!("pass@{k}"), Unit::Share, &values);
        if fewest > 1 {
            metric.note = format!("{fewest} samples per problem");
        }
        out.push(metric);
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for d in details {
        if let Some(o) = d["outcome"].as_str() {
            *outcomes.entry(o.to_string()).or_default() += 1;
        }
    }
    let text: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.push(Metric::note("sandbox outcomes", text.join(", ")));

    out
}

/// IFEval's prompt- and instruction-level accuracies, strict and loose.
fn ifeval_metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut prompt_strict = Vec::new();
    let mut prompt_loose = Vec::new();
    let mut inst_strict = Vec::new();
    let mut inst_loose = Vec::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    for (k, d) in details.iter().enumerate() {
        prompt_strict.push((k, flag(d["prompt_strict"] == Value::Bool(true))));
        prompt_loose.push((k, flag(d["prompt_loose"] == Value::Bool(true))));
        for i in d["instructions"].as_array().into_iter().flatten() {
            inst_strict.push((k, flag(i["strict"] == Value::Bool(true))));
            inst_loose.push((k, flag(i["loose"] == Value::Bool(true))));
            if let Some(reason) = i["unsupported"].as_str() {
                *unsupported.entry(reason.to_string()).or_default() += 1;
            }
        }
    }
    out.push(Metric::clustered(
        "prompt-level strict",
        Unit::Share,
        &by_problem(problems, prompt_strict.iter().copied()),
    ));
    out.push(Metric::clustered(
        "prompt-level loose",
        Unit::Share,
        &by_problem(problems, prompt_loose.iter().copied()),
    ));
    out.push(Metric::clustered(
        "instruction-level strict",
        Unit::Share,
        &by_problem(problems, inst_strict.iter().copied()),
    ));
    out.push(Metric::clustered(
        "instruction-level loose",
        Unit::Share,
        &by_problem(problems, inst_loose.iter().copied()),
    ));
    if !unsupported.is_empty() {
        let text: Vec<String> = unsupported
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        out.push(Metric::note(
            "unsupported (counted as not followed)",
            text.join("; "),
        ));
    }

    out
}

/// ROUGE-1/2/L and the summaries' length against the reference's.
fn rouge_metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = Vec::new();
    for (key, name) in [
        ("rouge1", "ROUGE-1 F"),
        ("rouge2", "ROUGE-2 F"),
        ("rougeL", "ROUGE-L F"),
    ] {
        let values = details
            .iter()
            .enumerate()
            .filter_map(|(k, d)| Some((k, d[key].as_f64()?)));
        out.push(Metric::clustered(
            name,
            Unit::Score,
            &by_problem(problems, values),
        ));
    }
    let words: Vec<f64> = details.iter().filter_map(|d| d["words"].as_f64()).collect();
    let reference: Vec<f64> = details
        .iter()
        .filter_map(|d| d["reference_words"].as_f64())
        .collect();
    out.push(Metric::note(
        "length",
        format!(
            "mean {:.1} words (reference {:.1})",
            stats::mean(&words),
            stats::mean(&reference)
        ),
    ));

    out
}

/// Judge ratings overall and per category, and how often the judge's reply could not be read.
fn judge_metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut all = Vec::new();
    let mut by_category: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    let (mut turns, mut failed) = (0usize, 0usize);
    for (k, d) in details.iter().enumerate() {
        let category = d["category"].as_str().unwrap_or("").to_string();
        for r in d["ratings"].as_array().into_iter().flatten() {
            turns += 1;
            match r["rating"].as_f64() {
                Some(x) => {
                    all.push((k, x));
                    by_category
                        .entry(category.clone())
                        .or_default()
                        .push((k, x));
                }
                None => failed += 1,
            }
        }
    }
    let clusters = |v: &[(usize, f64)]| by_problem(problems, v.iter().copied());
    out.push(Metric::clustered(
        "judge rating (1-10)",
        Unit::Rating,
        &clusters(&all),
    ));
    for (category, values) in &by_category {
        out.push(Metric::clustered(
            &format!("  {category}"),
            Unit::Rating,
            &clusters(values),
        ));
    }
    out.push(Metric::note(
        "judge parse failures",
        format!(
            "{failed} of {turns} turns ({:.1}%), not counted as zeros",
            100.0 * failed as f64 / turns.max(1) as f64
        ),
    ));

    out
}

/// How often a cascade escalated, who answered, which signals fired.
fn cascade_metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = Vec::new();
    let escalated = details
        .iter()
        .enumerate()
        .filter_map(|(k, d)| Some((k, flag(d["cascade"]["escalated"].as_bool()?))));
    out.push(Metric::clustered(
        "escalated",
        Unit::Share,
        &by_problem(problems, escalated),
    ));
    let mut answered: BTreeMap<String, usize> = BTreeMap::new();
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for d in details {
        if let Some(m) = d["cascade"]["answered_by"].as_str() {
            *answered.entry(m.to_string()).or_default() += 1;
        }
        for step in d["cascade"]["steps"].as_array().into_iter().flatten() {
            for signal in step["fired"].as_array().into_iter().flatten() {
                if let Some(name) = signal.as_str() {
                    *fired.entry(name.to_string()).or_default() += 1;
                }
            }
        }
    }
    let list = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push(Metric::note("answered by", list(&answered)));
    out.push(Metric::note("signals fired", list(&fired)));

    out
}

/// How often map-reduce was applied and into how many chunks.
fn map_reduce_metrics(details: &[Value]) -> Vec<Metric> {
    let mut out = Vec::new();
    let applied: Vec<f64> = details
        .iter()
        .filter_map(|d| d["map_reduce"]["applied"].as_bool())
        .map(flag)
        .collect();
    out.push(Metric::mean("map-reduce applied", Unit::Share, &applied));
    let chunks: Vec<f64> = details
        .iter()
        .filter_map(|d| d["map_reduce"]["chunks"].as_array())
        .filter_map(|levels| levels.first().and_then(|c| c.as_f64()))
        .collect();
    if !chunks.is_empty() {
        out.push(Metric::note(
            "chunks per long input",
            format!("mean {:.1}", stats::mean(&chunks)),
        ));
    }

    out
}
