//! The gateway's own time, as operators see it: response headers and `/metrics` histograms that
//! split each request's time into the gateway's own, the upstream's, and the wait for the model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::fake::FakeBackend;
use understudy_serve::{router, AppState};

fn state() -> Arc<AppState> {
    Arc::new(AppState::new(
        Arc::new(FakeBackend::new()),
        BTreeMap::new(),
        Vec::new(),
        64 * 1024,
    ))
}

/// Sends `body` to the chat endpoint; returns status, headers, body and the time the client
/// waited (ms).
async fn send(state: &Arc<AppState>, body: String) -> (StatusCode, HeaderMap, String, f64) {
    let started = Instant::now();
    let response = router(state.clone())
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let waited = started.elapsed().as_secs_f64() * 1000.0;
    (
        status,
        headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
        waited,
    )
}

/// Sends a chat request for `model`.
async fn chat(
    state: &Arc<AppState>,
    model: &str,
    stream: bool,
) -> (StatusCode, HeaderMap, String, f64) {
    send(
        state,
        format!(
            r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"two words"}}]}}"#
        ),
    )
    .await
}

fn ms(headers: &HeaderMap, name: &str) -> f64 {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The sum of a metric's samples whose name is exactly `name` (over all labels).
async fn metric(state: &Arc<AppState>, name: &str) -> f64 {
    let response = router(state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_unary_answer_says_how_its_time_was_spent() {
    let state = state();
    let (status, headers, body, waited) = chat(&state, "slow-200ms", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = ms(&headers, "x-understudy-gateway-ms");
    let upstream = ms(&headers, "x-understudy-upstream-ms");
    let queue = ms(&headers, "x-understudy-queue-ms");
    // The model's 200 ms are the upstream's, not the gateway's.
    assert!(upstream >= 200.0, "upstream {upstream} ms");
    assert!(
        own < 100.0,
        "gateway {own} ms while the upstream took {upstream}"
    );
    assert!(
        own + upstream <= waited,
        "{own} + {upstream} > {waited} the client waited"
    );
    // The fake reports its delay as time waiting for the model.
    assert!(queue >= 200.0, "queue {queue} ms");

    // The same figures, in the histograms.
    assert_eq!(
        metric(&state, "understudy_gateway_seconds_count").await,
        1.0
    );
    let own_s = metric(&state, "understudy_gateway_seconds_sum").await;
    // The header is rounded to the microsecond.
    assert!(
        (own_s * 1000.0 - own).abs() <= 0.001,
        "{own_s} s vs header {own} ms"
    );
    assert!(metric(&state, "understudy_upstream_seconds_sum").await >= 0.2);
    assert_eq!(metric(&state, "understudy_queue_seconds_count").await, 1.0);
}

#[tokio::test]
async fn a_stream_counts_its_own_work_and_not_the_wait_for_the_model() {
    let state = state();
    let (status, headers, body, _) = chat(&state, "slow-200ms", true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("[DONE]"), "{body}");
    // The head of a stream carries the time up to it.
    assert!(ms(&headers, "x-understudy-upstream-ms") >= 200.0);
    assert!(ms(&headers, "x-understudy-gateway-ms") < 100.0);
    assert_eq!(
        metric(&state, "understudy_gateway_seconds_count").await,
        1.0
    );
    assert!(metric(&state, "understudy_gateway_seconds_sum").await < 0.1);
    assert!(metric(&state, "understudy_upstream_seconds_sum").await >= 0.2);
}

#[tokio::test]
async fn a_refused_request_is_all_gateway_time() {
    let state = state();
    let (status, _, _, _) = chat(&state, "error-400", false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _, _) = send(&state, r#"{"model": 7}"#.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Both are observed; the malformed body never reached the upstream.
    assert_eq!(
        metric(&state, "understudy_gateway_seconds_count").await,
        2.0
    );
    assert_eq!(
        metric(&state, "understudy_upstream_seconds_count").await,
        2.0
    );
}
