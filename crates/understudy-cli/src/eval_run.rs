//! Running an eval plan, shared by `eval`, `study` and `optimize`: the `[eval]` keys the flags
//! set, the plan resolved and completed by `understudy_eval::load`, the models, store and graders
//! it runs on, and the run itself with a progress bar (Ctrl-C stops after the cells in flight).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use understudy_backend::Backend;
use understudy_core::config::Config;
use understudy_eval::plan::{self, EvalSection, Plan};
use understudy_eval::runner::{self, RunOptions};
use understudy_store::{Location, Store};

use crate::cli::EvalArgs;
use crate::eval_setup::{
    complete_plan, make_grader, resolve_plan, runs_here, wait_for_quiet_machine,
};
use crate::output;
use crate::progress::RunBar;
use crate::setup::{self, db_path, EmbeddedOverrides};

/// The `[eval]` keys the command-line flags set.
pub fn flags_section(args: &EvalArgs) -> EvalSection {
    EvalSection {
        models: args.models.clone(),
        reference: args.reference.clone(),
        strategies: args.strategies.clone(),
        formats: args.formats.clone(),
        tasks: args.tasks.clone(),
        limit: args.limit,
        seed: args.seed,
        concurrency: if args.cold { Some(1) } else { args.concurrency },
        role_prompt: None,
        db: args.store.db.as_deref().map(PathBuf::from),
        samples: args.samples,
        sample_temperature: args.sample_temperature,
        confidence: args.confidence.then_some(true),
        offset: args.offset,
        until_ci: args.until_ci,
    }
}

/// What the flags say about the engine's prefix cache: off under `--no-prefix-cache` and
/// `--cold`, else the configuration decides (`None`).
pub fn prefix_cache_flag(args: &EvalArgs) -> Option<bool> {
    (args.no_prefix_cache || args.cold).then_some(false)
}

/// Called with the resolved plan and the open store just before the first model call.
pub type BeforeRun = dyn Fn(&Plan, &Store) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>
    + Sync;

/// A finished (or stopped) run and the store it is in.
pub struct Executed {
    pub store: Store,
    pub db: Location,
    pub outcome: runner::RunOutcome,
}

impl Executed {
    /// The error to end with when Ctrl-C stopped the run.
    pub fn fail_if_interrupted(&self) -> Result<()> {
        if self.outcome.interrupted {
            return Err(crate::exit::Interrupted(format!(
                "everything done so far is saved in {}; rerun the same command to resume",
                self.db
            ))
            .into());
        }
        Ok(())
    }
}

/// Everything a run needs, ready: the resolved plan, the store, the guarded backend, the
/// graders and the runner's options (Ctrl-C wired to stop after the cells in flight).
pub struct Prepared {
    pub plan: Plan,
    pub store: Store,
    pub db: Location,
    pub backend: Arc<dyn Backend>,
    pub grader: understudy_tasks::grade::Grader,
    pub options: RunOptions,
}

/// Resolves `section` into a plan (every name and row checked first), then runs or resumes it
/// with a progress bar; Ctrl-C stops after the cells in flight.
pub async fn execute(
    config: &Config,
    section: EvalSection,
    args: &EvalArgs,
    before_run: Option<&BeforeRun>,
) -> Result<Executed> {
    let Prepared {
        plan,
        store,
        db,
        backend,
        grader,
        options,
    } = prepare(config, section, args, before_run).await?;
    let observer = RunBar::default();
    let outcome = runner::run(&plan, backend, &store, &options, &grader, &observer).await?;
    note_outcome(&outcome);
    Ok(Executed { store, db, outcome })
}

/// Resolves the plan and sets up the models, store and graders it runs on (announcing what will
/// run; `--quiet-machine` waits here), without running it.
pub async fn prepare(
    config: &Config,
    section: EvalSection,
    args: &EvalArgs,
    before_run: Option<&BeforeRun>,
) -> Result<Prepared> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let resolved = resolve_plan(config, &section).await?;
    let home = setup::home_dir()?;
    // Decided once: the engines run with it and every cell records it.
    let threads = setup::threads(
        config,
        &EmbeddedOverrides {
            threads: args.threads,
            ..Default::default()
        },
    );
    let overrides = EmbeddedOverrides {
        threads: Some(threads),
        chat_template: None,
        serving: false,
        prefix_cache: prefix_cache_flag(args),
        parallel: resolved
            .plan()
            .concurrency
            .map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX)),
        // One cell at a time on an embedded model unless `--concurrency` or a configured
        // `parallel` says otherwise: on a CPU, prompt processing is compute-bound, cells run
        // together share the cores, and each slot starts without the prefix the others hold
        // (docs/benchmarks.md).
        default_parallel: Some(1),
    };
    let router = Arc::new(setup::build_router(config, &overrides)?);
    let db = db_path(args.store.db.as_deref(), config, &section);
    let store = Store::open(&db).await?;
    let plan = complete_plan(resolved, &store, &args.embedder).await?;
    announce(&plan, &section, &db);
    if let Some(hook) = before_run {
        hook(&plan, &store).await?;
    }
    // The gateway's failure policy (retries with backoff on unreachable, timeout, 429 and 5xx;
    // a server that closed a kept-alive connection under a request is the common case) also
    // guards eval's calls, so that one dropped connection does not stop a run.
    let guarded: Arc<dyn Backend> = Arc::new(understudy_serve::resilience::Resilient::new(
        router.clone() as Arc<dyn Backend>,
        understudy_serve::resilience::Policy::default(),
    ));
    let grader = make_grader(&plan, args, &home, guarded.clone()).await?;
    if args.quiet_machine {
        wait_for_quiet_machine().await;
    }
    let mut options = run_options(&plan, &router, args.no_cache, threads).await?;
    options.claims.lease = std::time::Duration::from_secs_f64(args.claim_lease);
    Ok(Prepared {
        plan,
        store,
        db,
        backend: guarded,
        grader,
        options,
    })
}

