//! What a newcomer meets in the first hour, each through the real binary: a finished plan run
//! again is shown, not re-made; a stopped run says how far it got and exits 130 on Ctrl-C;
//! flags and ids out of range say why; counts take the right noun; `models` marks the default
//! and reference; an empty `memory list` says so; `chat` loads before its first prompt; config
//! errors name the file, line, key and what to write; a profile's unset variable is named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    assert_clean_failure, ensure_small_model, serve_model_like_mock, text, toy_eval,
    toy_eval_items, toy_review_task, understudy,
};

fn runs_in(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
        .unwrap()
}

fn cells_in(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .ok()
        .and_then(|c| {
            c.query_row("SELECT COUNT(*) FROM cells", [], |r| r.get(0))
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn a_finished_plan_run_again_is_shown_not_made_anew() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_model_like_mock(&runtime, 0);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 40, "Label the review.");
    let db = dir.path().join("u.db");
    let first = toy_eval_items(&base, &db, &task, 10, &[]).output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stderr = text(&first.stderr);
    // One of each: the singular nouns.
    assert!(
        stderr.contains("eval: 1 model × 1 strategy × 1 format × 1 task, 10 items"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run 1: 20 cells (20 generated, 0 from cache)"),
        "{stderr}"
    );

    let again = toy_eval_items(&base, &db, &task, 10, &[]).output().unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("this plan already finished as run 1") && stderr.contains("--no-cache"),
        "{stderr}"
    );
    assert_eq!(runs_in(&db), 1, "no second run with the same content");
    assert_eq!(text(&again.stdout), text(&first.stdout), "the same summary");

    // --no-cache measures anew: a second run.
    let fresh = toy_eval_items(&base, &db, &task, 10, &["--no-cache"])
        .output()
        .unwrap();
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    assert_eq!(runs_in(&db), 2);
}

#[test]
fn ctrl_c_stops_a_run_saying_how_far_it_got_and_exits_130() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_model_like_mock(&runtime, 150);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 40, "Label the review.");
    let db = dir.path().join("u.db");
    let child = toy_eval(&base, &db, &task, &["--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cells_in(&db) < 5 {
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let stored = cells_in(&db);
    assert!(
        stored < 80,
        "stopped too late to test anything ({stored} cells)"
    );
    assert!(
        stderr.contains(&format!("run 1 stopped: {stored} of 80 cells stored")),
        "{stderr}"
    );
    assert!(
        stderr.contains("rerun the same command to resume"),
        "{stderr}"
    );
}

#[test]
fn flags_and_ids_out_of_range_say_why() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_model_like_mock(&runtime, 0);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 40, "Label the review.");
    let db = dir.path().join("u.db");

    let out = toy_eval(&base, &db, &task, &["--until-ci", "0"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "more than 0 and at most 100");

    let out = toy_eval(&base, &db, &task, &["--offset", "100"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "the dataset has 40 items and --offset skips 100");

    let out = understudy()
        .args(["show", "abc", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("a run is named by its number") && !stderr.contains("invalid digit"),
        "{stderr}"
    );

    // A run that is not there: the pointer to `understudy runs` once, not twice.
    let ok = toy_eval_items(&base, &db, &task, 10, &[]).output().unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let out = understudy()
        .args(["compare", "1", "7", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_clean_failure(&out, "no run 7");
    assert_eq!(text(&out.stderr).matches("understudy runs").count(), 1);
}

#[test]
fn models_marks_the_default_and_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[defaults]\nmodel = \"smollm2-135m\"\nreference = \"qwen2.5-coder-1.5b\"\n",
    )
    .unwrap();
    let out = understudy()
        .arg("--config")
        .arg(&config)
        .arg("models")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let role = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_string()
    };
    assert!(stdout.lines().next().unwrap().contains("ROLE"), "{stdout}");
    assert!(role("smollm2-135m").contains(" default "), "{stdout}");
    assert!(
        role("qwen2.5-coder-1.5b").contains(" reference "),
        "{stdout}"
    );
    assert!(!role("qwen2.5-coder-0.5b").contains("default"), "{stdout}");
}

#[test]
fn an_empty_memory_list_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(understudy_store::Store::open_path(&db))
        .unwrap();
    let out = understudy()
        .args(["memory", "list", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no memory collections yet"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn chat_loads_its_model_before_the_first_prompt() {
    ensure_small_model();
    let out = understudy()
        .args(["chat", "--model", "smollm2-135m"])
        .write_stdin("/exit\n")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let loaded = stderr
        .find("smollm2-135m: 1 parallel sequence")
        .unwrap_or_else(|| panic!("no load line: {stderr}"));
    let prompt = stderr.find(">>> ").unwrap_or_else(|| panic!("{stderr}"));
    assert!(loaded < prompt, "{stderr}");
}

#[test]
fn config_errors_name_the_line_the_key_and_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let eval_table = write(
        "a.toml",
        "# eval settings\n[eval]\nlimit = 5\nsamples = 1.5\n",
    );
    let out = understudy()
        .arg("--config")
        .arg(&eval_table)
        .arg("eval")
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "a.toml:4: key `eval.samples`: invalid type: floating point `1.5`, expected a whole number of 0 or more",
    );

    let profile = write(
        "b.toml",
        "[profiles.bot]\nmodel = \"smollm2-135m\"\ntemperature = \"hot\"\n",
    );
    let out = understudy()
        .arg("--config")
        .arg(&profile)
        .arg("serve")
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        "b.toml:3: key `profiles.bot.temperature`: invalid type: string \"hot\", expected a number",
    );

    let unset = write(
        "c.toml",
        "[profiles.bot]\nmodel = \"smollm2-135m\"\nsystem = \"You help with {{ prodct }}.\"\nvars = { product = \"Acme\" }\n",
    );
    let out = understudy()
        .arg("--config")
        .arg(&unset)
        .arg("serve")
        .output()
        .unwrap();
    assert_clean_failure(&out, "c.toml: key `profiles.bot.system`: uses {{ prodct }}");
    assert!(text(&out.stderr).contains("sets `product`"));

    let task = write("t.toml", "instruction = \"Label it.\"\n");
    let out = understudy()
        .args(["eval", "--tasks"])
        .arg(&task)
        .output()
        .unwrap();
    assert_clean_failure(&out, "t.toml:1: the top-level table: missing field `name`");
    assert!(!text(&out.stderr).contains("key `.`"));
}
