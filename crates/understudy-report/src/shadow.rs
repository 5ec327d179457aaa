//! What `understudy shadow PROFILE` reports from judged shadow pairs: win / tie / loss of the
//! candidate against the reference with intervals, the judge's position flips, both latencies
//! and answer lengths in tokens, and the verdict with its test — non-inferiority of the win
//! rate (ties half) at a margin: shown when the lower end of its 95% interval is at least
//! 0.5 − margin (a candidate as good as the reference scores 0.5) — with, when not shown, about
//! how many pairs would settle it at the rate and spread seen so far.

use crate::stats::{self, Estimate};

/// One judged pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// 1 win, ½ tie, 0 loss; `None`: the judge gave no verdict (counted apart).
    pub score: Option<f64>,
    pub position_flip: bool,
    pub reference_ms: f64,
    pub candidate_ms: f64,
    pub reference_tokens: Option<u32>,
    pub candidate_tokens: Option<u32>,
}

/// The report of one profile's shadow pairs.
#[derive(Debug, Clone)]
pub struct ShadowReport {
    pub judged: usize,
    pub unjudged: usize,
    pub wins: Estimate,
    pub ties: Estimate,
    pub losses: Estimate,
    pub flips: Estimate,
    pub win_rate: Estimate,
    pub latency: [(f64, f64); 2],
    pub tokens: [Option<f64>; 2],
    pub verdict: String,
}

fn share(scores: &[f64], of: impl Fn(f64) -> bool) -> Estimate {
    let flags: Vec<f64> = scores.iter().map(|s| f64::from(u8::from(of(*s)))).collect();
    stats::mean_interval(&flags)
}

fn p50_p95(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    (
        stats::quantile(&values, 0.5),
        stats::quantile(&values, 0.95),
    )
}

fn mean_tokens(values: impl Iterator<Item = Option<u32>>) -> Option<f64> {
    let known: Vec<f64> = values.flatten().map(f64::from).collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// The report for `pairs` at non-inferiority `margin` (a share, e.g. 0.05).
pub fn report(pairs: &[Pair], margin: f64) -> ShadowReport {
    let scores: Vec<f64> = pairs.iter().filter_map(|p| p.score).collect();
    let flips: Vec<f64> = pairs
        .iter()
        .filter(|p| p.score.is_some())
        .map(|p| f64::from(u8::from(p.position_flip)))
        .collect();
    let win_rate = stats::mean_interval(&scores);
    ShadowReport {
        judged: scores.len(),
        unjudged: pairs.len() - scores.len(),
        wins: share(&scores, |s| s == 1.0),
        ties: share(&scores, |s| s == 0.5),
        losses: share(&scores, |s| s == 0.0),
        flips: stats::mean_interval(&flips),
        latency: [
            p50_p95(pairs.iter().map(|p| p.reference_ms).collect()),
            p50_p95(pairs.iter().map(|p| p.candidate_ms).collect()),
        ],
        tokens: [
            mean_tokens(pairs.iter().map(|p| p.reference_tokens)),
            mean_tokens(pairs.iter().map(|p| p.candidate_tokens)),
        ],
        verdict: verdict(&scores, &win_rate, margin),
        win_rate,
    }
}

/// "non-inferior at margin M, ready to switch" when the interval's lower end clears 0.5 − M;
/// else why not, and about how many pairs would settle it.
fn verdict(scores: &[f64], win_rate: &Estimate, margin: f64) -> String {
    let bar = 0.5 - margin;
    let m = format!("{margin}");
    let test = format!(
        "test: the lower end of the win rate's 95% interval ({}) against 0.5 − {m} = {bar:.3}",
        win_rate.method
    );
    if scores.len() < 2 {
        return format!("not settled: {} judged pairs ({test})", scores.len());
    }
    if win_rate.low >= bar {
        return format!(
            "non-inferior at margin {m}, ready to switch: win rate {:.3}, interval [{:.3}, {:.3}] n = {} ({test})",
            win_rate.value, win_rate.low, win_rate.high, win_rate.n
        );
    }
    let n = scores.len() as f64;
    let mean = win_rate.value;
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let gap = mean - bar;
    if gap <= 0.0 || sd == 0.0 {
        return format!(
            "not non-inferior at margin {m}: win rate {mean:.3} [{:.3}, {:.3}] n = {}; at this rate more pairs will not show it ({test})",
            win_rate.low, win_rate.high, win_rate.n
        );
    }
    let needed = (1.96 * sd / gap).powi(2).ceil();
    let more = (needed - n).max(1.0);
    format!(
        "not settled at margin {m}: win rate {mean:.3} [{:.3}, {:.3}] n = {}; about {more:.0} more pairs would settle it if the rate and spread hold (normal approximation) ({test})",
        win_rate.low, win_rate.high, win_rate.n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(scores: &[f64]) -> Vec<Pair> {
        scores
            .iter()
            .map(|s| Pair {
                score: Some(*s),
                position_flip: *s == 0.5,
                reference_ms: 100.0,
                candidate_ms: 300.0,
                reference_tokens: Some(10),
                candidate_tokens: Some(20),
            })
            .collect()
    }

    #[test]
    fn a_candidate_tied_on_many_pairs_is_non_inferior_and_a_losing_one_is_not() {
        let tied: Vec<f64> = (0..60).map(|i| [0.5, 0.5, 1.0, 0.0][i % 4]).collect();
        let r = report(&pairs(&tied), 0.15);
        assert!(
            r.verdict.starts_with("non-inferior at margin 0.15"),
            "{}",
            r.verdict
        );
        assert_eq!(r.judged, 60);
        assert!((r.ties.value - 0.5).abs() < 1e-9);
        assert_eq!(r.latency[1].0, 300.0);
        let losing: Vec<f64> = (0..40).map(|i| [0.0, 0.0, 0.5, 1.0][i % 4]).collect();
        let r = report(&pairs(&losing), 0.05);
        assert!(r.verdict.starts_with("not non-inferior"), "{}", r.verdict);
        let few = report(&pairs(&[0.5, 0.0, 0.5, 1.0, 0.5, 0.5]), 0.05);
        assert!(
            few.verdict.contains("more pairs would settle it"),
            "{}",
            few.verdict
        );
    }
}
