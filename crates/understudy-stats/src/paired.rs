//! Paired 0/1 scores as a 2×2 table, Tango's statistic for B − A and Tang's for B ÷ A (and for
//! (B − bar) ÷ (A − bar)), and the asymptotic score intervals that invert them.

use crate::estimate::Estimate;
use crate::score;

/// Two rows' 0/1 scores on the same items, counted: A is the first row, B the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Table {
    pub both: usize,
    /// A right, B wrong.
    pub only_a: usize,
    /// B right, A wrong.
    pub only_b: usize,
    pub neither: usize,
}

impl Table {
    /// The table of two paired 0/1 score lists (same order, same length).
    pub fn of(a: &[f64], b: &[f64]) -> Self {
        let mut t = Table::default();
        for (x, y) in a.iter().zip(b) {
            match (*x == 1.0, *y == 1.0) {
                (true, true) => t.both += 1,
                (true, false) => t.only_a += 1,
                (false, true) => t.only_b += 1,
                (false, false) => t.neither += 1,
            }
        }
        t
    }

    pub fn n(&self) -> usize {
        self.both + self.only_a + self.only_b + self.neither
    }

    pub(crate) fn counts(&self) -> [f64; 4] {
        [self.both, self.only_a, self.only_b, self.neither].map(|x| x as f64)
    }

    pub fn mean_a(&self) -> f64 {
        (self.both + self.only_a) as f64 / self.n() as f64
    }

    pub fn mean_b(&self) -> f64 {
        (self.both + self.only_b) as f64 / self.n() as f64
    }
}

/// Tango (1998), "Equivalence test and confidence interval for the difference in proportions
/// for the paired-sample design", Statistics in Medicine 17: the score statistic for
/// B − A = `d`, from the discordant counts (closed form of the constrained MLE). Positive when B
/// does better than `d` says.
pub(crate) fn tango(only_a: f64, only_b: f64, n: f64, d: f64) -> f64 {
    let (qa, qb, qc) = (
        2.0 * n,
        -only_a - only_b + (2.0 * n + only_a - only_b) * d,
        -only_a * d * (1.0 - d),
    );
    let q = (-qb + (qb * qb - 4.0 * qa * qc).max(0.0).sqrt()) / (2.0 * qa);
    let numerator = only_b - only_a - n * d;
    let variance = n * (2.0 * q + d * (1.0 - d));
    if variance <= 1e-15 {
        return if numerator.abs() < 1e-12 {
            0.0
        } else {
            numerator.signum() * f64::INFINITY
        };
    }
    numerator / variance.sqrt()
}

/// Tang, Tang & Chan (2003), "On tests of equivalence via non-unity relative risk for
/// matched-pair design", Statistics in Medicine 22 (also Nam & Blackwelder 2002): the score
/// statistic for (B − bar) = θ (A − bar); bar = 0 is the plain ratio B ÷ A.
pub(crate) fn ratio_statistic(t: &Table, theta: f64, bar: f64) -> f64 {
    corrected_ratio_statistic(t, theta, bar, 0.0)
}

/// The same statistic with its numerator moved `correction` toward zero (a continuity
/// correction of half a step, 1/(2n), keeps the one-sided test's size at or below α at
/// n = 10–50, where the uncorrected test reaches 5.1%; see `tests/error_rates.rs`).
pub(crate) fn corrected_ratio_statistic(t: &Table, theta: f64, bar: f64, correction: f64) -> f64 {
    // Cell values (A, B): both (1, 1), only A (1, 0), only B (0, 1), neither (0, 0).
    let contrast = [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]
        .map(|(a, b): (f64, f64)| (b - bar) - theta * (a - bar));
    score::corrected_statistic(t.counts(), contrast, correction)
}

/// The interval of a parameter whose statistic `stat` falls as the parameter grows: where the
/// statistic crosses +z (low end) and −z (high end), searched outward from `estimate` and
/// clamped to `limits`.
pub(crate) fn invert(
    stat: impl Fn(f64) -> f64,
    estimate: f64,
    z: f64,
    limits: (f64, f64),
) -> (f64, f64) {
    let end = |target: f64, toward: f64| -> f64 {
        let inside = |x: f64| {
            if toward < 0.0 {
                stat(x) < target
            } else {
                stat(x) > target
            }
        };
        let (mut near, mut step) = (estimate, 0.05 * estimate.abs().max(1.0));
        // Within the limits from the first step: an estimate on a limit (a share of 0 when the
        // model answered nothing right) has its bound there, not a hair past it.
        let mut far = (estimate + toward * step).clamp(limits.0, limits.1);
        while inside(far) {
            let limit = if toward < 0.0 { limits.0 } else { limits.1 };
            if (far - limit) * toward >= 0.0 {
                return limit;
            }
            near = far;
            step *= 2.0;
            far = (estimate + toward * step).clamp(limits.0, limits.1);
        }
        for _ in 0..60 {
            let mid = 0.5 * (near + far);
            if inside(mid) {
                near = mid;
            } else {
                far = mid;
            }
        }
        0.5 * (near + far)
    };
    (end(z, -1.0), end(-z, 1.0))
}

