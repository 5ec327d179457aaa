//! `understudy runs` and `understudy show`: read the store, never the models.

use std::path::Path;

use anyhow::{bail, Result};
use understudy_report::summary;
use understudy_store::Store;

use crate::cli::{ReportArgs, ShowArgs, StoreArgs};
use crate::output;
use crate::setup;
use crate::setup::{db_path, file_section};

pub async fn open(config_path: Option<&Path>, args: &StoreArgs) -> Result<Store> {
    let config = setup::load_config(config_path)?;
    let section = file_section(&config)?;
    let location = db_path(args.db.as_deref(), &config, &section);
    setup::open_for_reading(&location, "run `understudy eval` first").await
}

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

pub async fn run_id(store: &Store, requested: Option<i64>) -> Result<i64> {
    Ok(match requested {
        Some(id) => id,
        None => match store.runs.runs().await?.last() {
            Some(run) => run.id,
            None => bail!("the store has no runs yet"),
        },
    })
}

/// Run `id`'s summary, with dollar costs at the configured prices, and its cells.
pub async fn priced_summary(
    store: &Store,
    id: i64,
    prices: &Prices,
) -> Result<(summary::Summary, Vec<understudy_store::Cell>)> {
    let info = store.runs.run(id).await?;
    let cells = store.runs.cells(id).await?;
    let mut summary = summary::summarise(info, &cells);
    summary.price(prices);
    Ok((summary, cells))
}

/// `[models.NAME] price_in / price_out`, by model.
pub type Prices = std::collections::BTreeMap<String, understudy_core::price::Price>;

/// Writes the report of run `id` and prints where it is.
pub async fn write_report(
    store: &Store,
    id: i64,
    out: Option<&Path>,
    prices: &Prices,
) -> Result<std::path::PathBuf> {
    let (summary, cells) = priced_summary(store, id, prices).await?;
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("report").join(id.to_string()));
    let written = understudy_report::report::write(&summary, &cells, &dir)?;
    output::note(&format!(
        "report: {} (also {}, {}, {})",
        written.html.display(),
        written.markdown.display(),
        written.json.display(),
        written.csv.display()
    ));
    Ok(written.html)
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
