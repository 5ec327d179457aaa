//! Optimize's three parts of a task's items: the search learns from **train** (the task's
//! few-shot pool plus about 30% of the items), chooses on **validation** (about 30%) and is
//! proved on **test** (about 40%), which no step of the search ever sends. The split is by a hash
//! of the problem id, so it is the same on every rerun and for every candidate.

use sha2::{Digest, Sha256};

use understudy_tasks::task::{Item, LoadedTask};

/// Which part of the split an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Train,
    Validation,
    Test,
}

/// The part of problem `id`: buckets 0–2 of 10 train, 3–5 validation, 6–9 test.
pub fn part_of(id: &str) -> Part {
    let bucket = Sha256::digest(format!("optimize:{id}").as_bytes())[0] % 10;
    match bucket {
        0..=2 => Part::Train,
        3..=5 => Part::Validation,
        _ => Part::Test,
    }
}

/// The three parts of one task.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub train: Vec<Item>,
    pub validation: Vec<Item>,
    pub test: Vec<Item>,
}

/// Fewest validation or test items the search will run with.
pub const MIN_PER_PART: usize = 5;

impl Split {
    /// Splits `task`'s items; its few-shot pool (never scored by eval) joins train.
    pub fn of(task: &LoadedTask) -> Self {
        let mut split = Split {
            train: task.pool.clone(),
            ..Split::default()
        };
        for item in &task.items {
            match part_of(&item.id) {
                Part::Train => split.train.push(item.clone()),
                Part::Validation => split.validation.push(item.clone()),
                Part::Test => split.test.push(item.clone()),
            }
        }
        split
    }

    /// Why the search cannot run on this split, if it cannot.
    pub fn too_small(&self, task: &str) -> Option<String> {
        let (v, t) = (self.validation.len(), self.test.len());
        if v < MIN_PER_PART || t < MIN_PER_PART || self.train.is_empty() {
            return Some(format!(
                "task {task}: the split has {} train, {v} validation and {t} test items; optimize needs train items and at least {MIN_PER_PART} in validation and test (raise --limit)",
                self.train.len()
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_are_about_30_30_40_and_stable() {
        let parts: Vec<Part> = (0..2000).map(|i| part_of(&format!("q{i}"))).collect();
        let count = |p| parts.iter().filter(|x| **x == p).count();
        assert!(
            (500..700).contains(&count(Part::Train)),
            "{}",
            count(Part::Train)
        );
        assert!((500..700).contains(&count(Part::Validation)));
        assert!((700..900).contains(&count(Part::Test)));
        assert_eq!(part_of("q17"), part_of("q17"));
    }
}
