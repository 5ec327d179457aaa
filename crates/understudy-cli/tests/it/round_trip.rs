//! What eval measures is what serve sends. For every strategy and technique kind, an eval run
//! on a scripted backend, each row written as a profile by `tune`'s writer, that profile served,
//! and every item's input sent through the gateway: the backend receives byte-identical
//! messages (the main request equals the cell's stored prompt; every technique call — cascade
//! escalation, self-check, agreement samples, plan, map-reduce notes — is one eval made), and
//! the gateway's answer, unary and streamed, is what eval read from the same answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use understudy_backend::{Backend, BackendError, EventStream, ModelInfo};
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::{
    Confidence, FinishReason, StreamEvent, TimingRecorder, Usage, ValidChatRequest,
};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_eval::retrieval::prepare;
use understudy_eval::runner::{run, Quiet, RunOptions};
use understudy_memory::embed::WordHashEmbedder;
use understudy_prompt::{AnswerContract, Program, Read};
use understudy_serve::memory::MemoryRuntime;
use understudy_serve::{profile, router, AppState};
use understudy_store::{Cell, Store};
use understudy_tasks::find::{find_task, DataSource};
use understudy_tasks::grade::Grader;

/// Answers are chosen by a hash of the model and the messages, so the same request gets the
/// same answer whoever sends it; they mix readable, unreadable, CoT and plan-like texts.
const ANSWERS: &[&str] = &[
    "positive",
    "It reads warmly. final answer: positive",
    "Final answer: negative",
    "The answer is (B).",
    "Let me think. FINAL ANSWER: A",
    "not sure at all",
    "1. Read it. 2. Decide.",
    "negative and positive",
    "Final answer: 3? No. Final answer: C",
    "[[ ## answer ## ]]\nB\n\n[[ ## completed ## ]]",
    "[[ ## reasoning ## ]]\nWarm words.\n\n[[ ## answer ## ]]\npositive\n\n[[ ## completed ## ]]",
];

/// Records every call (model, messages as JSON) and answers from [`ANSWERS`].
#[derive(Default)]
struct Scripted {
    calls: Mutex<Vec<(String, String)>>,
}

