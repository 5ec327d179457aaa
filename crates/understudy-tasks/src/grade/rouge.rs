//! ROUGE-1, ROUGE-2 and ROUGE-L F-measures, tokenised like the `rouge-score` package's default
//! (lowercase, every run of characters outside `[a-z0-9]` is a separator, no stemming). No
//! well-kept Rust crate implements these to match `rouge-score`; the fixture test compares with it.

use std::collections::HashMap;

use serde::Serialize;

/// Precision, recall and F-measure of one ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

/// The three variants for one (reference, candidate) pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rouge {
    pub rouge1: RougeScore,
    pub rouge2: RougeScore,
    pub rouge_l: RougeScore,
}

/// `rouge-score`'s default tokenizer: lowercase, replace non-`[a-z0-9]` runs by spaces, split.
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in lower.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn score(overlap: usize, target_total: usize, prediction_total: usize) -> RougeScore {
    let precision = overlap as f64 / prediction_total.max(1) as f64;
    let recall = overlap as f64 / target_total.max(1) as f64;
    let fmeasure = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    RougeScore {
        precision,
        recall,
        fmeasure,
    }
}

fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

fn rouge_n(target: &[String], prediction: &[String], n: usize) -> RougeScore {
    let t = ngrams(target, n);
    let p = ngrams(prediction, n);
    let overlap = t
        .iter()
        .map(|(gram, count)| (*count).min(p.get(gram).copied().unwrap_or(0)))
        .sum();
    score(overlap, t.values().sum(), p.values().sum())
}

fn lcs_length(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Scores `prediction` against `target`.
pub fn rouge(target: &str, prediction: &str) -> Rouge {
    let t = tokenize(target);
    let p = tokenize(prediction);
    Rouge {
        rouge1: rouge_n(&t, &p, 1),
        rouge2: rouge_n(&t, &p, 2),
        rouge_l: score(lcs_length(&t, &p), t.len(), p.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_score_one_and_disjoint_zero() {
        let r = rouge("The cat sat.", "the CAT sat");
        assert_eq!(r.rouge_l.fmeasure, 1.0);
        assert_eq!(r.rouge2.fmeasure, 1.0);
        assert_eq!(rouge("a b", "c d").rouge1.fmeasure, 0.0);
        assert_eq!(rouge("", "").rouge_l.fmeasure, 0.0);
    }

    #[test]
    fn lcs_counts_in_order_matches() {
        // target 4 tokens, prediction 4 tokens, LCS "police killed gunman" = 3.
        let r = rouge("police killed the gunman", "police kill the gunman");
        assert!((r.rouge_l.fmeasure - 0.75).abs() < 1e-12);
        assert_eq!(
            tokenize("Café-au-lait, 2024!"),
            vec!["caf", "au", "lait", "2024"]
        );
    }
}
