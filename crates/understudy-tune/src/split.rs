//! Tune's two halves of a task's items: rows and cascade thresholds are chosen on the
//! calibration half, and what tune predicts is measured on the held-out half it never chose on.
//! The split is balanced by construction: problems are grouped by their gold answer (so each
//! label is split evenly), ordered within a group by a hash of the problem id, and dealt to
//! the two halves in turn; the one left over in each odd-sized group is dealt the same way
//! across groups. The halves differ by at most one item, and the split is the same for every
//! row of a run.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};

use understudy_store::Cell;

/// Fewest items either half may have before tune will choose on it.
pub const MIN_PER_HALF: usize = 5;

/// Which problems of one task are held out.
#[derive(Debug, Clone, Default)]
pub struct Split {
    held: HashSet<String>,
}

impl Split {
    /// The split of the problems in `cells` (all rows of one task), stratified by gold answer.
    pub fn of<'c>(cells: impl Iterator<Item = &'c Cell>, samples: usize) -> Self {
        let mut by_gold: BTreeMap<&str, BTreeMap<[u8; 32], &str>> = BTreeMap::new();
        for c in cells {
            let problem = understudy_tasks::ids::problem_id(&c.item_id, samples);
            by_gold
                .entry(c.gold.as_str())
                .or_default()
                .insert(hash(problem), problem);
        }
        let mut held = HashSet::new();
        let mut leftovers: BTreeMap<[u8; 32], &str> = BTreeMap::new();
        for group in by_gold.values() {
            let mut problems = group.iter();
            while let Some((h, first)) = problems.next() {
                match problems.next() {
                    Some((_, second)) => {
                        held.insert(second.to_string());
                    }
                    None => {
                        leftovers.insert(*h, first);
                    }
                }
            }
        }
        for (_, problem) in leftovers.iter().skip(1).step_by(2) {
            held.insert(problem.to_string());
        }
        Split { held }
    }

    /// Whether the problem `id` is in the held-out half.
    pub fn held_out(&self, problem: &str) -> bool {
        self.held.contains(problem)
    }
}

fn hash(problem: &str) -> [u8; 32] {
    Sha256::digest(problem.as_bytes()).into()
}

/// Per-problem mean score and latency of `cells` in one half (a problem's samples averaged
/// into one unit, so intervals count problems, not samples).
#[derive(Debug, Clone, Default)]
pub struct Units {
    pub score: BTreeMap<String, f64>,
    pub ms: BTreeMap<String, f64>,
}

impl Units {
    pub fn of<'c>(
        cells: impl Iterator<Item = &'c Cell>,
        samples: usize,
        split: &Split,
        hold: bool,
    ) -> Self {
        let mut sums: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
        for c in cells {
            let problem = understudy_tasks::ids::problem_id(&c.item_id, samples);
            if split.held_out(problem) != hold {
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

    fn cells(golds: &[&str]) -> Vec<Cell> {
        golds
            .iter()
            .enumerate()
            .map(|(i, g)| Cell {
                gold: g.to_string(),
                ..Cell::for_test(&format!("item-{i}"), 1.0)
            })
            .collect()
    }

    fn halves(cells: &[Cell]) -> (Vec<&str>, Vec<&str>) {
        let split = Split::of(cells.iter(), 1);
        let (held, cal): (Vec<&Cell>, Vec<&Cell>) =
            cells.iter().partition(|c| split.held_out(&c.item_id));
        (golds(cal), golds(held))
    }

    fn golds(cells: Vec<&Cell>) -> Vec<&str> {
        cells.into_iter().map(|c| c.gold.as_str()).collect()
    }

    #[test]
    fn ten_items_split_five_and_five_whatever_their_ids() {
        for offset in 0..50 {
            let cs: Vec<Cell> = (0..10)
                .map(|i| Cell::for_test(&format!("q{}", i + offset * 10), 1.0))
                .collect();
            let (cal, held) = halves(&cs);
            assert_eq!((cal.len(), held.len()), (5, 5), "ids from q{}", offset * 10);
        }
    }

    #[test]
    fn each_label_is_split_evenly() {
        let golds = [
            "yes", "yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no",
        ];
        let cs = cells(&golds);
        let (cal, held) = halves(&cs);
        assert_eq!((cal.len(), held.len()), (5, 5));
        let count = |v: &[&str], g| v.iter().filter(|x| **x == g).count();
        assert_eq!((count(&cal, "yes"), count(&held, "yes")), (3, 3));
        assert_eq!((count(&cal, "no"), count(&held, "no")), (2, 2));
        // Odd groups: 7 yes + 3 no; the two leftovers go one to each half.
        let golds = [
            "yes", "yes", "yes", "yes", "yes", "yes", "yes", "no", "no", "no",
        ];
        let cs = cells(&golds);
        let (cal, held) = halves(&cs);
        assert_eq!((cal.len(), held.len()), (5, 5));
        assert!(count(&cal, "yes").abs_diff(count(&held, "yes")) <= 1);
    }

    #[test]
    fn samples_of_one_problem_stay_in_one_half_and_the_split_is_stable() {
        let cs: Vec<Cell> = (0..7)
            .flat_map(|i| (0..3).map(move |s| Cell::for_test(&format!("p{i}#{s}"), 1.0)))
            .map(|c| Cell {
                gold: c.item_id.split('#').next().unwrap_or("").to_string(),
                ..c
            })
            .collect();
        let split = Split::of(cs.iter(), 3);
        let again = Split::of(cs.iter().rev(), 3);
        let held: Vec<bool> = (0..7).map(|i| split.held_out(&format!("p{i}"))).collect();
        let held_again: Vec<bool> = (0..7).map(|i| again.held_out(&format!("p{i}"))).collect();
        assert_eq!(held, held_again);
        assert_eq!(held.iter().filter(|h| **h).count(), 3);
    }
}
