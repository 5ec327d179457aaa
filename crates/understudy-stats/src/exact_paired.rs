//! B − A on paired 0/1 scores by an exact unconditional test: Tango's statistic orders the
//! outcomes, and the p-value is the largest tail probability over the nuisance parameter (the
//! discordance) — Suissa & Shuster (1991), "The 2 x 2 matched-pairs trial: exact unconditional
//! design and analysis", Biometrics 47, with the score statistic of Tango (1998). Its size never
//! exceeds α at any n, where the asymptotic score test reaches 7% at n = 20. The interval is the
//! set of differences the test does not reject, so interval and test always agree. Above
//! [`EXACT_MAX_N`] items the asymptotic Tango test is used (its size is then within a few tenths
//! of a point of α, see `tests/error_rates.rs`).

use crate::paired::{tango, tango_interval, Table};
use crate::proportion::ln_choose;

/// Up to this many items the exact unconditional test is used.
pub const EXACT_MAX_N: usize = 100;
/// Points of the nuisance grid, before a local refinement around the largest.
const GRID: usize = 32;

/// The test of B − A = d on one table, exact up to [`EXACT_MAX_N`] items.
pub(crate) struct DifferenceTest {
    only_a: usize,
    only_b: usize,
    n: usize,
    /// (only A, only B, ln of the multinomial coefficient) of every possible table.
    outcomes: Vec<(usize, usize, f64)>,
}

impl DifferenceTest {
    pub(crate) fn new(t: &Table) -> Self {
        let n = t.n();
        let mut outcomes = Vec::new();
        if n <= EXACT_MAX_N {
            for b in 0..=n {
                for c in 0..=(n - b) {
                    outcomes.push((b, c, ln_choose(n, b) + ln_choose(n - b, c)));
                }
            }
        }
        DifferenceTest {
            only_a: t.only_a,
            only_b: t.only_b,
            n,
            outcomes,
        }
    }

    pub(crate) fn exact(&self) -> bool {
        !self.outcomes.is_empty()
    }

