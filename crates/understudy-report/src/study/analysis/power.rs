//! The page's power line: how many items a paired comparison of two rows needs to detect a
//! 10-point difference, from how often this study's rows disagree on an item (the discordant
//! share McNemar's test depends on), against the items the rows have.

use std::collections::HashMap;

use understudy_store::Cell;

/// The difference a study should be able to detect, in score points.
pub const DETECT: f64 = 0.10;
/// Two-sided significance level and the power planned for.
const Z_ALPHA: f64 = 1.959_964; // 97.5th percentile of the standard normal
const Z_POWER: f64 = 0.841_621; // 80th percentile

/// Items a paired McNemar test needs to detect a difference of `delta` at 80% power
/// (two-sided α = 0.05) when a share `discordant` of items are scored differently by the two
/// rows (Connor 1987). `None` when rows that disagree that rarely cannot differ by `delta`:
/// the difference is p10 − p01, at most the discordant share p10 + p01, so δ needs ψ > δ.
pub fn items_needed(delta: f64, discordant: f64) -> Option<usize> {
    if delta <= 0.0 || discordant <= delta {
        return None;
    }
    let root = Z_ALPHA * discordant.sqrt() + Z_POWER * (discordant - delta * delta).sqrt();
    Some((root * root / (delta * delta)).ceil() as usize)
}

/// The power of that test with `n` items.
pub fn power_with(n: usize, delta: f64, discordant: f64) -> Option<f64> {
    if delta <= 0.0 || discordant <= delta || n == 0 {
        return None;
    }
    let z = (delta * (n as f64).sqrt() - Z_ALPHA * discordant.sqrt())
        / (discordant - delta * delta).sqrt();
    Some(0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2)))
}

/// A task's rows (model, strategy, format), each with its items right or wrong.
type RowsOfTask<'a> = HashMap<(&'a str, &'a str, &'a str), HashMap<&'a str, bool>>;

/// Right or wrong on an item (scores of 0.5 and above count as right).
fn right(score: f64) -> bool {
    score >= 0.5
}

/// The line, or `None` when no two rows share items.
pub fn line(cells: &[Cell]) -> Option<String> {
    let mut rows: HashMap<&str, RowsOfTask<'_>> = HashMap::new();
    for c in cells {
        rows.entry(&c.task)
            .or_default()
            .entry((&c.model, &c.strategy, &c.format))
            .or_default()
            .insert(&c.item_id, right(c.score));
    }
    let (mut disagree, mut shared, mut sizes) = (0usize, 0usize, Vec::new());
    for by_row in rows.values() {
        let list: Vec<&HashMap<&str, bool>> = by_row.values().collect();
        sizes.extend(list.iter().map(|items| items.len()));
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                for (item, x) in a.iter() {
                    if let Some(y) = b.get(item) {
                        shared += 1;
                        disagree += usize::from(x != y);
                    }
                }
            }
        }
    }
    if shared == 0 {
        return None;
    }
    sizes.sort_unstable();
    let n = sizes[sizes.len() / 2];
    let discordant = disagree as f64 / shared as f64;
    let points = DETECT * 100.0;
    Some(match (items_needed(DETECT, discordant), power_with(n, DETECT, discordant)) {
        (Some(needed), Some(power)) => format!(
            "rows here have n = {n} items per task (median); two rows disagree on {:.0}% of the items they share, so a paired test (McNemar, two-sided α = 0.05) detects a {points:.0}-point difference with about {:.0}% power; to detect a {points:.0}-point difference at 80% power you need n = {needed} items per task",
            discordant * 100.0,
            power * 100.0
        ),
        _ => format!(
            "rows here have n = {n} items per task (median); two rows disagree on only {:.0}% of the items they share, too few for a {points:.0}-point difference between them to exist",
            discordant * 100.0
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sizes_match_the_paired_formula() {
        // ψ = 0.2, δ = 0.1: (1.96·√0.2 + 0.8416·√0.19)² / 0.01 = 154.4 → 155.
        assert_eq!(items_needed(0.10, 0.20), Some(155));
        // More disagreement needs more items; none is needed when ψ ≤ δ².
        assert!(items_needed(0.10, 0.40).unwrap() > 155);
        assert_eq!(items_needed(0.10, 0.01), None);
        // 5% discordance cannot carry a 10-point difference (the old guard, ψ ≤ δ², said n = 37).
        assert_eq!(items_needed(0.10, 0.05), None);
        // At the planned n the power is 80%.
        let power = power_with(155, 0.10, 0.20).unwrap();
        assert!((power - 0.80).abs() < 0.01, "{power}");
        assert!(power_with(20, 0.10, 0.20).unwrap() < 0.3);
    }
}
