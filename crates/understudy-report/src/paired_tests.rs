//! Paired tests at a margin, for the questions a comparison is asked: is B within δ of A
//! (equivalence, two one-sided tests), is B worse than A by more than δ (a regression), is B at
//! least a share s of A (non-inferiority on the ratio) — and the flip table of the items on
//! which the two disagree. All are paired t-tests on per-item differences (the same as
//! statsmodels' `ttost_paired` and scipy's one-sided `ttest_1samp`), valid for 0/1 and graded
//! scores alike; the fixture in `tests/fixtures/paired_tests.json` holds their values.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::stats::ALPHA;

/// A one-sided paired t-test: its statistic, degrees of freedom and p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OneSided {
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
}

/// Which tail a one-sided test rejects in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// H1: the mean is above the bound.
    Above,
    /// H1: the mean is below the bound.
    Below,
}

/// Mean, standard error and degrees of freedom of `xs`; `None` below two items.
fn moments(xs: &[f64]) -> Option<(f64, f64, f64)> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, (var / n as f64).sqrt(), (n - 1) as f64))
}

/// One-sided t-test of the mean of `xs` against `bound`. With no spread at all the mean is
/// known exactly: p is 0 when it lies strictly on the tested side, else 1.
fn one_sided(xs: &[f64], bound: f64, tail: Tail) -> Option<OneSided> {
    let (mean, se, df) = moments(xs)?;
    if se == 0.0 {
        let shown = match tail {
            Tail::Above => mean > bound,
            Tail::Below => mean < bound,
        };
        let t = if shown { f64::INFINITY } else { 0.0 };
        let t = if tail == Tail::Below { -t } else { t };
        return Some(OneSided {
            t,
            df,
            p_value: if shown { 0.0 } else { 1.0 },
        });
    }
    let t = (mean - bound) / se;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = match tail {
        Tail::Above => dist.sf(t),
        Tail::Below => dist.cdf(t),
    };
    Some(OneSided { t, df, p_value })
}

fn differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| y - x).collect()
}

/// Two one-sided tests that the mean of `b − a` lies inside (−margin, +margin).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Equivalence {
    pub margin: f64,
    /// H1: difference > −margin.
    pub lower: OneSided,
    /// H1: difference < +margin.
    pub upper: OneSided,
    /// The larger of the two p-values: equivalence is shown when it is below [`ALPHA`].
    pub p_value: f64,
    /// The (1 − 2α) = 90% t interval of the difference, which lies inside ±margin exactly when
    /// equivalence is shown.
    pub interval: (f64, f64),
}

impl Equivalence {
    pub fn shown(&self) -> bool {
        self.p_value < ALPHA
    }
}

/// TOST on paired scores: is B's mean within `margin` of A's? `None` below two items.
pub fn equivalence(a: &[f64], b: &[f64], margin: f64) -> Option<Equivalence> {
    let d = differences(a, b);
    let lower = one_sided(&d, -margin, Tail::Above)?;
    let upper = one_sided(&d, margin, Tail::Below)?;
    let (mean, se, df) = moments(&d)?;
    let half = if se == 0.0 {
        0.0
    } else {
        StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(1.0 - ALPHA) * se
    };
    Some(Equivalence {
        margin,
        lower,
        upper,
        p_value: lower.p_value.max(upper.p_value),
        interval: (mean - half, mean + half),
    })
}

/// Is B worse than A by more than `margin`? H1: mean(b − a) < −margin.
pub fn regression(a: &[f64], b: &[f64], margin: f64) -> Option<OneSided> {
    one_sided(&differences(a, b), -margin, Tail::Below)
}

/// Is B at least `share` of A (B ≥ share × A on average)? H1: mean(b − share·a) > 0, a paired
/// t-test on the per-item excess over the bar (no ratio estimate needed).
pub fn share_at_least(a: &[f64], b: &[f64], share: f64) -> Option<OneSided> {
    let excess: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - share * x).collect();
    one_sided(&excess, 0.0, Tail::Above)
}

/// The items on which two rows disagree: where B scores below A (for 0/1 scores, right → wrong)
/// and above it (wrong → right), with their ids, and how many items tie.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Flips {
    pub worse: Vec<String>,
    pub better: Vec<String>,
    pub ties: usize,
}

/// The flip table of paired scores `a` and `b` over `items` (same order).
pub fn flips(items: &[String], a: &[f64], b: &[f64]) -> Flips {
    let mut table = Flips::default();
    for ((item, x), y) in items.iter().zip(a).zip(b) {
        if y < x {
            table.worse.push(item.clone());
        } else if y > x {
            table.better.push(item.clone());
        } else {
            table.ties += 1;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spread_is_decided_by_the_mean_alone() {
        let a = vec![1.0; 10];
        let same = equivalence(&a, &a, 0.05).unwrap();
        assert_eq!(same.p_value, 0.0);
        assert_eq!(same.interval, (0.0, 0.0));
        let worse: Vec<f64> = vec![0.0; 10];
        assert_eq!(equivalence(&a, &worse, 0.05).unwrap().p_value, 1.0);
        assert_eq!(regression(&a, &worse, 0.05).unwrap().p_value, 0.0);
        assert!(equivalence(&a[..1], &a[..1], 0.05).is_none());
    }

    #[test]
    fn flips_count_each_direction() {
        let items: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let t = flips(&items, &[1.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(t.worse, vec!["a".to_string()]);
        assert_eq!(t.better, vec!["b".to_string()]);
        assert_eq!(t.ties, 2);
    }
}