    pub(crate) fn method(&self) -> &'static str {
        if self.exact() {
            "exact score (Tango, Suissa–Shuster)"
        } else {
            "score (Tango)"
        }
    }

    /// Tango's statistic of the observed table at d.
    pub(crate) fn statistic(&self, d: f64) -> f64 {
        tango(self.only_a as f64, self.only_b as f64, self.n as f64, d)
    }

    /// p-value of H1: B − A > d.
    pub(crate) fn p_above(&self, d: f64) -> f64 {
        self.tail(d, true)
    }

    /// p-value of H1: B − A < d.
    pub(crate) fn p_below(&self, d: f64) -> f64 {
        self.tail(d, false)
    }

    fn tail(&self, d: f64, above: bool) -> f64 {
        let observed = self.statistic(d);
        if !self.exact() {
            let p = crate::normal_cdf(observed);
            return if above { 1.0 - p } else { p };
        }
        let n = self.n as f64;
        let region: Vec<&(usize, usize, f64)> = self
            .outcomes
            .iter()
            .filter(|(b, c, _)| {
                let t = tango(*b as f64, *c as f64, n, d);
                if above {
                    t >= observed - 1e-9
                } else {
                    t <= observed + 1e-9
                }
            })
            .collect();
        // Nuisance: q = P(only A right), with P(only B right) = q + d.
        let (lo, hi) = ((-d).max(0.0), ((1.0 - d) / 2.0).min(1.0));
        let mass = |q: f64| -> f64 {
            let (ln_a, ln_b, ln_c) = (ln(q), ln(q + d), ln(1.0 - 2.0 * q - d));
            region
                .iter()
                .map(|(b, c, coef)| {
                    let rest = self.n - b - c;
                    (coef + term(*b, ln_a) + term(*c, ln_b) + term(rest, ln_c)).exp()
                })
                .sum()
        };
        let step = (hi - lo) / GRID as f64;
        let (mut best_q, mut best) = (lo, mass(lo));
        for i in 1..=GRID {
            let q = lo + step * i as f64;
            let m = mass(q);
            if m > best {
                (best_q, best) = (q, m);
            }
        }
        // Refine inside the neighbouring grid cells (golden-section on a smooth function).
        let (mut a, mut b) = ((best_q - step).max(lo), (best_q + step).min(hi));
        for _ in 0..10 {
            let (x1, x2) = (b - 0.618 * (b - a), a + 0.618 * (b - a));
            if mass(x1) > mass(x2) {
                b = x2;
            } else {
                a = x1;
            }
        }
        best.max(mass(0.5 * (a + b))).min(1.0)
    }

    /// The `level` interval stretched to hold each point of `tested` that the matching
    /// one-sided test does not reject: exact p-values are not continuous in d, so a bisection
    /// alone can land a hair past a point the test keeps (p = 0.0504 beside an interval ending at
    /// −0.000001). The confidence set holds such a point, so its hull does too.
    pub(crate) fn interval_holding(&self, level: f64, tested: &[f64]) -> (f64, f64) {
        let tail = (1.0 - level) / 2.0;
        let (mut low, mut high) = self.interval(level);
        for &d in tested {
            if d < low && self.p_above(d) >= tail {
                low = d;
            }
            if d > high && self.p_below(d) >= tail {
                high = d;
            }
        }
        (low, high)
    }

    /// The one-sided upper bound at `level` (0.95): the largest d the test of "B − A < d" keeps,
    /// and at least `tested` when that test keeps it.
    pub(crate) fn upper_bound(&self, level: f64, tested: f64) -> f64 {
        let tail = 1.0 - level;
        if !self.exact() {
            return self.interval(1.0 - 2.0 * tail).1;
        }
        let estimate = (self.only_b as f64 - self.only_a as f64) / self.n as f64;
        let high = bisect(estimate, 1.0, |d| self.p_below(d) < tail);
        if tested > high && self.p_below(tested) >= tail {
            tested
        } else {
            high
        }
    }

    /// The `level` (0.95, 0.90) two-sided interval: every d neither one-sided test rejects at
    /// (1 − level)/2.
    pub(crate) fn interval(&self, level: f64) -> (f64, f64) {
        let tail = (1.0 - level) / 2.0;
        if !self.exact() {
            let t = Table {
                only_a: self.only_a,
                only_b: self.only_b,
                neither: self.n - self.only_a - self.only_b,
                both: 0,
            };
            return tango_interval(&t, level);
        }
        let estimate = (self.only_b as f64 - self.only_a as f64) / self.n as f64;
        // The low end: p_above rises with d; the high end: p_below falls with d.
        let low = bisect(-1.0, estimate, |d| self.p_above(d) >= tail);
        let high = bisect(estimate, 1.0, |d| self.p_below(d) < tail);
        (low, high)
    }
}

/// The point in [lo, hi] where `past` turns from false to true (lo if it holds at once).
fn bisect(mut lo: f64, mut hi: f64, past: impl Fn(f64) -> bool) -> f64 {
    if past(lo) {
        return lo;
    }
    if !past(hi) {
        return hi;
    }
    for _ in 0..16 {
        let mid = 0.5 * (lo + hi);
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

fn ln(p: f64) -> f64 {
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else {
        p.ln()
    }
}

/// k · ln p, with 0 · ln 0 = 0.
fn term(k: usize, ln_p: f64) -> f64 {
    if k == 0 {
        0.0
    } else {
        k as f64 * ln_p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_interval_and_test_agree_and_never_collapse() {
        // Four items right → wrong of 20, none back: the asymptotic interval excludes 0
        // (z = 2), the exact test does not, and neither does its interval.
        let t = Table {
            both: 10,
            only_a: 4,
            only_b: 0,
            neither: 6,
        };
        let test = DifferenceTest::new(&t);
        let (low, high) = test.interval_holding(0.95, &[0.0]);
        let p = (2.0 * test.p_above(0.0).min(test.p_below(0.0))).min(1.0);
        assert_eq!(high >= 0.0, p >= 0.05, "[{low}, {high}] p = {p}");
        let same = Table {
            both: 7,
            neither: 3,
            ..Table::default()
        };
        let (l, h) = DifferenceTest::new(&same).interval(0.95);
        assert!(l < -0.1 && h > 0.1, "[{l}, {h}]");
    }
}
