//! `understudy tune RUN`: prints gateway profiles tuned from a stored run (see
//! `understudy_tune::`); the reasons are comments in the TOML.

use std::path::Path;

use anyhow::{bail, Result};
use understudy_report::summary;
use understudy_tune::{self as tune, Target};

use crate::cli::TuneArgs;
use crate::output;

pub async fn run(config_path: Option<&Path>, args: TuneArgs) -> Result<()> {
    if !(0.0..=1.5).contains(&args.target) {
        bail!(
            "--target is a share of the reference score, e.g. 0.95 (got {})",
            args.target
        );
    }
    let store = crate::run_output::open(config_path, &args.store).await?;
    let id = crate::run_output::run_id(&store, args.run).await?;
    let info = store.runs.run(id).await?;
    let cells = store.runs.cells(id).await?;
    let summary = summary::summarise(info, &cells);
    let target = Target {
        share: args.target,
        max_latency_ms: args.max_latency_ms,
    };
    let mut tuned = tune::tune(&summary, &cells, target)?;
    for r in &tuned.refused {
        output::note(&format!("tune: task {}: not tuned: {}", r.task, r.reason));
    }
    if args.jointly && !tuned.tunings.is_empty() {
        tune::choose_jointly(&mut tuned).map_err(|why| anyhow::anyhow!("tune --jointly: {why}"))?;
    }
    if tuned.tunings.is_empty() {
        if tuned.refused.is_empty() {
            bail!("run {id} has no task with a share of the reference to tune on");
        }
        bail!("run {id}: no task could be tuned (reasons above)");
    }
    output::data_line(&tune::render_profiles(&tuned, &cells, target, id));
    Ok(())
}
