//! The CI gates end to end through the real binary: a baseline run, a run with a deliberately
//! worse prompt and an identical rerun of the baseline, answered by a mock OpenAI-compatible
//! server that behaves like a model (right on every review under a proper instruction; always
//! "positive" when told to be sloppy; the reference always right). `compare --fail-on-regression`
//! exits 1 with a failing JUnit case on the worse prompt and 0, equivalent, on the rerun;
//! `eval --min-share` fails the worse prompt's row and passes the baseline's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;

use common::{serve_model_like_mock, text, toy_eval_items, toy_review_task, understudy};

/// Items per run: with none of them in dispute, ±5 pp equivalence needs about 60 and a 95%
/// share bound of 95% about 75 (docs/statistics.md).
const ITEMS: usize = 80;

const GOOD: &str = "Classify the film review as positive or negative.";
const SLOPPY: &str = "Be sloppy and answer anything.";

fn compare(db: &Path, a: &str, b: &str, extra: &[&str]) -> std::process::Output {
    understudy()
        .args(["compare", a, b, "--db"])
        .arg(db)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_worse_prompt_fails_the_gate_and_an_identical_rerun_passes_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_model_like_mock(&runtime, 0);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let task_dir = |name: &str, instruction: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        toy_review_task(&d, ITEMS, instruction)
    };

    // Run 1: the baseline, which also passes --min-share.
    let junit_good = dir.path().join("good.xml");
    let out = toy_eval_items(
        &base,
        &db,
        &task_dir("good", GOOD),
        ITEMS,
        &[
            "--min-share",
            "0.95",
            "--junit",
            junit_good.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(&junit_good).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"0\""), "{xml}");

    // Run 2: the sloppy prompt; --min-share fails its row, and the JUnit file says which.
    let junit_bad = dir.path().join("bad.xml");
    let out = toy_eval_items(
        &base,
        &db,
        &task_dir("bad", SLOPPY),
        ITEMS,
        &[
            "--min-share",
            "0.95",
            "--junit",
            junit_bad.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("--min-share 0.95") && err.contains("openai/m/zero-shot/plain"),
        "{err}"
    );
    let xml = std::fs::read_to_string(&junit_bad).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("share of reference 50.0%"), "{xml}");

    // Run 3: an identical rerun of the baseline (calls made again, not read from the cache).
    let out = toy_eval_items(&base, &db, &task_dir("again", GOOD), ITEMS, &["--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The worse prompt against the baseline: exit 1, why printed, a failing JUnit case.
    let junit = dir.path().join("compare.xml");
    let out = compare(
        &db,
        "1",
        "2",
        &["--fail-on-regression", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the gate fails")
            && err.contains("1:openai/m/zero-shot/plain vs 2:openai/m/zero-shot/plain · toy"),
        "{err}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("40 right → wrong"), "{stdout}");
    assert!(stdout.contains("B − A = -50.0 pp"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure message=\"1:openai/m/zero-shot/plain vs 2:openai/m/zero-shot/plain · toy: B is worse"), "{xml}");

    // The identical rerun: exit 0, and equivalence within ±5 pp holds on every task.
    let out = compare(
        &db,
        "1",
        "3",
        &["--fail-on-regression", "--require-equivalence", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for pair in json.as_array().unwrap() {
        for task in pair["tasks"].as_array().unwrap() {
            assert!(
                task["equivalence"]["p_value"].as_f64().unwrap() < 0.05,
                "{task}"
            );
            assert_eq!(task["n"], 80);
        }
    }
    assert!(
        text(&out.stderr).contains("gate passed"),
        "{}",
        text(&out.stderr)
    );

    // One row of a run against one row of another, and a bad spec named clearly.
    let out = compare(
        &db,
        "1:openai/ref/zero-shot/plain",
        "2:openai/m/zero-shot/plain",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = compare(&db, "1:openai/x/zero-shot/plain", "2", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("run 1 has no row openai/x/zero-shot/plain; its rows: openai/m/zero-shot/plain, openai/ref/zero-shot/plain"), "{}", text(&out.stderr));
}