impl Scripted {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl Backend for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(Vec::new())
    }
    async fn check_model(&self, _model: &str) -> Result<(), BackendError> {
        Ok(())
    }
    async fn context_length(&self, _model: &str) -> Result<Option<u32>, BackendError> {
        // Small, so the long items go through map-reduce.
        Ok(Some(400))
    }
    async fn chat_stream(&self, request: ValidChatRequest) -> Result<EventStream, BackendError> {
        let messages = serde_json::to_string(&request.messages).unwrap();
        let digest = Sha256::digest(format!("{}\u{1f}{messages}", request.model).as_bytes());
        self.calls
            .lock()
            .unwrap()
            .push((request.model.clone(), messages));
        let answer = ANSWERS[usize::from(digest[0]) % ANSWERS.len()];
        let mut timing = TimingRecorder::start();
        timing.mark_started();
        timing.mark_prompt_done();
        let (a, b) = answer.split_at(answer.len() / 2);
        let mut events = Vec::new();
        for piece in [a, b] {
            timing.mark_token();
            events.push(Ok(StreamEvent::Delta(Delta::Answer(piece.to_string()))));
        }
        events.push(Ok(StreamEvent::End(StreamEnd {
            model: request.model.clone(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 2,
                estimated: false,
                cached_tokens: 0,
            },
            timing: timing.finish(Some(10), Some(2)),
            confidence: request.logprobs.then(|| Confidence {
                mean_logprob: -f64::from(digest[1]) / 255.0,
                min_logprob: -1.0,
                tokens: 2,
            }),
            unparsed_tool_calls: 0,
        })));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

/// A label task with a few-shot pool, documents for `memory:K` and two long items (for
/// map-reduce), and a multiple-choice task.
fn write_tasks(dir: &Path) -> Vec<PathBuf> {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.md"), "Warm reviews praise the acting.").unwrap();
    std::fs::write(docs.join("b.md"), "Cold reviews complain about the plot.").unwrap();
    let mut rows = String::new();
    for i in 0..12 {
        let label = if i % 2 == 0 { "pos" } else { "neg" };
        let text = if i % 3 == 0 {
            format!(
                "[item-{i}] {}",
                "The plot wanders and the acting is warm. ".repeat(60)
            )
        } else {
            format!("[item-{i}] review number {i} about the acting")
        };
        rows.push_str(&format!(
            "{{\"id\": \"r{i}\", \"text\": \"{text}\", \"label\": \"{label}\"}}\n"
        ));
    }
    std::fs::write(dir.join("reviews.jsonl"), rows).unwrap();
    std::fs::write(
        dir.join("toy.toml"),
        r#"
name = "toy"
system = "You grade reviews."
instruction = "Classify the review."
question = "{{ text }}"
target = "{{ label }}"

[dataset]
path = "reviews.jsonl"
id_field = "id"
few_shot_pool = 3

[answer]
kind = "label"
labels = ["positive", "negative"]
target_map = { pos = "positive", neg = "negative" }

[memory]
path = "docs"
budget_tokens = 100
"#,
    )
    .unwrap();
    let mut rows = String::new();
    for i in 0..8 {
        rows.push_str(&format!(
            "{{\"id\": \"q{i}\", \"q\": \"[item-q{i}] Which is prime?\", \"a\": \"4\", \"b\": \"7\", \"c\": \"9\", \"gold\": \"B\"}}\n"
        ));
    }
    std::fs::write(dir.join("quiz.jsonl"), rows).unwrap();
    std::fs::write(
        dir.join("quiz.toml"),
        r#"
name = "quiz"
instruction = "Answer the question."
question = "{{ q }}"
target = "{{ gold }}"

[dataset]
path = "quiz.jsonl"
id_field = "id"
few_shot_pool = 2

[answer]
kind = "choice"
options = "A. {{ a }}\nB. {{ b }}\nC. {{ c }}"

[memory]
path = "docs"
budget_tokens = 100
"#,
    )
    .unwrap();
    vec![dir.join("toy.toml"), dir.join("quiz.toml")]
}

fn plan(tasks: &[PathBuf], models: &[&str], strategies: &[&str], formats: &[&str]) -> Plan {
    let pending = tasks
        .iter()
        .map(|t| {
            let p = find_task(t.to_str().unwrap()).unwrap();
            let data = match &p.data {
                DataSource::File(f) => f.clone(),
                DataSource::Builtin(_) => unreachable!(),
            };
            (p, data)
        })
        .collect();
    let section = EvalSection {
        models: Some(models.iter().map(|s| s.to_string()).collect()),
        strategies: Some(strategies.iter().map(|s| s.to_string()).collect()),
        formats: Some(formats.iter().map(|s| s.to_string()).collect()),
        limit: Some(100),
        ..EvalSection::default()
    };
    Plan::resolve(&section, "light", pending).unwrap()
}

/// The input a client sends for an item: what eval put in the user turn before wrapping it.
fn inputs(plan: &Plan) -> HashMap<(String, String), String> {
    let mut out = HashMap::new();
    for task in &plan.tasks {
        for item in &task.items {
            let input = understudy_tasks::strategy::input(item).text();
            out.insert((task.def.name.clone(), item.id.clone()), input);
        }
    }
    out
}

async fn ask(state: Arc<AppState>, input: &str, stream: bool) -> String {
    let body = serde_json::json!({
        "model": "row", "stream": stream,
        "messages": [{"role": "user", "content": input}]
    });
    let resp = router(state)
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(status, StatusCode::OK, "{text}");
    if !stream {
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
        return reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

/// The cell's answer read by the program it was sent with (as the gateway reads it).
fn eval_read(cell: &Cell, input: &str) -> Read {
    let program: Program = serde_json::from_str(cell.program.as_deref().unwrap()).unwrap();
    let fallback = cell
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .is_some_and(|d| d["thinking"]["cot_fallback"] == true);
    program.read(&cell.answer, input, program.cot || fallback)
}

/// What eval read from the cell's answer, as the gateway returns it: the contract's reading, or
/// the text past any chain of thought when it reads nothing.
fn eval_answer(cell: &Cell, input: &str) -> String {
    let read = eval_read(cell, input);
    read.answer.unwrap_or(read.text)
}

/// Under a label, choice or number contract the grader scored what the program reads: the
/// cell's parsed answer is the program's reading of its text.
fn check_graded_as_read(cell: &Cell, input: &str, row: &str) {
    let program: Program = serde_json::from_str(cell.program.as_deref().unwrap()).unwrap();
    let scored_by_contract = matches!(
        program.template.as_ref().map(|t| &t.answer),
        Some(AnswerContract::Label { .. } | AnswerContract::Choice | AnswerContract::Number)
    );
    if scored_by_contract && program.technique.is_none() {
        assert_eq!(
            cell.parsed,
            eval_read(cell, input).answer,
            "{row}: graded reading"
        );
    }
}

async fn check_run(dir: &Path, plan: Plan, db: &Path) -> usize {
    let backend = Arc::new(Scripted::default());
    let store = Store::open_path(db).await.unwrap();
    let options = RunOptions {
        no_cache: true,
        stop: Arc::new(AtomicBool::new(false)),
        concurrency: Arc::new(|_| 1),
        local: Arc::new(|_| false),
        threads: None,
        claims: Default::default(),
    };
    let outcome = run(
        &plan,
        backend.clone(),
        &store,
        &options,
        &Grader::default(),
        &Quiet,
    )
    .await
    .unwrap();
    let eval_calls: BTreeSet<(String, String)> = backend.take().into_iter().collect();
    let cells = store.runs.cells(outcome.run_id).await.unwrap();
    let inputs = inputs(&plan);
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for c in &cells {
        let key = (c.model.clone(), c.strategy.clone(), c.format.clone());
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    let mut checked = 0;
    let mut long_inputs = 0;
    for (model, strategy, format) in &rows {
        for task in ["toy", "quiz"] {
            let text = understudy_tune::row_profile(
                &cells,
                task,
                (model.as_str(), strategy.as_str(), format.as_str()),
                "row",
            )
            .unwrap();
            let table: toml::Table =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let profiles = profile::parse_profiles(
                table["profiles"].as_table().unwrap().clone(),
                &dir.join("tuned.toml"),
            )
            .unwrap_or_else(|e| panic!("{model} {strategy} {format}: {e}\n{text}"));
            let memory = MemoryRuntime::new(
                Store::open_path(db).await.unwrap().vectors,
                Box::new(|| {
                    Box::pin(async {
                        Ok(Arc::new(WordHashEmbedder { dim: 256 })
                            as Arc<dyn understudy_memory::Embedder>)
                    })
                }),
            );
            let state = Arc::new(
                AppState::new(backend.clone(), profiles, Vec::new(), 1 << 20).with_memory(memory),
            );
            for cell in cells.iter().filter(|c| {
                c.task == task
                    && &c.model == model
                    && &c.strategy == strategy
                    && &c.format == format
            }) {
                let row = format!("{model} {strategy} {format} {task} {}", cell.item_id);
                let input = &inputs[&(task.to_string(), cell.item_id.clone())];
                let served = cell.program.as_deref().unwrap();
                let expected = eval_answer(cell, input);
                check_graded_as_read(cell, input, &row);
                for stream in [false, true] {
                    let answer = ask(state.clone(), input, stream).await;
                    let calls = backend.take();
                    // Items of the few-shot pool get other examples than the profile's; their
                    // first request differs by design (eval never shows an item its own answer).
                    let profile_program =
                        understudy_tune::program_of(&cells, task, model, strategy, format);
                    let sent: Program = serde_json::from_str(served).unwrap();
                    if profile_program.as_ref() != Some(&sent) {
                        continue;
                    }
                    // The request eval stored is the one sent; a planner first asks for a plan
                    // built from it, and map-reduce for notes on parts of a long input (those
                    // calls are checked against eval's below).
                    let rewritten = model.starts_with("plan:")
                        || (strategy == "map-reduce" && input.len() > 2000);
                    if !rewritten {
                        let (_, first_messages) = &calls[0];
                        assert_eq!(first_messages, &cell.prompt_json, "{row}: first request");
                    }
                    if strategy == "map-reduce" && input.len() > 2000 {
                        assert!(calls.len() > 2, "{row}: map-reduce did not split the input");
                        long_inputs += 1;
                    }
                    for call in &calls {
                        assert!(
                            eval_calls.contains(call),
                            "{row}: a call eval never made: {call:?}"
                        );
                    }
                    assert_eq!(answer, expected, "{row} stream={stream}: answer");
                    checked += 1;
                }
            }
        }
    }
    if rows.iter().any(|r| r.1 == "map-reduce") {
        assert!(long_inputs > 0, "no long input went through map-reduce");
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_is_served_as_it_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = write_tasks(dir.path());
    let db = dir.path().join("u.db");
    let mut checked = 0;

    // Every prompt strategy on two models, plain.
    let mut strategies = plan(
        &tasks,
        &["light", "heavy"],
        &[
            "zero-shot",
            "few-shot:2",
            "role",
            "minimal",
            "cot",
            "role+few-shot:2+cot",
            "thinking:on",
            "thinking:off",
            "thinking:auto",
            "memory:2",
            "knn-shot:2",
            "role+few-shot:1+knn-shot:1+cot",
            "map-reduce",
        ],
        &["plain"],
    );
    let memory = Store::open_path(&db).await.unwrap().vectors;
    let (retrieved, _) = prepare(
        &strategies.tasks,
        strategies.retrieval_depth(),
        dir.path(),
        memory.as_ref(),
        &WordHashEmbedder { dim: 256 },
    )
    .await
    .unwrap();
    strategies.retrieved = retrieved;
    let (found, _) = understudy_eval::examples::prepare(
        &strategies.tasks,
        strategies.knn_shot_depth(),
        memory.as_ref(),
        &WordHashEmbedder { dim: 256 },
    )
    .await
    .unwrap();
    strategies.examples = found;
    checked += check_run(dir.path(), strategies, &db).await;

    // Every format.
    let formats = plan(
        &tasks,
        &["light"],
        &["zero-shot", "few-shot:2+cot"],
        &["markdown", "json", "yaml", "fields"],
    );
    checked += check_run(dir.path(), formats, &db).await;

    // Every technique: a cascade with each signal, planner/executor.
    let techniques = plan(
        &tasks,
        &[
            "cascade:light>heavy@format",
            "cascade:light>heavy@confidence:-0.5",
            "cascade:light>heavy@self_check",
            "cascade:light>heavy@agreement:3",
            "plan:heavy>light",
        ],
        &["zero-shot", "cot"],
        &["plain"],
    );
    checked += check_run(dir.path(), techniques, &db).await;
    assert!(checked > 500, "only {checked} answers compared");
}
