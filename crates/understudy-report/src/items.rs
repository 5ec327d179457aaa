//! A row's scores per item: a problem's samples averaged into one unit, and two rows paired on
//! the items both have — the units every interval, test and comparison counts.

use std::collections::BTreeMap;

use understudy_store::Cell;

/// Mean score per item of `cells`: a problem's samples (`ID#i`) are averaged into one unit, so
/// intervals and tests count problems, not samples.
pub fn by_item<'c>(cells: impl Iterator<Item = &'c Cell>, samples: usize) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for c in cells {
        let entry = sums
            .entry(understudy_tasks::ids::problem_id(&c.item_id, samples).to_string())
            .or_default();
        entry.0 += c.score;
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(k, (sum, n))| (k, sum / n as f64))
        .collect()
}

/// Paired score vectors over the items both maps have, in a stable order.
pub fn paired(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> (Vec<f64>, Vec<f64>) {
    a.iter()
        .filter_map(|(k, x)| b.get(k).map(|y| (*x, *y)))
        .unzip()
}
