//! `understudy logs`: the gateway's request log from the SQLite store.

use std::path::Path;

use anyhow::Result;

use crate::cli::LogsArgs;
use crate::output;
use crate::setup;

/// `--since` as the ISO-8601 UTC lower bound.
fn since_bound(since: &str) -> Result<String> {
    understudy_core::since::since_bound(since).map_err(|e| anyhow::anyhow!("--since {e}"))
}

pub async fn run(config_path: Option<&Path>, args: LogsArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let section = setup::serve_section(&config)?;
    let location =
        setup::store_location(args.store.db.as_deref(), &config, section.log_db.as_deref());
    let hint = "start `understudy serve` first";
    if let Some(age) = &args.drop_before {
        let store = setup::open_existing(&location, hint).await?;
        let bound = since_bound(age)
            .map_err(|e| anyhow::anyhow!(e.to_string().replace("--since", "--drop-before")))?;
        let day = &bound[..10];
        let removed = store.log.drop_requests_before(day).await?;
        output::note(&format!(
            "removed {removed} requests logged before {day} from {}",
            store.location()
        ));
        return Ok(());
    }
    let store = setup::open_for_reading(&location, hint).await?;
    let rows = store
        .log
        .requests(&since_bound(&args.since)?, args.limit)
        .await?;
    if args.json {
        for row in rows {
            output::data_line(&serde_json::to_string(&row)?);
        }
        return Ok(());
    }
    output::data_line(&format!(
        "{:<24} {:<22} {:<22} {:>6} {:>9} {:>9} {:>11}  {}",
        "TIME", "MODEL", "BACKEND MODEL", "STATUS", "TOTAL ms", "TTFT ms", "TOKENS", "ERROR"
    ));
    for r in rows {
        output::data_line(&format!(
            "{:<24} {:<22} {:<22} {:>6} {:>9.0} {:>9} {:>11}  {}",
            r.at.unwrap_or_default(),
            r.model,
            r.backend_model.unwrap_or_default(),
            r.status,
            r.total_ms,
            r.ttft_ms
                .map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "-".into()),
            match (r.prompt_tokens, r.completion_tokens) {
                (Some(p), Some(c)) => format!("{p}+{c}"),
                _ => "-".into(),
            },
            r.error_type.unwrap_or_default()
        ));
    }
    Ok(())
}
