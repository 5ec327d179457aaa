//! The statistics behind every number understudy prints: one function per question a page asks,
//! each naming its method and reference, chosen by its error rates at the n users run (10–50
//! items, 0/1 scores) rather than by name. `tests/error_rates.rs` enumerates those error rates.
//!
//! | question | 0/1 scores | graded scores |
//! |---|---|---|
//! | a score's interval ([`mean_interval`]) | Clopper–Pearson exact | BCa bootstrap |
//! | B − A on the same items ([`compare`], [`regression`], [`equivalence`]) | exact unconditional test on Tango's score, and the interval that inverts it | BCa bootstrap |
//! | B ÷ A, (B − bar) ÷ (A − bar) ([`share_of_reference`], [`adjusted_share`], [`share_at_least`]) | Tang's score interval for paired ratios | BCa bootstrap |
//! | above a fixed baseline ([`above_bar`]) | exact binomial | BCa bootstrap |
//! | several tests of one question ([`holm`]) | Holm's step-down | |
//! | a judged win rate at equal answer length ([`length_controlled_win_rate`]) | AlpacaEval 2's logistic model, percentile bootstrap | |

mod bootstrap;
mod classes;
mod estimate;
mod exact_paired;
mod length_control;
mod multiple;
mod paired;
mod planning;
mod proportion;
mod questions;
mod score;
pub mod stopping;
mod text;

pub use classes::{mean, pass_at_k, per_class, quantile, ClassScore};
pub use estimate::{Comparison, Equivalence, Estimate, OneSided};
pub use length_control::length_controlled_win_rate;
pub use multiple::{holm, mcnemar_exact};
pub use paired::Table;
pub use planning::{paired_items_needed, paired_power, z_for_family};
pub use proportion::{binomial_upper_tail, clopper_pearson, poisson_binomial_upper_tail};
pub use questions::{
    above_bar, above_chances, adjusted_share, clustered_mean, compare, equivalence,
    independent_difference, is_binary, mean_interval, regression, share_at_least,
    share_of_reference,
};
pub use text::{margin_text, p_text, p_value_text};

/// Below this p-value a difference counts as shown; 95% intervals are (1 − ALPHA).
pub const ALPHA: f64 = 0.05;
/// Bootstrap resamples used for every graded-score interval.
pub const BOOTSTRAP_SAMPLES: usize = 2000;
/// Seed for every resampling, so intervals are reproducible.
pub const BOOTSTRAP_SEED: u64 = 0x5eed;

/// The standard normal quantile at `p`.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// The two-sided critical value of the standard normal at level `alpha` (1.96 at 0.05).
pub fn normal_quantile_two_sided(alpha: f64) -> f64 {
    normal_quantile(1.0 - alpha / 2.0)
}

/// The standard normal distribution function at `x`.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.cdf(x),
        Err(_) => f64::NAN,
    }
}
