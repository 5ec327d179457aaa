//! One rate from 0/1 scores: the Clopper–Pearson interval and exact binomial tails.

use statrs::function::beta::inv_beta_reg;

/// Clopper & Pearson (1934), "The use of confidence or fiducial limits illustrated in the case of
/// the binomial", Biometrika 26: the exact interval for k successes in n at `level` (0.95).
/// Chosen over Wilson and Jeffreys because its coverage never falls below `level` at any n and
/// rate (Wilson dips to 91% at n = 10, p = 0.95). `k` may be fractional (graded scores with no
/// spread), read as the Beta quantiles with those parameters.
pub fn clopper_pearson(k: f64, n: usize, level: f64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let n = n as f64;
    let tail = (1.0 - level) / 2.0;
    let low = if k <= 0.0 {
        0.0
    } else {
        inv_beta_reg(k, n - k + 1.0, tail)
    };
    let high = if k >= n {
        1.0
    } else {
        inv_beta_reg(k + 1.0, n - k, 1.0 - tail)
    };
    (low, high)
}

/// ln C(n, i), exact enough for the n of an eval.
pub(crate) fn ln_choose(n: usize, i: usize) -> f64 {
    (1..=i)
        .map(|j| ((n - i + j) as f64).ln() - (j as f64).ln())
        .sum()
}

/// The exact one-sided binomial p-value P(X ≥ k) for X ~ Binomial(n, p).
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
    (k..=n)
        .map(|i| (ln_choose(n, i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln()).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The exact one-sided p-value P(X ≥ k) where X is a sum of independent Bernoulli trials with
/// the given success probabilities (the Poisson-binomial distribution; a dynamic program over
/// the trials). Chance on items with different numbers of options.
pub fn poisson_binomial_upper_tail(k: usize, probabilities: &[f64]) -> f64 {
    let mut dist = vec![1.0f64];
    for p in probabilities {
        let mut next = vec![0.0; dist.len() + 1];
        for (j, d) in dist.iter().enumerate() {
            next[j] += d * (1.0 - p);
            next[j + 1] += d * p;
        }
        dist = next;
    }
    dist.iter().skip(k).sum::<f64>().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_published_values() {
        // R: binom.test(7, 10)$conf.int = 0.3475471 0.9332605.
        let (l, h) = clopper_pearson(7.0, 10, 0.95);
        assert!(
            (l - 0.3475471).abs() < 1e-6 && (h - 0.9332605).abs() < 1e-6,
            "{l} {h}"
        );
        // 10/10: [0.6915029, 1]; 0/10: [0, 0.3084971].
        let (l, h) = clopper_pearson(10.0, 10, 0.95);
        assert!((l - 0.6915029).abs() < 1e-6 && h == 1.0);
        let (l, h) = clopper_pearson(0.0, 10, 0.95);
        assert!(l == 0.0 && (h - 0.3084971).abs() < 1e-6);
    }

    #[test]
    fn equal_chances_make_the_poisson_binomial_a_binomial() {
        let p = poisson_binomial_upper_tail(8, &[0.5; 10]);
        assert!((p - 56.0 / 1024.0).abs() < 1e-12);
        // Two items: chance 1/2 and 1/4; both right = 1/8.
        assert!((poisson_binomial_upper_tail(2, &[0.5, 0.25]) - 0.125).abs() < 1e-12);
    }

    #[test]
    fn binomial_tail_matches_hand_values() {
        assert!((binomial_upper_tail(8, 10, 0.5) - 56.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_upper_tail(0, 10, 0.5) - 1.0).abs() < 1e-12);
        assert!((binomial_upper_tail(3, 3, 0.25) - 1.0 / 64.0).abs() < 1e-12);
    }
}
