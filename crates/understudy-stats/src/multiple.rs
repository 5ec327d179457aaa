//! Tests over several p-values or discordant counts: Holm's step-down correction (Holm 1979,
//! "A simple sequentially rejective multiple test procedure", Scand. J. Statistics 6) and the
//! exact conditional McNemar test (McNemar 1947; the binomial form of Mosteller 1952).

/// Two-sided exact McNemar p-value from the discordant counts: `b` items only A got right,
/// `c` items only B got right.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space to stay exact for large n.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}
/// Holm's step-down adjustment of a family of p-values (same order as given): each adjusted
/// p-value is at least the one before it in ascending order, so a family-wise error rate of
/// [`crate::ALPHA`] holds across the whole list.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_hand_computed_binomial_tails() {
        assert!((mcnemar_exact(10, 2) - 158.0 / 4096.0).abs() < 1e-12);
        assert!((mcnemar_exact(3, 3) - 1.0).abs() < 1e-12);
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn holm_matches_hand_values() {
        let adjusted = holm(&[0.04, 0.01, 0.02]);
        for (a, e) in adjusted.iter().zip([0.04, 0.03, 0.04]) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }
}
