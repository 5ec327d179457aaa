//! `understudy study NAME`: prints or runs a preset experiment (or an edited copy) through the
//! normal runner and store, prints the expected duration first, then writes the study's page.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use understudy_eval::plan::{EvalSection, Plan};
use understudy_report::study::{analysis, cells_file, page, retention, StudyFile, StudyKind};
use understudy_report::summary;
use understudy_store::Store;

use super::eval::{execute, flags_section, prefix_cache_flag};
use super::study_estimate;
use crate::cli::StudyArgs;
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

/// "took 75 min; expected about 19 min (3.9x longer: ...)" — the estimate checked against the run.
fn duration_line(
    actual_secs: f64,
    expected_secs: Option<f64>,
    outcome: &understudy_eval::runner::RunOutcome,
    summary: &summary::Summary,
) -> String {
    let minutes = |s: f64| format!("{:.1} min", s / 60.0);
    let Some(expected) = expected_secs.filter(|e| *e > 0.0) else {
        return format!("  took {}", minutes(actual_secs));
    };
    // The estimate covers every planned cell; a resumed run answers only those left, so a
    // ratio of the two would say nothing about the estimate.
    let answered = outcome.fresh + outcome.cached;
    if outcome.resumed && answered < outcome.total {
        return format!(
            "  took {} for the {answered} of {} cells the resumed run had left; the estimate, about {}, was for all of them",
            minutes(actual_secs),
            outcome.total,
            minutes(expected)
        );
    }
    let ratio = actual_secs / expected;
    let why = if summary.rows.iter().any(|r| r.load.flagged()) {
        format!("; {}", summary.load_line())
    } else {
        String::new()
    };
    format!(
        "  took {}; expected about {} ({ratio:.1}x the estimate{why})",
        minutes(actual_secs),
        minutes(expected)
    )
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
    output::note(&duration_line(
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
    let store = super::runs::open(config_path, &args.eval.store).await?;
    let mut info = store.runs.run(id).await?;
    let plan = super::eval_setup::resolve_plan(config, section).await?;
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

/// Writes the cells into `out` and the page computed from them as the file gives them back;
/// prints the conclusions. The page cites `understudy study NAME --from CELLS_DIR` as the way to
/// rewrite it.
fn write_page(
    kind: StudyKind,
    command: &str,
    info: understudy_store::RunInfo,
    cells: &[understudy_store::Cell],
    out: &Path,
    cells_dir: &Path,
) -> Result<()> {
    let cells = cells_file::write(out, command, &info, cells)?;
    let summary = summary::summarise(info, &cells);
    let page = analysis::analyse(kind, &summary, &cells);
    let regenerate = format!(
        "understudy study {} --from {}",
        kind.name(),
        cells_dir.display()
    );
    let path = page::write(&page, &summary, command, &regenerate, out)?;
    for line in &page.conclusions {
        output::data_line(&format!("- {line}"));
    }
    output::note(&format!("page: {}", path.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_eval::runner::RunOutcome;

    fn outcome(resumed: bool, fresh: usize) -> RunOutcome {
        RunOutcome {
            run_id: 2,
            resumed,
            reused: false,
            interrupted: false,
            total: 810,
            stored: 810,
            fresh,
            cached: 0,
            skipped: 0,
            by_others: 0,
        }
    }

    #[test]
    fn a_resumed_run_is_not_held_against_the_whole_runs_estimate() {
        let info = understudy_store::RunInfo {
            id: 2,
            plan_key: "k".into(),
            created_at: "now".into(),
            finished_at: None,
            status: "finished".into(),
            plan_json: "{}".into(),
            cells: 0,
        };
        let summary = summary::summarise(info, &[]);
        let resumed = duration_line(234.0, Some(2442.0), &outcome(true, 90), &summary);
        assert_eq!(
            resumed,
            "  took 3.9 min for the 90 of 810 cells the resumed run had left; the estimate, about 40.7 min, was for all of them"
        );
        let whole = duration_line(1920.0, Some(2442.0), &outcome(false, 810), &summary);
        assert_eq!(
            whole,
            "  took 32.0 min; expected about 40.7 min (0.8x the estimate)"
        );
    }
}
