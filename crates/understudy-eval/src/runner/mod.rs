//! Runs a plan: checks every model before the first call, creates or resumes the run, answers
//! each missing cell from the response cache or the backend, scores it and commits it at once.
//! Stopping (the flag) or a kill loses at most the cells in flight; rerunning resumes. Several
//! workers started on one plan and store share the run: each answers the cells it claims, then
//! waits for (or takes over, once their lease runs out) the cells others hold.

mod answer;
mod claims;
mod execute;
mod models;
pub mod resume_key;
mod work;

pub use answer::call_cached;
use answer::Answered;
pub use claims::{worker_name, Claims};
use execute::{execute, Shared};
use models::Models;
use work::{plan_work, Work};

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use understudy_backend::Backend;
use understudy_core::ChatResponse;
use understudy_prompt::Trace;

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
    /// This worker's name and claim lease, for runs shared with other workers.
    pub claims: Claims,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: i64,
    pub resumed: bool,
    /// The plan had already finished as `run_id` (same models, data and settings): nothing was
    /// run again. Not with `no_cache`, which measures anew.
    pub reused: bool,
    pub interrupted: bool,
    pub total: usize,
    /// Cells the run holds at the end (from earlier attempts, this one and other workers).
    pub stored: usize,
    pub fresh: usize,
    pub cached: usize,
    /// Planned cells adaptive stopping (`until_ci`) left out: their rows had enough items.
    pub skipped: usize,
    /// Cells other workers answered while this one ran.
    pub by_others: usize,
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
        detail: cell_detail(graded.detail.clone(), work, answered, first),
    }
}

