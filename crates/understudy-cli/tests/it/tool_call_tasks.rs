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
/// task's examples show several calls in one turn. `knn-shot:K` shows the pool items nearest each
/// input the same way (the gateway renders found examples with the same code).
#[test]
fn few_shot_examples_of_tool_tasks_are_calls_from_the_pool() {
    crate::common::ensure_model("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let out = understudy()
        .args([
            "eval",
            "--models",
            "qwen2.5-coder-0.5b",
            "--strategies",
            "few-shot:2,knn-shot:2",
            "--tasks",
            "bfcl-parallel",
            "--limit",
            "2",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut query = conn
        .prepare("select item_id, strategy, prompt_json, detail from cells")
        .unwrap();
    let cells: Vec<(String, String, serde_json::Value, serde_json::Value)> = query
        .query_map([], |r| {
            let prompt: String = r.get(2)?;
            let detail: String = r.get(3)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                serde_json::from_str(&prompt).unwrap(),
                serde_json::from_str(&detail).unwrap(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cells.len(), 4);
    // BFCL's first 100 parallel items are scored; the pool is the 16 after them.
    let number = |id: &str| -> usize { id.trim_start_matches("parallel_").parse().unwrap() };
    for (item, strategy, prompt, detail) in &cells {
        assert!(number(item) < 100, "{item} is a pool row");
        let turns = prompt.as_array().unwrap();
        let examples: Vec<&serde_json::Value> = turns
            .iter()
            .filter(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
            .collect();
        assert_eq!(examples.len(), 2, "{strategy}: {prompt}");
        for example in examples {
            let calls = example["tool_calls"].as_array().unwrap();
            assert!(
                calls.len() >= 2,
                "{strategy}: a parallel example shows its calls: {example}"
            );
            for call in calls {
                let id = call["id"].as_str().unwrap();
                assert_eq!(
                    id.starts_with("call_found"),
                    strategy == "knn-shot:2",
                    "{strategy}: {id}"
                );
                assert!(
                    turns
                        .iter()
                        .any(|m| m["role"] == "tool" && m["tool_call_id"] == id),
                    "call {id} is answered: {prompt}"
                );
            }
        }
        assert_eq!(turns.last().unwrap()["role"], "user");
        if strategy == "knn-shot:2" {
            let found = detail["examples"]["examples"].as_array().unwrap();
            assert_eq!(found.len(), 2, "{detail}");
            for example in found {
                let id = example["id"].as_str().unwrap();
                assert!(number(id) >= 100, "{id} is not a pool row");
            }
        }
    }
}
