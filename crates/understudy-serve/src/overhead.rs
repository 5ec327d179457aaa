//! The gateway's own time per request, so that operators can check the overhead on their own
//! traffic: the handler gives each request an upstream clock (`understudy_backend::upstream`),
//! on which the backends mark every wait for the model; the request's own time is its total
//! minus that. A stream adds the time it spends turning each upstream event into SSE events and
//! leaves out the time it waits for the upstream or for the client to read. The figures go to
//! the `/metrics` histograms and to these response headers.

use std::time::Duration;

/// Response header: the gateway's own time for this request, in milliseconds (for a stream,
/// up to the response head; the whole stream's is in the `/metrics` histogram).
pub const GATEWAY_HEADER: &str = "x-understudy-gateway-ms";
/// Response header: time spent waiting on the upstream (the model), in milliseconds.
pub const UPSTREAM_HEADER: &str = "x-understudy-upstream-ms";
/// Response header: time the request waited behind others for the model, in milliseconds, as
/// the embedded engine reports it (HTTP upstreams' own queues are not visible: 0).
pub const QUEUE_HEADER: &str = "x-understudy-queue-ms";

/// Milliseconds as a header value (three decimals: microseconds).
pub fn header_ms(d: Duration) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(&format!("{:.3}", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("0"))
}

/// When a request reached the gateway's router, before routing, authentication and reading its
/// body: the start of its own time.
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub std::time::Instant);

/// The outermost layer: stamps each request's [`Arrival`].
pub async fn stamp_arrival(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    request
        .extensions_mut()
        .insert(Arrival(std::time::Instant::now()));
    next.run(request).await
}
