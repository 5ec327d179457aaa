//! Runs a plan: checks every model before the first call, creates or resumes the run, answers
//! each missing cell from the response cache or the backend, scores it and commits it at once.
//! Stopping (the flag) or a kill loses at most the cells in flight; rerunning resumes.

mod answer;
pub mod resume_key;

use answer::{answer, with, with_confidence, Answered};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use understudy_backend::Backend;
use understudy_core::thinking;
use understudy_core::{ChatRequest, ChatResponse, ValidChatRequest};

use understudy_backend::TokenCounter;
use understudy_memory::prompt;
use understudy_techniques::cascade::Cascade;
use understudy_techniques::mapreduce::MapReduce;
use understudy_techniques::plan_execute::PlanExecute;

use crate::conditions::{Conditions, CpuSnapshot};
use crate::grade::{Graded, Grader};
use crate::plan::Plan;
use crate::store::{cell_key, Cell, Store};
use crate::strategy::{self, Format, Strategy};
use crate::task::{Item, LoadedTask};
use crate::EvalError;
use understudy_prompt::{Program, RetrievalTrace, Technique, ThinkingTrace};

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
    /// Whether a model runs on this machine (its latency then depends on what else runs here).
    pub local: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// Inference threads of models run in this process, recorded with each cell.
    pub threads: Option<u32>,
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
    /// The stored item id (`ID#i` for sample i when sampling).
    item_id: String,
    /// Read the answer after the final-answer marker (CoT, or thinking through the CoT fallback).
    cot: bool,
    /// What the thinking switch did, for the cell's detail.
    thinking: Option<ThinkingTrace>,
    /// Set when the model name is a cascade spec.
    cascade: Option<&'p Cascade>,
    /// Set when the model name is a planner/executor spec.
    plan: Option<&'p PlanExecute>,
    /// Set under the map-reduce strategy: the budget and the model's token counter.
    map_reduce: Option<(MapReduce, TokenCounter)>,
    request: ValidChatRequest,
    prompt_json: String,
    /// The passages put into the prompt, under `memory:K`.
    retrieved: Option<RetrievalTrace>,
    /// What was sent, as the gateway would serve it (stored with the cell).
    program: Program,
}

/// The run-time technique a model spec or strategy asks for, as the program records it.
fn technique(
    cascade: Option<&Cascade>,
    plan: Option<&PlanExecute>,
    map_reduce: bool,
) -> Option<Technique> {
    if let Some(c) = cascade {
        return Some(Technique::Cascade {
            models: c.models.clone(),
            signals: c.signals.iter().map(|s| s.name()).collect(),
        });
    }
    if let Some(p) = plan {
        return Some(Technique::PlanExecute {
            planner: p.planner.clone(),
            executor: p.executor.clone(),
            max_steps: p.max_steps,
        });
    }
    map_reduce.then_some(Technique::MapReduce {
        context_tokens: None,
    })
}

/// The whole program for one item: the strategy's prompt, the retrieval it asks for and the
/// technique.
fn program_for(
    plan: &Plan,
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
    format: Format,
    technique: Option<Technique>,
) -> Program {
    let mut program = strategy::program(task, item, strategy, format, &plan.role_prompt);
    program.memory = strategy
        .memory()
        .and_then(|k| plan.retrieved.retrieval(&task.def.name, k));
    program.technique = technique;
    program
}

