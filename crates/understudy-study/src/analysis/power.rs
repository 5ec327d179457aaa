//! The page's power line: how many items a paired comparison of two rows needs to detect a
//! 10-point difference, from how often two of this study's rows disagree on an item (the
//! discordant share a paired test depends on; the median over the pairs of rows, each pair's
//! own), at α divided over the page's verdicts, one per model and task (Holm's first step),
//! with a problem's samples as one item.

use std::collections::HashMap;

use understudy_stats::{paired_items_needed, paired_power};
use understudy_store::Cell;

/// The difference a study should be able to detect, in score points.
pub const DETECT: f64 = 0.10;

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
    for c in cells
        .iter()
        .filter(|c| !understudy_report::metrics::ungraded(c))
    {
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
    let z_alpha = understudy_stats::z_for_family(0.05, tests);
    let points = DETECT * 100.0;
    let family = if tests == 1 {
        "two-sided α = 0.05".to_string()
    } else {
        format!("two-sided α = 0.05 / {tests}, one test per model and task, Holm's strictest step")
    };
    Some(match (paired_items_needed(DETECT, discordant, z_alpha), paired_power(n, DETECT, discordant, z_alpha)) {
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
