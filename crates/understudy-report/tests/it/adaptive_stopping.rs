//! `--until-ci`: a row stops taking items once its score's interval is narrow enough, the plan
//! records the rule, and the summary states it beside the numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use understudy_backend::fake::FakeBackend;
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_report::summary::summarise;
use understudy_store::Store;
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;

fn write_task(dir: &Path) -> std::path::PathBuf {
    let rows: String = (0..40)
        .map(|i| {
            let label = if i % 4 == 0 { "negative" } else { "positive" };
            format!("{{\"id\":\"r{i:02}\",\"text\":\"review {i}\",\"label\":\"{label}\"}}\n")
        })
        .collect();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    std::fs::write(dir.join("toy.toml"), task).unwrap();
    dir.join("toy.toml")
}

/// Cells per row (model) of a run with `until_ci`, the summary's measurement line, and the
/// planned cells the rule left out.
async fn cells_per_row(dir: &Path, until_ci: Option<f64>) -> (Vec<(String, usize)>, String, usize) {
    let task = write_task(dir);
    let pending = find_task(task.to_str().unwrap()).unwrap();
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(vec!["label:positive".into(), "label:negative".into()]),
        strategies: Some(vec!["zero-shot".into()]),
        limit: Some(40),
        until_ci,
        ..EvalSection::default()
    };
    let plan = Plan::resolve(&section, "echo", vec![(pending, data)]).unwrap();
    let store = Store::open_path(&dir.join(format!("{until_ci:?}.db")))
        .await
        .unwrap();
    let options = RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 1),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    };
    let outcome = run(
        &plan,
        Arc::new(FakeBackend::new()),
        &store,
        &options,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    let cells = store.runs.cells(outcome.run_id).await.unwrap();
    let summary = summarise(store.runs.run(outcome.run_id).await.unwrap(), &cells);
    let rows = summary
        .rows
        .iter()
        .map(|r| (r.model.clone(), r.cells))
        .collect();
    let ran: usize = summary.rows.iter().map(|r| r.cells).sum();
    assert_eq!(
        outcome.total,
        ran + outcome.skipped,
        "every planned cell ran or was left out"
    );
    (rows, summary.measurement_line(), outcome.skipped)
}

#[tokio::test]
async fn rows_stop_once_their_interval_is_narrow_enough() {
    let dir = tempfile::tempdir().unwrap();
    // label:positive is right on 75% of items, label:negative on 25%: at the 10th item the
    // Clopper–Pearson interval is 53–59 points wide, so a 60-point rule stops both rows there.
    let (stopped, line, skipped) = cells_per_row(dir.path(), Some(60.0)).await;
    assert_eq!(
        stopped,
        vec![
            ("label:positive".to_string(), 10),
            ("label:negative".to_string(), 10)
        ]
    );
    assert!(line.contains("adaptive stopping"), "{line}");
    assert!(line.contains("narrower than 60 points"), "{line}");
    assert!(skipped > 0);
    // Without the rule every row takes every item the task offers, and nothing is said.
    let (unruled, line, skipped) = cells_per_row(dir.path(), None).await;
    assert_eq!(skipped, 0);
    assert!(!line.contains("adaptive stopping"), "{line}");
    assert!(unruled.iter().all(|(_, n)| *n > 20), "{unruled:?}");
    // A 10-point rule needs more items than the task has (even all right, Wilson's interval
    // stays wider than 10 points below 74 items): the same as no rule.
    let (all, line, skipped) = cells_per_row(dir.path(), Some(10.0)).await;
    assert_eq!(skipped, 0);
    assert_eq!(all, unruled);
    assert!(line.contains("narrower than 10 points"), "{line}");
}

#[test]
fn a_rule_with_samples_or_no_width_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    for (until_ci, samples) in [(Some(0.0), None), (Some(20.0), Some(4))] {
        let pending = find_task(task.to_str().unwrap()).unwrap();
        let data = match &pending.data {
            DataSource::File(f) => f.clone(),
            DataSource::Builtin(_) => unreachable!(),
        };
        let section = EvalSection {
            models: Some(vec!["label:positive".into()]),
            until_ci,
            samples,
            ..EvalSection::default()
        };
        let err = Plan::resolve(&section, "echo", vec![(pending, data)]).unwrap_err();
        assert!(err.to_string().contains("until_ci"), "{err}");
    }
}
