//! How many items a paired comparison needs: the sample-size and power formulas for a paired
//! test of two 0/1-scored rows on the same items (Connor 1987), used to plan runs and to say
//! how many items an unsettled difference would need.

use crate::{normal_cdf, normal_quantile};

/// The 80th percentile of the standard normal: the power runs are planned for.
const Z_POWER_80: f64 = 0.841_621;

/// Items a paired test needs to detect a difference of `delta` at 80% power (two-sided, with
/// critical value `z_alpha`: 1.96 at α = 0.05) when a share `discordant` of items are scored
/// differently by the two rows. `None` when rows that disagree that rarely cannot differ by
/// `delta`: the difference is p10 − p01, at most the discordant share, so δ needs ψ > δ.
pub fn paired_items_needed(delta: f64, discordant: f64, z_alpha: f64) -> Option<usize> {
    if delta <= 0.0 || discordant <= delta {
        return None;
    }
    let root = z_alpha * discordant.sqrt() + Z_POWER_80 * (discordant - delta * delta).sqrt();
    Some((root * root / (delta * delta)).ceil() as usize)
}

/// The power of that test with `n` items.
pub fn paired_power(n: usize, delta: f64, discordant: f64, z_alpha: f64) -> Option<f64> {
    if delta <= 0.0 || discordant <= delta || n == 0 {
        return None;
    }
    let z = (delta * (n as f64).sqrt() - z_alpha * discordant.sqrt())
        / (discordant - delta * delta).sqrt();
    Some(normal_cdf(z))
}

/// The two-sided critical value for one of `tests` tests at family level `alpha`, as Holm's
/// strictest step uses it (α / tests).
pub fn z_for_family(alpha: f64, tests: usize) -> f64 {
    normal_quantile(1.0 - alpha / tests.max(1) as f64 / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z_ALPHA: f64 = 1.959_964;

    #[test]
    fn sample_sizes_match_the_paired_formula() {
        // ψ = 0.2, δ = 0.1: (1.96·√0.2 + 0.8416·√0.19)² / 0.01 = 154.4 → 155.
        assert_eq!(paired_items_needed(0.10, 0.20, Z_ALPHA), Some(155));
        // More disagreement needs more items; none is needed when ψ ≤ δ.
        assert!(paired_items_needed(0.10, 0.40, Z_ALPHA).unwrap() > 155);
        assert_eq!(paired_items_needed(0.10, 0.01, Z_ALPHA), None);
        assert_eq!(paired_items_needed(0.10, 0.05, Z_ALPHA), None);
        // At the planned n the power is 80%.
        let power = paired_power(155, 0.10, 0.20, Z_ALPHA).unwrap();
        assert!((power - 0.80).abs() < 0.01, "{power}");
        assert!(paired_power(20, 0.10, 0.20, Z_ALPHA).unwrap() < 0.3);
        assert!((z_for_family(0.05, 1) - Z_ALPHA).abs() < 1e-4);
    }
}
