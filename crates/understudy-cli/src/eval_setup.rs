//! What an eval needs before its first model call, on the terminal: the plan from
//! `understudy_eval::load` (every name and dataset checked, then its memory rows prepared, each
//! step said), the graders, which models run in this process, and `--quiet-machine`'s wait.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};
use understudy_backend::Backend;
use understudy_core::config::Config;
use understudy_eval::load::{self, DataSources, Resolved};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_tasks::builtin;
use understudy_tasks::grade::{CommandGrader, Grader, Judge, PairwiseJudge, Sandbox};
use understudy_tasks::task::AnswerSpec;

use crate::cli::EvalArgs;
use crate::embedder;
use crate::output;
use crate::progress::TerminalProgress;
use crate::setup;

/// Resolves every name and reads every dataset of `section` into a plan, before any model is
/// called (built-in data is fetched into the local cache if missing).
pub async fn resolve_plan(config: &Config, section: &EvalSection) -> Result<Resolved> {
    let home = setup::home_dir()?;
    let sources = DataSources {
        home: &home,
        index_url: &setup::index_url(),
        progress: &TerminalProgress::default(),
    };
    Ok(load::resolve(config, section, &sources).await?)
}

/// The final plan: `memory:K` documents indexed and `knn-shot:K` pools stored (the embedder is
/// loaded only when a row needs it), saying what was embedded.
pub async fn complete_plan(
    resolved: Resolved,
    store: &understudy_store::Store,
    embedder_args: &crate::cli::EmbedderArgs,
) -> Result<Plan> {
    let embedder = match resolved.needs_embedder() {
        true => Some(embedder::embedder(embedder_args).await?),
        false => None,
    };
    let (plan, prepared) = resolved.complete(store, embedder).await?;
    for i in prepared.indexed {
        output::note(&format!(
            "  {}: {} in collection {:?} ({} embedded now, {} unchanged); passages found for {}",
            i.task,
            output::plural(i.documents, "document", "documents"),
            i.collection,
            output::plural(i.embedded, "chunk", "chunks"),
            output::plural(i.unchanged, "document", "documents"),
            output::plural(i.questions, "question", "questions")
        ));
    }
    for p in prepared.pools {
        output::note(&format!(
            "  {}: {} pool examples in collection {:?} ({} embedded now); nearest examples found for {} items",
            p.task, p.examples, p.collection, p.embedded, p.items
        ));
    }
    Ok(plan)
}

/// Whether `model` (or any model of a cascade or planner/executor spec) runs in this process.
pub fn runs_here(router: &understudy_backend::router::Router, model: &str) -> bool {
    let parts = match understudy_prompt::Technique::from_model_spec(model) {
        Ok(Some(technique)) => technique.models(),
        _ => vec![model.to_string()],
    };
    parts
        .iter()
        .any(|part| matches!(router.route(part), Ok((backend, _)) if backend.name() == "embedded"))
}

/// How long `--quiet-machine` waits for other processes to calm down before timing anything.
const QUIET_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// `--quiet-machine`: waits (up to [`QUIET_WAIT`]) until other processes use less than the busy
/// threshold, saying so; warns and goes on if they never do.
pub async fn wait_for_quiet_machine() {
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

/// The sandbox when the plan has code tasks, the judge when it has judged ones, and each
/// command-graded task's own grader.
pub async fn make_grader(
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
            AnswerSpec::Reference(_) if grader.pairwise.is_none() => {
                let Some(model) = args.judge.clone().or_else(|| plan.reference.clone()) else {
                    bail!(
                        "task {} compares text answers with the reference's by a judge model: pass --judge MODEL, or name the reference model (--reference)",
                        task.def.name
                    );
                };
                output::note(&format!(
                    "  {}: text answers judged against the reference by {model}, in both orders",
                    task.def.name
                ));
                grader.pairwise = Some(PairwiseJudge::load(backend.clone(), &model).await?);
            }
            AnswerSpec::Command(spec) => {
                let own = CommandGrader::new(&task.def.name, &task.source, spec)?;
                output::note(&format!(
                    "  {}: graded by {}",
                    task.def.name,
                    own.identity()
                ));
                grader.commands.insert(task.def.name.clone(), own);
            }
            _ => {}
        }
    }
    Ok(grader)
}
