//! Reading a request body within the configured limit. A declared `Content-Length` over the
//! limit is refused with 413 before any of the body is read (nginx and Envoy do the same); a
//! body that grows past the limit is refused with 413 once it does; a body that pauses longer
//! than the idle limit between chunks gets 408 (nginx's `client_body_timeout`); a client that
//! hangs up mid-body is recorded as 499 `client_closed_request` (nginx's code), not as a body
//! too large.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use futures::StreamExt;

use crate::error::ApiError;

/// 413 when the request declares a body longer than `limit`.
pub fn declared_too_large(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(ApiError::too_large(limit)),
        _ => Ok(()),
    }
}

/// The error recorded for a client that left before its body arrived.
pub fn client_closed() -> ApiError {
    let mut error = ApiError::invalid(
        "the client closed the connection before the request body arrived",
        None,
    );
    error.status = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST);
    error.kind = "client_closed_request";
    error.code = Some("client_closed_request");
    error
}

/// The error for a body that paused longer than `idle` between chunks.
pub fn body_timeout(idle: std::time::Duration) -> ApiError {
    let mut error = ApiError::invalid(
        format!(
            "the request body paused for more than {} s; send it without stalling",
            idle.as_secs()
        ),
        None,
    );
    error.status = StatusCode::REQUEST_TIMEOUT;
    error.code = Some("request_timeout");
    error
}

/// The whole body, or 413 past `limit`, 408 after a pause longer than `idle`, or 499 when the
/// client hung up.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    idle: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    declared_too_large(headers, limit)?;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    loop {
        let next = tokio::time::timeout(idle, stream.next())
            .await
            .map_err(|_| body_timeout(idle))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| client_closed())?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_declared_or_actual_excess_is_413_and_a_short_body_reads_whole() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_LENGTH,
            "5000".parse().unwrap_or_else(|_| unreachable!()),
        );
        let idle = std::time::Duration::from_secs(5);
        let err = read(&headers, Body::from("x"), 100, idle)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let err = read(&HeaderMap::new(), Body::from(vec![b'x'; 101]), 100, idle)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let ok = read(&HeaderMap::new(), Body::from("hello"), 100, idle).await;
        assert_eq!(ok.ok(), Some(b"hello".to_vec()));
        assert_eq!(client_closed().status.as_u16(), 499);
    }
}
