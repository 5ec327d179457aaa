//! The runner and statistics on the fake backend, where every answer is known in advance: the
//! numbers must match hand computation; resume, cache and bad input must behave as documented.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use understudy_backend::fake::{CountingBackend, FakeBackend};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::runner::{run, Quiet, RunObserver, RunOptions};
use understudy_report::summary::summarise;
use understudy_store::{Cell, Store};
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;
use understudy_tasks::EvalError;

/// Counts calls so tests can prove nothing was called.
type Counting = CountingBackend<FakeBackend>;

fn counting() -> Arc<Counting> {
    Arc::new(CountingBackend::new(FakeBackend::new()))
}

/// 12 positive then 8 negative reviews; the few-shot pool is disabled so all 20 are scored.
pub(crate) fn write_task(dir: &Path) -> PathBuf {
    let mut rows = String::new();
    for i in 0..20 {
        let label = if i < 12 { "pos" } else { "neg" };
        rows.push_str(&format!(
            "{{\"id\": \"r{i}\", \"text\": \"review {i}\", \"label\": \"{label}\"}}\n"
        ));
    }
    std::fs::write(dir.join("reviews.jsonl"), rows).unwrap();
    let task = r#"
name = "toy"
instruction = "Classify the review."
question = "{{ text }}"
target = "{{ label }}"

[dataset]
path = "reviews.jsonl"
id_field = "id"
few_shot_pool = 0

[answer]
kind = "label"
labels = ["positive", "negative"]
target_map = { pos = "positive", neg = "negative" }
"#;
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

pub(crate) fn plan(
    task: &Path,
    models: &[&str],
    reference: Option<&str>,
    strategies: &[&str],
) -> Result<Plan, EvalError> {
    let pending = find_task(task.to_str().unwrap())?;
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(models.iter().map(|s| s.to_string()).collect()),
        reference: reference.map(str::to_string),
        strategies: Some(strategies.iter().map(|s| s.to_string()).collect()),
        limit: Some(100),
        ..EvalSection::default()
    };
    Plan::resolve(&section, "echo", vec![(pending, data)])
}

pub(crate) fn options() -> RunOptions {
    RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 4),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    }
}

