//! Figures for tasks judged against the reference's answers: for text answers the shares of
//! wins, ties and losses (each with its interval), the share at least as good as the reference,
//! the judge's position flips (pairs whose verdict changed with the order, counted as ties),
//! and the win rate raw beside length-controlled; for calls the share that matched.

use serde_json::Value;

use crate::metric::{by_problem, Metric, Unit};
use crate::stats;

pub(crate) fn metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = judged_metrics(details, problems);
    let calls: Vec<(usize, f64)> = details
        .iter()
        .enumerate()
        .filter(|(_, d)| d["reference_kind"] == "calls")
        .map(|(k, d)| (k, f64::from(u8::from(d["vs_reference"] == "win"))))
        .collect();
    if !calls.is_empty() {
        out.push(Metric::clustered(
            "calls matching the reference's",
            Unit::Share,
            &by_problem(problems, calls.into_iter()),
        ));
    }
    let kinds = ["text", "calls", "json"].map(|kind| {
        let n = details
            .iter()
            .filter(|d| d["reference_kind"] == kind)
            .count();
        format!("{n} {kind}")
    });
    out.push(Metric::note("reference answers", kinds.join(", ")));
    out
}

/// Win, tie and loss shares of the judged text answers, the flips, and the win rate raw and
/// length-controlled.
fn judged_metrics(details: &[Value], problems: &[String]) -> Vec<Metric> {
    let mut out = Vec::new();
    let judged: Vec<(usize, &Value)> = details
        .iter()
        .enumerate()
        .filter(|(_, d)| d["reference_kind"] == "text" && d.get("judge").is_some())
        .collect();
    let verdict = |d: &Value| d["vs_reference"].as_str().unwrap_or("").to_string();
    let share = |name: &str, of: &dyn Fn(&Value) -> bool| {
        let values = judged
            .iter()
            .filter(|(_, d)| !verdict(d).is_empty())
            .map(|(k, d)| (*k, f64::from(u8::from(of(d)))));
        Metric::clustered(name, Unit::Share, &by_problem(problems, values))
    };
    if !judged.is_empty() {
        out.push(share("wins over the reference", &|d| verdict(d) == "win"));
        out.push(share("ties with the reference", &|d| verdict(d) == "tie"));
        out.push(share("losses to the reference", &|d| verdict(d) == "loss"));
        out.push(share(
            "at least as good as the reference (win or tie)",
            &|d| verdict(d) != "loss",
        ));
        out.push(share(
            "position flips (judge changed its verdict with the order; counted as ties)",
            &|d| d["position_flip"] == Value::Bool(true),
        ));
        let scored: Vec<(f64, f64)> = judged
            .iter()
            .filter_map(|(_, d)| {
                let score = match verdict(d).as_str() {
                    "win" => 1.0,
                    "tie" => 0.5,
                    "loss" => 0.0,
                    _ => return None,
                };
                let length = |k: &str| d[k].as_f64().unwrap_or(0.0);
                Some((score, length("candidate_chars") - length("reference_chars")))
            })
            .collect();
        let raw: Vec<f64> = scored.iter().map(|(s, _)| *s).collect();
        out.push(Metric::mean(
            "win rate (ties count half), raw",
            Unit::Share,
            &raw,
        ));
        out.push(Metric {
            name: "win rate, length-controlled".into(),
            unit: Unit::Share,
            estimate: Some(stats::length_controlled_win_rate(&scored)),
            note: String::new(),
        });
        let chars = |key: &str| -> f64 { judged.iter().filter_map(|(_, d)| d[key].as_f64()).sum() };
        let (candidate, reference) = (chars("candidate_chars"), chars("reference_chars"));
        if reference > 0.0 {
            out.push(Metric::note(
                "answer length",
                format!(
                    "the candidate's answers are {:.2}× as long as the reference's (characters, all judged items)",
                    candidate / reference
                ),
            ));
        }
    }
    out
}
