//! `understudy logs`: the gateway's request log from the SQLite store.

use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::LogsArgs;
use crate::output;
use crate::setup;

/// Turns `30m`, `2h`, `7d` or an ISO-8601 time into the ISO-8601 UTC lower bound.
fn since_bound(since: &str) -> Result<String> {
    let since = since.trim();
    let unit_secs = |u: char| match u {
        's' => Some(1u64),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        _ => None,
    };
    if let Some(unit) = since.chars().last().and_then(unit_secs) {
        if let Ok(n) = since[..since.len() - 1].parse::<u64>() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            return Ok(iso8601(now.saturating_sub(n * unit)));
        }
    }
    if since.len() >= 10 && since.as_bytes()[4] == b'-' {
        return Ok(since.to_string());
    }
    bail!("--since {since:?}: use a duration like 30m, 2h, 7d or a time like 2026-11-29T10:00:00Z")
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub async fn run(config_path: Option<&Path>, args: LogsArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let section = match &config.serve {
        Some(t) => understudy_serve::config::ServeSection::parse(
            t.clone(),
            config.source.as_deref().unwrap_or(Path::new("<config>")),
        )?,
        None => Default::default(),
    };
    let location =
        setup::store_location(args.store.db.as_deref(), &config, section.log_db.as_deref());
    let store = setup::open_existing(&location, "start `understudy serve` first").await?;
    if let Some(age) = &args.drop_before {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_are_right() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_921_994), "2026-11-29T03:13:14Z");
        assert!(since_bound("bogus").is_err());
        assert_eq!(
            since_bound("2026-01-01T00:00:00Z").unwrap(),
            "2026-01-01T00:00:00Z"
        );
    }
}
