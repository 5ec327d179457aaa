//! Runs a plan: checks every model before the first call, creates or resumes the run, answers
//! each missing cell from the response cache or the backend, scores it and commits it at once.
//! Stopping (the flag) or a kill loses at most the cells in flight; rerunning resumes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use understudy_backend::Backend;
use understudy_core::{ChatRequest, ChatResponse, ValidChatRequest};

use crate::plan::Plan;
use crate::scorer;
use crate::store::{cell_key, Cell, Store};
use crate::strategy::{self, Format, Strategy};
use crate::task::{Item, LoadedTask};
use crate::EvalError;

/// Hears about progress (the CLI draws a bar).
pub trait RunObserver: Send + Sync {
    /// `total` cells in the plan, `done` already stored from an earlier attempt.
    fn start(&self, total: usize, done: usize);
    fn cell(&self, cell: &Cell);
    fn finish(&self);
}

/// An observer that ignores everything.
pub struct Quiet;
impl RunObserver for Quiet {
    fn start(&self, _: usize, _: usize) {}
    fn cell(&self, _: &Cell) {}
    fn finish(&self) {}
}

/// Knobs that do not change what is measured.
#[derive(Clone)]
pub struct RunOptions {
    /// Ignore the response cache (answers are still written to it).
    pub no_cache: bool,
    /// Set to stop after the cells in flight.
    pub stop: Arc<AtomicBool>,
    /// Concurrent requests per model.
    pub concurrency: Arc<dyn Fn(&str) -> usize + Send + Sync>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: i64,
    pub resumed: bool,
    pub interrupted: bool,
    pub total: usize,
    pub fresh: usize,
    pub cached: usize,
}

/// One cell to produce.
struct Work<'p> {
    model: String,
    strategy: &'p Strategy,
    format: Format,
    task: &'p LoadedTask,
    item: &'p Item,
    request: ValidChatRequest,
    prompt_json: String,
    cache_key: String,
}

