//! Numbers as the pages print them: p-values, and margins without float noise.

/// A p-value as text: "p = 0.210", or a bound where the test cannot resolve it.
pub fn p_text(p: f64, test: &str) -> String {
    let value = p_value_text(p, test);
    if value.starts_with('<') {
        format!("p {value}")
    } else {
        format!("p = {value}")
    }
}

/// The p-value alone, for a table's p column: "0.210", "< 0.001", "–" when undefined. Bootstrap
/// p-values count the resample itself (+1), so they never reach 0 and need no bound of their own.
pub fn p_value_text(p: f64, _test: &str) -> String {
    if p.is_nan() {
        "–".to_string()
    } else if p < 0.001 {
        "< 0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// A margin or bar given as a fraction, in percentage points without float noise: 0.07 → "7",
/// 0.025 → "2.5".
pub fn margin_text(fraction: f64) -> String {
    let pp = (fraction * 100.0 * 1000.0).round() / 1000.0;
    let text = format!("{pp:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_print_without_float_noise() {
        assert_eq!(margin_text(0.07), "7");
        assert_eq!(margin_text(0.14), "14");
        assert_eq!(margin_text(0.025), "2.5");
        assert_eq!(margin_text(0.0), "0");
    }

    #[test]
    fn p_values_print_at_the_resolution_of_their_test() {
        assert_eq!(p_text(0.0004, "exact score"), "p < 0.001");
        assert_eq!(p_text(0.21, "exact score"), "p = 0.210");
        assert_eq!(p_text(0.001, "bootstrap"), "p = 0.001");
        assert_eq!(p_value_text(f64::NAN, "bootstrap"), "–");
    }
}
