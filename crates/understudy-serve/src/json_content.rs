//! API POSTs must say their body is JSON (`Content-Type: application/json`, or another
//! `application/…+json` type). A web page can send `text/plain` to any address without the
//! browser asking first, so accepting it would let any page post blind to a local gateway;
//! such a request gets 415 naming the header, as a JSON API behind nginx or Envoy would.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether a Content-Type value declares JSON.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuses a POST whose Content-Type is not JSON.
pub async fn require_json(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if declared.as_deref().is_some_and(is_json) {
        return next.run(request).await;
    }
    let mut error = ApiError::invalid(
        format!(
            "the Content-Type header must be application/json (got {})",
            declared
                .map(|d| format!("{d:?}"))
                .unwrap_or_else(|| "none".into())
        ),
        Some("Content-Type".into()),
    );
    error.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    error.code = Some("unsupported_media_type");
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_types_pass_and_others_do_not() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for no in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }
}
