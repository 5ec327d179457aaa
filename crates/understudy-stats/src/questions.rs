//! One function per question a page asks, each choosing the method for 0/1 or graded scores.
//! Everything that prints a score, an interval or a verdict calls these.

use crate::bootstrap::Bca;
use crate::estimate::{Comparison, Equivalence, Estimate, OneSided};
use crate::exact_paired::DifferenceTest;
use crate::paired::{corrected_ratio_statistic, invert, ratio_interval, tango, Table};
use crate::proportion::{binomial_upper_tail, clopper_pearson, poisson_binomial_upper_tail};
use crate::{normal_cdf, ALPHA};

/// Every score is 0 or 1.
pub fn is_binary(xs: &[f64]) -> bool {
    xs.iter().all(|x| *x == 0.0 || *x == 1.0)
}

/// A score's mean with its 95% interval: Clopper–Pearson for 0/1 scores; the BCa bootstrap for
/// graded ones (Clopper–Pearson on the summed score when they have no spread, so no score's
/// interval has zero width). Other means (latencies) get the BCa bootstrap too.
pub fn mean_interval(scores: &[f64]) -> Estimate {
    let n = scores.len();
    if n == 0 {
        return Estimate::empty("none");
    }
    let sum: f64 = scores.iter().sum();
    let exact = |method| {
        let (low, high) = clopper_pearson(sum, n, 1.0 - ALPHA);
        Estimate {
            value: sum / n as f64,
            low,
            high,
            n,
            method,
        }
    };
    if is_binary(scores) {
        return exact("Clopper–Pearson");
    }
    let bca = Bca::paired(scores, scores, |a, _| a);
    if bca.degenerate() {
        if scores.iter().all(|s| (0.0..=1.0).contains(s)) {
            return exact("Clopper–Pearson on the summed score");
        }
        // Not a score (a latency, a token count) and every value the same.
        let v = bca.value;
        return Estimate::point(v, n);
    }
    let (low, high) = bca.interval(1.0 - ALPHA);
    Estimate {
        value: bca.value,
        low,
        high,
        n,
        method: "BCa bootstrap",
    }
}

/// Pairs of graded scores as fractional 2×2 counts (x·y, x(1 − y), ...), whose margins are the
/// two means: the 0/1 methods' fallback when a bootstrap has no spread.
fn fractional_counts(a: &[f64], b: &[f64]) -> [f64; 4] {
    a.iter().zip(b).fold([0.0; 4], |c, (x, y)| {
        [
            c[0] + x * y,
            c[1] + x * (1.0 - y),
            c[2] + (1.0 - x) * y,
            c[3] + (1.0 - x) * (1.0 - y),
        ]
    })
}

/// `x − y` on the same items with its 95% interval and the two-sided p-value of "no
/// difference" from the same method: for 0/1 scores the exact unconditional score test
/// (Tango's statistic) and the interval that inverts it; for graded scores the BCa bootstrap
/// and its achieved significance level.
pub fn compare(x: &[f64], y: &[f64]) -> Comparison {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    if n == 0 {
        return Comparison {
            difference: Estimate::empty("none"),
            p_value: 1.0,
            test: "none",
        };
    }
    if is_binary(x) && is_binary(y) {
        let t = Table::of(y, x);
        let test = DifferenceTest::new(&t);
        let (low, high) = test.interval_holding(1.0 - ALPHA, &[0.0]);
        let p = (2.0 * test.p_above(0.0).min(test.p_below(0.0))).min(1.0);
        let value = t.mean_b() - t.mean_a();
        let difference = Estimate {
            value,
            low,
            high,
            n,
            method: test.method(),
        };
        return Comparison {
            difference,
            p_value: p,
            test: "exact score",
        };
    }
    let bca = Bca::paired(x, y, |a, b| a - b);
    let (low, high) = if bca.degenerate() {
        let c = fractional_counts(y, x);
        let est = (c[2] - c[1]) / n as f64;
        let z = crate::normal_quantile(1.0 - ALPHA / 2.0);
        invert(
            |d| tango(c[1], c[2], n as f64, d),
            est,
            z,
            (-1.0 + 1e-9, 1.0 - 1e-9),
        )
    } else {
        bca.interval(1.0 - ALPHA)
    };
    let p = (2.0 * bca.p_above(0.0).min(bca.p_below(0.0))).min(1.0);
    let difference = Estimate {
        value: bca.value,
        low,
        high,
        n,
        method: "BCa bootstrap",
    };
    Comparison {
        difference,
        p_value: p,
        test: "bootstrap",
    }
}

