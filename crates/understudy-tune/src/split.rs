//! Tune's two halves of a task's items: rows and cascade thresholds are chosen on the
//! calibration half, and what tune predicts is measured on the held-out half it never chose on.
//! The split is by a hash of the problem id, so it is the same for every row of a run.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use understudy_store::Cell;

/// Fewest items either half may have before tune will choose on it.
pub const MIN_PER_HALF: usize = 5;

/// Whether the problem `id` is held out (about half are).
pub fn held_out(problem: &str) -> bool {
    Sha256::digest(problem.as_bytes())[0] & 1 == 1
}

/// Per-problem mean score and latency of `cells` in one half (a problem's samples averaged
/// into one unit, so intervals count problems, not samples).
#[derive(Debug, Clone, Default)]
pub struct Units {
    pub score: BTreeMap<String, f64>,
    pub ms: BTreeMap<String, f64>,
}

impl Units {
    pub fn of<'c>(cells: impl Iterator<Item = &'c Cell>, samples: usize, hold: bool) -> Self {
        let mut sums: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
        for c in cells {
            let problem = understudy_tasks::ids::problem_id(&c.item_id, samples);
            if held_out(problem) != hold {
                continue;
            }
            let e = sums.entry(problem.to_string()).or_default();
            e.0 += c.score;
            e.1 += c.total_ms;
            e.2 += 1;
        }
        let mut units = Self::default();
        for (k, (s, ms, n)) in sums {
            units.score.insert(k.clone(), s / n as f64);
            units.ms.insert(k, ms / n as f64);
        }
        units
    }

    pub fn len(&self) -> usize {
        self.score.len()
    }

    pub fn is_empty(&self) -> bool {
        self.score.is_empty()
    }

    /// This row's and `reference`'s scores on the problems both have, in a stable order.
    pub fn paired(&self, reference: &Units) -> (Vec<f64>, Vec<f64>) {
        self.score
            .iter()
            .filter_map(|(k, s)| reference.score.get(k).map(|r| (*s, *r)))
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_half_are_held_out_and_always_the_same_half() {
        let held = (0..1000).filter(|i| held_out(&format!("item-{i}"))).count();
        assert!((430..570).contains(&held), "{held}");
        assert_eq!(held_out("L17"), held_out("L17"));
    }
}