/// The response-cache key for `request` to the model with `identity`.
pub fn cache_key(identity: &str, request: &ValidChatRequest) -> String {
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
        "reasoning_effort": request.reasoning_effort,
        "logprobs": request.logprobs,
    });
    h.update(shape.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn make_cell(
    work: &Work<'_>,
    answered: &Answered,
    graded: &Graded,
    conditions: Option<Conditions>,
) -> Cell {
    let responses: Vec<&ChatResponse> = answered.responses.iter().map(|(r, _)| r).collect();
    let first = responses[0];
    let answer = if responses.len() == 1 {
        first.answer.clone()
    } else {
        responses
            .iter()
            .enumerate()
            .map(|(i, r)| format!("[turn {}]\n{}", i + 1, r.answer))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let decode: Vec<f64> = responses
        .iter()
        .filter_map(|r| r.timing.decode_tokens_per_s)
        .collect();
    Cell {
        model: work.model.clone(),
        strategy: work.strategy.to_string(),
        format: work.format.as_str().to_string(),
        task: work.task.def.name.clone(),
        item_id: work.item_id.clone(),
        prompt_json: work.prompt_json.clone(),
        answer,
        reasoning: first.reasoning.clone(),
        parsed: graded.parsed.clone(),
        gold: work.item.target.clone(),
        score: graded.score,
        format_failure: graded.format_failure,
        ttft_ms: first.timing.ttft_ms,
        total_ms: responses.iter().map(|r| r.timing.total_ms).sum(),
        decode_tps: (!decode.is_empty()).then(|| decode.iter().sum::<f64>() / decode.len() as f64),
        prompt_tokens: responses.iter().map(|r| r.usage.prompt_tokens).sum(),
        completion_tokens: responses.iter().map(|r| r.usage.completion_tokens).sum(),
        cached: answered.all_cached(),
        // A cached answer was timed when it was produced, under conditions not known here.
        conditions: conditions.filter(|_| !answered.all_cached()),
        program: Some(work.program.canonical_json()),
        detail: {
            let detail = with(
                graded.detail.clone(),
                "thinking",
                work.thinking.and_then(|t| serde_json::to_value(t).ok()),
            );
            // A technique's route (the last turn's).
            let detail = match answered.routes.last() {
                Some((key, route)) => with(detail, key, Some(route.clone())),
                None => detail,
            };
            let detail = with_confidence(detail, first.confidence.map(|c| c.mean_logprob));
            with(
                detail,
                "retrieval",
                work.retrieved
                    .as_ref()
                    .and_then(|r| serde_json::to_value(r).ok()),
            )
            .map(|d| d.to_string())
        },
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
    grader: &Grader,
    observer: &dyn RunObserver,
) -> Result<RunOutcome, EvalError> {
    let combos = combinations(plan);
    let mut identities = HashMap::new();
    let mut controls = HashMap::new();
    let mut ingredients = resume_key::Ingredients::default();
    let mut cascades: HashMap<String, Cascade> = HashMap::new();
    let mut plans: HashMap<String, PlanExecute> = HashMap::new();
    for (model, _, _) in &combos {
        let parts = if Cascade::is_spec(model) {
            let cascade = Cascade::parse(model)
                .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?;
            let parts = cascade.models.clone();
            cascades.insert(model.clone(), cascade);
            parts
        } else if PlanExecute::is_spec(model) {
            let pe = PlanExecute::parse(model)
                .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?;
            let parts = vec![pe.planner.clone(), pe.executor.clone()];
            plans.insert(model.clone(), pe);
            parts
        } else {
            vec![model.clone()]
        };
        let mut part_ids = Vec::new();
        for part in &parts {
            let err = |source| EvalError::Model {
                model: part.clone(),
                source,
            };
            backend.check_model(part).await.map_err(err)?;
            let identity = backend.model_identity(part).await.map_err(err)?;
            let control = backend.thinking_control(part).await.map_err(err)?;
            identities.insert(part.clone(), identity.clone());
            controls.entry(model.clone()).or_insert(control);
            ingredients.models.insert(part.clone(), identity.clone());
            ingredients.thinking.insert(part.clone(), control);
            part_ids.push(identity);
        }
        if parts.len() > 1 || parts[0] != *model {
            identities.insert(model.clone(), format!("{model}={}", part_ids.join(">")));
        }
    }

    // Map-reduce needs each model's context window and tokenizer.
    let mut budgets: HashMap<String, (MapReduce, TokenCounter)> = HashMap::new();
    if plan.strategies.iter().any(Strategy::map_reduce) {
        for (model, _, _) in &combos {
            let err = |source| EvalError::Model {
                model: model.clone(),
                source,
            };
            let context = backend
                .context_length(model)
                .await
                .map_err(err)?
                .unwrap_or(8192);
            let count = backend.token_counter(model).await.map_err(err)?;
            budgets.insert(model.clone(), (MapReduce::new(context as usize), count));
        }
    }

    ingredients.judge = grader.judge.as_ref().map(|j| j.identity());
    ingredients.sandbox = grader.sandbox.as_ref().map(|s| s.identity());
    ingredients.retrieved = plan.retrieved.digest();
    let key = resume_key::resume_key(plan, &ingredients);
    let (run_id, resumed) = match store.unfinished_run(&key)? {
        Some(id) => (id, true),
        None => (
            store.create_run(&key, &resume_key::stored(plan, &ingredients).to_string())?,
            false,
        ),
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
                        for sample in 0..plan.samples {
                            total += 1;
                            let item_id = crate::plan::sample_id(&item.id, sample, plan.samples);
                            let strategy_name = strategy.to_string();
                            if done.contains(&cell_key(
                                model,
                                &strategy_name,
                                format.as_str(),
                                &task.def.name,
                                &item_id,
                            )) {
                                continue;
                            }
                            // Map-reduce reads the whole input; other strategies the (maybe cut) one.
                            let whole;
                            let shown = match (&item.full_question, strategy.map_reduce()) {
                                (Some(full), true) => {
                                    whole = Item {
                                        question: full.clone(),
                                        ..item.clone()
                                    };
                                    &whole
                                }
                                _ => item,
                            };
                            let program = program_for(
                                plan,
                                task,
                                shown,
                                strategy,
                                *format,
                                technique(
                                    cascades.get(model),
                                    plans.get(model),
                                    strategy.map_reduce(),
                                ),
                            );
                            let mut messages = strategy::render(&program, shown);
                            let retrieved = match strategy.memory() {
                                Some(k) => {
                                    let (block, trace) = plan
                                        .retrieved
                                        .block(&task.def.name, &item.id, k)
                                        .ok_or_else(|| {
                                            EvalError::Config(format!(
                                                "task {}: nothing retrieved for item {} (strategy {strategy})",
                                                task.def.name, item.id
                                            ))
                                        })?;
                                    prompt::put_in_system(&mut messages, block);
                                    Some(trace)
                                }
                                None => None,
                            };
                            let (temperature, seed) = if plan.samples > 1 {
                                (plan.sample_temperature, plan.seed + sample as u64)
                            } else {
                                (0.0, plan.seed)
                            };
                            let mut request = ChatRequest {
                                // Only when asked (tune's cascade calibration): on the embedded
                                // engine it costs time inside the measured latency. A cascade's
                                // confidence signal asks for its own.
                                logprobs: plan.confidence,
                                max_tokens: program.max_tokens,
                                temperature: Some(temperature),
                                seed: Some(seed),
                                ..ChatRequest::new(model.clone(), messages)
                            };
                            let switched = strategy
                                .thinking()
                                .map(|mode| thinking::apply(&mut request, mode, controls[model]));
                            if switched.is_some_and(|s| s.on) {
                                request.max_tokens = Some(
                                    request
                                        .max_tokens
                                        .unwrap_or(0)
                                        .max(strategy::COT_MAX_TOKENS),
                                );
                            }
                            let cot = strategy.cot() || switched.is_some_and(|s| s.split_cot);
                            let request = request.validate().map_err(|e| {
                                EvalError::Config(format!("task {}: {e}", task.def.name))
                            })?;
                            let prompt_json =
                                serde_json::to_string(&request.messages).unwrap_or_default();
                            work.push(Work {
                                model: model.clone(),
                                strategy,
                                format: *format,
                                task,
                                item,
                                item_id,
                                cot,
                                thinking: strategy
                                    .thinking()
                                    .zip(switched)
                                    .map(|(mode, s)| ThinkingTrace::new(mode, controls[model], s)),
                                cascade: cascades.get(model),
                                plan: plans.get(model),
                                map_reduce: if strategy.map_reduce() {
                                    budgets.get(model).cloned()
                                } else {
                                    None
                                },
                                request,
                                prompt_json,
                                retrieved,
                                program,
                            });
                        }
                    }
                }
            }
        }
    }
    observer.start(total, done.len());

    let mut fresh = 0;
    let mut cached = 0;
    let mut interrupted = false;
    let mut failure = None;
    // Models run one after another (one loaded model at a time); cells of a model run concurrently
    // up to its limit. Cached cells go through the same path, so they are graded the same way.
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    let mut by_model: Vec<(String, Vec<Work<'_>>)> = Vec::new();
    for w in work {
        match by_model.iter_mut().find(|(m, _)| *m == w.model) {
            Some((_, list)) => list.push(w),
            None => by_model.push((w.model.clone(), vec![w])),
        }
    }
    'models: for (model, list) in by_model {
        let limit = (options.concurrency)(&model).max(1);
        let local = (options.local)(&model);
        let identities = &identities;
        let backend = backend.as_ref();
        let in_flight = &in_flight;
        let mut results = futures::stream::iter(list.into_iter().map(|w| async move {
            let running = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let before = CpuSnapshot::take();
            let answered = answer(backend, store, identities, &w, options.no_cache).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let conditions = before
                .zip(CpuSnapshot::take())
                .map(|(b, a)| b.until(&a, running, options.threads.filter(|_| local), local));
            let answered = answered?;
            let answers: Vec<String> = answered
                .responses
                .iter()
                .map(|(r, _)| r.answer.clone())
                .collect();
            let graded = grader.grade(store, w.task, w.item, &answers, w.cot).await?;
            Ok::<Cell, EvalError>(make_cell(&w, &answered, &graded, conditions))
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
            let Some(result) = next else { break };
            match result {
                Ok(cell) => {
                    store.insert_cell(run_id, &cell)?;
                    observer.cell(&cell);
                    if cell.cached {
                        cached += 1;
                    } else {
                        fresh += 1;
                    }
                }
                Err(err) => {
                    failure = Some(err);
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
