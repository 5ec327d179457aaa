//! `understudy runs` and `understudy show`: read the store, never the models.

use std::path::Path;

use anyhow::{bail, Result};
use understudy_eval::store::Store;
use understudy_eval::summary;

use super::eval::{db_path, file_section};
use crate::cli::{ShowArgs, StoreArgs};
use crate::output;
use crate::setup;

fn open(config_path: Option<&Path>, args: &StoreArgs) -> Result<Store> {
    let config = setup::load_config(config_path)?;
    let section = file_section(&config)?;
    let path = db_path(args.db.as_deref(), &section);
    if !path.exists() {
        bail!(
            "no store at {} (run `understudy eval` first, or pass --db)",
            path.display()
        );
    }
    Ok(Store::open(&path)?)
}

pub fn list(config_path: Option<&Path>, args: StoreArgs) -> Result<()> {
    let store = open(config_path, &args)?;
    let runs = store.runs()?;
    output::data_line(&format!(
        "{:>4}  {:<20}  {:<11}  {:>6}  {}",
        "RUN", "CREATED", "STATUS", "CELLS", "PLAN"
    ));
    for run in runs {
        let plan: serde_json::Value = serde_json::from_str(&run.plan_json).unwrap_or_default();
        let join = |key: &str| -> String {
            plan[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v["name"].as_str().unwrap_or("").to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
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
            plan["reference"].as_str().unwrap_or("-")
        ));
    }
    Ok(())
}

pub fn show(config_path: Option<&Path>, args: ShowArgs) -> Result<()> {
    let store = open(config_path, &args.store)?;
    let id = match args.run {
        Some(id) => id,
        None => match store.runs()?.last() {
            Some(run) => run.id,
            None => bail!("the store has no runs yet"),
        },
    };
    let info = store.run(id)?;
    let cells = store.cells(id)?;
    let summary = summary::summarise(info, &cells);
    if args.json {
        output::data_line(&serde_json::to_string_pretty(&summary)?);
    } else {
        output::data_line(&summary::render_text(&summary));
    }
    Ok(())
}
