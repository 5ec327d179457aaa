//! `understudy eval`: builds the plan from flags and the `[eval]` table, fetches built-in data,
//! runs it with a progress bar (Ctrl-C stops cleanly; rerun resumes), then prints the summary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use understudy_backend::Backend;
use understudy_core::config::Config;
use understudy_eval::plan::{self, EvalSection, Plan};
use understudy_eval::runner::{self, RunObserver, RunOptions};
use understudy_report::summary;
use understudy_store::{Cell, Store};
use understudy_tasks::builtin;
use understudy_tasks::find::DataSource;
use understudy_tasks::grade::{Grader, Judge, Sandbox};
use understudy_tasks::task::AnswerSpec;

use crate::cli::EvalArgs;
use crate::output;
use crate::progress::TerminalProgress;
use crate::setup::{self, db_path, file_section, EmbeddedOverrides};

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
        concurrency: args.concurrency,
        role_prompt: None,
        db: args.store.db.clone(),
        samples: args.samples,
        sample_temperature: args.sample_temperature,
        confidence: args.confidence.then_some(true),
        offset: args.offset,
    }
}

pub async fn run(config_path: Option<&Path>, args: EvalArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let from_file = file_section(&config)?;
    let user_named_models = args.models.is_some() || from_file.models.is_some();
    let mut section = from_file.overlay(flags_section(&args));
    if section.models.is_none() {
        // The default ladder: the fast model and the default model, against the reference.
        let mut ladder = vec!["smollm2-135m".to_string()];
        if config.default_model != "smollm2-135m" {
            ladder.push(config.default_model.clone());
        }
        section.models = Some(ladder);
    }
    if args.no_reference {
        section.reference = None;
    } else if section.reference.is_none() && !user_named_models {
        section.reference = Some(config.reference_model.clone());
    }
    let done = execute(&config, section, &args, None).await?;
    let info = done.store.run(done.outcome.run_id)?;
    let cells = done.store.cells(done.outcome.run_id)?;
    let summary = summary::summarise(info, &cells);
    if args.json {
        output::data_line(&serde_json::to_string_pretty(&summary)?);
    } else {
        output::data_line(&summary::render_text(&summary));
    }
    if args.report {
        super::runs::write_report(&done.store, done.outcome.run_id, None)?;
    }
    done.fail_if_interrupted()
}

/// Called with the resolved plan and the open store just before the first model call.
pub type BeforeRun = dyn Fn(&Plan, &Store) -> Result<()> + Sync;

/// A finished (or stopped) run and the store it is in.
pub struct Executed {
    pub store: Store,
    pub db: PathBuf,
    pub outcome: runner::RunOutcome,
}

impl Executed {
    /// The error to end with when Ctrl-C stopped the run.
    pub fn fail_if_interrupted(&self) -> Result<()> {
        if self.outcome.interrupted {
            bail!(
                "interrupted: everything done so far is saved in {}; rerun the same command to resume",
                self.db.display()
            );
        }
        Ok(())
    }
}

/// Resolves every name and reads every dataset of `section` into a plan, before any model is
/// called (built-in data is fetched into the local cache if missing).
pub async fn resolve_plan(config: &Config, section: &EvalSection) -> Result<Plan> {
    section.check_lists()?;

    // Resolve every name and read every dataset before any model is called.
    let task_names: Vec<String> = section
        .tasks
        .clone()
        .unwrap_or_else(|| plan::DEFAULT_TASKS.iter().map(|s| s.to_string()).collect());
    let mut pending = Vec::new();
    for name in &task_names {
        pending.push(understudy_tasks::find::find_task(name)?);
    }
    for strategy in section.strategies.iter().flatten() {
        understudy_tasks::strategy::Strategy::parse(strategy)?;
    }
    for format in section.formats.iter().flatten() {
        understudy_tasks::strategy::Format::parse(format)?;
    }
    let mut builtin_names: Vec<&str> = pending
        .iter()
        .filter_map(|p| match &p.data {
            DataSource::Builtin(d) => Some(d.name),
            DataSource::File(_) => None,
        })
        .collect();
    for p in &pending {
        for extra in p.def.answer.extra_data() {
            if builtin::data_file(extra).is_none() {
                bail!(
                    "{}: `answer` names data {extra:?}, which is not a built-in dataset",
                    p.source.display()
                );
            }
            builtin_names.push(extra);
        }
        if let Some(docs) = p.def.memory.as_ref().and_then(|m| m.builtin_data()) {
            if builtin::data_file(docs).is_none() {
                bail!(
                    "{}: `memory.builtin` {docs:?} is not a built-in dataset",
                    p.source.display()
                );
            }
            builtin_names.push(docs);
        }
    }
    let home = setup::home_dir()?;
    if !builtin_names.is_empty() {
        builtin::ensure_data(
            &builtin_names,
            &home,
            &setup::index_url(),
            &TerminalProgress::default(),
        )
        .await?;
    }
    let with_data = pending
        .into_iter()
        .map(|p| {
            let path = match &p.data {
                DataSource::Builtin(d) => builtin::data_path(&home, d),
                DataSource::File(f) => f.clone(),
            };
            (p, path)
        })
        .collect();
    Ok(Plan::resolve(section, &config.default_model, with_data)?)
}

