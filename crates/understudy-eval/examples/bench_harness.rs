//! Bench (not a test): harness overhead on the fake backend with zero latency — a 20,000-cell
//! matrix (2 models × 2 strategies × 4 formats × 1,250 items) through planning, prompt rendering,
//! cache lookup, scoring and SQLite commits. Prints cells/s and the process's peak RSS.
//!
//! cargo run --release -p understudy-eval --example bench_harness
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use understudy_backend::fake::FakeBackend;
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_store::Store;
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = String::new();
    for i in 0..1250 {
        let label = if i % 3 == 0 { "negative" } else { "positive" };
        rows.push_str(&format!("{{\"id\":\"i{i}\",\"text\":\"item number {i} with a sentence of ordinary length to render\",\"label\":\"{label}\"}}\n"));
    }
    std::fs::write(dir.path().join("rows.jsonl"), rows).unwrap();
    std::fs::write(
        dir.path().join("task.toml"),
        "name = \"bench\"\ninstruction = \"Classify.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n",
    )
    .unwrap();
    let pending = find_task(dir.path().join("task.toml").to_str().unwrap()).unwrap();
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(vec!["label:positive".into(), "label:negative".into()]),
        strategies: Some(vec!["zero-shot".into(), "role".into()]),
        formats: Some(vec![
            "plain".into(),
            "markdown".into(),
            "json".into(),
            "yaml".into(),
        ]),
        limit: Some(1250),
        ..EvalSection::default()
    };
    let plan = Plan::resolve(&section, "echo", vec![(pending, data)]).unwrap();
    let store = Store::open_path(&dir.path().join("bench.db"))
        .await
        .unwrap();
    let options = RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 8),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    };
    let start = Instant::now();
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
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(outcome.total, 20_000);
    println!(
        "bench_harness: {} cells in {secs:.2} s = {:.0} cells/s (fresh), peak RSS {:.1} MB",
        outcome.total,
        outcome.total as f64 / secs,
        peak_rss_mb()
    );
    let start = Instant::now();
    let again = run(
        &plan,
        Arc::new(FakeBackend::new()),
        &store,
        &options,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(again.cached, 20_000);
    println!("bench_harness: {} cells in {secs:.2} s = {:.0} cells/s (all from cache), peak RSS {:.1} MB", again.total, again.total as f64 / secs, peak_rss_mb());
}
