//! `understudy runs` and `understudy show`: read the store, never the models.

use std::path::Path;

use anyhow::Result;
use understudy_report::summary;

use crate::cli::{ReportArgs, ShowArgs, StoreArgs};
use crate::output;
use crate::run_output::{open, priced_summary, run_id, write_report};
use crate::setup;

pub async fn list(config_path: Option<&Path>, args: StoreArgs) -> Result<()> {
    let store = open(config_path, &args).await?;
    let runs = store.runs.runs().await?;
    output::data_line(&format!(
        "{:>4}  {:<20}  {:<11}  {:>6}  {}",
        "RUN", "CREATED", "STATUS", "CELLS", "PLAN"
    ));
    for run in runs {
        let join = |key: &str| run.plan_list(key).join(",");
        output::data_line(&format!(
            "{:>4}  {:<20}  {:<11}  {:>6}  models={} strategies={} formats={} tasks={} reference={}",
            run.id,
            run.created_at,
            run.status,
            run.cells,
            join("models"),
            join("strategies"),
            join("formats"),
            join("tasks"),
            run.plan_reference().as_deref().unwrap_or("-")
        ));
    }
    Ok(())
}

pub async fn report(config_path: Option<&Path>, args: ReportArgs) -> Result<()> {
    let store = open(config_path, &args.store).await?;
    let id = run_id(&store, args.run).await?;
    let prices = setup::load_config(config_path)?.prices;
    let html = write_report(&store, id, args.out.as_deref(), &prices).await?;
    output::data_line(&html.display().to_string());
    if args.open {
        let opened = ["xdg-open", "open", "sensible-browser"].iter().any(|cmd| {
            std::process::Command::new(cmd)
                .arg(&html)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .is_ok()
        });
        if !opened {
            output::note("no browser opener found (xdg-open, open); open the file above yourself");
        }
    }
    Ok(())
}

pub async fn show(config_path: Option<&Path>, args: ShowArgs) -> Result<()> {
    let store = open(config_path, &args.store).await?;
    let id = run_id(&store, args.run).await?;
    let prices = setup::load_config(config_path)?.prices;
    let (summary, _) = priced_summary(&store, id, &prices).await?;
    if args.json {
        output::data_line(&serde_json::to_string_pretty(&summary)?);
    } else {
        output::data_line(&summary::render_text(&summary));
    }
    Ok(())
}
