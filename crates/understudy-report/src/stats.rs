//! Statistics over per-item scores: bootstrap confidence intervals, paired comparisons (McNemar's
//! exact test for 0/1 scores, paired bootstrap otherwise), share of a reference, and per-class
//! precision/recall/F1. Pure functions with a fixed seed, so the same cells give the same numbers.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bootstrap resamples used for every interval.
pub const BOOTSTRAP_SAMPLES: usize = 2000;
/// Seed for every resampling, so intervals are reproducible.
pub const BOOTSTRAP_SEED: u64 = 0x5eed;

/// A point estimate with a 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

impl Estimate {
    /// A score or share as a percentage with its interval and n: "61.3% [43.2–81.2] n=31".
    pub fn percent_with_n(&self) -> String {
        format!(
            "{:.1}% [{:.1}–{:.1}] n={}",
            self.value * 100.0,
            self.low * 100.0,
            self.high * 100.0,
            self.n
        )
    }
}

pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// The `q` quantile (0..=1) by linear interpolation between order statistics.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn percentile_interval(mut stats: Vec<f64>) -> (f64, f64) {
    stats.retain(|s| s.is_finite());
    stats.sort_by(|a, b| a.total_cmp(b));
    (quantile(&stats, 0.025), quantile(&stats, 0.975))
}

/// Mean of `scores` with a 95% percentile-bootstrap interval over items.
pub fn bootstrap_mean(scores: &[f64]) -> Estimate {
    // The same resampling as a paired comparison of the scores with themselves.
    paired_bootstrap(scores, scores, |a, _| a)
}

