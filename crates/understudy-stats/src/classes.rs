//! Descriptive numbers: means, quantiles, pass@k, and per-class precision, recall and F1.

/// The arithmetic mean; NaN for no values.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// The `q` quantile (0..=1) of sorted values by linear interpolation between order statistics
/// (Hyndman & Fan type 7, R's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The unbiased pass@k estimator (Chen et al., 2021): the chance that at least one of k samples
/// drawn without replacement from n, of which c are correct, is correct: 1 - C(n-c, k) / C(n, k).
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if k == 0 || k > n {
        return f64::NAN;
    }
    if n - c < k {
        return 1.0;
    }
    // 1 - prod_{i=n-c+1}^{n} (1 - k / i), the numerically stable form.
    let product: f64 = ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product();
    1.0 - product
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Per-class scores and their macro-average F1 over `labels` and every class that was predicted
/// (a predicted class absent from the golds has F1 0 and still counts in the average, as
/// scikit-learn's `f1_score(average="macro")` over the union of labels). A prediction of `None`
/// (format failure) counts as wrong for its gold class and predicts no class.
pub fn per_class(
    gold: &[String],
    predicted: &[Option<String>],
    labels: &[String],
) -> (Vec<ClassScore>, f64) {
    let mut all: Vec<String> = labels.to_vec();
    for p in predicted.iter().flatten() {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    let classes: Vec<ClassScore> = all
        .iter()
        .map(|label| {
            let tp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| *g == label && p.as_ref() == Some(label))
                .count();
            let fp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| *g != label && p.as_ref() == Some(label))
                .count();
            let support = gold.iter().filter(|g| *g == label).count();
            let fn_ = support - tp;
            let precision = if tp + fp == 0 {
                0.0
            } else {
                tp as f64 / (tp + fp) as f64
            };
            let recall = if tp + fn_ == 0 {
                0.0
            } else {
                tp as f64 / (tp + fn_) as f64
            };
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassScore {
                label: label.clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let macro_f1 = mean(&classes.iter().map(|c| c.f1).collect::<Vec<_>>());
    (classes, macro_f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
        assert!((pass_at_k(10, 3, 5) - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
        assert_eq!(pass_at_k(5, 0, 2), 0.0);
        assert_eq!(pass_at_k(5, 4, 2), 1.0);
        assert!(pass_at_k(3, 1, 4).is_nan());
    }

    fn strings(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn macro_f1_matches_a_hand_computed_confusion_matrix() {
        let gold = strings(&["p", "p", "p", "n", "n"]);
        let pred = vec![
            Some("p".into()),
            Some("p".into()),
            None,
            Some("p".into()),
            Some("n".into()),
        ];
        let (classes, macro_f1) = per_class(&gold, &pred, &strings(&["p", "n"]));
        // p: tp=2 fp=1 fn=1 -> F1=2/3. n: tp=1 fp=0 fn=1 -> F1=2/3.
        assert!((classes[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((macro_f1 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_predicted_class_absent_from_the_golds_counts_in_macro_f1() {
        let gold = strings(&["p", "p", "n", "n"]);
        let pred = vec![
            Some("p".into()),
            Some("x".into()),
            Some("n".into()),
            Some("n".into()),
        ];
        let (classes, macro_f1) = per_class(&gold, &pred, &strings(&["p", "n"]));
        // p: P=1 R=1/2 F1=2/3; n: P=R=1; x: F1=0 -> (2/3 + 1 + 0) / 3.
        assert_eq!(classes.len(), 3);
        assert!(
            (macro_f1 - (2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12,
            "{macro_f1}"
        );
    }
}
