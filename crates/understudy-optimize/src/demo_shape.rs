//! The children that change a parent's demonstrations without new ones from the teacher: how
//! many it shows (one fewer, or one more from the pool of right answers) and in which order.

use understudy_tasks::strategy::MAX_COUNT;
use understudy_tasks::task::Item;

use crate::candidate::{Candidate, Origin};
use crate::search::State;

impl State<'_, '_> {
    /// `parent` with its demonstrations in another order: order steps take the orders of the
    /// parent's demonstrations by rank in turn, never the parent's own (rank 1 swaps the two
    /// nearest the input).
    pub(crate) fn with_demos_reordered(&mut self, parent: &Candidate) -> Result<Candidate, String> {
        let k = parent.demos.len();
        if k < 2 {
            return Err("fewer than two demonstrations to reorder".into());
        }
        let orders = factorial(k);
        let rank = 1 + self.order_turn % (orders - 1);
        self.order_turn += 1;
        let demos = permutation(k, rank)
            .into_iter()
            .map(|i| parent.demos[i].clone())
            .collect();
        Ok(Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Order,
            demos,
            ..parent.clone()
        })
    }

    /// `parent` with one demonstration fewer (the one farthest from the input) and, on the
    /// next count step, one more (the first right answer in the pool that it lacks, put
    /// farthest from the input); the other way round when one way is not possible.
    pub(crate) fn with_other_count(&mut self, parent: &Candidate) -> Result<Candidate, String> {
        let fewer = self.count_turn.is_multiple_of(2);
        self.count_turn += 1;
        let spare = self.demos.first_not_in(&parent.demos);
        let demos = other_count(&parent.demos, fewer, spare)
            .ok_or_else(|| "no demonstration to take away or to add".to_string())?;
        Ok(Candidate {
            id: self.new_id(),
            parent: Some(parent.id),
            origin: Origin::Count,
            demos,
            ..parent.clone()
        })
    }
}

/// `demos` with the first (the farthest from the input) taken away when `fewer`, else with
/// `spare` put first; the other way round when one way is not possible.
fn other_count(demos: &[Item], fewer: bool, spare: Option<Item>) -> Option<Vec<Item>> {
    let take_away = || (!demos.is_empty()).then(|| demos[1..].to_vec());
    let add = |spare: Option<Item>| {
        spare
            .filter(|_| demos.len() < MAX_COUNT)
            .map(|s| std::iter::once(s).chain(demos.iter().cloned()).collect())
    };
    if fewer {
        take_away().or_else(|| add(spare))
    } else {
        add(spare).or_else(take_away)
    }
}

/// `k!`, saturating (a rank never needs more).
fn factorial(k: usize) -> usize {
    (2..=k)
        .try_fold(1usize, |a, b| a.checked_mul(b))
        .unwrap_or(usize::MAX)
}

/// The order of rank `rank` among the orders of `0..k`, ranked as in a dictionary (rank 0 is
/// `0..k` itself; ranks past the last wrap around).
fn permutation(k: usize, rank: usize) -> Vec<usize> {
    let mut left: Vec<usize> = (0..k).collect();
    let mut rank = rank % factorial(k);
    let mut order = Vec::with_capacity(k);
    for rest in (0..k).rev() {
        let block = factorial(rest);
        let at = (rank / block).min(left.len() - 1);
        rank %= block;
        order.push(left.remove(at));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_ranked_as_in_a_dictionary_and_wrap_around() {
        let all: Vec<Vec<usize>> = (0..6).map(|r| permutation(3, r)).collect();
        assert_eq!(
            all,
            [
                [0, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0]
            ]
        );
        assert_eq!(permutation(3, 6), [0, 1, 2]);
        assert_eq!(permutation(2, 1), [1, 0]);
        let long = permutation(MAX_COUNT, usize::MAX);
        let mut sorted = long.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..MAX_COUNT).collect::<Vec<_>>());
    }

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn a_count_step_takes_the_farthest_demonstration_away_or_puts_a_spare_first() {
        let item = |id: &str| Item {
            id: id.into(),
            ..Item::default()
        };
        let demos = [item("a"), item("b")];
        let fewer = other_count(&demos, true, Some(item("s"))).unwrap();
        assert_eq!(ids(&fewer), ["b"]);
        let more = other_count(&demos, false, Some(item("s"))).unwrap();
        assert_eq!(ids(&more), ["s", "a", "b"]);
        // The other way round when one way is not possible.
        assert_eq!(ids(&other_count(&demos, false, None).unwrap()), ["b"]);
        assert_eq!(
            ids(&other_count(&[], true, Some(item("s"))).unwrap()),
            ["s"]
        );
        assert!(other_count(&[], true, None).is_none());
        let full: Vec<Item> = (0..MAX_COUNT).map(|i| item(&i.to_string())).collect();
        assert_eq!(
            other_count(&full, false, Some(item("s"))).unwrap().len(),
            MAX_COUNT - 1
        );
    }
}
