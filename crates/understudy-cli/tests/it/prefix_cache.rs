//! The embedded engine's prefix cache as a user sees it: an eval on the smallest model records
//! in each cell how many prompt tokens came from the KV cache (items share the task's
//! instruction), `show` says how much of the run was warm and by row and how many cells ran at
//! once, and `--no-prefix-cache` runs cold with nothing reused and says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;

use common::{ensure_small_model, text, toy_review_task, understudy};

/// Runs the eval into `db` (with `extra` flags) and returns `show --json` and `show`.
fn eval(task: &Path, db: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let out = understudy()
        .args(["eval", "--models", "smollm2-135m", "--no-reference"])
        .args(["--strategies", "zero-shot", "--threads", "2", "--tasks"])
        .arg(task)
        .arg("--db")
        .arg(db)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = understudy()
        .args(["show", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", text(&json.stderr));
    let show = understudy()
        .args(["show", "--db"])
        .arg(db)
        .output()
        .unwrap();
    (
        serde_json::from_str(&text(&json.stdout)).unwrap(),
        text(&show.stdout),
    )
}

#[test]
fn cells_record_reused_prompt_tokens_and_a_cold_run_reuses_none() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 5, "Classify the sentiment of the film review below as positive or negative, judging only by what the reviewer says about the film.");

    // One cell at a time, so that every item after the first finds the instruction cached.
    let (warm, show) = eval(&task, &dir.path().join("warm.db"), &["--concurrency", "1"]);
    let row = &warm["rows"][0];
    let (prompt, reused) = (
        row["prompt_tokens"].as_u64().unwrap(),
        row["cached_prompt_tokens"].as_u64().unwrap(),
    );
    // Five items share the instruction; the first finds an empty cache.
    assert!(reused > prompt / 3 && reused < prompt, "{row}");
    assert!(
        show.contains("came from the engine's KV prefix cache"),
        "{show}"
    );
    assert!(show.contains("smollm2-135m zero-shot plain"), "{show}");
    assert!(show.contains("cells ran one at a time"), "{show}");

    // Cold, and four cells at once on four parallel sequences.
    let (cold, show) = eval(
        &task,
        &dir.path().join("cold.db"),
        &["--no-prefix-cache", "--concurrency", "4"],
    );
    let row = &cold["rows"][0];
    assert_eq!(row["cached_prompt_tokens"], 0, "{row}");
    assert_eq!(row["prompt_tokens"].as_u64().unwrap(), prompt, "{row}");
    assert!(
        show.contains("no prompt tokens came from a KV prefix cache (cold prompts)"),
        "{show}"
    );
    assert!(
        show.contains("up to 4 cells ran at once (the model's engine ran up to 4 requests"),
        "{show}"
    );
    // Reuse, and running beside other cells, give the very answers a cold sequential engine
    // gives (see the conformance and parallel tests).
    let answers = |db: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(dir.path().join(db)).unwrap();
        let mut stmt = conn
            .prepare("SELECT item_id || ':' || answer FROM cells ORDER BY item_id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(answers("warm.db"), answers("cold.db"));
}

/// An in-process reference runs like the other embedded models: one cell at a time by default,
/// not four requests queued on its one sequence (their latency would include the wait).
#[test]
fn an_embedded_reference_runs_one_cell_at_a_time() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 6, "Classify the sentiment of the review.");
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        format!(
            "[models.smollm-copy]\npath = {:?}\n",
            common::home()
                .join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
                .to_str()
                .unwrap()
        ),
    )
    .unwrap();
    let db = dir.path().join("ref.db");
    let out = understudy()
        .arg("--config")
        .arg(&config)
        // The copy is the same file, so without --no-cache its answers would come from the
        // response cache and carry no measurement.
        .args(["eval", "--no-cache", "--models", "smollm2-135m"])
        .args(["--reference", "smollm-copy"])
        .args(["--strategies", "zero-shot", "--threads", "2", "--tasks"])
        .arg(&task)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let most: Vec<(String, i64, i64)> = conn
        .prepare(
            "SELECT model, COUNT(*), MAX(json_extract(conditions, '$.in_flight')) FROM cells GROUP BY model ORDER BY model",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        most,
        vec![
            ("smollm-copy".to_string(), 6, 1),
            ("smollm2-135m".to_string(), 6, 1)
        ]
    );
    let show = understudy()
        .args(["show", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        text(&show.stdout).contains("cells ran one at a time"),
        "{}",
        text(&show.stdout)
    );
}
