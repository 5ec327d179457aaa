//! A structured (JSON extraction) task through the real binary on the embedded model: the
//! shipped invoice example is scored field by field against its gold objects and its schema,
//! with the JSON and schema-validity shares and the score distribution in the summary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{ensure_small_model, text, understudy};

#[test]
fn the_invoice_example_is_scored_field_by_field() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let task = common::repo_root().join("docs/examples/structured/invoices/task.toml");
    let out = understudy()
        .args([
            "eval",
            "--models",
            "smollm2-135m",
            "--strategies",
            "few-shot:3",
            "--tasks",
            task.to_str().unwrap(),
            "--limit",
            "6",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("answers that are JSON:"), "{stdout}");
    assert!(
        stdout.contains("answers valid against the schema:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("gold fields matched (before the schema check):"),
        "{stdout}"
    );

    let out = understudy()
        .args(["show", "1", "--json", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &summary["rows"][0]["tasks"][0];
    assert_eq!(t["task"], "invoice-fields");
    assert_eq!(t["accuracy"]["n"], 6, "{t}");
    let score = t["accuracy"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score), "{t}");
    // Every cell records its field-level check.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let details: Vec<String> = conn
        .prepare("SELECT detail FROM cells")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(details.len(), 6);
    for d in &details {
        let d: serde_json::Value = serde_json::from_str(d).unwrap();
        assert_eq!(d["structured"]["fields"], 5, "{d}");
    }
}