/// The cell's detail record: the grader's, with the cell's trace added (the thinking decision,
/// the technique's route on the last turn, the answer's confidence, the passages and examples put
/// into the prompt): the same `Trace` the gateway logs as a request's route.
fn cell_detail(
    graded: Option<serde_json::Value>,
    work: &Work<'_>,
    answered: &Answered,
    first: &ChatResponse,
) -> Option<String> {
    let mut trace = Trace {
        thinking: work.thinking,
        retrieval: work.retrieved.clone(),
        examples: work.examples.clone(),
        mean_logprob: first
            .confidence
            .map(|c| c.mean_logprob)
            .filter(|lp| lp.is_finite()),
        ..Trace::default()
    };
    if let Some(route) = answered.routes.last() {
        route.write_to(&mut trace);
    }
    trace.merged_into(graded).map(|d| d.to_string())
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

/// Every cell the plan asks for: each combination's rows × every task's items × samples.
fn planned_cells(plan: &Plan, combos: &[Combo<'_>]) -> usize {
    let items: usize = plan.tasks.iter().map(|t| t.items.len()).sum();
    combos
        .iter()
        .map(|(_, strategies, formats)| strategies.len() * formats.len())
        .sum::<usize>()
        * items
        * plan.samples
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
    let models = Models::resolve(&combos, backend.as_ref(), &mut ingredients).await?;

    // Either judge or both; a run with the MT-Bench judge alone keeps the key it had.
    let judges: Vec<String> = (grader.judge.as_ref().map(|j| j.identity()).into_iter())
        .chain(grader.pairwise.as_ref().map(|j| j.identity()))
        .collect();
    ingredients.judge = (!judges.is_empty()).then(|| judges.join(" + "));
    ingredients.sandbox = grader.sandbox.as_ref().map(|s| s.identity());
    ingredients.graders = grader
        .commands
        .iter()
        .map(|(task, g)| (task.clone(), g.identity().to_string()))
        .collect();
    ingredients.retrieved = plan.retrieved.digest();
    ingredients.examples = plan.examples.digest();
    let key = resume_key::resume_key(plan, &ingredients);
    let planned = planned_cells(plan, &combos);
    if let Some(finished) = finished_run(store, &key, options).await? {
        return Ok(reused(finished, planned));
    }
    let (run_id, resumed) = store
        .runs
        .open_run(
            &key,
            &resume_key::stored(plan, &ingredients, planned).to_string(),
        )
        .await?;
    store.runs.set_status(run_id, "running").await?;
    claims::release_dead_local_workers(store.runs.as_ref(), run_id).await?;
    let done = store.runs.done_keys(run_id).await?;
    let (work, total) = plan_work(plan, &combos, &models, &done)?;
    observer.start(total, done.len());
    let rows = match plan.until_ci {
        Some(rule) => crate::stopping::RowScores::new(Some(rule), &store.runs.cells(run_id).await?),
        None => crate::stopping::RowScores::default(),
    };
    let heartbeat = claims::Heartbeat::start(store.runs.clone(), run_id, &options.claims);
    let shared = Shared {
        identities: &models.identities,
        backend: backend.as_ref(),
        store,
        run_id,
        options,
        grader,
        observer,
        rows: &rows,
    };
    let tally = answer_until_done(&shared, work, |done| {
        plan_work(plan, &combos, &models, done).map(|(work, _)| work)
    })
    .await;
    drop(heartbeat);
    store
        .runs
        .release_claims(run_id, &options.claims.worker)
        .await?;
    observer.finish();
    if let Some(err) = tally.failure {
        store.runs.set_status(run_id, "failed").await?;
        return Err(err);
    }
    let status = if tally.interrupted {
        "interrupted"
    } else {
        "finished"
    };
    store.runs.set_status(run_id, status).await?;
    let stored = store.runs.done_keys(run_id).await?.len();
    Ok(outcome(run_id, resumed, total, stored, done.len(), &tally))
}

/// How a run that ran ended: `stored` cells at the end, `before` of them from earlier attempts.
fn outcome(
    run_id: i64,
    resumed: bool,
    total: usize,
    stored: usize,
    before: usize,
    tally: &execute::Tally,
) -> RunOutcome {
    RunOutcome {
        run_id,
        resumed,
        reused: false,
        interrupted: tally.interrupted,
        total,
        stored,
        fresh: tally.fresh,
        cached: tally.cached,
        skipped: tally.skipped,
        by_others: stored.saturating_sub(before + tally.fresh + tally.cached),
    }
}

/// The latest finished run of the plan with resume key `key`, if any (never under `no_cache`,
/// which measures anew).
async fn finished_run(
    store: &Store,
    key: &str,
    options: &RunOptions,
) -> Result<Option<understudy_store::RunInfo>, EvalError> {
    if options.no_cache {
        return Ok(None);
    }
    Ok(store
        .runs
        .runs()
        .await?
        .into_iter()
        .filter(|r| r.plan_key == key && r.status == "finished")
        .max_by_key(|r| r.id))
}

/// The outcome of not running again: the finished run `info` of `planned` cells, as it is.
fn reused(info: understudy_store::RunInfo, planned: usize) -> RunOutcome {
    let stored = usize::try_from(info.cells).unwrap_or(0);
    RunOutcome {
        run_id: info.id,
        resumed: false,
        reused: true,
        interrupted: false,
        total: planned,
        stored,
        fresh: 0,
        cached: 0,
        skipped: planned.saturating_sub(stored),
        by_others: 0,
    }
}

/// How long a worker waits before looking again at cells other workers hold.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Answers `work`; while other workers hold cells, waits and takes up what is still missing
/// (`remaining` lists it from the stored keys): cells they finish drop out, cells whose lease
/// ran out are claimed here.
async fn answer_until_done<'p>(
    shared: &Shared<'_>,
    mut work: Vec<Work<'p>>,
    remaining: impl Fn(&std::collections::HashSet<String>) -> Result<Vec<Work<'p>>, EvalError>,
) -> execute::Tally {
    let mut total = execute::Tally::default();
    loop {
        let round = execute(work, shared).await;
        total.fresh += round.fresh;
        total.cached += round.cached;
        total.skipped = round.skipped.max(total.skipped);
        total.interrupted = round.interrupted;
        total.failure = round.failure;
        if total.interrupted || total.failure.is_some() || round.held_elsewhere == 0 {
            return total;
        }
        tokio::time::sleep(POLL.min(shared.options.claims.lease)).await;
        let runs = shared.store.runs.as_ref();
        let released = claims::release_dead_local_workers(runs, shared.run_id).await;
        let next = match released.and(runs.done_keys(shared.run_id).await) {
            Ok(done) => remaining(&done),
            Err(e) => Err(e.into()),
        };
        match next {
            Ok(next) => work = next,
            Err(e) => {
                total.failure = Some(e);
                return total;
            }
        }
    }
}