/// The score interval of (B − bar) ÷ (A − bar) at `level`; NaN when A is not above the bar.
pub(crate) fn ratio_interval(t: &Table, bar: f64, level: f64) -> Estimate {
    let method = "score (Tang)";
    let (a, b) = (t.mean_a() - bar, t.mean_b() - bar);
    if t.n() == 0 || a <= 0.0 {
        return Estimate {
            n: t.n(),
            ..Estimate::empty(method)
        };
    }
    let z = crate::normal_quantile(1.0 - (1.0 - level) / 2.0);
    let estimate = b / a;
    let floor = if bar == 0.0 { 0.0 } else { -1e6 };
    let (low, high) = invert(|th| ratio_statistic(t, th, bar), estimate, z, (floor, 1e6));
    Estimate {
        value: estimate,
        low,
        high: if high >= 1e6 { f64::INFINITY } else { high },
        n: t.n(),
        method,
    }
}

/// The asymptotic Tango interval of B − A at `level`, used above the exact method's n.
pub(crate) fn tango_interval(t: &Table, level: f64) -> (f64, f64) {
    let z = crate::normal_quantile(1.0 - (1.0 - level) / 2.0);
    let (b, c, n) = (t.only_a as f64, t.only_b as f64, t.n() as f64);
    let eps = 1e-9;
    invert(
        |d| tango(b, c, n, d),
        (c - b) / n,
        z,
        (-1.0 + eps, 1.0 - eps),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_general_score_statistic_is_tangos_for_a_difference() {
        for (both, b, c, neither) in [(5, 3, 1, 1), (40, 0, 4, 6), (8, 2, 0, 0), (3, 0, 0, 7)] {
            let t = Table {
                both,
                only_a: b,
                only_b: c,
                neither,
            };
            for d in [-0.3, -0.05, 0.0, 0.1, 0.25] {
                let contrast = [-d, -1.0 - d, 1.0 - d, -d];
                let general = score::corrected_statistic(t.counts(), contrast, 0.0);
                let closed = tango(b as f64, c as f64, t.n() as f64, d);
                assert!(
                    (general - closed).abs() < 1e-6,
                    "{t:?} {d}: {general} vs {closed}"
                );
            }
        }
    }

    #[test]
    fn no_discordance_gives_a_nonzero_width_interval() {
        // b = c = 0 at n = 10: the 95% interval is ±z²/(n + z²) = ±0.2776.
        let t = Table {
            both: 7,
            only_a: 0,
            only_b: 0,
            neither: 3,
        };
        let (l, h) = tango_interval(&t, 0.95);
        let z2 = 1.959964f64.powi(2);
        assert!(
            (h - z2 / (10.0 + z2)).abs() < 1e-5 && (l + h).abs() < 1e-6,
            "{l} {h}"
        );
    }

    #[test]
    fn a_perfect_pair_has_a_ratio_interval_around_one() {
        // 10/10 both: T(θ) = sqrt(n(1 − θ)/θ) below 1, −sqrt(n(θ − 1)) above.
        let t = Table {
            both: 10,
            ..Table::default()
        };
        let e = ratio_interval(&t, 0.0, 0.95);
        let z2 = 1.959964f64.powi(2);
        assert!((e.value - 1.0).abs() < 1e-12);
        assert!((e.low - 10.0 / (10.0 + z2)).abs() < 1e-5, "{e:?}");
        assert!((e.high - (1.0 + z2 / 10.0)).abs() < 1e-5, "{e:?}");
    }

    #[test]
    fn a_share_of_nothing_starts_at_zero_not_below() {
        // The model right on none of 30 items, the reference on 15: the share is 0 and its
        // interval starts at 0 exactly (it printed "-0.0" when the search stepped past the floor).
        let t = Table {
            only_a: 15,
            neither: 15,
            ..Table::default()
        };
        let e = ratio_interval(&t, 0.0, 0.95);
        assert_eq!(e.value, 0.0);
        assert!(e.low == 0.0 && e.low.is_sign_positive(), "{e:?}");
        assert!(e.high > 0.1 && e.high < 0.5, "{e:?}");
    }
}
