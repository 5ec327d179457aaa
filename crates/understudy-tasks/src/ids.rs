//! Stored item ids: one sample of an item is stored as `ID#i` when several are drawn.

/// The stored id of one sample of an item: the item's own id when one sample is drawn, `ID#i`
/// when several are.
pub fn sample_id(item_id: &str, sample: usize, samples: usize) -> String {
    if samples > 1 {
        format!("{item_id}#{sample}")
    } else {
        item_id.to_string()
    }
}

/// The item (problem) a stored id belongs to: the inverse of [`sample_id`]. A user's id is never
/// split when one sample was drawn, whatever characters it holds.
pub fn problem_id(stored_id: &str, samples: usize) -> &str {
    if samples > 1 {
        stored_id
            .rsplit_once('#')
            .map(|(problem, _)| problem)
            .unwrap_or(stored_id)
    } else {
        stored_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ids_split_back_only_when_sampled() {
        assert_eq!(sample_id("HumanEval/1", 3, 5), "HumanEval/1#3");
        assert_eq!(problem_id("HumanEval/1#3", 5), "HumanEval/1");
        assert_eq!(problem_id("a#b#2", 5), "a#b");
        // One sample: the user's id stays whole, `#` and all.
        assert_eq!(sample_id("issue#42", 0, 1), "issue#42");
        assert_eq!(problem_id("issue#42", 1), "issue#42");
    }
}
