//! Lower time bounds as users write them — `30m`, `2h`, `7d` or an ISO-8601 time — turned into
//! the ISO-8601 UTC text the request log is filtered by (`understudy logs`, the view's filters).

/// Turns `30m`, `2h`, `7d` or an ISO-8601 time into the ISO-8601 UTC lower bound; the error
/// says what was expected.
pub fn since_bound(since: &str) -> Result<String, String> {
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
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return Ok(iso8601(now.saturating_sub(n.saturating_mul(unit))));
        }
    }
    if since.len() >= 10 && since.as_bytes()[4] == b'-' {
        return Ok(since.to_string());
    }
    Err(format!(
        "{since:?}: use a duration like 30m, 2h, 7d or a time like 2026-11-29T10:00:00Z"
    ))
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub fn iso8601(secs: u64) -> String {
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
