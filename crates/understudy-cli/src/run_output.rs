//! Reading stored runs for the terminal, shared by the commands that show them: the store opened
//! read-only, the run a command means, its priced summary, and the report and JUnit files written.

use std::path::Path;

use anyhow::{bail, Context, Result};
use understudy_report::{junit, summary};
use understudy_store::Store;

use crate::cli::StoreArgs;
use crate::output;
use crate::setup;
use crate::setup::{db_path, file_section};

/// The store `--db` or the config names, opened for reading (it must exist already).
pub async fn open(config_path: Option<&Path>, args: &StoreArgs) -> Result<Store> {
    let config = setup::load_config(config_path)?;
    let section = file_section(&config)?;
    let location = db_path(args.db.as_deref(), &config, &section);
    setup::open_for_reading(&location, "run `understudy eval` first").await
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

/// Writes `suite` as JUnit XML to `path` and says so (eval's and compare's `--junit`).
pub fn write_junit(path: &Path, suite: &junit::Suite) -> Result<()> {
    std::fs::write(path, suite.to_xml())
        .with_context(|| format!("cannot write {}", path.display()))?;
    output::note(&format!(
        "JUnit: {} ({} cases, {} failing)",
        path.display(),
        suite.cases.len(),
        suite.failures()
    ));
    Ok(())
}
