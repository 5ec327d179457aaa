//! `understudy eval`: builds the plan from flags and the `[eval]` table, runs it with a progress
//! bar (Ctrl-C stops cleanly; rerun resumes; `eval_run.rs`), then prints the summary and applies
//! the gates.

use std::path::Path;

use anyhow::{bail, Result};
use understudy_report::summary;

use crate::cli::gates::GateArgs;
use crate::cli::EvalArgs;
use crate::eval_run::{execute, flags_section};
use crate::output;
use crate::run_output;
use crate::setup::{self, file_section};

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
    if args.gates.min_share.is_some() && section.reference.is_none() {
        bail!("--min-share needs a reference to take a share of: name one with --reference (or drop --no-reference)");
    }
    let done = execute(&config, section, &args, None).await?;
    let (summary, _) =
        run_output::priced_summary(&done.store, done.outcome.run_id, &config.prices).await?;
    if args.json {
        output::data_line(&serde_json::to_string_pretty(&summary)?);
    } else {
        output::data_line(&summary::render_text(&summary));
    }
    if args.report {
        run_output::write_report(&done.store, done.outcome.run_id, None, &config.prices).await?;
    }
    done.fail_if_interrupted()?;
    gate(&summary, &args.gates)
}

/// `--junit` and `--min-share`: writes the test cases, then fails when a row's share of the
/// reference has its lower bound under the bar.
fn gate(summary: &understudy_report::summary::Summary, gates: &GateArgs) -> Result<()> {
    let suite = understudy_report::junit::eval_suite(summary, gates.min_share);
    if let Some(path) = &gates.junit {
        run_output::write_junit(path, &suite)?;
    }
    let Some(bar) = gates.min_share else {
        return Ok(());
    };
    let failing: Vec<String> = suite
        .cases
        .iter()
        .filter_map(|c| {
            let (message, _) = c.failure.as_ref()?;
            Some(format!("{} · {}: {message}", c.classname, c.name))
        })
        .collect();
    for c in suite.cases.iter().filter(|c| c.skipped.is_some()) {
        output::note(&format!(
            "--min-share not checked for {} · {}: {}",
            c.classname,
            c.name,
            c.skipped.as_deref().unwrap_or_default()
        ));
    }
    let checked = suite.cases.iter().filter(|c| c.skipped.is_none()).count();
    if checked == 0 {
        bail!(
            "--min-share {bar}: no row could be checked (every case above was skipped), so the gate cannot pass"
        );
    }
    if !failing.is_empty() {
        bail!(
            "--min-share {bar}: {} of {} cases fail:\n  {}",
            failing.len(),
            suite.cases.len(),
            failing.join("\n  ")
        );
    }
    output::note(&format!(
        "--min-share {bar}: all {checked} checked rows keep their share's 95% lower bound at or above the bar"
    ));
    Ok(())
}
