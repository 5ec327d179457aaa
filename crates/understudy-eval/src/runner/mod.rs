//! Runs a plan: checks every model before the first call, creates or resumes the run, answers
//! each missing cell from the response cache or the backend, scores it and commits it at once.
//! Stopping (the flag) or a kill loses at most the cells in flight; rerunning resumes.

mod answer;
mod execute;
mod models;
pub mod resume_key;
mod work;

use answer::{with, with_confidence, Answered};
use execute::execute;
use models::Models;
use work::{plan_work, Work};

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use understudy_backend::Backend;
use understudy_core::ChatResponse;

use crate::conditions::Conditions;
use crate::plan::Plan;
use understudy_store::{Cell, Store};
use understudy_tasks::grade::{Graded, Grader};
use understudy_tasks::strategy::{Format, Strategy};
use understudy_tasks::EvalError;

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
    /// Planned cells adaptive stopping (`until_ci`) left out: their rows had enough items.
    pub skipped: usize,
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
        cached_prompt_tokens: responses.iter().map(|r| r.usage.cached_tokens).sum(),
        cached: answered.all_cached(),
        // A cached answer was timed when it was produced, under conditions not known here.
        conditions: conditions
            .filter(|_| !answered.all_cached())
            .map(|c| Conditions {
                batched: responses.iter().filter_map(|r| r.timing.concurrency).max(),
                ..c
            }),
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

/// A model with the strategies and formats it runs under.
type Combo<'p> = (String, Vec<&'p Strategy>, Vec<Format>);

/// (model, strategies, formats) combinations to run: every model under every strategy and
/// format, plus the reference under the first strategy and format.
fn combinations(plan: &Plan) -> Vec<Combo<'_>> {
    let mut out: Vec<Combo<'_>> = plan
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
    let mut ingredients = resume_key::Ingredients::default();
    let models = Models::resolve(plan, &combos, backend.as_ref(), &mut ingredients).await?;

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

    let (work, total) = plan_work(plan, &combos, &models, &done)?;
    observer.start(total, done.len());
    let rows = match plan.until_ci {
        Some(rule) => crate::stopping::RowScores::new(Some(rule), &store.cells(run_id)?),
        None => crate::stopping::RowScores::default(),
    };

    let tally = execute(
        work,
        &models.identities,
        backend.as_ref(),
        store,
        run_id,
        options,
        grader,
        observer,
        &rows,
    )
    .await;
    observer.finish();
    if let Some(err) = tally.failure {
        store.set_status(run_id, "failed")?;
        return Err(err);
    }
    store.set_status(
        run_id,
        if tally.interrupted {
            "interrupted"
        } else {
            "finished"
        },
    )?;
    Ok(RunOutcome {
        run_id,
        resumed,
        interrupted: tally.interrupted,
        total,
        fresh: tally.fresh,
        cached: tally.cached,
        skipped: tally.skipped,
    })
}
