//! Latency measured on a busy machine is flagged, not silently published: the real binary runs an
//! embedded eval on the smallest model once on a quiet machine and once beside two CPU hogs
//! (other processes), and `show` and the report say which run's latency was measured under load.
//! (Its own test binary: other tests running beside it would be load of their own.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "it/common/mod.rs"]
mod common;

use std::path::Path;

use common::{ensure_small_model, text, toy_review_task, understudy};

/// Runs the eval into `db` (with `extra` flags), then returns `show`'s text and the Markdown
/// report.
fn eval_and_show(task: &Path, db: &Path, report: &Path, extra: &[&str]) -> (String, String) {
    let out = understudy()
        .args([
            "eval",
            "--models",
            "smollm2-135m",
            "--no-reference",
            "--strategies",
            "zero-shot",
            "--threads",
            "2",
            "--tasks",
        ])
        .arg(task)
        .arg("--db")
        .arg(db)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let show = understudy()
        .args(["show", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", text(&show.stderr));
    let rep = understudy()
        .args(["report", "--db"])
        .arg(db)
        .arg("--out")
        .arg(report)
        .output()
        .unwrap();
    assert!(rep.status.success(), "{}", text(&rep.stderr));
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    (text(&show.stdout), markdown)
}

struct Hogs(Vec<std::process::Child>);

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

#[test]
fn latency_beside_a_cpu_hog_is_flagged_and_a_quiet_run_is_not() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 6, "Classify the review.");

    // Waits (as a user would) for what ran before this test — a finished test's servers winding
    // down — to stop using the cores, before the run the test calls quiet.
    let (show, markdown) = eval_and_show(
        &task,
        &dir.path().join("quiet.db"),
        &dir.path().join("quiet"),
        &["--quiet-machine"],
    );
    assert!(
        show.contains("no row's latency was measured under load"),
        "{show}"
    );
    assert!(!show.contains("UNDER LOAD"), "{show}");
    assert!(markdown.contains("latency conditions:"), "{markdown}");
    assert!(!markdown.contains("UNDER LOAD"), "{markdown}");

    let hogs = Hogs(
        (0..2)
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (show, markdown) = eval_and_show(
        &task,
        &dir.path().join("busy.db"),
        &dir.path().join("busy"),
        &[],
    );
    drop(hogs);
    assert!(show.contains("LATENCY MEASURED UNDER LOAD"), "{show}");
    assert!(show.contains("smollm2-135m zero-shot plain"), "{show}");
    assert!(
        markdown.contains("LATENCY MEASURED UNDER LOAD"),
        "{markdown}"
    );
    assert!(
        markdown.contains(" *"),
        "the latency cell is marked: {markdown}"
    );
}
