//! The values the question functions return: an estimate with its interval, a paired
//! comparison, a one-sided test at a margin, and an equivalence test.

use serde::Serialize;

use crate::ALPHA;

/// A point estimate with its 95% interval, its n and the method that made the interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
    /// "Clopper–Pearson", "exact score (Tango)", "score (Tang)", "BCa bootstrap", ...
    pub method: &'static str,
}

impl Estimate {
    /// No items: every number undefined.
    pub fn empty(method: &'static str) -> Self {
        Estimate {
            value: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
            n: 0,
            method,
        }
    }

    /// Values with no spread at all that are not scores (a latency): the value, and no interval
    /// wider than it.
    pub fn point(value: f64, n: usize) -> Self {
        Estimate {
            value,
            low: value,
            high: value,
            n,
            method: "no spread",
        }
    }

    /// A score or share as a percentage with its interval and n: "61.3% [43.2–81.2] n=31".
    pub fn percent_with_n(&self) -> String {
        format!(
            "{:.1}% [{:.1}–{}] n={}",
            self.value * 100.0,
            self.low * 100.0,
            percent_bound(self.high),
            self.n
        )
    }
}

/// An upper bound in percent; a ratio's bound can be unbounded ("∞").
fn percent_bound(x: f64) -> String {
    if x.is_infinite() {
        "∞".into()
    } else {
        format!("{:.1}", x * 100.0)
    }
}

/// A paired comparison of two rows on the same items: B − A (or the order given) with its
/// interval, and the two-sided p-value of "no difference" from the same method, so the interval
/// excludes 0 exactly when p < [`ALPHA`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    pub difference: Estimate,
    pub p_value: f64,
    /// "exact score" for 0/1 scores, "bootstrap" for graded ones.
    pub test: &'static str,
}

impl Comparison {
    /// The p-value as text ("p = 0.210", "p < 0.001").
    pub fn p_text(&self) -> String {
        crate::p_text(self.p_value, self.test)
    }

    /// The p-value for corrections (every method here returns a resolvable one).
    pub fn p_upper(&self) -> f64 {
        self.p_value
    }
}

/// A one-sided test at a margin: the statistic, the p-value, and the one-sided 95% confidence
/// bound of the tested quantity (the verdict holds exactly when the bound clears the margin).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OneSided {
    pub statistic: f64,
    pub p_value: f64,
    /// The one-sided 95% bound of the quantity tested (B − A, or B ÷ A).
    pub bound: f64,
    pub n: usize,
    pub method: &'static str,
    /// When the verdict is not shown: how many items it would take at the observed rates
    /// (None: the observed rates do not support it at any n, or it is shown).
    pub items_needed: Option<usize>,
}

impl OneSided {
    pub fn shown(&self) -> bool {
        self.p_value < ALPHA
    }
}

/// Equivalence of two paired rows within ±margin: shown when the 90% interval of B − A lies
/// inside (−margin, +margin), the same as both one-sided tests at [`ALPHA`] (TOST).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Equivalence {
    pub margin: f64,
    /// The larger of the two one-sided p-values.
    pub p_value: f64,
    /// The 90% interval of B − A.
    pub interval: (f64, f64),
    pub n: usize,
    pub method: &'static str,
    /// When not shown: how many items it would take at the observed rates.
    pub items_needed: Option<usize>,
}

impl Equivalence {
    pub fn shown(&self) -> bool {
        self.p_value < ALPHA
    }
}
