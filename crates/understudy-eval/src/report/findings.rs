//! Findings in words, generated from the numbers and stated only where a test supports them
//! (paired comparisons with p < 0.05; latency ratios whose 95% CI excludes 1).

use super::aggregates::Extras;
use crate::summary::Summary;

/// Significance level for a finding.
pub const ALPHA: f64 = 0.05;

fn pp(x: f64) -> String {
    format!("{:+.1} pp", x * 100.0)
}

/// The findings, most useful first.
pub fn findings(summary: &Summary, extras: &Extras) -> Vec<String> {
    let mut out = Vec::new();
    // The conditions come first: every latency below is read in their light.
    let load = summary.load_line();
    let flagged = summary.rows.iter().any(|r| r.load.flagged());
    for c in &summary.comparisons {
        let d = &c.comparison.difference;
        if c.comparison.p_value < ALPHA && d.value != 0.0 {
            let verb = if d.value > 0.0 { "beats" } else { "trails" };
            out.push(format!(
                "{} {verb} {} on {} by {} [{}, {}], p = {:.3} ({}, n = {})",
                c.a,
                c.b,
                c.task,
                pp(d.value),
                pp(d.low),
                pp(d.high),
                c.comparison.p_value,
                c.comparison.test,
                d.n
            ));
        }
    }
    for c in &extras.cot_cost {
        let r = &c.mean_latency_ratio;
        if let Some(why) = &c.unreliable {
            out.push(format!(
                "cot vs zero-shot latency for {} ({} prompts) on {}: {why}; no verdict on its cost",
                c.model, c.format, c.task
            ));
            continue;
        }
        if r.low > 1.0 || r.high < 1.0 {
            let d = &c.change.difference;
            let effect = if c.change.p_value < ALPHA {
                format!(
                    "and changes the score by {} [{}, {}], p = {:.3}",
                    pp(d.value),
                    pp(d.low),
                    pp(d.high),
                    c.change.p_value
                )
            } else {
                format!(
                    "and does not significantly change the score ({} [{}, {}], p = {:.2})",
                    pp(d.value),
                    pp(d.low),
                    pp(d.high),
                    c.change.p_value
                )
            };
            out.push(format!(
                "cot takes {:.1}x the time of zero-shot for {} ({} prompts) on {} [{:.1}, {:.1}] (mean latency ratio, paired bootstrap, n = {}) {effect}",
                r.value, c.model, c.format, c.task, r.low, r.high, r.n
            ));
        }
    }
    if out.is_empty() {
        out.push("No difference in this run is statistically significant at p < 0.05; with few items per cell the intervals are wide (use --limit for more).".into());
    }
    if flagged || summary.load.measured > 0 {
        out.insert(0, load);
    }
    out
}