/// How many items a one-sided verdict would need if the observed rates held: a score
/// statistic at fixed rates grows with √n, so n·(z/T)² items bring it to z. None when the
/// observed rates point the other way (no n would show it).
fn items_needed(n: usize, statistic: f64) -> Option<usize> {
    let z = crate::normal_quantile(1.0 - ALPHA);
    (statistic > 0.0 && statistic.is_finite())
        .then(|| (n as f64 * (z / statistic).powi(2)).ceil() as usize)
        .map(|needed| needed.max(n + 1))
}

/// Is B within ±`margin` of A on the same items? Shown when the 90% interval of B − A lies
/// inside (−margin, +margin) — two one-sided tests at [`ALPHA`] (Schuirmann 1987) — from the
/// exact score test for 0/1 scores (Tango 1998's equivalence test made exact), BCa otherwise.
/// None below two items.
pub fn equivalence(a: &[f64], b: &[f64], margin: f64) -> Option<Equivalence> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let level = 1.0 - 2.0 * ALPHA;
    let (p_value, interval, method, needed) = if is_binary(a) && is_binary(b) {
        let t = Table::of(a, b);
        let test = DifferenceTest::new(&t);
        let p = test.p_above(-margin).max(test.p_below(margin));
        let (above, below) = (test.statistic(-margin), -test.statistic(margin));
        let needed = (p >= ALPHA)
            .then(|| Some(items_needed(n, above)?.max(items_needed(n, below)?)))
            .flatten();
        (
            p,
            test.interval_holding(level, &[-margin, margin]),
            test.method(),
            needed,
        )
    } else {
        let bca = Bca::paired(b, a, |x, y| x - y);
        let p = bca.p_above(-margin).max(bca.p_below(margin));
        // The paired t statistics of the two one-sided tests, to scale n by (as for 0/1 scores).
        let d: Vec<f64> = b.iter().zip(a).map(|(x, y)| x - y).collect();
        let mean = crate::mean(&d);
        let variance = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (variance / n as f64).sqrt();
        let needed = (p >= ALPHA && se > 0.0)
            .then(|| {
                let (above, below) = ((mean + margin) / se, (margin - mean) / se);
                Some(items_needed(n, above)?.max(items_needed(n, below)?))
            })
            .flatten();
        (p, bca.interval(level), "BCa bootstrap", needed)
    };
    Some(Equivalence {
        margin,
        p_value,
        interval,
        n,
        method,
        items_needed: needed,
    })
}

/// Is B worse than A by more than `margin`? H1: B − A < −margin, one-sided at [`ALPHA`]; the
/// bound is the one-sided 95% upper bound of B − A. Exact score test for 0/1 scores, BCa
/// otherwise. None below two items.
pub fn regression(a: &[f64], b: &[f64], margin: f64) -> Option<OneSided> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (a, b) = (&a[..n], &b[..n]);
    if is_binary(a) && is_binary(b) {
        let t = Table::of(a, b);
        let test = DifferenceTest::new(&t);
        return Some(OneSided {
            statistic: test.statistic(-margin),
            p_value: test.p_below(-margin),
            bound: test.upper_bound(1.0 - ALPHA, -margin),
            n,
            method: test.method(),
            items_needed: None,
        });
    }
    let bca = Bca::paired(b, a, |x, y| x - y);
    Some(OneSided {
        statistic: f64::NAN,
        p_value: bca.p_below(-margin),
        bound: bca.interval(1.0 - 2.0 * ALPHA).1,
        n,
        method: "BCa bootstrap",
        items_needed: None,
    })
}

/// Mean of `model` ÷ mean of `reference` on the same items with its 95% interval: Tang's score
/// interval for a ratio of paired proportions (0/1 scores), BCa otherwise.
pub fn share_of_reference(model: &[f64], reference: &[f64]) -> Estimate {
    adjusted_share(model, reference, 0.0)
}

/// (model − bar) ÷ (reference − bar) on the same items: the share of the reference's lead over
/// a baseline `bar` that the model keeps, with its 95% interval (Tang's score interval for 0/1
/// scores, BCa otherwise). NaN when the reference is not above the bar.
pub fn adjusted_share(model: &[f64], reference: &[f64], bar: f64) -> Estimate {
    let n = model.len().min(reference.len());
    let (m, r) = (&model[..n], &reference[..n]);
    if n == 0 {
        return Estimate::empty("none");
    }
    if is_binary(m) && is_binary(r) {
        return ratio_interval(&Table::of(r, m), bar, 1.0 - ALPHA);
    }
    let f = |x: f64, y: f64| {
        if y > bar {
            (x - bar) / (y - bar)
        } else {
            f64::NAN
        }
    };
    let bca = Bca::paired(m, r, f);
    if !bca.value.is_finite() {
        return Estimate {
            n,
            ..Estimate::empty("BCa bootstrap")
        };
    }
    if bca.undefined * 100 > crate::BOOTSTRAP_SAMPLES {
        // The reference resampled to the bar in over 1% of resamples: an interval from the
        // rest would be conditional on a lucky draw, so none is given (and a gate fails on it).
        return Estimate {
            value: bca.value,
            n,
            ..Estimate::empty(
                "BCa bootstrap: undefined in over 1% of resamples (reference at the bar)",
            )
        };
    }
    let (low, high) = bca.interval(1.0 - ALPHA);
    Estimate {
        value: bca.value,
        low,
        high,
        n,
        method: "BCa bootstrap",
    }
}