/// What the run did: cells generated and cached, left out by adaptive stopping, answered by
/// other workers on the same store; or that an identical run had finished, or how far a
/// stopped run got.
fn note_outcome(outcome: &runner::RunOutcome) {
    output::note(&outcome_line(outcome));
    if outcome.by_others > 0 {
        output::note(&format!(
            "  {} cells of this run were answered by other workers on the same store",
            outcome.by_others
        ));
    }
}

fn outcome_line(o: &runner::RunOutcome) -> String {
    let cells = |n: usize| output::plural(n, "cell", "cells");
    if o.reused {
        return format!(
            "run {}: this plan already finished as run {} (same models, data and settings), so nothing was run again; showing it (--no-cache measures it anew)",
            o.run_id, o.run_id
        );
    }
    let split = format!(
        "{} generated, {} from cache{}",
        o.fresh,
        o.cached,
        match o.stored.saturating_sub(o.fresh + o.cached + o.by_others) {
            0 => String::new(),
            earlier => format!(", {earlier} from the earlier attempt"),
        }
    );
    if o.interrupted {
        return format!(
            "run {}{} stopped: {} of {} stored ({split}); rerun the same command to resume",
            o.run_id,
            if o.resumed { " (resumed)" } else { "" },
            o.stored,
            cells(o.total - o.skipped),
        );
    }
    format!(
        "run {}{}: {} ({split}{})",
        o.run_id,
        if o.resumed { " (resumed)" } else { "" },
        cells(o.stored),
        if o.skipped > 0 {
            format!(
                "; {} left out by --until-ci: their rows had enough items",
                output::plural(o.skipped, "planned cell", "planned cells")
            )
        } else {
            String::new()
        }
    )
}

/// How the runner runs: as many cells at once on an in-process model as its engine runs
/// sequences (`--concurrency` sets both), the plan's concurrency over HTTP, and Ctrl-C stopping
/// after the cells in flight.
async fn run_options(
    plan: &Plan,
    router: &Arc<understudy_backend::router::Router>,
    no_cache: bool,
    threads: u32,
) -> Result<RunOptions> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let http_concurrency = plan.concurrency.unwrap_or(4).max(1);
    let mut engines = std::collections::HashMap::new();
    // The reference too: an in-process reference is an engine like the others, not an HTTP
    // endpoint to keep four requests in flight against (they would queue on its one sequence
    // and their latency would include the wait).
    for model in plan.models.iter().chain(plan.reference.iter()) {
        if let Some(parallel) = router.parallel(model).await? {
            engines.insert(model.clone(), parallel as usize);
        }
    }
    let concurrency =
        Arc::new(move |model: &str| engines.get(model).copied().unwrap_or(http_concurrency));
    let routes = router.clone();
    let local = Arc::new(move |model: &str| runs_here(&routes, model));
    Ok(RunOptions {
        no_cache,
        stop,
        concurrency,
        local,
        threads: Some(threads),
        claims: Default::default(),
    })
}

/// What is about to run, and what the plan changed on the way (skipped rows, a capped pool).
fn announce(plan: &Plan, section: &EvalSection, db: &Location) {
    let items: usize = plan.tasks.iter().map(|t| t.items.len()).sum();
    output::note(&format!(
        "eval: {} × {} × {} × {}, {}{}; store {}",
        output::plural(plan.models.len(), "model", "models"),
        output::plural(plan.strategies.len(), "strategy", "strategies"),
        output::plural(plan.formats.len(), "format", "formats"),
        output::plural(plan.tasks.len(), "task", "tasks"),
        output::plural(items, "item", "items"),
        plan.reference
            .as_ref()
            .map(|r| format!(", reference {r}"))
            .unwrap_or_default(),
        db
    ));
    if section.limit.is_none() {
        output::note(&format!(
            "  {} items per task by default, sized so the default suite settles the models' gaps to the reference in about 4 minutes on 2 cores; use --limit for tighter intervals",
            plan::DEFAULT_LIMIT
        ));
    }
    for task in &plan.tasks {
        if task.skipped > 0 {
            output::note(&format!(
                "  {}: skipped {} rows without a usable gold answer",
                task.def.name, task.skipped
            ));
        }
        if let Some((declared, kept)) = task.pool_capped {
            output::note(&format!(
                "  warning: {}: `dataset.few_shot_pool = {declared}` is more than half of the rows; \
                 the pool keeps {kept} (never scored) so that the rest can be scored",
                task.source.display()
            ));
        }
    }
}
