//! Bootstrapped demonstrations (DSPy's BootstrapFewShot idea): train items a model — the local
//! one or the teacher — answered right under the program being searched, kept with the
//! reasoning that got there, so that under chain of thought a demonstration shows worked steps
//! that are known to reach the gold answer.

use understudy_tasks::task::Item;

use crate::measure::Answer;

/// Every train item answered right so far, in the order first seen.
#[derive(Debug, Clone, Default)]
pub struct DemoPool {
    items: Vec<Item>,
}

impl DemoPool {
    /// Keeps the answers that scored right (an item already kept stays as first kept).
    pub fn add(&mut self, answers: &[Answer]) {
        for a in answers.iter().filter(|a| a.score >= 1.0) {
            if self.items.iter().any(|i| i.id == a.item.id) {
                continue;
            }
            self.items.push(Item {
                rationale: a.reasoning.clone().filter(|r| !r.trim().is_empty()),
                ..a.item.clone()
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The gold answers the kept demonstrations show.
    pub fn targets(&self) -> Vec<String> {
        self.items.iter().map(|i| i.target.clone()).collect()
    }

    /// The first kept demonstration that `shown` lacks.
    pub fn first_not_in(&self, shown: &[Item]) -> Option<Item> {
        self.items
            .iter()
            .find(|i| !shown.iter().any(|s| s.id == i.id))
            .cloned()
    }

    /// `k` demonstrations for the `turn`-th demonstration step: a window that moves through the
    /// pool, so that successive steps try different sets (fewer when the pool is smaller).
    pub fn pick(&self, k: usize, turn: usize) -> Vec<Item> {
        let n = self.items.len();
        if n == 0 {
            return Vec::new();
        }
        let start = (turn * k) % n;
        (0..k.min(n))
            .map(|i| self.items[(start + i) % n].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str, score: f64, reasoning: Option<&str>) -> Answer {
        Answer {
            item: Item {
                id: id.into(),
                target: "t".into(),
                ..Item::default()
            },
            score,
            ms: 1.0,
            answer: "a".into(),
            reasoning: reasoning.map(str::to_string),
        }
    }

    #[test]
    fn only_right_answers_become_demonstrations_with_their_reasoning() {
        let mut pool = DemoPool::default();
        pool.add(&[answer("a", 1.0, Some("because")), answer("b", 0.0, None)]);
        pool.add(&[answer("a", 1.0, Some("other")), answer("c", 1.0, None)]);
        assert_eq!(pool.pick(5, 0).len(), 2);
        let first = pool.pick(2, 0);
        assert_eq!(first[0].rationale.as_deref(), Some("because"));
        assert_eq!(first[1].id, "c");
        let next: Vec<String> = pool.pick(1, 1).into_iter().map(|i| i.id).collect();
        assert_eq!(next, ["c"]);
        assert_eq!(
            pool.first_not_in(&first[..1]).map(|i| i.id),
            Some("c".into())
        );
        assert!(pool.first_not_in(&first).is_none());
    }
}