/// Is B at least `share` of A (mean B ≥ share × mean A)? One-sided at [`ALPHA`]; the bound is
/// the one-sided 95% lower bound of B ÷ A. Tang's score test for 0/1 scores, BCa otherwise.
/// None below two items or when A scores 0 (no ratio to test).
pub fn share_at_least(a: &[f64], b: &[f64], share: f64) -> Option<OneSided> {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    if n < 2 || a.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    if is_binary(a) && is_binary(b) {
        let t = Table::of(a, b);
        let correction = 0.5 / n as f64;
        let statistic = corrected_ratio_statistic(&t, share, 0.0, correction);
        let p_value = 1.0 - normal_cdf(statistic);
        let z = crate::normal_quantile(1.0 - ALPHA);
        let corrected = |th: f64| corrected_ratio_statistic(&t, th, 0.0, correction);
        let bound = invert(corrected, t.mean_b() / t.mean_a(), z, (0.0, 1e6)).0;
        let needed = (p_value >= ALPHA)
            .then(|| items_needed(n, statistic))
            .flatten();
        return Some(OneSided {
            statistic,
            p_value,
            bound,
            n,
            method: "score (Tang), continuity-corrected",
            items_needed: needed,
        });
    }
    let bca = Bca::paired(b, a, |x, y| if y > 0.0 { x / y } else { f64::NAN });
    Some(OneSided {
        statistic: f64::NAN,
        p_value: bca.p_above(share),
        bound: bca.interval(1.0 - 2.0 * ALPHA).0,
        n,
        method: "BCa bootstrap",
        items_needed: None,
    })
}

/// Is the mean of `scores` above a fixed `bar` (a baseline taken from data that was not
/// scored)? One-sided p-value and the test's name: the exact binomial test for 0/1 scores, the
/// BCa bootstrap's achieved significance level otherwise.
pub fn above_bar(scores: &[f64], bar: f64) -> (f64, &'static str) {
    if scores.is_empty() {
        return (1.0, "none");
    }
    if is_binary(scores) {
        let right = scores.iter().filter(|s| **s == 1.0).count();
        return (binomial_upper_tail(right, scores.len(), bar), "binomial");
    }
    (
        Bca::paired(scores, scores, |a, _| a).p_above(bar),
        "bootstrap",
    )
}

/// Are 0/1 `scores` above chance when item i is guessed right with probability `chances[i]`
/// (1 / its options)? The exact one-sided Poisson-binomial p-value; the exact binomial when every
/// chance is the same. `None` for graded scores or mismatched lengths.
pub fn above_chances(scores: &[f64], chances: &[f64]) -> Option<f64> {
    if scores.len() != chances.len() || scores.is_empty() || !is_binary(scores) {
        return None;
    }
    let right = scores.iter().filter(|s| **s == 1.0).count();
    Some(poisson_binomial_upper_tail(right, chances))
}

/// The mean of values that come in clusters (instructions within one prompt, judge turns within
/// one item, samples of one problem): the ratio of sums, with a BCa bootstrap that resamples
/// whole clusters (Davison & Hinkley 1997, "Bootstrap Methods and their Application", §3.8), so
/// n counts clusters, not values. Clusters of one value each are [`mean_interval`]. With no
/// spread, the Clopper–Pearson interval at n = clusters (scores in [0, 1] only).
pub fn clustered_mean(clusters: &[Vec<f64>]) -> Estimate {
    let clusters: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    let n = clusters.len();
    if clusters.iter().all(|c| c.len() == 1) {
        let flat: Vec<f64> = clusters.iter().map(|c| c[0]).collect();
        return mean_interval(&flat);
    }
    let sums: Vec<f64> = clusters.iter().map(|c| c.iter().sum()).collect();
    let counts: Vec<f64> = clusters.iter().map(|c| c.len() as f64).collect();
    let method = "cluster BCa bootstrap (resampling items)";
    let bca = Bca::paired(&sums, &counts, |s, c| s / c);
    if bca.degenerate() {
        let value = bca.value;
        if (0.0..=1.0).contains(&value) {
            let (low, high) = clopper_pearson(value * n as f64, n, 1.0 - ALPHA);
            return Estimate {
                value,
                low,
                high,
                n,
                method: "Clopper–Pearson at n = items",
            };
        }
        return Estimate::point(value, n);
    }
    let (low, high) = bca.interval(1.0 - ALPHA);
    Estimate {
        value: bca.value,
        low,
        high,
        n,
        method,
    }
}