/// Resolves `section` into a plan (every name and row checked first), then runs or resumes it
/// with a progress bar; Ctrl-C stops after the cells in flight.
pub async fn execute(
    config: &Config,
    section: EvalSection,
    args: &EvalArgs,
    before_run: Option<&BeforeRun>,
) -> Result<Executed> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let mut plan = resolve_plan(config, &section).await?;
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
    };
    let router = Arc::new(setup::build_router(config, &overrides)?);
    let db = db_path(args.store.db.as_deref(), &section);
    let store = Store::open(&db)?;
    if plan.strategies.iter().any(|s| s.memory().is_some()) {
        plan.retrieved = retrieve(&plan, &home, &db, &args.embedder).await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let http_concurrency = plan.concurrency.unwrap_or(4).max(1);
    let routes = router.clone();
    let concurrency = Arc::new(move |model: &str| match routes.route(model) {
        Ok((backend, _)) if backend.name() == "embedded" => 1,
        _ => http_concurrency,
    });
    let routes = router.clone();
    let local = Arc::new(move |model: &str| runs_here(&routes, model));
    let items: usize = plan.tasks.iter().map(|t| t.items.len()).sum();
    output::note(&format!(
        "eval: {} model(s) × {} strateg(ies) × {} format(s) × {} task(s), {items} items{}; store {}",
        plan.models.len(),
        plan.strategies.len(),
        plan.formats.len(),
        plan.tasks.len(),
        plan.reference.as_ref().map(|r| format!(", reference {r}")).unwrap_or_default(),
        db.display()
    ));
    if section.limit.is_none() {
        output::note(&format!(
            "  {} items per task by default, sized so the default suite finishes in about ten minutes on 2 cores; use --limit for tighter intervals",
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
    if let Some(hook) = before_run {
        hook(&plan, &store)?;
    }
    let grader = make_grader(&plan, args, &home, router.clone() as Arc<dyn Backend>).await?;
    let observer = BarObserver::default();
    if args.quiet_machine {
        wait_for_quiet_machine().await;
    }
    let options = RunOptions {
        no_cache: args.no_cache,
        stop,
        concurrency,
        local,
        threads: Some(threads),
    };
    let outcome = runner::run(
        &plan,
        router.clone() as Arc<dyn Backend>,
        &store,
        &options,
        &grader,
        &observer,
    )
    .await?;
    output::note(&format!(
        "run {}{}: {} cells ({} generated, {} from cache)",
        outcome.run_id,
        if outcome.resumed { " (resumed)" } else { "" },
        outcome.total,
        outcome.fresh,
        outcome.cached
    ));
    Ok(Executed { store, db, outcome })
}

/// Whether `model` (or any model of a cascade or planner/executor spec) runs in this process.
fn runs_here(router: &understudy_backend::router::Router, model: &str) -> bool {
    use understudy_techniques::cascade::Cascade;
    use understudy_techniques::plan_execute::PlanExecute;
    let parts: Vec<String> = if Cascade::is_spec(model) {
        Cascade::parse(model).map(|c| c.models).unwrap_or_default()
    } else if PlanExecute::is_spec(model) {
        PlanExecute::parse(model)
            .map(|p| vec![p.planner, p.executor])
            .unwrap_or_default()
    } else {
        vec![model.to_string()]
    };
    parts
        .iter()
        .any(|part| matches!(router.route(part), Ok((backend, _)) if backend.name() == "embedded"))
}

/// How long `--quiet-machine` waits for other processes to calm down before timing anything.
const QUIET_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// `--quiet-machine`: waits (up to [`QUIET_WAIT`]) until other processes use less than the busy
/// threshold, saying so; warns and goes on if they never do.
async fn wait_for_quiet_machine() {
    use understudy_eval::conditions::{busy_threshold, other_cores_now};
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threshold = busy_threshold(cores);
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        let Some(busy) = other_cores_now(std::time::Duration::from_secs(1)).await else {
            output::note("  --quiet-machine: cannot read CPU counters here; not waiting");
            return;
        };
        if busy < threshold {
            if said {
                output::note(&format!(
                    "  machine quiet after {:.0} s ({busy:.1} cores busy elsewhere)",
                    started.elapsed().as_secs_f64()
                ));
            }
            return;
        }
        if started.elapsed() >= QUIET_WAIT {
            output::note(&format!(
                "  warning: other processes still use {busy:.1} of {cores} cores after {} s; \
                 latency will be measured under load (each cell records it)",
                QUIET_WAIT.as_secs()
            ));
            return;
        }
        if !said {
            output::note(&format!(
                "  waiting for a quiet machine: other processes use {busy:.1} of {cores} cores (threshold {threshold:.1})"
            ));
            said = true;
        }
    }
}

/// Indexes the documents of the plan's retrieval tasks (embedding only what changed) and finds
/// each item's passages, before any model is called.
async fn retrieve(
    plan: &Plan,
    home: &Path,
    db: &Path,
    embedder: &crate::cli::EmbedderArgs,
) -> Result<understudy_eval::retrieval::Retrieved> {
    let embedder = super::memory::embedder(embedder).await?;
    let memory = understudy_memory::MemoryStore::open(db)?;
    let (plan, home) = (plan.clone(), home.to_path_buf());
    let (retrieved, indexed) = tokio::task::spawn_blocking(move || {
        understudy_eval::retrieval::prepare(
            &plan.tasks,
            plan.retrieval_depth(),
            &home,
            &memory,
            embedder.as_ref(),
        )
    })
    .await??;
    for i in indexed {
        output::note(&format!(
            "  {}: {} documents in collection {:?} ({} chunks embedded now, {} documents unchanged); passages found for {} questions",
            i.task, i.documents, i.collection, i.embedded, i.unchanged, i.questions
        ));
    }
    Ok(retrieved)
}

/// The sandbox when the plan has code tasks, the judge when it has judged ones.
async fn make_grader(
    plan: &Plan,
    args: &EvalArgs,
    home: &Path,
    backend: Arc<dyn Backend>,
) -> Result<Grader> {
    let mut grader = Grader::default();
    for task in &plan.tasks {
        match &task.def.answer {
            AnswerSpec::Code { .. } if grader.sandbox.is_none() => {
                grader.sandbox = Some(Sandbox::detect(&args.python).await?);
            }
            AnswerSpec::Judge {
                prompts,
                references,
                reference_categories,
                ..
            } if grader.judge.is_none() => {
                let Some(model) = args.judge.clone().or_else(|| plan.reference.clone()) else {
                    bail!(
                        "task {} is graded by a judge model: pass --judge MODEL (any configured model)",
                        task.def.name
                    );
                };
                let path =
                    |name: &str| builtin::data_file(name).map(|d| builtin::data_path(home, d));
                let prompts_path = path(prompts)
                    .ok_or_else(|| anyhow::anyhow!("unknown judge prompts {prompts:?}"))?;
                let references_path = references.as_deref().and_then(path);
                output::note(&format!("  {}: judged by {model}", task.def.name));
                grader.judge = Some(
                    Judge::load(
                        backend.clone(),
                        &model,
                        &prompts_path,
                        references_path.as_deref(),
                        reference_categories.clone(),
                    )
                    .await?,
                );
            }
            _ => {}
        }
    }
    Ok(grader)
}

/// A progress bar with ETA and the running mean score (accuracy for right/wrong tasks).
#[derive(Default)]
struct BarObserver {
    bar: Mutex<Option<ProgressBar>>,
    tally: Mutex<(usize, f64, usize)>,
}

impl RunObserver for BarObserver {
    fn start(&self, total: usize, done: usize) {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} cells · {msg} · {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(done as u64);
        if done > 0 {
            bar.set_message(format!("resuming: {done} cells already stored"));
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn cell(&self, cell: &Cell) {
        let Ok(mut tally) = self.tally.lock() else {
            return;
        };
        tally.0 += 1;
        tally.1 += cell.score;
        tally.2 += usize::from(cell.cached);
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(1);
                // Without a terminal the bar is hidden: say where we are every tenth of the run.
                let total = bar.length().unwrap_or(0);
                let step = (total / 10).max(1);
                if bar.is_hidden() && (bar.position() % step == 0 || bar.position() == total) {
                    output::note(&format!(
                        "  {}/{} cells · running score {:.0}% (n={}) · {} cached · {:.0} s elapsed",
                        bar.position(),
                        total,
                        100.0 * tally.1 / tally.0 as f64,
                        tally.0,
                        tally.2,
                        bar.elapsed().as_secs_f64()
                    ));
                }
                bar.set_message(format!(
                    "running score {:.0}% (n={}) · {} cached",
                    100.0 * tally.1 / tally.0 as f64,
                    tally.0,
                    tally.2
                ));
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}
