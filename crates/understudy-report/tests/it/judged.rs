//! Multi-turn items and the judge on the fake backend: the follow-up turn carries the first
//! answer, each turn gets a rating, a judge that never gives a parsable rating is retried once
//! and its cells are reported as ungraded (left out of the score), not as zeros.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use understudy_backend::fake::{CountingBackend, FakeBackend};
use understudy_backend::{Backend, BackendError, EventStream, ModelInfo};
use understudy_core::ValidChatRequest;
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_report::summary::summarise;
use understudy_store::Store;
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::{Grader, Judge};

const PROMPTS: &str = r#"{"name": "single-v1", "type": "single", "system_prompt": "You are a helpful assistant.", "prompt_template": "[Question]\n{question}\n[Answer]\n{answer}", "output_format": "[[rating]]"}
{"name": "single-v1-multi-turn", "type": "single", "system_prompt": "Judge turn two.", "prompt_template": "{question_1}|{answer_1}|{question_2}|{answer_2}", "output_format": "[[rating]]"}
"#;

fn setup(dir: &std::path::Path) -> Plan {
    std::fs::write(
        dir.join("q.jsonl"),
        "{\"question_id\": 1, \"category\": \"writing\", \"turns\": [\"Write a haiku.\", \"Now shorter.\"]}\n\
         {\"question_id\": 2, \"category\": \"roleplay\", \"turns\": [\"Be a pirate.\", \"Say goodbye.\"]}\n",
    )
    .unwrap();
    std::fs::write(dir.join("prompts.jsonl"), PROMPTS).unwrap();
    let task = r#"
name = "chat"
instruction = "Respond."
question = "{{ turns[0] }}"
target = ""
turns_field = "turns"
fields = ["category"]

[dataset]
path = "q.jsonl"
id_field = "question_id"
few_shot_pool = 0

[answer]
kind = "judge"
prompts = "mtbench-judge-prompts"
category_field = "category"
"#;
    std::fs::write(dir.join("chat.toml"), task).unwrap();
    let pending = find_task(dir.join("chat.toml").to_str().unwrap()).unwrap();
    let data = match &pending.data {
        DataSource::File(f) => f.clone(),
        DataSource::Builtin(_) => unreachable!(),
    };
    let section = EvalSection {
        models: Some(vec!["echo".into()]),
        strategies: Some(vec!["zero-shot".into()]),
        ..EvalSection::default()
    };
    Plan::resolve(&section, "echo", vec![(pending, data)]).unwrap()
}

/// Records the conversations sent to the answering model.
struct Recording {
    inner: FakeBackend,
    seen: Mutex<Vec<Vec<String>>>,
}

#[async_trait::async_trait]
impl Backend for Recording {
    fn name(&self) -> &str {
        "recording"
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.inner.list_models().await
    }
    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        if request.model == "echo" {
            let texts = request.messages.iter().map(|m| m.content.clone()).collect();
            self.seen.lock().unwrap().push(texts);
        }
        self.inner.chat_stream(request).await
    }
}

fn options() -> RunOptions {
    RunOptions {
        no_cache: false,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 2),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    }
}

#[tokio::test]
async fn each_turn_is_rated_and_the_conversation_is_carried() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let recording = Arc::new(Recording {
        inner: FakeBackend::new(),
        seen: Mutex::new(Vec::new()),
    });
    let backend = Arc::new(CountingBackend::new(RecordingRef(recording.clone())));
    let judge = Judge::load(
        backend.clone() as Arc<dyn Backend>,
        "label:Clear enough. Rating: [[7]]",
        &dir.path().join("prompts.jsonl"),
        None,
        vec![],
    )
    .await
    .unwrap();
    let grader = Grader {
        judge: Some(judge),
        ..Grader::default()
    };
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let outcome = run(&plan, backend.clone(), &store, &options(), &grader, &Quiet)
        .await
        .unwrap();
    // 2 items × 2 turns answered, 2 × 2 judgments.
    assert_eq!(backend.calls(), 8);
    let seen = recording.seen.lock().unwrap().clone();
    let follow_up = seen
        .iter()
        .find(|m| m.len() == 3)
        .expect("a follow-up request");
    assert!(
        follow_up[1].contains("Respond."),
        "the first answer is carried: {follow_up:?}"
    );
    assert!(follow_up[2] == "Now shorter." || follow_up[2] == "Say goodbye.");
    let cells = store.runs.cells(outcome.run_id).await.unwrap();
    assert_eq!(cells.len(), 2);
    for cell in &cells {
        assert!((cell.score - 0.7).abs() < 1e-9, "{}", cell.score);
        assert!(cell.answer.contains("[turn 2]"), "{}", cell.answer);
    }
    let summary = summarise(store.runs.run(outcome.run_id).await.unwrap(), &cells);
    let task = &summary.rows[0].tasks[0];
    let names: Vec<&str> = task.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.contains(&"judge rating (1-10)") && names.contains(&"  writing"),
        "{names:?}"
    );
    let failures = task
        .metrics
        .iter()
        .find(|m| m.name == "judge parse failures")
        .unwrap();
    assert!(
        failures.note.starts_with("0 of 4 turns"),
        "{}",
        failures.note
    );
}

#[tokio::test]
async fn unparsable_judgments_are_retried_then_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let backend = Arc::new(CountingBackend::new(FakeBackend::new()));
    let judge = Judge::load(
        backend.clone() as Arc<dyn Backend>,
        "label:I would give it a seven",
        &dir.path().join("prompts.jsonl"),
        None,
        vec![],
    )
    .await
    .unwrap();
    let grader = Grader {
        judge: Some(judge),
        ..Grader::default()
    };
    let store = Store::open_path(&dir.path().join("u.db")).await.unwrap();
    let outcome = run(&plan, backend.clone(), &store, &options(), &grader, &Quiet)
        .await
        .unwrap();
    // 4 answers + 4 turns × 2 attempts.
    assert_eq!(backend.calls(), 12);
    let cells = store.runs.cells(outcome.run_id).await.unwrap();
    assert!(cells.iter().all(|c| c.format_failure && c.score == 0.0));
    let summary = summarise(store.runs.run(outcome.run_id).await.unwrap(), &cells);
    // Every cell is ungraded: no row scores them as zeros, and the failures stay visible.
    let tasks: Vec<_> = summary.rows.iter().flat_map(|r| &r.tasks).collect();
    assert!(!tasks.is_empty());
    for task in &tasks {
        assert_eq!(task.accuracy.n, 0);
        assert!(task.accuracy.value.is_nan());
    }
    assert_eq!(tasks.iter().map(|t| t.ungraded).sum::<usize>(), cells.len());
    let text = understudy_report::summary::render_text(&summary);
    assert!(
        text.contains("ungraded (judge failed twice, left out of the score): "),
        "{text}"
    );
}

/// Lets the counting wrapper own a handle while the test keeps the recording.
struct RecordingRef(Arc<Recording>);

#[async_trait::async_trait]
impl Backend for RecordingRef {
    fn name(&self) -> &str {
        "recording"
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.0.list_models().await
    }
    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        self.0.chat_stream(request).await
    }
}
