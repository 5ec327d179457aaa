//! Graded scores: the BCa bootstrap (Efron 1987, "Better bootstrap confidence intervals",
//! JASA 82) over items, for any statistic of two paired means, with the achieved significance
//! level that matches its interval (Efron & Tibshirani 1993, §14.3 and §15.4).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{normal_cdf, normal_quantile, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED};

/// A statistic's bootstrap distribution with its BCa bias correction and acceleration.
pub(crate) struct Bca {
    pub value: f64,
    /// Resamples on which the statistic was undefined (a ratio whose denominator resampled to
    /// 0), left out of the distribution; callers refuse an interval when there are many.
    pub undefined: usize,
    sorted: Vec<f64>,
    z0: f64,
    acceleration: f64,
}

impl Bca {
    /// `f(mean of a, mean of b)` over resamples of the same item indices.
    pub(crate) fn paired(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Self {
        let n = a.len().min(b.len());
        let (sum_a, sum_b): (f64, f64) = (a[..n].iter().sum(), b[..n].iter().sum());
        let value = f(sum_a / n as f64, sum_b / n as f64);
        let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
        let all: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
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
        let mut sorted: Vec<f64> = all.iter().copied().filter(|s| s.is_finite()).collect();
        let undefined = all.len() - sorted.len();
        sorted.sort_by(|x, y| x.total_cmp(y));
        let below = sorted.iter().filter(|s| **s < value).count() as f64;
        let ties = sorted.iter().filter(|s| **s == value).count() as f64;
        let share = ((below + 0.5 * ties) / sorted.len().max(1) as f64).clamp(1e-4, 1.0 - 1e-4);
        // Jackknife for the acceleration.
        let jack: Vec<f64> = (0..n)
            .map(|i| {
                let m = (n - 1).max(1) as f64;
                f((sum_a - a[i]) / m, (sum_b - b[i]) / m)
            })
            .filter(|s| s.is_finite())
            .collect();
        let mean_jack = jack.iter().sum::<f64>() / jack.len().max(1) as f64;
        let (num, den) = jack.iter().fold((0.0, 0.0), |(n3, n2), j| {
            let d = mean_jack - j;
            (n3 + d.powi(3), n2 + d * d)
        });
        let acceleration = if den > 0.0 {
            num / (6.0 * den.powf(1.5))
        } else {
            0.0
        };
        Bca {
            value,
            undefined,
            sorted,
            z0: normal_quantile(share),
            acceleration,
        }
    }

    /// No spread at all: every resample gave the same value.
    pub(crate) fn degenerate(&self) -> bool {
        self.sorted.first() == self.sorted.last()
    }

    fn quantile(&self, q: f64) -> f64 {
        crate::quantile(&self.sorted, q.clamp(0.0, 1.0))
    }

    /// The two-sided interval at `level`.
    pub(crate) fn interval(&self, level: f64) -> (f64, f64) {
        let adjust = |z: f64| {
            let u = self.z0 + z;
            normal_cdf(self.z0 + u / (1.0 - self.acceleration * u))
        };
        let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
        (self.quantile(adjust(-z)), self.quantile(adjust(z)))
    }

    /// Achieved significance level of H1: statistic > `bound` (H1 below: 1 − this).
    pub(crate) fn p_above(&self, bound: f64) -> f64 {
        let b = self.sorted.len().max(1) as f64;
        let at_most = self.sorted.iter().filter(|s| **s <= bound).count() as f64;
        let g = ((at_most + 1.0) / (b + 1.0)).min(b / (b + 1.0));
        let w = normal_quantile(g) - self.z0;
        normal_cdf(w / (1.0 + self.acceleration * w) - self.z0)
    }

    pub(crate) fn p_below(&self, bound: f64) -> f64 {
        let b = self.sorted.len().max(1) as f64;
        let at_least = self.sorted.iter().filter(|s| **s >= bound).count() as f64;
        let g = ((at_least + 1.0) / (b + 1.0)).min(b / (b + 1.0));
        let w = normal_quantile(1.0 - g) - self.z0;
        1.0 - normal_cdf(w / (1.0 + self.acceleration * w) - self.z0)
    }
}
