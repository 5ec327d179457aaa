//! `understudy eval`, `runs`, `show` and `report` through the real binary: a run killed with
//! SIGKILL resumes with exactly one cell per key, a finished plan run again is shown, not re-made; bad names stop early.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::{answering, assert_clean_failure, home, serve_openai_mock, text, understudy};

/// A mock OpenAI-compatible server (model `m`) that answers "positive" after `delay_ms`.
fn slow_mock_server(runtime: &tokio::runtime::Runtime, delay_ms: u64) -> String {
    serve_openai_mock(runtime, answering("positive", delay_ms))
}

fn toy_task(dir: &std::path::Path) -> PathBuf {
    let rows: String = (0..10)
        .map(|i| {
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"review {i}\",\"label\":\"{}\"}}\n",
                if i < 6 { "positive" } else { "negative" }
            )
        })
        .collect();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

fn count_cells(db: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM cells", [], |r| r.get(0))
        .unwrap_or(0);
    let distinct: i64 = conn
        .query_row("SELECT COUNT(*) FROM (SELECT DISTINCT run_id, model, strategy, format, task, item_id FROM cells)", [], |r| r.get(0))
        .unwrap_or(0);
    (total, distinct)
}

#[test]
fn sigkilled_eval_resumes_with_exactly_one_cell_per_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = slow_mock_server(&runtime, 40);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_task(dir.path());
    let db = dir.path().join("u.db");
    let args = [
        "eval",
        "--models",
        "openai/m",
        "--tasks",
        task.to_str().unwrap(),
        "--strategies",
        "zero-shot,role",
        "--formats",
        "plain,json",
        "--concurrency",
        "1",
        "--db",
        db.to_str().unwrap(),
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(args)
        .env("UNDERSTUDY_HOME", home())
        .env("OPENAI_BASE_URL", &base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while (if db.exists() { count_cells(&db).0 } else { 0 }) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (killed_at, _) = count_cells(&db);
    assert!(
        killed_at < 40,
        "killed too late to test anything ({killed_at} cells)"
    );

    let out = understudy()
        .env("OPENAI_BASE_URL", &base)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(resumed)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        count_cells(&db),
        (40, 40),
        "exactly one cell per (model, strategy, format, task, item)"
    );
    let stdout = text(&out.stdout);
    assert!(
        // The mock answers "positive" to everything: 60% is exactly the majority class (†).
        stdout.contains("60%† [") && stdout.contains("n=10"),
        "{stdout}"
    );

    // Rerun of the finished plan: the same run is shown, no second run is made.
    let out = understudy()
        .env("OPENAI_BASE_URL", &base)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("already finished as run 1"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), stdout, "the same summary");

    let out = understudy()
        .args(["runs", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );
    let out = understudy()
        .args(["show", "1", "--json", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"].as_array().unwrap().len(), 4);

    // The report of the same run: its JSON summary is what `show --json` printed.
    let report_dir = dir.path().join("rep");
    let out = understudy()
        .args([
            "report",
            "1",
            "--db",
            db.to_str().unwrap(),
            "--out",
            report_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().ends_with("index.html"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["summary"], summary);
    assert!(report_dir.join("report.md").exists() && report_dir.join("cells.csv").exists());
}

#[test]
fn eval_bad_names_stop_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let out = understudy()
        .args([
            "eval",
            "--tasks",
            "sentimental",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unknown task \"sentimental\"");
    let out = understudy()
        .args([
            "eval",
            "--strategies",
            "zero-shot,chain",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unknown strategy \"chain\"");
    let task = toy_task(dir.path());
    let out = understudy()
        .args([
            "eval",
            "--models",
            "nonexistent-model",
            "--strategies",
            "zero-shot",
            "--tasks",
            task.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("unknown model \"nonexistent-model\""),
        "{stderr}"
    );
    let config = dir.path().join("study.toml");
    std::fs::write(&config, "[eval]\nmodels = [\"smollm2-135m\"]\nlimt = 3\n").unwrap();
    let out = understudy()
        .args([
            "--config",
            config.to_str().unwrap(),
            "eval",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "limt");
    assert!(
        text(&out.stderr).contains("study.toml"),
        "{}",
        text(&out.stderr)
    );
}