fn cache_key(identity: &str, request: &ValidChatRequest) -> String {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update(b"\x1f");
    // Everything that shapes the answer except the model's name (the identity covers the weights).
    let shape = serde_json::json!({
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": request.stop,
        "response_format": request.response_format,
        "thinking": request.thinking,
    });
    h.update(shape.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn make_cell(work: &Work<'_>, response: &ChatResponse, cached: bool) -> Cell {
    let scored = scorer::score(
        &work.task.def.answer,
        work.item,
        &response.answer,
        work.strategy.cot(),
    );
    Cell {
        model: work.model.clone(),
        strategy: work.strategy.to_string(),
        format: work.format.as_str().to_string(),
        task: work.task.def.name.clone(),
        item_id: work.item.id.clone(),
        prompt_json: work.prompt_json.clone(),
        answer: response.answer.clone(),
        reasoning: response.reasoning.clone(),
        parsed: scored.parsed.clone(),
        gold: work.item.target.clone(),
        score: if scored.correct { 1.0 } else { 0.0 },
        format_failure: scored.format_failure(),
        ttft_ms: response.timing.ttft_ms,
        total_ms: response.timing.total_ms,
        decode_tps: response.timing.decode_tokens_per_s,
        prompt_tokens: response.usage.prompt_tokens,
        completion_tokens: response.usage.completion_tokens,
        cached,
    }
}

/// (model, strategies, formats) combinations to run: every model under every strategy and
/// format, plus the reference under the first strategy and format.
fn combinations(plan: &Plan) -> Vec<(String, Vec<&Strategy>, Vec<Format>)> {
    let mut out: Vec<(String, Vec<&Strategy>, Vec<Format>)> = plan
        .models
        .iter()
        .map(|m| {
            (
                m.clone(),
                plan.strategies.iter().collect(),
                plan.formats.clone(),
            )
        })
        .collect();
    if let Some(reference) = &plan.reference {
        if !plan.models.contains(reference) {
            out.push((
                reference.clone(),
                vec![&plan.strategies[0]],
                vec![plan.formats[0]],
            ));
        }
    }
    out
}

/// Runs (or resumes) `plan`.
pub async fn run(
    plan: &Plan,
    backend: Arc<dyn Backend>,
    store: &Store,
    options: &RunOptions,
    observer: &dyn RunObserver,
) -> Result<RunOutcome, EvalError> {
    let combos = combinations(plan);
    let mut identities = HashMap::new();
    for (model, _, _) in &combos {
        backend
            .check_model(model)
            .await
            .map_err(|source| EvalError::Model {
                model: model.clone(),
                source,
            })?;
        let identity = backend
            .model_identity(model)
            .await
            .map_err(|source| EvalError::Model {
                model: model.clone(),
                source,
            })?;
        identities.insert(model.clone(), identity);
    }

    let key = plan.key();
    let (run_id, resumed) = match store.unfinished_run(&key)? {
        Some(id) => (id, true),
        None => (store.create_run(&key, &plan.describe().to_string())?, false),
    };
    store.set_status(run_id, "running")?;
    let done = store.done_keys(run_id)?;

    let mut work = Vec::new();
    let mut total = 0;
    for (model, strategies, formats) in &combos {
        for strategy in strategies {
            for format in formats {
                for task in &plan.tasks {
                    for item in &task.items {
                        total += 1;
                        let strategy_name = strategy.to_string();
                        if done.contains(&cell_key(
                            model,
                            &strategy_name,
                            format.as_str(),
                            &task.def.name,
                            &item.id,
                        )) {
                            continue;
                        }
                        let messages =
                            strategy::render(task, item, strategy, *format, &plan.role_prompt);
                        let request = ChatRequest {
                            max_tokens: Some(strategy.max_tokens(task)),
                            temperature: Some(0.0),
                            seed: Some(plan.seed),
                            thinking: strategy.thinking(),
                            ..ChatRequest::new(model.clone(), messages)
                        }
                        .validate()
                        .map_err(|e| EvalError::Config(format!("task {}: {e}", task.def.name)))?;
                        let prompt_json =
                            serde_json::to_string(&request.messages).unwrap_or_default();
                        let cache_key = cache_key(&identities[model], &request);
                        work.push(Work {
                            model: model.clone(),
                            strategy,
                            format: *format,
                            task,
                            item,
                            request,
                            prompt_json,
                            cache_key,
                        });
                    }
                }
            }
        }
    }
    observer.start(total, done.len());

    let mut fresh = 0;
    let mut cached = 0;
    let mut calls = Vec::new();
    for w in work {
        if !options.no_cache {
            if let Some(json) = store.cache_get(&w.cache_key)? {
                if let Ok(response) = serde_json::from_str::<ChatResponse>(&json) {
                    let cell = make_cell(&w, &response, true);
                    store.insert_cell(run_id, &cell)?;
                    observer.cell(&cell);
                    cached += 1;
                    continue;
                }
            }
        }
        calls.push(w);
    }

    let mut interrupted = false;
    let mut failure = None;
    // Models run one after another (one loaded model at a time); cells of a model run concurrently
    // up to its limit.
    let mut by_model: Vec<(String, Vec<Work<'_>>)> = Vec::new();
    for w in calls {
        match by_model.iter_mut().find(|(m, _)| *m == w.model) {
            Some((_, list)) => list.push(w),
            None => by_model.push((w.model.clone(), vec![w])),
        }
    }
    'models: for (model, list) in by_model {
        let limit = (options.concurrency)(&model).max(1);
        let backend = backend.clone();
        let mut results = futures::stream::iter(list.into_iter().map(|w| {
            let backend = backend.clone();
            async move {
                let response = backend.chat(w.request.clone()).await;
                (w, response)
            }
        }))
        .buffer_unordered(limit);
        loop {
            if options.stop.load(Ordering::SeqCst) {
                interrupted = true;
                break 'models;
            }
            let next = tokio::select! {
                next = results.next() => next,
                _ = wait_for(&options.stop) => { interrupted = true; break 'models; }
            };
            let Some((w, response)) = next else { break };
            match response {
                Ok(response) => {
                    if let Ok(json) = serde_json::to_string(&response) {
                        store.cache_put(&w.cache_key, &json)?;
                    }
                    let cell = make_cell(&w, &response, false);
                    store.insert_cell(run_id, &cell)?;
                    observer.cell(&cell);
                    fresh += 1;
                }
                Err(source) => {
                    failure = Some(EvalError::Model {
                        model: w.model.clone(),
                        source,
                    });
                    break 'models;
                }
            }
        }
    }
    observer.finish();
    if let Some(err) = failure {
        store.set_status(run_id, "failed")?;
        return Err(err);
    }
    store.set_status(
        run_id,
        if interrupted {
            "interrupted"
        } else {
            "finished"
        },
    )?;
    Ok(RunOutcome {
        run_id,
        resumed,
        interrupted,
        total,
        fresh,
        cached,
    })
}

async fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
