//! The flip table of two paired rows (the items on which they disagree); the tests at a margin
//! (equivalence, regression, share kept) are `understudy-stats`' and re-exported here.

use serde::Serialize;

pub use understudy_stats::{equivalence, regression, share_at_least, Equivalence, OneSided};

/// The items on which two rows disagree: where B scores below A (for 0/1 scores, right → wrong)
/// and above it (wrong → right), with their ids, and how many items tie.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Flips {
    pub worse: Vec<String>,
    pub better: Vec<String>,
    pub ties: usize,
}

/// The flip table of paired scores `a` and `b` over `items` (same order).
pub fn flips(items: &[String], a: &[f64], b: &[f64]) -> Flips {
    let mut table = Flips::default();
    for ((item, x), y) in items.iter().zip(a).zip(b) {
        if y < x {
            table.worse.push(item.clone());
        } else if y > x {
            table.better.push(item.clone());
        } else {
            table.ties += 1;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_count_each_direction() {
        let items: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let t = flips(&items, &[1.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(t.worse, vec!["a".to_string()]);
        assert_eq!(t.better, vec!["b".to_string()]);
        assert_eq!(t.ties, 2);
    }
}
