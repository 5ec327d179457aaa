//! What a newcomer's typos and ordinary shell habits do to the real binary: piping into `head`
//! or `true` ends quietly, repeated ids and repeated list entries are errors that name them,
//! counts out of range say the range, errors say their cause once, `memory` checks its input
//! before it downloads or creates anything, `show --json` gives the plan as an object, and the
//! gateway's start-up line says what it really does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{
    answering, assert_clean_failure, free_port, home, serve_openai_mock, text, understudy,
    wait_for_port,
};

fn task(dir: &Path, rows: &str, pool: usize) -> PathBuf {
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = format!(
        "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{{{ text }}}}\"\ntarget = \"{{{{ label }}}}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = {pool}\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n"
    );
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

fn rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"review {i}\",\"label\":\"{}\"}}\n",
                if i % 2 == 0 { "positive" } else { "negative" }
            )
        })
        .collect()
}

/// A finished run in `dir/u.db` against a mock upstream answering "positive".
fn stored_run(dir: &Path) -> PathBuf {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_openai_mock(&runtime, answering("positive", 0));
    let task = task(dir, &rows(6), 0);
    let db = dir.join("u.db");
    let out = understudy()
        .env("OPENAI_BASE_URL", &base)
        .args([
            "eval",
            "--models",
            "openai/m",
            "--no-reference",
            "--strategies",
            "zero-shot",
        ])
        .arg("--tasks")
        .arg(&task)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    db
}

/// Runs `args` with stdout's reader gone before anything is written.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(args)
        .env("UNDERSTUDY_HOME", home())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = stored_run(dir.path());
    let db = db.to_str().unwrap();
    let report_dir = dir.path().join("rep");
    for args in [
        vec!["runs", "--db", db],
        vec!["show", "--db", db],
        vec!["show", "--json", "--db", db],
        vec!["models"],
        vec!["report", "--db", db, "--out", report_dir.to_str().unwrap()],
        vec!["logs", "--json", "--db", db],
    ] {
        let out = with_closed_stdout(&args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {stderr}");
    }
}

#[test]
fn show_json_gives_the_plan_as_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let db = stored_run(dir.path());
    let out = understudy()
        .args(["show", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["run"]["plan"].is_object(), "{}", v["run"]);
    assert_eq!(v["run"]["plan"]["models"][0], "openai/m");
}

#[test]
fn a_repeated_id_is_an_error_naming_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = rows(4);
    data.push_str("{\"id\":\"r1\",\"text\":\"again\",\"label\":\"positive\"}\n");
    let task = task(dir.path(), &data, 0);
    let out = understudy()
        .args(["eval", "--models", "openai/m", "--no-reference", "--tasks"])
        .arg(&task)
        .arg("--db")
        .arg(dir.path().join("u.db"))
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "rows.jsonl:5: item r1: id \"r1\" is used again (first on line 2)",
    );
}

#[test]
fn repeated_and_empty_list_entries_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let task = task(dir.path(), &rows(4), 0);
    let task = task.to_str().unwrap();
    for (flag, value, needle) in [
        ("--tasks", format!("{task},{task}"), "lists"),
        (
            "--models",
            "openai/m,openai/m".to_string(),
            "lists \"openai/m\" twice",
        ),
        (
            "--strategies",
            "zero-shot,zero-shot".to_string(),
            "lists \"zero-shot\" twice",
        ),
        ("--models", String::new(), "empty name"),
    ] {
        let out = understudy()
            .args(["eval", "--no-reference", "--tasks", task, flag, &value])
            .arg("--db")
            .arg(dir.path().join("u.db"))
            .output()
            .unwrap();
        assert_clean_failure(&out, needle);
    }
}

