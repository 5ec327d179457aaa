//! Tasks graded by their own command, end to end through the real binary on the embedded
//! models: the shipped examples (text-to-SQL against a SQLite file with a long-lived Python
//! grader, formatting rules with partial credit and its strict variant, a shell grader) run
//! with `eval`, `compare`, `tune` and `report`; a grader that fails on one item costs that item
//! only, visibly, with its stderr; a changed grader file starts a new run instead of resuming.
//! Needs bubblewrap (CI installs it); skipped without it unless UNDERSTUDY_REQUIRE_SANDBOX is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::common;

use common::{ensure_small_model, text, understudy};

fn sandbox_here() -> bool {
    let found = understudy_tasks::grade::confine::Confinement::find("command graders");
    understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_SANDBOX").is_some()
}

fn examples() -> PathBuf {
    common::repo_root().join("docs/examples/graders")
}

fn run_ok(args: &[&str]) -> (String, String) {
    run_ok_in(Path::new("."), args)
}

fn run_ok_in(dir: &Path, args: &[&str]) -> (String, String) {
    let out = understudy().current_dir(dir).args(args).output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn task_of<'a>(summary: &'a serde_json::Value, model: &str, task: &str) -> &'a serde_json::Value {
    let row = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no row for {model}"));
    row["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == task)
        .unwrap_or_else(|| panic!("no task {task} in {model}'s row"))
}

#[test]
fn the_example_graders_run_with_eval_compare_tune_and_report() {
    if !sandbox_here() {
        return;
    }
    ensure_small_model();
    run_ok(&["models", "install", "qwen2.5-coder-0.5b"]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("graders.db");
    let db = db.to_str().unwrap();
    let root = examples();
    let tasks: Vec<String> = [
        "text-to-sql/task.toml",
        "formatting-rules/task.toml",
        "formatting-rules/strict.toml",
        "shell/task.toml",
    ]
    .iter()
    .map(|t| root.join(t).to_str().unwrap().to_string())
    .collect();
    let tasks = tasks.join(",");
    let (stdout, stderr) = run_ok(&[
        "eval",
        "--models",
        "smollm2-135m,qwen2.5-coder-0.5b",
        "--reference",
        "qwen2.5-coder-0.5b",
        "--strategies",
        "zero-shot",
        "--tasks",
        &tasks,
        "--limit",
        "10",
        "--db",
        db,
    ]);
    assert!(
        stderr.contains("text-to-sql: graded by command"),
        "{stderr}"
    );
    assert!(stdout.contains("score distribution:"), "{stdout}");
    assert!(!stdout.contains("GF="), "no grader failed: {stdout}");

    let (json, _) = run_ok(&["show", "1", "--json", "--db", db]);
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    for model in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
        for task in [
            "text-to-sql",
            "formatting-rules",
            "formatting-rules-strict",
            "capitals-shell",
        ] {
            let t = task_of(&summary, model, task);
            assert_eq!(t["accuracy"]["n"], 10, "{model} {task}: {t}");
            assert_eq!(t["ungraded"], 0, "{model} {task}: {t}");
        }
    }
    // The reference writes queries that return the gold rows (12/12 when this test was written).
    let sql = task_of(&summary, "qwen2.5-coder-0.5b", "text-to-sql");
    assert!(sql["accuracy"]["value"].as_f64().unwrap() >= 0.5, "{sql}");
    // Partial credit: the share of rules kept, spread over [0, 1], with a graded interval.
    let rules = task_of(&summary, "qwen2.5-coder-0.5b", "formatting-rules");
    let spread: Vec<u64> = rules["score_spread"]["counts"]
        .as_array()
        .unwrap_or_else(|| panic!("no spread: {rules}"))
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(spread.iter().sum::<u64>(), 10);
    assert!(spread[1..5].iter().sum::<u64>() > 0, "{spread:?}");
    assert!(
        rules["accuracy"]["method"]
            .as_str()
            .unwrap()
            .contains("BCa"),
        "{rules}"
    );

    let (compared, _) = run_ok(&[
        "compare",
        "1:qwen2.5-coder-0.5b/zero-shot/plain",
        "1:smollm2-135m/zero-shot/plain",
        "--db",
        db,
    ]);
    assert!(
        compared.contains("formatting-rules (n = 10 shared items, graded scores)"),
        "{compared}"
    );
    assert!(
        compared.contains("text-to-sql (n = 10 shared items, 0/1 scores)"),
        "{compared}"
    );

    let (profiles, _) = run_ok(&["tune", "1", "--db", db]);
    assert!(profiles.contains("[profiles.text-to-sql]"), "{profiles}");
    assert!(
        profiles.contains("[profiles.formatting-rules]"),
        "{profiles}"
    );

    let out_dir = dir.path().join("report");
    run_ok(&[
        "report",
        "1",
        "--db",
        db,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let markdown = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(markdown.contains("score distribution"), "{markdown}");
}

const FLAKY_GRADER: &str = r#"
import json, sys
request = json.load(sys.stdin)
if request["id"] == "i3":
    print("grader bug: cannot handle item i3", file=sys.stderr)
    sys.exit(2)
print(json.dumps({"score": 1 if request["extracted"] else 0}))
"#;

/// A six-item task in `dir` whose grader crashes on item i3.
fn flaky_task(dir: &Path) {
    std::fs::write(dir.join("grade.py"), FLAKY_GRADER).unwrap();
    let rows: String = (1..=6)
        .map(|i| format!("{{\"id\": \"i{i}\", \"q\": \"Say a colour ({i}).\"}}\n"))
        .collect();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    std::fs::write(
        dir.join("task.toml"),
        "name = \"colours\"\ninstruction = \"Answer with one word.\"\nquestion = \"{{ q }}\"\ntarget = \"any\"\nmax_tokens = 8\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"command\"\ncommand = [\"python3\", \"grade.py\"]\n",
    )
    .unwrap();
}

#[test]
fn a_failing_grader_costs_one_item_visibly_and_a_changed_grader_regrades() {
    if !sandbox_here() {
        return;
    }
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    flaky_task(dir.path());
    let db = dir.path().join("g.db");
    // Run from the task's folder with the task named bare, as a user in that folder would.
    let args = [
        "eval",
        "--models",
        "smollm2-135m",
        "--strategies",
        "zero-shot",
        "--tasks",
        "task.toml",
        "--db",
        db.to_str().unwrap(),
    ];
    let (stdout, _) = run_ok_in(dir.path(), &args);
    assert!(
        stdout.contains("n=5") && stdout.contains("GF=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "item i3: crashed — exited with status 2; stderr: grader bug: cannot handle item i3"
        ),
        "{stdout}"
    );
    let (json, _) = run_ok(&["show", "1", "--json", "--db", db.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = task_of(&summary, "smollm2-135m", "colours");
    assert_eq!(
        (t["accuracy"]["n"].as_u64(), t["ungraded"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(t["grader_failures"][0]["item_id"], "i3");

    // The same grader: the finished run is shown again. A changed grader: a new run.
    let (_, stderr) = run_ok_in(dir.path(), &args);
    assert!(stderr.contains("already finished as run 1"), "{stderr}");
    let fixed = FLAKY_GRADER.replace("sys.exit(2)", "pass");
    std::fs::write(dir.path().join("grade.py"), fixed).unwrap();
    let (stdout, stderr) = run_ok_in(dir.path(), &args);
    assert!(!stderr.contains("already finished"), "{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("run 2") && stdout.contains("n=6"),
        "{stdout}{stderr}"
    );
    assert!(!stdout.contains("GF="), "{stdout}");
}
