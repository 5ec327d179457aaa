//! The built-in BFCL tasks through `understudy eval` on the embedded qwen2.5-coder-0.5b: the
//! request offers the item's functions as tools, the calls the model returns are scored as BFCL
//! scores them, and the cell keeps the calls read and the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{text, understudy};

#[test]
fn bfcl_tasks_offer_tools_and_score_the_calls_returned() {
    crate::common::ensure_model("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let out = understudy()
        .args([
            "eval",
            "--models",
            "qwen2.5-coder-0.5b",
            "--strategies",
            "zero-shot",
            "--tasks",
            "bfcl-simple,bfcl-parallel",
            "--limit",
            "3",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("bfcl-simple") && stdout.contains("n=3"),
        "{stdout}"
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut query = conn
        .prepare("select task, score, detail, prompt_json from cells")
        .unwrap();
    let cells: Vec<(String, f64, serde_json::Value)> = query
        .query_map([], |r| {
            let detail: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&detail).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cells.len(), 6, "{cells:?}");
    for (_, _, detail) in &cells {
        assert!(detail["category"].is_string(), "{detail}");
        // A call read is one of the offered tools, named as BFCL offers them ('.' as '_').
        for call in detail["calls"].as_array().unwrap() {
            let name = call.as_object().unwrap().keys().next().unwrap();
            assert!(!name.contains('.'), "{name}");
        }
    }
    // The 0.5b model calls the simple functions it is offered (BFCL's paper: single-turn
    // categories are within reach of small models).
    let simple_right = cells
        .iter()
        .filter(|(task, score, _)| task == "bfcl-simple" && *score == 1.0)
        .count();
    assert!(simple_right >= 2, "{cells:?}");
}

/// `few-shot:K` on a tool-call task shows pool items (marked rows, never scored) as calls: each
/// example's assistant turn carries its gold calls, each answered by a tool turn, so a parallel
/// task's examples show several calls in one turn. `knn-shot` is refused with a reason.
#[test]
fn few_shot_examples_of_tool_tasks_are_calls_from_the_pool() {
    crate::common::ensure_model("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let eval = |strategy: &str| {
        understudy()
            .args([
                "eval",
                "--models",
                "qwen2.5-coder-0.5b",
                "--strategies",
                strategy,
                "--tasks",
                "bfcl-parallel",
                "--limit",
                "2",
                "--db",
                db.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = eval("few-shot:2");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut query = conn
        .prepare("select item_id, prompt_json from cells")
        .unwrap();
    let cells: Vec<(String, serde_json::Value)> = query
        .query_map([], |r| {
            let prompt: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&prompt).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cells.len(), 2);
    for (item, prompt) in &cells {
        // BFCL's first 100 parallel items are scored; the pool is the 16 after them.
        let number: usize = item.trim_start_matches("parallel_").parse().unwrap();
        assert!(number < 100, "{item} is a pool row");
        let turns = prompt.as_array().unwrap();
        let examples: Vec<&serde_json::Value> = turns
            .iter()
            .filter(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
            .collect();
        assert_eq!(examples.len(), 2, "{prompt}");
        for example in examples {
            let calls = example["tool_calls"].as_array().unwrap();
            assert!(
                calls.len() >= 2,
                "a parallel example shows its calls: {example}"
            );
            for call in calls {
                let id = call["id"].as_str().unwrap();
                assert!(
                    turns
                        .iter()
                        .any(|m| m["role"] == "tool" && m["tool_call_id"] == id),
                    "call {id} is answered: {prompt}"
                );
            }
        }
        assert_eq!(turns.last().unwrap()["role"], "user");
    }
    let refused = eval("knn-shot:2");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("not shown as tool calls yet"),
        "{}",
        text(&refused.stderr)
    );
}