#[test]
fn counts_out_of_range_name_the_range() {
    for (strategy, needle) in [
        ("few-shot:0", "few-shot:K needs K from 1 to 16, got \"0\""),
        ("few-shot:17", "got \"17\""),
        ("memory:99", "memory:K needs K from 1 to 16"),
    ] {
        let out = understudy()
            .args(["eval", "--strategies", strategy, "--models", "openai/m"])
            .output()
            .unwrap();
        assert_clean_failure(&out, needle);
    }
    let out = understudy()
        .args(["eval", "--limit", "-1"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at least 1, got -1"), "{stderr}");
}

#[test]
fn a_missing_target_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = "{\"id\":\"a\",\"text\":\"fine\"}\n";
    let task = task(dir.path(), data, 0);
    let out = understudy()
        .args(["eval", "--models", "openai/m", "--no-reference", "--tasks"])
        .arg(&task)
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "field `label` is missing from the row (it has: id, text)",
    );
}

#[test]
fn store_errors_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, "Some notes.").unwrap();
    let out = understudy()
        .args(["memory", "add"])
        .arg(&notes)
        .args(["--db", "/nonexistent-dir/x.db"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("unable to open database file").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn memory_checks_its_input_before_downloading_or_creating() {
    let dir = tempfile::tempdir().unwrap();
    let empty_home = dir.path().join("home");
    let out = understudy()
        .env("UNDERSTUDY_HOME", &empty_home)
        .args(["memory", "add", "/nonexistent/notes.md", "--db"])
        .arg(dir.path().join("m.db"))
        .output()
        .unwrap();
    assert_clean_failure(&out, "/nonexistent/notes.md: no such file or directory");
    assert!(
        !empty_home.exists(),
        "the embedder was installed before the path was checked"
    );
    assert!(!dir.path().join("m.db").exists());

    let out = understudy()
        .args(["memory", "search", "x", "-k", "0", "--db"])
        .arg(dir.path().join("m.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("at least 1"));

    let out = understudy()
        .args(["memory", "search", "x", "--db"])
        .arg(dir.path().join("m.db"))
        .output()
        .unwrap();
    assert_clean_failure(&out, "no store at");
    assert!(!dir.path().join("m.db").exists(), "search created a store");

    let examples = dir.path().join("solved.jsonl");
    std::fs::write(
        &examples,
        "{\"input\": \"2+2\", \"target\": \"4\"}\n{\"input\": \"3+3\"}\n",
    )
    .unwrap();
    let out = understudy()
        .env("UNDERSTUDY_HOME", &empty_home)
        .args(["memory", "add-examples", "--collection", "sums"])
        .arg(&examples)
        .arg("--db")
        .arg(dir.path().join("m.db"))
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "solved.jsonl:2: expected {\"input\": …, \"target\": …}",
    );
    let without_pool = task(dir.path(), &rows(6), 0);
    for args in [
        vec!["memory", "add-examples", "--task"],
        vec![
            "eval",
            "--models",
            "openai/m",
            "--no-reference",
            "--strategies",
            "knn-shot:2",
            "--tasks",
        ],
    ] {
        let out = understudy()
            .env("UNDERSTUDY_HOME", &empty_home)
            .args(&args)
            .arg(&without_pool)
            .arg("--db")
            .arg(dir.path().join("m.db"))
            .output()
            .unwrap();
        assert_clean_failure(&out, "few_shot_pool");
    }
    assert!(
        !empty_home.exists(),
        "the embedder was installed before the input was checked"
    );
}

/// The gateway's start-up line (stderr) when listening at `listen`, killed once it accepts.
fn start_up_line(config: &Path, db: &Path, listen: &str, port: u16, extra: &[&str]) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", listen, "--db"])
        .arg(db)
        .args(extra)
        .env("UNDERSTUDY_HOME", home())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, 60);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn the_start_up_line_says_what_the_gateway_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, "").unwrap();
    let db = dir.path().join("u.db");

    let port = free_port();
    let line = start_up_line(
        &config,
        &db,
        &format!("0.0.0.0:{port}"),
        port,
        &["--insecure-no-auth"],
    );
    assert!(!line.contains("localhost only"), "{line}");
    assert!(line.contains("NO API KEYS"), "{line}");
    assert!(!line.contains("default model"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a redirected stderr: {line:?}"
    );

    let port = free_port();
    let line = start_up_line(&config, &db, &format!("localhost:{port}"), port, &[]);
    assert!(line.contains("localhost only"), "{line}");
}
