//! The split as JSONL (`split.jsonl` beside the page): every item's id, part, the input as a
//! client sends it and the gold answer, and on test items each measured row's score — so
//! another optimizer (DSPy) can be run on the same train, validation and test items and
//! compared item by item.

use std::collections::BTreeMap;

use understudy_tasks::task::Item;

use crate::search::Search;
use crate::verdict::Verdict;

/// One line per item, train then validation then test.
pub fn split_jsonl(search: &Search, verdict: &Verdict) -> String {
    let mut out = String::new();
    let split = &search.split;
    let line = |part: &str, item: &Item, scores: Option<BTreeMap<&str, f64>>| {
        let mut value = serde_json::json!({
            "id": item.id,
            "part": part,
            "input": understudy_tasks::strategy::input(item).text(),
            "target": item.target,
        });
        if let Some(scores) = scores {
            value["scores"] = serde_json::json!(scores);
        }
        format!("{value}\n")
    };
    for item in &split.train {
        out.push_str(&line("train", item, None));
    }
    for item in &split.validation {
        out.push_str(&line("validation", item, None));
    }
    for item in &split.test {
        let scores = verdict
            .rows
            .iter()
            .filter_map(|r| {
                let a = r.test.answers.iter().find(|a| a.item.id == item.id)?;
                Some((r.role, a.score))
            })
            .collect();
        out.push_str(&line("test", item, Some(scores)));
    }
    out
}
