//! A length-controlled win rate, after AlpacaEval 2 (Dubois et al. 2024, "Length-Controlled
//! AlpacaEval"): a logistic model of the judge's preference for the candidate,
//! `logit P(win) = θ + φ · tanh(Δ / sd(Δ))` with Δ the candidate's length minus the
//! reference's, fitted to the outcomes (a tie counts as half a win), and the rate it predicts
//! at Δ = 0, `σ(θ)`: what the judge would say if the two answers were the same length. With one
//! candidate and one reference there is no per-instruction term. The interval is a percentile
//! bootstrap over items (2,000 resamples, fixed seed), so it is reproducible.

use crate::estimate::Estimate;

const RESAMPLES: usize = 2000;
/// A small ridge on the slope keeps the fit finite when length separates the outcomes.
const RIDGE: f64 = 0.1;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Fits `(θ, φ)` by Newton's method to `(y, x)` pairs, `y` in [0, 1].
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let (mut theta, mut phi) = (0.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut g0, mut g1) = (0.0, -RIDGE * phi);
        let (mut h00, mut h01, mut h11) = (1e-9, 0.0, RIDGE);
        for &(y, x) in points {
            let p = sigmoid(theta + phi * x);
            let w = p * (1.0 - p);
            g0 += y - p;
            g1 += (y - p) * x;
            h00 += w;
            h01 += w * x;
            h11 += w * x * x;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-12 {
            break;
        }
        let d0 = (h11 * g0 - h01 * g1) / det;
        let d1 = (h00 * g1 - h01 * g0) / det;
        theta += d0.clamp(-5.0, 5.0);
        phi += d1.clamp(-5.0, 5.0);
        if d0.abs() < 1e-9 && d1.abs() < 1e-9 {
            break;
        }
    }
    // A rate of exactly 0 or 1 has no finite θ; keep it finite and printable.
    (theta.clamp(-20.0, 20.0), phi)
}

/// The rate at equal length for `(score, length difference)` per item.
fn rate(items: &[(f64, f64)]) -> f64 {
    let n = items.len() as f64;
    let mean = items.iter().map(|(_, d)| d).sum::<f64>() / n;
    let sd = (items.iter().map(|(_, d)| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
    let points: Vec<(f64, f64)> = items
        .iter()
        .map(|&(y, d)| (y, if sd > 0.0 { (d / sd).tanh() } else { 0.0 }))
        .collect();
    sigmoid(fit(&points).0)
}

/// The length-controlled win rate with its 95% interval, from each item's score (1 win, ½ tie,
/// 0 loss) and the candidate's answer length minus the reference's.
pub fn length_controlled_win_rate(items: &[(f64, f64)]) -> Estimate {
    let method = "length-controlled (AlpacaEval 2 logistic, percentile bootstrap)";
    if items.is_empty() {
        return Estimate::empty(method);
    }
    let value = rate(items);
    let mut state: u64 = 0x5eed_1e46_7c0f_fee1;
    let mut next = || {
        // splitmix64: a fixed, dependency-free stream for the resamples.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = items.len();
    let mut rates: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let resample: Vec<(f64, f64)> = (0..n)
                .map(|_| items[(next() % n as u64) as usize])
                .collect();
            rate(&resample)
        })
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| rates[((q * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
    let (low, high) = (at(0.025).min(value), at(0.975).max(value));
    if high - low < 1e-9 {
        // Every item scored alike: resampling cannot show the uncertainty, so the interval is
        // the raw rate's (exact, on the summed score), as wide as n allows.
        let scores: Vec<f64> = items.iter().map(|(s, _)| *s).collect();
        let raw = crate::mean_interval(&scores);
        return Estimate {
            value,
            low: raw.low,
            high: raw.high,
            n,
            method: "length-controlled (AlpacaEval 2 logistic; no spread: the raw rate's interval)",
        };
    }
    Estimate {
        value,
        low,
        high,
        n,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_judge_that_only_rewards_length_is_controlled_to_about_half() {
        // The candidate wins exactly when it is longer: its raw rate is 0.5 of the items it
        // lengthens; at equal length the model predicts the no-length rate.
        let items: Vec<(f64, f64)> = (0..40)
            .map(|i| {
                let longer = i % 4 != 0;
                (
                    if longer { 1.0 } else { 0.0 },
                    if longer { 200.0 } else { -200.0 },
                )
            })
            .collect();
        let raw = items.iter().map(|(y, _)| y).sum::<f64>() / 40.0;
        let lc = length_controlled_win_rate(&items);
        assert!((raw - 0.75).abs() < 1e-9);
        assert!(lc.value < raw - 0.1, "{lc:?}");
    }

    #[test]
    fn without_a_length_difference_it_is_the_raw_rate() {
        let items: Vec<(f64, f64)> = (0..20)
            .map(|i| {
                (
                    if i < 12 {
                        1.0
                    } else if i < 16 {
                        0.5
                    } else {
                        0.0
                    },
                    0.0,
                )
            })
            .collect();
        let lc = length_controlled_win_rate(&items);
        assert!((lc.value - 0.7).abs() < 1e-6, "{lc:?}");
        assert!(lc.low <= 0.7 && lc.high >= 0.7 && lc.high - lc.low > 0.1);
    }
}
