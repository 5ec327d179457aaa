//! The teacher's demonstrations, made before the search (DSPy's BootstrapFewShot): the teacher
//! answers train items in order under the baseline program until `k` of them are right, and
//! each right answer becomes a demonstration (its gold answer, and the teacher's reasoning
//! under chain of thought). A train item whose gold answer a demonstration already shows is
//! passed over while items with other answers remain, so that a choice task's demonstrations
//! do not all show one letter: a few-shot prompt's mix of answers pulls a small model toward
//! them. Each round asks only as many items as demonstrations are still missing, so the
//! teacher is never asked more often than one item at a time would need.

use std::collections::HashSet;

use understudy_tasks::task::Item;

use crate::candidate::Candidate;
use crate::error::OptimizeError;
use crate::search::State;

impl State<'_, '_> {
    /// Asks the teacher train items under `program` until the demonstration pool holds
    /// `--demos` of them, the train items run out, or the budget does; returns the pool's first
    /// `--demos` demonstrations.
    pub(crate) async fn teacher_demos(
        &mut self,
        program: &Candidate,
    ) -> Result<Vec<Item>, OptimizeError> {
        let k = self.settings.demos;
        let budget = self.settings.budget;
        let teacher = self.settings.teacher.clone();
        let train = self.search.split.train.clone();
        let mut asked: HashSet<String> = HashSet::new();
        loop {
            let spent = &mut self.search.spent;
            let room = budget.calls.saturating_sub(spent.calls);
            let need = k.saturating_sub(self.demos.len()).min(room);
            if need == 0 || !budget.allows(spent, need) {
                break;
            }
            let batch = next_batch(&train, &asked, &self.demos.targets(), need);
            if batch.is_empty() {
                break;
            }
            asked.extend(batch.iter().map(|i| i.id.clone()));
            let answers = self.bench.measure(&teacher, program, &batch, spent).await?;
            self.demos.add(&answers.answers);
        }
        Ok(self.demos.pick(k, 0))
    }
}

/// Up to `n` train items not asked yet, in train order: first those whose gold answer neither
/// `shown` nor an item already in the batch has, then — when those run out — any.
fn next_batch(train: &[Item], asked: &HashSet<String>, shown: &[String], n: usize) -> Vec<Item> {
    let open = || train.iter().filter(|i| !asked.contains(&i.id));
    let mut batch: Vec<Item> = Vec::with_capacity(n);
    for item in open() {
        if batch.len() == n {
            break;
        }
        let repeats = shown.contains(&item.target) || batch.iter().any(|b| b.target == item.target);
        if !repeats {
            batch.push(item.clone());
        }
    }
    for item in open() {
        if batch.len() == n {
            break;
        }
        if !batch.iter().any(|b| b.id == item.id) {
            batch.push(item.clone());
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, target: &str) -> Item {
        Item {
            id: id.into(),
            target: target.into(),
            ..Item::default()
        }
    }

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn a_batch_prefers_answers_not_shown_yet_then_takes_any() {
        let train = [
            item("a", "A"),
            item("b", "A"),
            item("c", "B"),
            item("d", "A"),
            item("e", "C"),
        ];
        let none = HashSet::new();
        assert_eq!(ids(&next_batch(&train, &none, &[], 3)), ["a", "c", "e"]);
        // "A" and "B" already shown: the one other answer first, then train order.
        let shown = ["A".to_string(), "B".to_string()];
        assert_eq!(ids(&next_batch(&train, &none, &shown, 2)), ["e", "a"]);
        // Asked items are never asked again.
        let asked: HashSet<String> = ["a", "c", "e"].iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&next_batch(&train, &asked, &[], 5)), ["b", "d"]);
        // Free-form answers (all different) keep DSPy's plain train order.
        let free = [item("x", "12"), item("y", "7"), item("z", "3")];
        assert_eq!(ids(&next_batch(&free, &none, &[], 2)), ["x", "y"]);
    }
}