/// mean(a) − mean(b) for two independent samples of 0/1 scores, with the MOVER interval of
/// Newcombe (1998, "Interval estimation for the difference between independent proportions",
/// Statistics in Medicine 17, method 10) built on Clopper–Pearson limits instead of Wilson's,
/// which keeps it at or above its level where Wilson's dips. None for graded scores.
pub fn independent_difference(a: &[f64], b: &[f64]) -> Option<Estimate> {
    if a.is_empty() || b.is_empty() || !is_binary(a) || !is_binary(b) {
        return None;
    }
    let one = |x: &[f64]| {
        let k: f64 = x.iter().sum();
        let (l, u) = clopper_pearson(k, x.len(), 1.0 - ALPHA);
        (k / x.len() as f64, l, u)
    };
    let ((p1, l1, u1), (p2, l2, u2)) = (one(a), one(b));
    let d = p1 - p2;
    Some(Estimate {
        value: d,
        low: d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        high: d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
        n: a.len() + b.len(),
        method: "MOVER with Clopper–Pearson limits (Newcombe)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_score_never_has_a_zero_width_interval() {
        let e = mean_interval(&[1.0; 10]);
        assert!((e.low - 0.6915029).abs() < 1e-6 && e.high == 1.0, "{e:?}");
        let graded = mean_interval(&[0.5; 10]);
        assert!(graded.high - graded.low > 0.3, "{graded:?}");
    }

    #[test]
    fn two_identical_items_show_no_equivalence() {
        // The old paired t-test printed "equivalence shown, p < 0.001" here.
        let e = equivalence(&[1.0, 1.0], &[1.0, 1.0], 0.05).unwrap();
        assert!(!e.shown() && e.p_value > 0.5, "{e:?}");
        assert!(e.items_needed.is_some_and(|n| n > 40), "{e:?}");
    }

    #[test]
    fn graded_scores_say_how_many_items_would_show_equivalence() {
        // 13 partial-credit items 1.5 pp apart: inside ±5 pp, so more items would show it; the
        // report once said "too large for any n" because only 0/1 scores had an estimate.
        let a = [
            0.4, 0.2, 0.6, 0.4, 0.2, 0.4, 0.6, 0.2, 0.4, 0.8, 0.4, 0.2, 0.4,
        ];
        let b = [
            0.4, 0.4, 0.4, 0.2, 0.4, 0.4, 0.6, 0.0, 0.6, 0.8, 0.2, 0.2, 0.6,
        ];
        let e = equivalence(&a, &b, 0.05).unwrap();
        assert!(!e.shown(), "{e:?}");
        assert!(e.items_needed.is_some_and(|n| n > 13), "{e:?}");
        // Differences beyond the margin: no number of items would show equivalence.
        let far: Vec<f64> = a.iter().map(|x| x - 0.2).collect();
        let e = equivalence(&a, &far, 0.05).unwrap();
        assert_eq!(e.items_needed, None, "{e:?}");
    }

    #[test]
    fn the_interval_and_the_test_of_a_difference_agree() {
        // 4 of 20 right → wrong and none back: "+20 pp [+5, +40]" once stood beside McNemar's
        // p = 0.125. One method now gives both.
        let a: Vec<f64> = (0..20).map(|i| f64::from(u8::from(i < 14))).collect();
        let mut b = a.clone();
        for x in b.iter_mut().take(4) {
            *x = 0.0;
        }
        let c = compare(&b, &a);
        let excludes_zero = c.difference.high < 0.0 || c.difference.low > 0.0;
        assert_eq!(excludes_zero, c.p_value < ALPHA, "{c:?}");
        let r = regression(&a, &b, 0.0).unwrap();
        assert_eq!(r.shown(), r.bound < 0.0, "{r:?}");
    }

    #[test]
    fn two_samples_at_zero_still_get_an_interval() {
        let e = independent_difference(&[0.0; 40], &[0.0; 40]).unwrap();
        assert!(e.low < -0.05 && e.high > 0.05, "{e:?}");
    }

    #[test]
    fn a_reference_at_zero_leaves_the_share_undefined() {
        let e = share_of_reference(&[1.0, 0.0, 1.0], &[0.0, 0.0, 0.0]);
        assert!(e.value.is_nan() && e.low.is_nan(), "{e:?}");
        assert!(share_at_least(&[0.0; 3], &[1.0, 0.0, 1.0], 0.95).is_none());
    }
}
