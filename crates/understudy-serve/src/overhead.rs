//! The gateway's own time per request, so that operators can check the overhead on their own
//! traffic: the handler gives each request an upstream clock (`understudy_backend::upstream`),
//! on which the backends mark every wait for the model; the request's own time is its total
//! minus that. Its total runs from the kernel's stamp of the request's first bytes on the
//! connection to the completed write of a unary answer (socket_arrival.rs). A stream adds the
//! time it spends turning each upstream event into SSE events and leaves out the time it waits
//! for the upstream or for the client to read. The figures go to the `/metrics` histograms and
//! to these response headers.

use std::time::Duration;

/// Response header: the gateway's own time for this request, in milliseconds, up to the
/// response head (the `/metrics` histogram adds the write of a unary answer and a stream's
/// per-event work).
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

/// When a request reached the gateway: the kernel's stamp of its first bytes on the connection
/// (see socket_arrival.rs), else when the router got it. The start of its own time. `conn` is
/// the connection's clock, absent when the router is called without a server (tests).
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: std::time::Instant,
    pub conn: Option<std::sync::Arc<crate::socket_arrival::ConnClock>>,
}

/// The outermost layer: stamps each request's [`Arrival`].
pub async fn stamp_arrival(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let now = std::time::Instant::now();
    let conn = request
        .extensions()
        .get::<axum::extract::ConnectInfo<crate::socket_arrival::ConnInfo>>()
        .map(|info| info.0 .0.clone());
    let at = conn
        .as_ref()
        .and_then(|c| c.take_arrival())
        .filter(|at| *at <= now)
        .unwrap_or(now);
    request.extensions_mut().insert(Arrival { at, conn });
    next.run(request).await
}
