//! The page's power line: how many items a paired comparison of two rows needs to detect a
//! 10-point difference, from how often two of this study's rows disagree on an item (the
//! discordant share a paired test depends on; the median over the pairs of rows, each pair's
//! own), at α divided over the page's verdicts, one per model and task (Holm's first step),
//! with a problem's samples as one item.

use std::collections::HashMap;

use understudy_store::Cell;

/// The difference a study should be able to detect, in score points.
pub const DETECT: f64 = 0.10;
/// The power planned for (80%).
const Z_POWER: f64 = 0.841_621; // 80th percentile

/// Items a paired McNemar test needs to detect a difference of `delta` at 80% power
/// (two-sided α = 0.05) when a share `discordant` of items are scored differently by the two
/// rows (Connor 1987). `None` when rows that disagree that rarely cannot differ by `delta`:
/// the difference is p10 − p01, at most the discordant share p10 + p01, so δ needs ψ > δ.
/// `z_alpha` is the two-sided critical value (1.96 at α = 0.05).
fn items_needed_at(delta: f64, discordant: f64, z_alpha: f64) -> Option<usize> {
    if delta <= 0.0 || discordant <= delta {
        return None;
    }
    let root = z_alpha * discordant.sqrt() + Z_POWER * (discordant - delta * delta).sqrt();
    Some((root * root / (delta * delta)).ceil() as usize)
}

/// The power of that test with `n` items.
fn power_with_at(n: usize, delta: f64, discordant: f64, z_alpha: f64) -> Option<f64> {
    if delta <= 0.0 || discordant <= delta || n == 0 {
        return None;
    }
    let z = (delta * (n as f64).sqrt() - z_alpha * discordant.sqrt())
        / (discordant - delta * delta).sqrt();
    Some(0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2)))
}

/// A task's rows (model, strategy, format), each with its items right or wrong.
type RowsOfTask<'a> = HashMap<(&'a str, &'a str, &'a str), HashMap<&'a str, bool>>;

/// Right or wrong on an item (scores of 0.5 and above count as right).
fn right(score: f64) -> bool {
    score >= 0.5
}

/// Each task's rows with each item right or wrong: a problem's samples averaged into one item,
/// ungraded cells left out.
fn rows_of_tasks(cells: &[Cell], samples: usize) -> HashMap<&str, RowsOfTask<'_>> {
    /// Per task and row, each problem's summed score and cell count.
    type Sums<'a> =
        HashMap<&'a str, HashMap<(&'a str, &'a str, &'a str), HashMap<&'a str, (f64, usize)>>>;
    let mut sums: Sums<'_> = HashMap::new();
    for c in cells.iter().filter(|c| !crate::metrics::ungraded(c)) {
        let e = sums
            .entry(&c.task)
            .or_default()
            .entry((&c.model, &c.strategy, &c.format))
            .or_default()
            .entry(understudy_tasks::ids::problem_id(&c.item_id, samples))
            .or_default();
        e.0 += c.score;
        e.1 += 1;
    }
    sums.into_iter()
        .map(|(task, by_row)| {
            let by_row = by_row
                .into_iter()
                .map(|(row, items)| {
                    let items = items
                        .into_iter()
                        .map(|(i, (s, n))| (i, right(s / n as f64)));
                    (row, items.collect())
                })
                .collect();
            (task, by_row)
        })
        .collect()
}

/// The line, or `None` when no two rows share items. `samples` is how many samples the run
/// drew per item: a problem's samples are averaged into one item first.
pub fn line(cells: &[Cell], samples: usize) -> Option<String> {
    let rows = rows_of_tasks(cells, samples);
    let (mut pairs, mut sizes) = (Vec::new(), Vec::new());
    // The pages' verdicts are one per model and task (Holm-corrected as one family), so the
    // plan divides α over those.
    let family: std::collections::HashSet<(&str, &str)> = rows
        .iter()
        .flat_map(|(task, by_row)| by_row.keys().map(move |(model, _, _)| (*model, *task)))
        .collect();
    for by_row in rows.values() {
        let list: Vec<&HashMap<&str, bool>> = by_row.values().collect();
        sizes.extend(list.iter().map(|items| items.len()));
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                let (mut shared, mut disagree) = (0usize, 0usize);
                for (item, x) in a.iter() {
                    if let Some(y) = b.get(item) {
                        shared += 1;
                        disagree += usize::from(x != y);
                    }
                }
                if shared > 0 {
                    pairs.push(disagree as f64 / shared as f64);
                }
            }
        }
    }
    if pairs.is_empty() {
        return None;
    }
    sizes.sort_unstable();
    let n = sizes[sizes.len() / 2];
    pairs.sort_by(|a, b| a.total_cmp(b));
    let discordant = pairs[pairs.len() / 2];
    let m = pairs.len();
    let tests = family.len().max(1);
    let z_alpha = understudy_stats::normal_quantile_two_sided(0.05 / tests as f64);
    let points = DETECT * 100.0;
    let family = if tests == 1 {
        "two-sided α = 0.05".to_string()
    } else {
        format!("two-sided α = 0.05 / {tests}, one test per model and task, Holm's strictest step")
    };
    Some(match (items_needed_at(DETECT, discordant, z_alpha), power_with_at(n, DETECT, discordant, z_alpha)) {
        (Some(needed), Some(power)) => format!(
            "rows here have n = {n} items per task (median); a pair of rows disagrees on {:.0}% of the items they share (median over {m} pairs), so a paired test ({family}) detects a {points:.0}-point difference with about {:.0}% power; to detect a {points:.0}-point difference at 80% power you need n = {needed} items per task",
            discordant * 100.0,
            power * 100.0
        ),
        _ => format!(
            "rows here have n = {n} items per task (median); a pair of rows disagrees on only {:.0}% of the items they share (median over {m} pairs), too few for a {points:.0}-point difference between them to exist",
            discordant * 100.0
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z_ALPHA: f64 = 1.959_964;
    fn items_needed(d: f64, psi: f64) -> Option<usize> {
        items_needed_at(d, psi, Z_ALPHA)
    }
    fn power_with(n: usize, d: f64, psi: f64) -> Option<f64> {
        power_with_at(n, d, psi, Z_ALPHA)
    }

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
