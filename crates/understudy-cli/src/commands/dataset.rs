//! `understudy dataset from-log | import`: traffic read into items, near-duplicates removed, a
//! sample drawn, and the task written; every item left out is counted with its reason.

use std::path::Path;

use anyhow::{bail, Result};
use understudy_dataset::split::Shares;
use understudy_dataset::{select, write, Skipped, TrafficItem};
use understudy_store::RequestFilter;

use crate::cli::dataset::{DatasetCommand, FromLogArgs, ImportArgs, MadeArgs};
use crate::{embedder, output, setup};

pub async fn run(config_path: Option<&Path>, cmd: DatasetCommand) -> Result<()> {
    match cmd {
        DatasetCommand::FromLog(args) => from_log(config_path, args).await,
        DatasetCommand::Import(args) => import(args).await,
    }
}

/// Rows the filter may read at most (the newest); a larger log is filtered by time first.
const MOST_ROWS: usize = 1_000_000;

async fn from_log(config_path: Option<&Path>, args: FromLogArgs) -> Result<()> {
    // Checked before the store is read, so a typo costs nothing.
    Shares::parse(&args.made.split).map_err(|e| anyhow::anyhow!("--split {e}"))?;
    let config = setup::load_config(config_path)?;
    let section = setup::serve_section(&config)?;
    let location =
        setup::store_location(args.store.db.as_deref(), &config, section.log_db.as_deref());
    let store =
        setup::open_for_reading(&location, "capture traffic with `understudy serve` first").await?;
    let since = understudy_core::since::since_bound(&args.since)
        .map_err(|e| anyhow::anyhow!("--since {e}"))?;
    let filter = RequestFilter {
        since: since.clone(),
        until: args.until.clone(),
        profile: args.profile.clone(),
        model: args.model.clone(),
        status: args.status,
        status_class: args.status.is_none().then_some(2),
        captured: true,
    };
    let rows = store.log.requests_where(&filter, MOST_ROWS).await?;
    if rows.is_empty() {
        let profiles = store.log.request_profiles(&since).await?;
        bail!(
            "no captured requests match (since {since}{}{}{}{}); profiles with requests in that time: {}. \
             Is `capture` set on the profile?",
            args.until.as_deref().map(|u| format!(", until {u}")).unwrap_or_default(),
            args.profile.as_deref().map(|p| format!(", profile {p}")).unwrap_or_default(),
            args.model.as_deref().map(|m| format!(", model {m}")).unwrap_or_default(),
            args.status.map(|s| format!(", status {s}")).unwrap_or_else(|| ", status 2xx".into()),
            if profiles.is_empty() { "none".into() } else { profiles.join(", ") },
        );
    }
    output::note(&format!(
        "{} captured in {}",
        output::plural(rows.len(), "request", "requests"),
        store.location()
    ));
    let (items, skipped) = understudy_dataset::from_log::items(&rows);
    let description =
        format!(
        "Traffic captured by the gateway{}{} since {since}: the reference's answers are the gold.",
        args.profile.as_deref().map(|p| format!(" for profile {p}")).unwrap_or_default(),
        args.model.as_deref().map(|m| format!(" answered by {m}")).unwrap_or_default(),
    );
    made(items, skipped, &args.made, &description).await
}

async fn import(args: ImportArgs) -> Result<()> {
    Shares::parse(&args.made.split).map_err(|e| anyhow::anyhow!("--split {e}"))?;
    let items = understudy_dataset::import::items(&args.file)?;
    let description = format!(
        "Conversations imported from {}: each line's last assistant turn is the gold.",
        args.file.display()
    );
    made(items, Skipped::new(), &args.made, &description).await
}

/// The common tail: counts shown, near-duplicates removed, the sample drawn, the task written.
async fn made(
    items: Vec<TrafficItem>,
    skipped: Skipped,
    args: &MadeArgs,
    description: &str,
) -> Result<()> {
    let shares = Shares::parse(&args.split).map_err(|e| anyhow::anyhow!("--split {e}"))?;
    if !(0.0..=1.0).contains(&args.dedup) {
        bail!(
            "--dedup {} must be a cosine similarity between 0 and 1",
            args.dedup
        );
    }
    for (why, n) in &skipped {
        output::note(&format!("  left out {n}: {why}"));
    }
    output::note(&format!(
        "{} read",
        output::plural(items.len(), "item", "items")
    ));
    let items = if args.dedup < 1.0 && items.len() > 1 {
        let embedder = embedder::embedder(&args.embedder).await?;
        let (kept, dropped) = tokio::task::spawn_blocking({
            let threshold = args.dedup;
            move || select::without_near_duplicates(items, embedder.as_ref(), threshold)
        })
        .await??;
        output::note(&format!(
            "  left out {dropped} near-duplicates (cosine ≥ {})",
            args.dedup
        ));
        kept
    } else {
        items
    };
    let items = match args.sample {
        Some(n) => select::sample(items, n),
        None => items,
    };
    let written = write::write(&args.out, &args.name, description, &items, shares)?;
    output::note(&format!(
        "wrote {} ({} of {} conversations: {} pool, {} validation, {} test) and {}",
        written.task.display(),
        output::plural(items.len(), "item", "items"),
        written.conversations,
        written.per_split["pool"],
        written.per_split["validation"],
        written.per_split["test"],
        written.data.display(),
    ));
    output::note(&format!(
        "run it: understudy eval --tasks {} --models MODEL --reference REFERENCE",
        written.task.display()
    ));
    Ok(())
}