/// `f(a_resample, b_resample)` over paired resamples of the same item indices.
fn paired_bootstrap(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Estimate {
    let n = a.len().min(b.len());
    if n == 0 {
        return Estimate {
            value: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
            n,
        };
    }
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let stats = (0..BOOTSTRAP_SAMPLES)
        .map(|_| {
            let (mut sa, mut sb) = (0.0, 0.0);
            for _ in 0..n {
                let i = rng.gen_range(0..n);
                sa += a[i];
                sb += b[i];
            }
            f(sa / n as f64, sb / n as f64)
        })
        .collect();
    let (low, high) = percentile_interval(stats);
    Estimate {
        value: f(mean(&a[..n]), mean(&b[..n])),
        low,
        high,
        n,
    }
}

/// Mean of `model` divided by mean of `reference` on the same items, with a paired interval.
pub fn share_of_reference(model: &[f64], reference: &[f64]) -> Estimate {
    paired_bootstrap(
        model,
        reference,
        |m, r| if r > 0.0 { m / r } else { f64::NAN },
    )
}

/// `(model − bar) / (reference − bar)` on the same items, with a paired interval: the share of
/// the reference's lead over a baseline `bar` that the model keeps.
pub fn adjusted_share(model: &[f64], reference: &[f64], bar: f64) -> Estimate {
    paired_bootstrap(model, reference, |m, r| {
        if r > bar {
            (m - bar) / (r - bar)
        } else {
            f64::NAN
        }
    })
}

/// Mean difference `a - b` on the same items, with a paired interval.
pub fn paired_difference(a: &[f64], b: &[f64]) -> Estimate {
    paired_bootstrap(a, b, |x, y| x - y)
}

/// Two-sided exact McNemar p-value from the discordant counts: `b` items only A got right,
/// `c` items only B got right.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space to stay exact for large n.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Below this p-value a difference counts as shown.
pub const ALPHA: f64 = 0.05;

/// One-sided exact binomial p-value: P(X >= k) for X ~ Binomial(n, p).
pub fn binomial_upper_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let ln_choose = |i: usize| -> f64 {
        // ln C(n, i) through sums of logs, exact enough for the n of an eval.
        (1..=i)
            .map(|j| ((n - i + j) as f64).ln() - (j as f64).ln())
            .sum()
    };
    (k..=n)
        .map(|i| (ln_choose(i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln()).exp())
        .sum::<f64>()
        .min(1.0)
}

/// One-sided bootstrap p-value that the mean of `scores` is above `bar`: the share of resamples
/// whose mean is at most `bar`, with the usual +1 so it is never 0.
pub fn bootstrap_above(scores: &[f64], bar: f64) -> f64 {
    let n = scores.len();
    if n == 0 {
        return 1.0;
    }
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let at_most = (0..BOOTSTRAP_SAMPLES)
        .filter(|_| {
            let sum: f64 = (0..n).map(|_| scores[rng.gen_range(0..n)]).sum();
            sum / n as f64 <= bar
        })
        .count();
    (at_most as f64 + 1.0) / (BOOTSTRAP_SAMPLES as f64 + 1.0)
}

/// Holm's step-down adjustment of a family of p-values (same order as given): each adjusted
/// p-value is at least the one before it in ascending order, so a family-wise error rate of
/// [`ALPHA`] holds across the whole list.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// A p-value as text: "p = 0.210", or a bound where the test cannot resolve it ("p < 0.0005"
/// when no bootstrap resample crossed zero, "p < 0.001" for tiny exact values).
pub fn p_text(p: f64, test: &str) -> String {
    let value = p_value_text(p, test);
    if value.starts_with('<') {
        format!("p {value}")
    } else {
        format!("p = {value}")
    }
}

/// The p-value alone, for a table's p column: "0.210", "< 0.0005", "< 0.001".
pub fn p_value_text(p: f64, test: &str) -> String {
    if test == "bootstrap" && p <= 0.0 {
        format!("< {}", 1.0 / BOOTSTRAP_SAMPLES as f64)
    } else if p < 0.001 {
        "< 0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// A paired comparison of two sets of 0/1 (or graded) scores on the same items.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub difference: Estimate,
    pub p_value: f64,
    /// "mcnemar" for 0/1 scores, "bootstrap" otherwise.
    pub test: &'static str,
}

impl Comparison {
    /// The p-value as text ("p = 0.210", "p < 0.0005").
    pub fn p_text(&self) -> String {
        p_text(self.p_value, self.test)
    }

    /// The p-value, or its bound where the test cannot resolve it (a bootstrap where no
    /// resample crossed zero: 1/B), for corrections that need a number.
    pub fn p_upper(&self) -> f64 {
        if self.test == "bootstrap" && self.p_value <= 0.0 {
            1.0 / BOOTSTRAP_SAMPLES as f64
        } else {
            self.p_value
        }
    }
}

pub fn compare(a: &[f64], b: &[f64]) -> Comparison {
    let difference = paired_difference(a, b);
    let binary = a.iter().chain(b).all(|x| *x == 0.0 || *x == 1.0);
    if binary {
        let only_a = a
            .iter()
            .zip(b)
            .filter(|(x, y)| **x == 1.0 && **y == 0.0)
            .count();
        let only_b = a
            .iter()
            .zip(b)
            .filter(|(x, y)| **x == 0.0 && **y == 1.0)
            .count();
        return Comparison {
            difference,
            p_value: mcnemar_exact(only_a, only_b),
            test: "mcnemar",
        };
    }
    // Two-sided bootstrap p-value: how often the resampled difference crosses zero.
    let n = a.len().min(b.len());
    let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
    let observed = difference.value;
    let mut crossings = 0usize;
    for _ in 0..BOOTSTRAP_SAMPLES {
        let mut d = 0.0;
        for _ in 0..n {
            let i = rng.gen_range(0..n);
            d += a[i] - b[i];
        }
        let d = d / n.max(1) as f64;
        if (observed >= 0.0 && d <= 0.0) || (observed < 0.0 && d >= 0.0) {
            crossings += 1;
        }
    }
    let p_value = (2.0 * crossings as f64 / BOOTSTRAP_SAMPLES as f64).min(1.0);
    Comparison {
        difference,
        p_value,
        test: "bootstrap",
    }
}

/// The unbiased pass@k estimator (Chen et al., 2021): the chance that at least one of k samples
/// drawn without replacement from n, of which c are correct, is correct: 1 - C(n-c, k) / C(n, k).
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if k == 0 || k > n {
        return f64::NAN;
    }
    if n - c < k {
        return 1.0;
    }
    // 1 - prod_{i=n-c+1}^{n} (1 - k / i), the numerically stable form.
    let product: f64 = ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product();
    1.0 - product
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Per-class scores and their macro-average F1. A prediction of `None` (format failure) counts
/// as wrong for its gold class and predicts no class.
pub fn per_class(
    gold: &[String],
    predicted: &[Option<String>],
    labels: &[String],
) -> (Vec<ClassScore>, f64) {
    let classes: Vec<ClassScore> = labels
        .iter()
        .map(|label| {
            let tp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| *g == label && p.as_ref() == Some(label))
                .count();
            let fp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| *g != label && p.as_ref() == Some(label))
                .count();
            let support = gold.iter().filter(|g| *g == label).count();
            let fn_ = support - tp;
            let precision = if tp + fp == 0 {
                0.0
            } else {
                tp as f64 / (tp + fp) as f64
            };
            let recall = if tp + fn_ == 0 {
                0.0
            } else {
                tp as f64 / (tp + fn_) as f64
            };
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassScore {
                label: label.clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let macro_f1 = mean(&classes.iter().map(|c| c.f1).collect::<Vec<_>>());
    (classes, macro_f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        // n=10, c=3: pass@1 = 0.3; pass@5 = 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
        assert!((pass_at_k(10, 3, 5) - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
        assert_eq!(pass_at_k(5, 0, 2), 0.0);
        assert_eq!(pass_at_k(5, 4, 2), 1.0);
        assert!(pass_at_k(3, 1, 4).is_nan());
    }

    #[test]
    fn mcnemar_matches_hand_computed_binomial_tails() {
        // b=10, c=2: 2 * (C(12,0)+C(12,1)+C(12,2)) / 2^12 = 2 * 79 / 4096.
        assert!((mcnemar_exact(10, 2) - 158.0 / 4096.0).abs() < 1e-12);
        // b=3, c=3: symmetric, p = 1.
        assert!((mcnemar_exact(3, 3) - 1.0).abs() < 1e-12);
        // b=0, c=5: 2 / 32.
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn bootstrap_interval_agrees_with_the_normal_approximation() {
        // 60 right out of 100: normal 95% interval is 0.6 ± 1.96·sqrt(0.24/100) = [0.504, 0.696].
        let scores: Vec<f64> = (0..100).map(|i| if i < 60 { 1.0 } else { 0.0 }).collect();
        let e = bootstrap_mean(&scores);
        assert!((e.value - 0.6).abs() < 1e-12);
        assert!((e.low - 0.504).abs() < 0.025, "{e:?}");
        assert!((e.high - 0.696).abs() < 0.025, "{e:?}");
        assert_eq!(bootstrap_mean(&scores), e, "same seed, same interval");
    }

    #[test]
    fn macro_f1_matches_a_hand_computed_confusion_matrix() {
        let gold: Vec<String> = ["p", "p", "p", "n", "n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pred = vec![
            Some("p".to_string()),
            Some("p".to_string()),
            None,
            Some("p".to_string()),
            Some("n".to_string()),
        ];
        let labels = vec!["p".to_string(), "n".to_string()];
        let (classes, macro_f1) = per_class(&gold, &pred, &labels);
        // p: tp=2 fp=1 fn=1 -> P=R=F1=2/3. n: tp=1 fp=0 fn=1 -> P=1 R=1/2 F1=2/3.
        assert!((classes[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((classes[1].precision - 1.0).abs() < 1e-12);
        assert!((macro_f1 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn binomial_tail_matches_hand_values() {
        // P(X >= 8 | 10, 0.5) = (45 + 10 + 1) / 1024.
        assert!((binomial_upper_tail(8, 10, 0.5) - 56.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_upper_tail(0, 10, 0.5) - 1.0).abs() < 1e-12);
        // P(X >= 3 | 3, 0.25) = 1/64.
        assert!((binomial_upper_tail(3, 3, 0.25) - 1.0 / 64.0).abs() < 1e-12);
        // Half right against a coin: far from significant.
        assert!(binomial_upper_tail(20, 40, 0.5) > 0.5);
    }

    #[test]
    fn holm_matches_hand_values() {
        // Sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone), back in the given order.
        let adjusted = holm(&[0.04, 0.01, 0.02]);
        let expected = [0.04, 0.03, 0.04];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn p_values_print_as_bounds_where_the_test_cannot_resolve_them() {
        assert_eq!(p_text(0.0, "bootstrap"), "p < 0.0005");
        assert_eq!(p_text(0.0004, "mcnemar"), "p < 0.001");
        assert_eq!(p_text(0.21, "mcnemar"), "p = 0.210");
        assert_eq!(p_value_text(0.0, "bootstrap"), "< 0.0005");
        let all = compare(&[0.5; 30], &[0.0; 30]);
        assert_eq!(all.p_text(), "p < 0.0005", "{all:?}");
    }

    #[test]
    fn one_sided_bootstrap_sees_only_clear_leads() {
        assert!(bootstrap_above(&[1.0; 20], 0.5) < 0.001);
        let half: Vec<f64> = (0..20).map(|i| (i % 2) as f64).collect();
        assert!(bootstrap_above(&half, 0.5) > 0.4);
    }

    #[test]
    fn adjusted_share_measures_the_lead_over_the_bar() {
        let model = [1.0, 1.0, 1.0, 0.0];
        let reference = [1.0, 1.0, 1.0, 1.0];
        // (0.75 - 0.5) / (1.0 - 0.5) = 0.5.
        assert!((adjusted_share(&model, &reference, 0.5).value - 0.5).abs() < 1e-12);
        assert!(adjusted_share(&model, &[0.5; 4], 0.5).value.is_nan());
    }

    #[test]
    fn share_and_difference_are_paired() {
        let a = [1.0, 1.0, 0.0, 1.0];
        let b = [1.0, 1.0, 1.0, 1.0];
        assert!((share_of_reference(&a, &b).value - 0.75).abs() < 1e-12);
        let c = compare(&a, &b);
        assert!((c.difference.value + 0.25).abs() < 1e-12);
        assert_eq!(c.test, "mcnemar");
        assert!((c.p_value - 1.0).abs() < 1e-12); // b=0, c=1 -> 2 * 1/2
    }
}
