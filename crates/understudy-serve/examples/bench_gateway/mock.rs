//! The mock upstream: one model `m` with a fixed 18-token answer (unary or SSE), and its own time
//! per chat request, from the kernel's stamp of the request's bytes to its answer written (the
//! gateway's connection clock), summed at `/metrics` as `mock_seconds`. The bench reads it around
//! each point so that the upstream's own slowdown under load is told apart from the gateway's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::routing::{get, post};
use understudy_serve::socket_arrival::{ConnInfo, StampedListener};

const UNARY: &str = r#"{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 4."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}"#;
const SSE: &str = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"The answer is 4.\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n";

static OWN_NS: AtomicU64 = AtomicU64::new(0);
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// Serves the mock on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    understudy_serve::accept_loop::serve(
        StampedListener::new(listener),
        app(),
        Default::default(),
        std::future::pending(),
    )
    .await;
}

/// The mock on a loopback port of this process; its chat URL.
pub async fn spawn() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener));
    format!("http://{addr}/v1/chat/completions")
}

fn app() -> axum::Router {
    let chat = post(|body: String| async move {
        if body.contains("\"stream\":true") {
            ([("content-type", "text/event-stream")], SSE)
        } else {
            ([("content-type", "application/json")], UNARY)
        }
    })
    .layer(axum::middleware::from_fn(timed));
    axum::Router::new()
        .route(
            "/v1/models",
            get(|| async { r#"{"data":[{"id":"m"},{"id":"m2"}]}"# }),
        )
        .route("/v1/chat/completions", chat)
        .route(
            "/metrics",
            get(|| async {
                format!(
                    "mock_seconds_sum {}\nmock_seconds_count {}\n",
                    OWN_NS.load(Ordering::Relaxed) as f64 / 1e9,
                    ANSWERED.load(Ordering::Relaxed)
                )
            }),
        )
}

/// Adds each chat request's time, arrival at the socket to answer written, to `mock_seconds`.
async fn timed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let conn = request
        .extensions()
        .get::<axum::extract::ConnectInfo<ConnInfo>>()
        .map(|info| info.0 .0.clone());
    let arrived = conn
        .as_ref()
        .and_then(|c| c.take_arrival())
        .unwrap_or_else(Instant::now);
    let response = next.run(request).await;
    let done = move || {
        OWN_NS.fetch_add(arrived.elapsed().as_nanos() as u64, Ordering::Relaxed);
        ANSWERED.fetch_add(1, Ordering::Relaxed);
    };
    match conn {
        Some(c) => c.when_written(Box::new(done)),
        None => done(),
    }
    response
}