/// Runs `plan` on the counting fake backend with the default grader; the run's cells.
pub(crate) async fn run_to_cells(plan: &Plan, store: &Store) -> Vec<Cell> {
    let outcome = run(
        plan,
        counting(),
        store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    store.runs.cells(outcome.run_id).await.unwrap()
}

#[tokio::test]
async fn scores_match_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let plan = plan(
        &task,
        &["label:positive", "label:negative"],
        Some("label:positive"),
        &["zero-shot"],
    )
    .unwrap();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let outcome = run(
        &plan,
        counting(),
        &store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(outcome.total, 40);
    let summary = summarise(
        store.runs.run(outcome.run_id).await.unwrap(),
        &store.runs.cells(outcome.run_id).await.unwrap(),
    );
    let pos = &summary.rows[0].tasks[0];
    let neg = &summary.rows[1].tasks[0];
    assert_eq!(pos.accuracy.n, 20);
    assert!((pos.accuracy.value - 0.6).abs() < 1e-12);
    assert!((neg.accuracy.value - 0.4).abs() < 1e-12);
    // Always "positive": positive P=0.6 R=1 F1=0.75; negative F1=0 -> macro 0.375.
    assert!((pos.macro_f1.unwrap() - 0.375).abs() < 1e-12);
    // Clopper–Pearson for 12/20 (R: binom.test(12, 20)): [0.3605, 0.8088].
    assert!(
        (pos.accuracy.low - 0.3605426).abs() < 1e-5,
        "{:?}",
        pos.accuracy
    );
    assert!(
        (pos.accuracy.high - 0.8088099).abs() < 1e-5,
        "{:?}",
        pos.accuracy
    );
    assert_eq!(pos.accuracy.method, "Clopper–Pearson");
    // The reference answers "positive" for every item: 60% of 20 is not above the baseline
    // fixed before scoring (chance, 50%: binomial p = 0.252), so a share of it (0.4 / 0.6)
    // would mean nothing and is not given.
    let baseline = pos.baseline.as_ref().unwrap();
    assert_eq!(baseline.bar_name, "chance");
    assert!((baseline.bar - 0.5).abs() < 1e-12 && !baseline.test.above);
    assert_eq!(pos.answers.single.as_deref(), Some("positive"));
    assert!(neg.share_of_reference.is_none());
    assert!(neg
        .share_not_meaningful
        .as_deref()
        .unwrap()
        .contains("NOT above the chance baseline"));
    assert!(
        pos.share_of_reference.is_none(),
        "the reference has no share of itself"
    );
    // 12 items only A right, 8 only B right: the exact score test keeps "no difference"
    // (p well above 0.05), and so does its interval.
    let line = summary
        .comparisons
        .iter()
        .find(|c| c.a.starts_with("label:negative"))
        .unwrap();
    let c = &line.comparison;
    assert!(c.p_value > 0.3 && c.p_value < 1.0, "{line:?}");
    assert!(
        c.difference.low < 0.0 && c.difference.high > 0.0,
        "{line:?}"
    );
    assert_eq!(c.test, "exact score");
    assert!((c.difference.value + 0.2).abs() < 1e-12);
}

/// Stops the run after `after` cells, like Ctrl-C.
struct StopAfter {
    after: usize,
    seen: AtomicUsize,
    stop: Arc<AtomicBool>,
}
impl RunObserver for StopAfter {
    fn start(&self, _: usize, _: usize) {}
    fn cell(&self, _: &Cell) {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 >= self.after {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
    fn finish(&self) {}
}

#[tokio::test]
async fn stopped_run_resumes_without_loss_or_duplicates_and_a_finished_one_is_not_remade() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let plan = plan(
        &task,
        &["slow-5ms", "label:positive"],
        None,
        &["zero-shot", "role"],
    )
    .unwrap();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let backend = counting();
    let mut opts = options();
    opts.concurrency = Arc::new(|_| 1);
    let stopper = StopAfter {
        after: 7,
        seen: AtomicUsize::new(0),
        stop: opts.stop.clone(),
    };
    let first = run(
        &plan,
        backend.clone(),
        &store,
        &opts,
        &Grader::default(),
        &stopper,
    )
    .await
    .unwrap();
    assert!(first.interrupted);
    let stored = store.runs.cells(first.run_id).await.unwrap().len();
    assert!((7..80).contains(&stored), "{stored}");

    let second = run(
        &plan,
        backend.clone(),
        &store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(second.run_id, first.run_id, "the same plan resumes its run");
    assert!(second.resumed && !second.interrupted);
    let cells = store.runs.cells(second.run_id).await.unwrap();
    assert_eq!(cells.len(), 80);
    let keys: std::collections::HashSet<_> = cells
        .iter()
        .map(|c| (&c.model, &c.strategy, &c.format, &c.task, &c.item_id))
        .collect();
    assert_eq!(keys.len(), 80, "one cell per key");
    assert_eq!(backend.calls(), 80, "no cell was generated twice");

    // A finished plan run again: the same run, shown as it is, nothing called or stored.
    let again_same = run(
        &plan,
        backend.clone(),
        &store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    assert!(
        again_same.reused && again_same.run_id == first.run_id,
        "{again_same:?}"
    );
    assert_eq!((again_same.stored, again_same.fresh), (80, 0));
    assert_eq!(backend.calls(), 80);
    assert_eq!(store.runs.runs().await.unwrap().len(), 1);

    // A changed plan that shares requests: a new run, those cells from the cache, same
    // scores, the latency measured when they were produced.
    let narrower = self::plan(&task, &["slow-5ms"], None, &["zero-shot", "role"]).unwrap();
    let third = run(
        &narrower,
        backend.clone(),
        &store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    assert_ne!(third.run_id, first.run_id);
    assert_eq!((third.cached, third.fresh), (40, 0));
    assert_eq!(backend.calls(), 80);
    let again = store.runs.cells(third.run_id).await.unwrap();
    let score = |cs: &[Cell]| cs.iter().map(|c| c.score).sum::<f64>();
    let slow: Vec<Cell> = cells
        .iter()
        .filter(|c| c.model == "slow-5ms")
        .cloned()
        .collect();
    assert_eq!(score(&again), score(&slow));
    assert!(again.iter().all(|c| c.cached));
    let slow_original: f64 = slow.iter().map(|c| c.ttft_ms).sum();
    let slow_cached: f64 = again.iter().map(|c| c.ttft_ms).sum();
    assert!(
        (slow_original - slow_cached).abs() < 1e-9,
        "cached cells keep the measured latency"
    );

    // --no-cache calls again and reproduces the scores.
    let mut fresh = options();
    fresh.no_cache = true;
    let fourth = run(
        &plan,
        backend.clone(),
        &store,
        &fresh,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(fourth.fresh, 80);
    assert_eq!(
        score(&store.runs.cells(fourth.run_id).await.unwrap()),
        score(&cells)
    );
}

#[tokio::test]
async fn bad_input_stops_before_any_model_call() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());

    // A row whose label is outside the declared set: named by file and line.
    let rows = std::fs::read_to_string(dir.path().join("reviews.jsonl")).unwrap();
    let broken = rows.replacen("\"label\": \"neg\"", "\"label\": \"meh\"", 1);
    std::fs::write(dir.path().join("reviews.jsonl"), &broken).unwrap();
    let err = plan(&task, &["echo"], None, &["zero-shot"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reviews.jsonl:13") && err.contains("\"meh\""),
        "{err}"
    );

    // A row missing a field the template needs.
    let missing = rows.replacen("\"text\": \"review 3\", ", "", 1);
    std::fs::write(dir.path().join("reviews.jsonl"), &missing).unwrap();
    let err = plan(&task, &["echo"], None, &["zero-shot"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reviews.jsonl:4") && err.contains("question"),
        "{err}"
    );
    std::fs::write(dir.path().join("reviews.jsonl"), &rows).unwrap();

    let err = plan(&task, &["echo"], None, &["few-shot"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown strategy"), "{err}");
    let err = find_task("no-such-task").err().unwrap().to_string();
    assert!(
        err.contains("unknown task") && err.contains("sentiment"),
        "{err}"
    );

    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(
        &bad_toml,
        std::fs::read_to_string(&task)
            .unwrap()
            .replace("instruction =", "instructions ="),
    )
    .unwrap();
    let err = find_task(bad_toml.to_str().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("bad.toml:") && err.contains("instructions"),
        "{err}"
    );

    let backend = counting();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let p = plan(&task, &["echo", "no-such-model"], None, &["zero-shot"]).unwrap();
    let err = run(
        &p,
        backend.clone(),
        &store,
        &options(),
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no-such-model"), "{err}");
    assert_eq!(backend.calls(), 0);
}

#[test]
fn a_changed_task_definition_or_data_is_a_new_run_not_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let key = || plan(&task, &["echo"], None, &["zero-shot"]).unwrap().key();
    let original = key();
    assert_eq!(key(), original, "the same files give the same key");

    let text = std::fs::read_to_string(&task).unwrap();
    std::fs::write(&task, text.replace("Classify the review.", "Classify it.")).unwrap();
    let reworded = key();
    assert_ne!(reworded, original, "a new instruction asks other prompts");

    std::fs::write(
        &task,
        text.replace(
            "labels = [\"positive\", \"negative\"]",
            "labels = [\"positive\", \"negative\", \"mixed\"]",
        ),
    )
    .unwrap();
    assert_ne!(key(), original, "other grading is another run");

    std::fs::write(&task, &text).unwrap();
    assert_eq!(
        key(),
        original,
        "restoring the file resumes the original run"
    );
    let rows = dir.path().join("reviews.jsonl");
    let data = std::fs::read_to_string(&rows).unwrap();
    std::fs::write(
        &rows,
        data.replacen("\"label\": \"pos\"", "\"label\": \"neg\"", 1),
    )
    .unwrap();
    assert_ne!(key(), original, "a changed gold answer is another run");
}

/// The same command on a model name that now points elsewhere (a re-pointed alias, other weights,
/// a re-tuned profile behind the same name) starts a new run instead of mixing grades.
#[tokio::test]
async fn a_model_name_pointing_elsewhere_is_a_new_run_not_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path());
    let plan = plan(&task, &["echo"], None, &["zero-shot"]).unwrap();
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let stopped = |backend: Arc<Counting>| {
        let opts = options();
        let stopper = StopAfter {
            after: 3,
            seen: AtomicUsize::new(0),
            stop: opts.stop.clone(),
        };
        let (plan, store) = (&plan, &store);
        async move {
            run(plan, backend, store, &opts, &Grader::default(), &stopper)
                .await
                .unwrap()
        }
    };
    let revision = |r: &str| Arc::new(CountingBackend::new(FakeBackend::with_revision(r)));
    let first = stopped(revision("a")).await;
    assert!(first.interrupted);
    let same = stopped(revision("a")).await;
    assert_eq!(same.run_id, first.run_id, "the same target resumes");
    assert!(same.resumed);
    let moved = stopped(revision("b")).await;
    assert_ne!(moved.run_id, first.run_id, "another target is another run");
    assert!(!moved.resumed);
    let stored = store.runs.run(moved.run_id).await.unwrap().plan_json;
    assert!(stored.contains("fake:b:echo"), "{stored}");
}
