//! `understudy study NAME`: prints or runs a preset experiment (or an edited copy) through the
//! normal runner and store, prints the expected duration first, then writes the study's page.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_report::summary;
use understudy_store::Store;
use understudy_study::estimate as study_estimate;
use understudy_study::{cells_file, retention, StudyFile, StudyKind};

use crate::cli::StudyArgs;
use crate::eval_run::{execute, flags_section, prefix_cache_flag};
use crate::output;
use crate::setup;

fn load(args: &StudyArgs) -> Result<StudyFile> {
    match (&args.file, &args.name) {
        (Some(path), name) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let file = StudyFile::parse(&text, path)?;
            if let Some(name) = name {
                if StudyKind::parse(name)? != file.kind {
                    bail!(
                        "{} is a {} study, not {name}",
                        path.display(),
                        file.kind.name()
                    );
                }
            }
            Ok(file)
        }
        (None, Some(name)) => Ok(StudyFile::preset(StudyKind::parse(name)?)?),
        (None, None) => bail!(
            "name a study ({}) or give --file",
            StudyKind::ALL.map(|k| k.name()).join(", ")
        ),
    }
}

pub async fn run(config_path: Option<&Path>, args: StudyArgs) -> Result<()> {
    let study = load(&args)?;
    if args.print_config {
        let text = match &args.file {
            Some(path) => std::fs::read_to_string(path)?,
            None => study.kind.preset().to_string(),
        };
        output::data_line(text.trim_end());
        return Ok(());
    }
    let config = setup::load_config(config_path)?;
    let kind = study.kind;
    if let Some(dir) = &args.from {
        let (command, info, cells) = cells_file::read(dir)?;
        let out = args.out.clone().unwrap_or_else(|| dir.clone());
        return write_page(kind, &command, info, &cells, &out, dir);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("studies").join(kind.name()));
    let mut section = study.eval.clone().overlay(flags_section(&args.eval));
    if kind == StudyKind::SystemPromptRetention {
        if args.eval.tasks.is_some() {
            bail!("system-prompt-retention builds its own task; set [retention] lengths in a study file instead of --tasks");
        }
        let questions = section.limit.unwrap_or(8);
        let seed = section.seed.unwrap_or(understudy_eval::plan::DEFAULT_SEED);
        let task = retention::write_task(&out.join("task"), &study.retention, questions, seed)?;
        section.tasks = Some(vec![task.display().to_string()]);
        section.limit = Some(questions * study.retention.lengths.len());
    }
    if kind != StudyKind::ReferenceGap && args.eval.reference.is_none() {
        section.reference = None;
    }
    if kind == StudyKind::ReferenceGap && section.reference.is_none() {
        bail!("reference-gap needs a reference: pass --reference MODEL");
    }
    output::note(&format!("study {}: {}", kind.name(), kind.claim()));
    let reuse = prefix_cache_flag(&args.eval).unwrap_or(config.prefix_cache);
    let dry_run = args.dry_run;
    let expected = std::sync::Arc::new(std::sync::Mutex::new(None::<f64>));
    let noted = expected.clone();
    let estimate = move |plan: &Plan, store: &Store| {
        let noted = noted.clone();
        let plan = plan.clone();
        let store = store.clone();
        Box::pin(async move {
            let estimate = study_estimate::expected(&plan, &store, reuse).await?;
            if let Ok(mut slot) = noted.lock() {
                *slot = Some(estimate.seconds);
            }
            output::note(&estimate.line());
            if dry_run {
                bail!("dry run: nothing was run");
            }
            Ok(())
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>
    };
    if let Some(id) = args.from_run {
        return page_from_run(config_path, &config, &args, &section, (kind, id), &out).await;
    }
    let started = std::time::Instant::now();
    let done = match execute(&config, section, &args.eval, Some(&estimate)).await {
        Err(e) if dry_run && e.to_string().starts_with("dry run") => return Ok(()),
        other => other?,
    };
    let info = done.store.runs.run(done.outcome.run_id).await?;
    let cells = done.store.runs.cells(done.outcome.run_id).await?;
    output::note(&study_estimate::duration_line(
        started.elapsed().as_secs_f64(),
        expected.lock().ok().and_then(|slot| *slot),
        &done.outcome,
        &summary::summarise(info.clone(), &cells),
    ));
    write_page(kind, &command_line(), info, &cells, &out, &out)?;
    done.fail_if_interrupted()
}

/// `--from-run`: the page from a run already stored, when this study with these flags made it.
async fn page_from_run(
    config_path: Option<&Path>,
    config: &understudy_core::config::Config,
    args: &StudyArgs,
    section: &EvalSection,
    (kind, id): (StudyKind, i64),
    out: &Path,
) -> Result<()> {
    let store = crate::run_output::open(config_path, &args.eval.store).await?;
    let mut info = store.runs.run(id).await?;
    let resolved = crate::eval_setup::resolve_plan(config, section).await?;
    let plan = resolved.plan();
    let made_by_plan = info.plan_key == plan.key()
        || understudy_eval::runner::resume_key::plan_key_of_stored(&info.plan_json)
            .is_some_and(|key| key == plan.key());
    if !made_by_plan {
        bail!(
            "run {id} was not made by this study with these flags (its plan differs); pass the flags it was run with"
        );
    }
    // The same plan: the stored description gains what newer versions derive from it.
    info.plan_json = plan.stored().to_string();
    let cells = store.runs.cells(id).await?;
    write_page(kind, &command_line(), info, &cells, out, out)
}

/// This process's command line, as the page cites it.
fn command_line() -> String {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    format!("understudy {}", argv.join(" "))
}

/// Writes the study's cells and page (`understudy_study::write`) and prints the conclusions.
fn write_page(
    kind: StudyKind,
    command: &str,
    info: understudy_store::RunInfo,
    cells: &[understudy_store::Cell],
    out: &Path,
    cells_dir: &Path,
) -> Result<()> {
    let written = understudy_study::write::write_page(kind, command, info, cells, out, cells_dir)?;
    for line in &written.conclusions {
        output::data_line(&format!("- {line}"));
    }
    output::note(&format!("page: {}", written.page.display()));
    Ok(())
}
