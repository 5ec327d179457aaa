//! How long a server asked us to wait before trying again: OpenAI's `retry-after-ms`, else the
//! standard `Retry-After` in seconds or as an HTTP date (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};

/// The wait a response's headers ask for; `None` when they say nothing usable.
pub fn from_headers(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = header_str(headers, RETRY_AFTER.as_str())?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                *name,
                HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        map
    }

    #[test]
    fn seconds_milliseconds_and_dates_are_read() {
        assert_eq!(
            from_headers(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            from_headers(&headers(&[("retry-after", "7"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250)),
            "the finer OpenAI header wins"
        );
        let soon = SystemTime::now() + Duration::from_secs(120);
        let wait = from_headers(&headers(&[("retry-after", &httpdate::fmt_http_date(soon))]))
            .unwrap_or_else(|| panic!("an HTTP date is a valid Retry-After"));
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        let past = SystemTime::now() - Duration::from_secs(120);
        assert_eq!(
            from_headers(&headers(&[("retry-after", &httpdate::fmt_http_date(past))])),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn nonsense_is_ignored() {
        assert_eq!(from_headers(&HeaderMap::new()), None);
        assert_eq!(from_headers(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(from_headers(&headers(&[("retry-after", "-3")])), None);
        assert_eq!(
            from_headers(&headers(&[("retry-after-ms", "NaN"), ("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
    }
}
