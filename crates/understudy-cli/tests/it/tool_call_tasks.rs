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
