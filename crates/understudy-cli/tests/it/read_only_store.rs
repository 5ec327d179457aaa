//! Read commands on a store they cannot write: a store on read-only media (a directory and file
//! nobody may write, read as an unprivileged user) opens for `runs`, `show` and `report`; and a
//! 0-byte file passed as `--db` is refused by name, not turned into a store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{
    assert_clean_failure, serve_model_like_mock, text, toy_eval_items, toy_review_task, understudy,
};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn an_empty_file_is_not_made_into_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    for args in [vec!["runs"], vec!["show", "1"]] {
        let out = understudy()
            .args(&args)
            .arg("--db")
            .arg(&empty)
            .output()
            .unwrap();
        assert_clean_failure(&out, "is not an understudy store");
    }
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
}

#[test]
fn read_commands_work_on_a_store_they_cannot_write() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = serve_model_like_mock(&runtime, 0);
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let task = toy_review_task(dir.path(), 20, "Label the review.");
    let made = dir.path().join("made.db");
    let out = toy_eval_items(&base, &made, &task, 10, &[])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The media: a directory and file nobody may write, holding only the store's file.
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let db = media.join("u.db");
    std::fs::copy(&made, &db).unwrap();
    chmod(&db, 0o444);
    chmod(&media, 0o555);
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    chmod(&scratch, 0o777);
    // Root writes anywhere: read as an unprivileged user, with a copy of the binary it can run.
    let binary = dir.path().join("understudy");
    std::fs::copy(env!("CARGO_BIN_EXE_understudy"), &binary).unwrap();
    chmod(&binary, 0o755);
    let run = |args: &[&str]| {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        cmd.args(args)
            .arg("--db")
            .arg(&db)
            .current_dir(&scratch)
            .env("HOME", &scratch)
            .env("UNDERSTUDY_HOME", &scratch)
            .output()
            .unwrap()
    };
    let out = run(&["runs"]);
    assert!(out.status.success(), "runs: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("finished"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["show", "1"]);
    assert!(out.status.success(), "show: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("n=10"), "{}", text(&out.stdout));
    let report = scratch.join("report");
    let out = run(&["report", "1", "--out", report.to_str().unwrap()]);
    assert!(out.status.success(), "report: {}", text(&out.stderr));
    assert!(report.join("index.html").exists());
    chmod(&media, 0o755);
}
