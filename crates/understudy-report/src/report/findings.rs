//! Findings in words, generated from the numbers and stated only where a test supports them
//! (rows not above their baseline; paired comparisons with Holm-adjusted p < 0.05; latency
//! ratios whose 95% CI excludes 1).

use super::aggregates::{CotCost, Extras};
use crate::summary::Summary;

pub use crate::stats::ALPHA;

fn pp(x: f64) -> String {
    format!("{:+.1} pp", x * 100.0)
}

/// The findings, most useful first.
pub fn findings(summary: &Summary, extras: &Extras) -> Vec<String> {
    let mut out = Vec::new();
    // The conditions come first: every latency below is read in their light.
    let load = summary.load_line();
    let flagged = summary.rows.iter().any(|r| r.load.flagged());
    // Rows that do not beat guessing come first: every other number of theirs reads in that light.
    out.extend(below_baseline(summary));
    // One family: the run's paired comparisons and every cot-vs-zero-shot score change, so a
    // finding that says "changes the score" clears the same Holm bar as one that says "beats".
    let mut family: Vec<f64> = summary
        .comparisons
        .iter()
        .map(|c| c.comparison.p_upper())
        .collect();
    family.extend(extras.cot_cost.iter().map(|c| c.change.p_upper()));
    let adjusted = crate::stats::holm(&family);
    let (pairs, cot) = adjusted.split_at(summary.comparisons.len());
    out.extend(significant_comparisons(summary, pairs, family.len()));
    out.extend(
        extras
            .cot_cost
            .iter()
            .zip(cot)
            .filter_map(|(c, p)| cot_finding(c, *p, family.len())),
    );
    if out.is_empty() {
        out.push(format!("No difference in this run is statistically significant at p < 0.05 after Holm's correction over its {} tests; with few items per cell the intervals are wide (use --limit for more).", family.len()));
    }
    if flagged || summary.load.measured > 0 {
        out.insert(0, load);
    }
    out
}

/// Rows that do not beat guessing: every other number of theirs reads in that light.
fn below_baseline(summary: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            let Some(b) = t.baseline.as_ref().filter(|b| !b.test.above) else {
                continue;
            };
            let single = t
                .answers
                .single_line()
                .map(|s| format!("; it {s}"))
                .unwrap_or_default();
            out.push(format!(
                "{} {} {} on {}: {} is {} — {}{single}",
                r.model,
                r.strategy,
                r.format,
                t.task,
                super::tables::pct(t.accuracy.value),
                b.verdict(),
                b.describe()
            ));
        }
    }
    out
}

/// Paired comparisons significant after Holm's correction over the run's family (`adjusted`,
/// in the order of the summary's comparisons, out of `family` tests in all).
fn significant_comparisons(summary: &Summary, adjusted: &[f64], family: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (c, p_holm) in summary.comparisons.iter().zip(adjusted) {
        let d = &c.comparison.difference;
        if *p_holm < ALPHA && d.value != 0.0 {
            let verb = if d.value > 0.0 { "beats" } else { "trails" };
            out.push(format!(
                "{} {verb} {} on {} by {} [{}, {}], {} ({}, n = {}; Holm-adjusted over the run's {} tests: {})",
                c.a,
                c.b,
                c.task,
                pp(d.value),
                pp(d.low),
                pp(d.high),
                c.comparison.p_text(),
                c.comparison.test,
                d.n,
                family,
                crate::stats::p_text(*p_holm, "holm")
            ));
        }
    }
    out
}

/// What cot costs against zero-shot, where the latency ratio's interval excludes 1; the score
/// change is called only when its Holm-adjusted p (`p_holm`, over `family` tests) is below α.
fn cot_finding(c: &CotCost, p_holm: f64, family: usize) -> Option<String> {
    let r = &c.mean_latency_ratio;
    if let Some(why) = &c.unreliable {
        return Some(format!(
            "cot vs zero-shot latency for {} ({} prompts) on {}: {why}; no verdict on its cost",
            c.model, c.format, c.task
        ));
    }
    if !(r.low > 1.0 || r.high < 1.0) {
        return None;
    }
    let d = &c.change.difference;
    let holm = format!(
        "Holm-adjusted over the run's {family} tests: {}",
        crate::stats::p_text(p_holm, "holm")
    );
    let effect = if p_holm < ALPHA {
        format!(
            "and changes the score by {} [{}, {}], {}; {holm}",
            pp(d.value),
            pp(d.low),
            pp(d.high),
            c.change.p_text()
        )
    } else {
        format!(
            "and does not significantly change the score ({} [{}, {}], {}; {holm})",
            pp(d.value),
            pp(d.low),
            pp(d.high),
            c.change.p_text()
        )
    };
    Some(format!(
            "cot takes {:.1}x the time of zero-shot for {} ({} prompts) on {} [{:.1}, {:.1}] (mean latency ratio of freshly timed items, {}, n = {}) {effect}",
            r.value, c.model, c.format, c.task, r.low, r.high, r.method, r.n
        ))
}
