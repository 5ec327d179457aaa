//! The score statistic for a linear hypothesis on the four cells of a paired 0/1 table,
//! Σ c_j p_j = 0, with the cell probabilities at their maximum-likelihood values under that
//! hypothesis (Lagrange multiplier, with the boundary case where an empty cell takes the mass).
//! Tango's statistic for a difference (Tango 1998) and Tang's for a ratio (Tang, Tang & Chan
//! 2003; Nam & Blackwelder 2002) are this statistic for their contrasts.

/// (Σ c_j x_j / n) / sqrt(Σ c_j² p̃_j / n), where p̃ is the constrained MLE. Positive when the
/// observed counts lie on the positive side of the hypothesis. ±∞ when the hypothesis leaves no
/// variance (or is impossible) and the counts disagree with it.
/// With `correction` > 0 the numerator's distance from 0 is shortened by it (never past 0).
pub(crate) fn corrected_statistic(counts: [f64; 4], contrast: [f64; 4], correction: f64) -> f64 {
    let n: f64 = counts.iter().sum();
    if n <= 0.0 {
        return 0.0;
    }
    let g: f64 = counts.iter().zip(contrast).map(|(x, c)| x * c).sum::<f64>() / n;
    if g == 0.0 {
        return 0.0;
    }
    let variance = match constrained_variance(&counts, &contrast, n, g) {
        Some(v) => v,
        None => return g.signum() * f64::INFINITY,
    };
    let shortened = g.signum() * (g.abs() - correction).max(0.0);
    if variance <= 0.0 {
        return shortened.signum() * f64::INFINITY;
    }
    shortened / (variance / n).sqrt()
}

/// Σ c_j² p̃_j at the constrained MLE p̃_j = x_j / (n + λ c_j); an empty cell at the edge of
/// λ's range takes the mass the observed cells leave. None: no table satisfies the hypothesis.
fn constrained_variance(counts: &[f64; 4], contrast: &[f64; 4], n: f64, g: f64) -> Option<f64> {
    // λ moves from 0 in the direction of g (t = |λ|) until Σ x_j c_j / (n + λ c_j) reaches 0,
    // or until an empty cell's factor n + λ c_j reaches 0 first (that cell then holds mass).
    let dir = g.signum();
    let edge = |observed: bool| -> f64 {
        counts
            .iter()
            .zip(contrast)
            .filter(|(x, c)| (**x > 0.0) == observed && dir * **c < 0.0)
            .map(|(_, c)| n / c.abs())
            .fold(f64::INFINITY, f64::min)
    };
    let (observed_edge, empty_edge) = (edge(true), edge(false));
    let h = |t: f64| -> f64 {
        let l = dir * t;
        dir * counts
            .iter()
            .zip(contrast)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, c)| x * c / (n + l * c))
            .sum::<f64>()
    };
    let boundary = empty_edge < observed_edge && h(empty_edge) >= 0.0;
    let t = if boundary {
        empty_edge
    } else {
        let limit = observed_edge.min(empty_edge);
        if limit.is_infinite() {
            return None;
        }
        let (mut lo, mut hi) = (0.0f64, limit);
        for _ in 0..90 {
            let mid = 0.5 * (lo + hi);
            if h(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let lambda = dir * t;
    let mut left = 1.0;
    let mut variance = 0.0;
    for (x, c) in counts.iter().zip(contrast) {
        if *x > 0.0 {
            let p = x / (n + lambda * c);
            left -= p;
            variance += c * c * p;
        }
    }
    if boundary {
        // The empty cell whose factor vanishes there (|c| = n / t) holds the rest.
        let c = n / t;
        variance += c * c * left.max(0.0);
    }
    Some(variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_discordance_gives_the_closed_form_of_a_boundary_mle() {
        // b = c = 0: T(d) = −sqrt(n d / (1 − d)) for d > 0.
        let t = corrected_statistic([7.0, 0.0, 0.0, 3.0], [-0.1, -1.1, 0.9, -0.1], 0.0);
        assert!((t + (10.0f64 * 0.1 / 0.9).sqrt()).abs() < 1e-6, "{t}");
    }
}
