//! Answers the planned cells: models one after another (one loaded model at a time), a model's
//! cells concurrently up to its limit, each graded and committed as soon as it is answered;
//! the stop flag ends the run after the cells in flight. A cell another worker holds is left to
//! it (and counted).

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use understudy_backend::Backend;

use super::answer::answer;
use super::work::Work;
use super::{make_cell, RunObserver, RunOptions};
use crate::conditions::CpuSnapshot;
use crate::stopping::RowScores;
use understudy_store::cell_key;
use understudy_store::{Cell, Store};
use understudy_tasks::grade::{Asked, Grader};
use understudy_tasks::task::AnswerSpec;
use understudy_tasks::EvalError;

/// How the cells went.
#[derive(Default)]
pub(super) struct Tally {
    pub fresh: usize,
    pub cached: usize,
    /// Cells left out because their row had settled (adaptive stopping).
    pub skipped: usize,
    /// Cells another live worker held when this one reached them.
    pub held_elsewhere: usize,
    pub interrupted: bool,
    pub failure: Option<EvalError>,
}

/// What every round of answering shares: the models' identities, the backend, the store and run,
/// the options, the grader, the observer and adaptive stopping's rows.
pub(super) struct Shared<'a> {
    pub identities: &'a std::collections::HashMap<String, String>,
    pub backend: &'a dyn Backend,
    pub store: &'a Store,
    pub run_id: i64,
    pub options: &'a RunOptions,
    pub grader: &'a Grader,
    pub observer: &'a dyn RunObserver,
    pub rows: &'a crate::stopping::RowScores,
}

pub(super) async fn execute(work: Vec<Work<'_>>, shared: &Shared<'_>) -> Tally {
    let Shared {
        store,
        run_id,
        options,
        observer,
        rows,
        ..
    } = *shared;
    let mut tally = Tally::default();
    // Models run one after another (one loaded model at a time); cells of a model run concurrently
    // up to its limit. Cached cells go through the same path, so they are graded the same way.
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    'models: for (model, list) in by_model(work) {
        let limit = (options.concurrency)(&model).max(1);
        let in_flight = &in_flight;
        let skipped = &skipped;
        // Under adaptive stopping a row's next item is skipped once the row has enough; the
        // stream is lazy, so this is decided as each cell is about to start.
        let mut results = futures::stream::iter(list)
            .filter(move |w| std::future::ready(!settled(rows, skipped, w)))
            .map(|w| answer_claimed(w, shared, in_flight))
            .buffer_unordered(limit);
        loop {
            if options.stop.load(Ordering::SeqCst) {
                tally.interrupted = true;
                break 'models;
            }
            let next = tokio::select! {
                next = results.next() => next,
                _ = wait_for(&options.stop) => { tally.interrupted = true; break 'models; }
            };
            let Some(result) = next else { break };
            match result {
                Ok(None) => tally.held_elsewhere += 1,
                Ok(Some(cell)) => {
                    if let Err(e) = store.runs.insert_cell(run_id, &cell).await {
                        tally.failure = Some(e.into());
                        break 'models;
                    }
                    observer.cell(&cell);
                    rows.record(&cell);
                    if cell.cached {
                        tally.cached += 1;
                    } else {
                        tally.fresh += 1;
                    }
                }
                Err(err) => {
                    tally.failure = Some(err);
                    break 'models;
                }
            }
        }
    }
    tally.skipped = skipped.load(Ordering::SeqCst);
    tally
}

/// Claims the cell, then answers and grades it; `None` when another worker holds it.
async fn answer_claimed(
    w: Work<'_>,
    shared: &Shared<'_>,
    in_flight: &std::sync::atomic::AtomicUsize,
) -> Result<Option<Cell>, EvalError> {
    let Shared {
        identities,
        backend,
        store,
        run_id,
        options,
        grader,
        ..
    } = *shared;
    let key = cell_key(
        &w.model,
        &w.strategy.to_string(),
        w.format.as_str(),
        &w.task.def.name,
        &w.item_id,
    );
    let (worker, lease) = (&options.claims.worker, options.claims.lease);
    if !store.runs.claim(run_id, &key, worker, lease).await? {
        return Ok(None);
    }
    let local = (options.local)(&w.model);
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
        .map(|(r, _)| match (&w.task.def.answer, &w.program.template) {
            // Only calls the backend returned as calls count, never call-shaped text.
            (AnswerSpec::ToolCalls(_), _) => understudy_tasks::grade::tool_calls::encode_answer(r),
            (AnswerSpec::Reference(spec), _)
                if understudy_tasks::grade::reference::records_calls(spec, w.item) =>
            {
                understudy_tasks::grade::tool_calls::encode_answer(r)
            }
            (_, Some(template)) => template.graded_part(&r.answer),
            (_, None) => r.answer.clone(),
        })
        .collect();
    let strategy = w.strategy.to_string();
    let asked = Asked {
        model: &w.model,
        strategy: &strategy,
        format: w.format.as_str(),
        messages: &w.request.messages,
    };
    let graded = grader
        .grade(store, w.task, w.item, &answers, w.cot, &asked)
        .await?;
    Ok(Some(make_cell(&w, &answered, &graded, conditions)))
}

/// The cell's row has taken enough items (adaptive stopping); counts the cells left out.
fn settled(rows: &RowScores, skipped: &std::sync::atomic::AtomicUsize, w: &Work<'_>) -> bool {
    let settled = rows.settled(
        &w.model,
        &w.strategy.to_string(),
        w.format.as_str(),
        &w.task.def.name,
    );
    if settled {
        skipped.fetch_add(1, Ordering::SeqCst);
    }
    settled
}

/// The cells grouped by model, models in the order they first appear.
fn by_model(work: Vec<Work<'_>>) -> Vec<(String, Vec<Work<'_>>)> {
    let mut groups: Vec<(String, Vec<Work<'_>>)> = Vec::new();
    for w in work {
        match groups.iter_mut().find(|(m, _)| *m == w.model) {
            Some((_, list)) => list.push(w),
            None => groups.push((w.model.clone(), vec![w])),
        }
    }
    groups
}

async fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
