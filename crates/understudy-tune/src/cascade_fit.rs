//! Calibrates a light → heavy cascade on the `confidence:T` signal: the threshold is chosen on
//! the calibration half (the lowest mean latency whose share of the heavy model's score meets
//! the target with its CI lower bound), written so that it cuts the calibration items exactly
//! where the simulation cut them, and then measured on the held-out half.

use std::collections::HashMap;

use super::split::{Split, MIN_PER_HALF};
use super::Target;
use understudy_report::metrics;
use understudy_report::stats::{self, Estimate};
use understudy_store::Cell;

/// What a cascade did on one half of the items.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The cascade's own score (the heavy answer where it escalated, else the light one).
    pub score: Estimate,
    pub escalation: Estimate,
    /// Share of the heavy model's score.
    pub share: Estimate,
    pub latency_ms: Estimate,
}

/// A calibrated threshold and what it did on each half.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Escalate when the light answer's mean token log-probability is below this.
    pub threshold: f64,
    pub calibration: Outcome,
    pub held_out: Outcome,
}

/// One item both models answered: light confidence, scores and latencies.
#[derive(Debug, Clone, Copy)]
struct Pair {
    confidence: f64,
    light: f64,
    heavy: f64,
    light_ms: f64,
    heavy_ms: f64,
}

/// The items of one half both rows answered; `None` when a light answer has no confidence.
fn pairs(light: &[&Cell], heavy: &[&Cell], split: &Split, hold: bool) -> Option<Vec<Pair>> {
    let heavy_by: HashMap<&str, &Cell> = heavy.iter().map(|c| (c.item_id.as_str(), *c)).collect();
    let mut out = Vec::new();
    for l in light.iter().filter(|c| split.held_out(&c.item_id) == hold) {
        let Some(h) = heavy_by.get(l.item_id.as_str()) else {
            continue;
        };
        let confidence = metrics::detail(l).and_then(|d| d["mean_logprob"].as_f64())?;
        out.push(Pair {
            confidence,
            light: l.score,
            heavy: h.score,
            light_ms: l.total_ms,
            heavy_ms: h.total_ms,
        });
    }
    Some(out)
}

fn outcome(pairs: &[Pair], threshold: f64) -> Outcome {
    let escalates = |p: &Pair| p.confidence < threshold;
    let quality: Vec<f64> = pairs
        .iter()
        .map(|p| if escalates(p) { p.heavy } else { p.light })
        .collect();
    let heavy: Vec<f64> = pairs.iter().map(|p| p.heavy).collect();
    let latency: Vec<f64> = pairs
        .iter()
        .map(|p| {
            if escalates(p) {
                p.light_ms + p.heavy_ms
            } else {
                p.light_ms
            }
        })
        .collect();
    let escalated: Vec<f64> = pairs
        .iter()
        .map(|p| f64::from(u8::from(escalates(p))))
        .collect();
    Outcome {
        score: stats::mean_interval(&quality),
        escalation: stats::mean_interval(&escalated),
        share: stats::share_of_reference(&quality, &heavy),
        latency_ms: stats::mean_interval(&latency),
    }
}

/// The threshold to write for "escalate below `t`": halfway to the next lower confidence seen,
/// so a served answer a rounding step away from a calibration one is cut the same way.
fn written(t: f64, confidences: &[f64]) -> f64 {
    match confidences
        .iter()
        .copied()
        .filter(|c| *c < t)
        .reduce(f64::max)
    {
        // Neighbouring floats have no midpoint: then `t` itself, which prints and reads back exactly.
        Some(below) => Some(below + (t - below) / 2.0)
            .filter(|mid| *mid > below)
            .unwrap_or(t),
        None => t,
    }
}

/// Why no cascade could be calibrated for a light row.
#[derive(Debug, Clone, PartialEq)]
pub enum NoFit {
    NoConfidence,
    TooFewItems(usize),
    MissesTarget,
}

/// Calibrates light → heavy on the light row's and the heavy row's cells (same program, same
/// items; one sample per item), on the halves of `split`.
pub fn fit(light: &[&Cell], heavy: &[&Cell], split: &Split, target: Target) -> Result<Fit, NoFit> {
    let calibration = pairs(light, heavy, split, false).ok_or(NoFit::NoConfidence)?;
    let held = pairs(light, heavy, split, true).ok_or(NoFit::NoConfidence)?;
    if calibration.len() < MIN_PER_HALF || held.len() < MIN_PER_HALF {
        return Err(NoFit::TooFewItems(calibration.len().min(held.len())));
    }
    let mut confidences: Vec<f64> = calibration.iter().map(|p| p.confidence).collect();
    confidences.sort_by(|a, b| a.total_cmp(b));
    confidences.dedup();
    let mut best: Option<(f64, Outcome)> = None;
    // Escalating everything is the heavy model alone plus a wasted call: never a candidate.
    for &t in &confidences {
        let threshold = written(t, &confidences);
        let o = outcome(&calibration, threshold);
        let meets = o.share.low.is_finite() && o.share.low >= target.share;
        let fits = target
            .max_latency_ms
            .is_none_or(|m| o.latency_ms.value <= m);
        let better = best
            .as_ref()
            .is_none_or(|(_, b)| o.latency_ms.value < b.latency_ms.value);
        if meets && fits && better {
            best = Some((threshold, o));
        }
    }
    let (threshold, calibration) = best.ok_or(NoFit::MissesTarget)?;
    Ok(Fit {
        threshold,
        held_out: outcome(&held, threshold),
        calibration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_threshold_cuts_where_the_simulated_one_did() {
        let seen = [-1.5, -0.30000000000000004, -0.3, -0.1];
        for &t in &seen {
            let w = written(t, &seen);
            let back: f64 = format!("{w}").parse().unwrap_or(f64::NAN);
            for c in seen {
                assert_eq!(c < t, c < back, "t={t} written {w} conf {c}");
            }
        }
    }
}
