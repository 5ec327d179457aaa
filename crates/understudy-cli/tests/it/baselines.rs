//! A classification task where every model, the reference included, answers one label for every
//! item (a server that always says "positive"): `show`, `show --json`, the report and the
//! strategies page say so beside the score, print no share of the reference as a percentage,
//! and `tune` refuses to choose on that share. The page rewrites from its committed cells.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{answering, text, understudy};

/// An OpenAI-compatible server whose models `small` and `big` both answer "positive".
fn always_positive(runtime: &tokio::runtime::Runtime) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = answering("positive", 0).route(
        "/v1/models",
        axum::routing::get(|| async { r#"{"data":[{"id":"small"},{"id":"big"}]}"# }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// 34 rows with balanced labels (4 go to the few-shot pool) and the task that reads them.
fn write_task(dir: &std::path::Path) -> std::path::PathBuf {
    let mut rows = String::new();
    for i in 0..34 {
        let label = if i % 2 == 0 { "positive" } else { "negative" };
        rows.push_str(&format!(
            "{{\"id\":\"r{i:02}\",\"text\":\"review number {i}\",\"label\":\"{label}\"}}\n"
        ));
    }
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"reviews\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 4\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    let path = dir.join("reviews.toml");
    std::fs::write(&path, task).unwrap();
    path
}

#[test]
fn one_label_for_every_item_is_called_out_everywhere() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = always_positive(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let db = dir.path().join("u.db");
    let db = db.to_str().unwrap();
    let out = understudy()
        .args([
            "eval",
            "--tasks",
            task.to_str().unwrap(),
            "--models",
            "openai/small",
            "--reference",
            "openai/big",
            "--strategies",
            "zero-shot,few-shot:3",
            "--limit",
            "30",
            "--db",
            db,
        ])
        .env("OPENAI_BASE_URL", &base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = understudy().args(["show", "--db", db]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let show = text(&out.stdout);
    assert!(
        show.contains("answered \"positive\" for every item")
            && show.contains("baseline")
            && show.contains("NOT above the")
            && show.contains("chance 50.0% · majority")
            && show.contains("from the few-shot pool (4 labels)"),
        "{show}"
    );
    assert!(show.contains("share of reference not meaningful"), "{show}");
    assert!(!show.contains("% of reference"), "{show}");
    assert!(show.contains("ref n/m"), "{show}");

    let out = understudy()
        .args(["show", "--json", "--db", db])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in json["rows"].as_array().unwrap() {
        let task = &row["tasks"][0];
        assert_eq!(task["baseline"]["test"]["above"], false, "{task}");
        // The bar is fixed before scoring: chance, or the majority of the 4 pool labels.
        let bar = task["baseline"]["bar"].as_f64().unwrap();
        assert!((0.5..=0.75).contains(&bar), "{task}");
        let accuracy = task["accuracy"]["value"].as_f64().unwrap();
        assert!((0.4..=0.6).contains(&accuracy), "{task}");
        assert_eq!(task["answers"]["single"], "positive");
        assert!(task["share_of_reference"].is_null(), "{task}");
        if row["is_reference"] == false {
            assert!(task["share_not_meaningful"].is_string(), "{task}");
        }
    }

    let report_dir = dir.path().join("report");
    let out = understudy()
        .args(["report", "--db", db, "--out", report_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("answered \"positive\" for every item"), "{md}");
    assert!(md.contains("not meaningful (reference not above baseline)"));

    let out = understudy().args(["tune", "--db", db]).output().unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("task reviews: not tuned") && err.contains("not meaningful"),
        "{err}"
    );

    // The strategies study on the same task: the page says the best row is not above the
    // baseline, and rewrites identically from the cells written beside it.
    let page_dir = dir.path().join("page");
    let out = understudy()
        .args([
            "study",
            "strategies",
            "--tasks",
            task.to_str().unwrap(),
            "--models",
            "openai/small,openai/big",
            "--limit",
            "30",
            "--out",
            page_dir.to_str().unwrap(),
            "--db",
            db,
        ])
        .env("OPENAI_BASE_URL", &base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(page_dir.join("README.md")).unwrap();
    assert!(
        page.contains("but this row is NOT above the")
            && page.contains("it answered \"positive\" for every item"),
        "{page}"
    );
    assert!(page_dir.join("cells.jsonl").exists() && page_dir.join("run.json").exists());
    std::fs::remove_file(page_dir.join("README.md")).unwrap();
    let out = understudy()
        .args(["study", "strategies", "--from", page_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(page_dir.join("README.md")).unwrap(),
        page
    );
}
