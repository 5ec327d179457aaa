//! Failure handling on the fake backend: retries, fallback, first-byte deadline and circuit
//! breaker, each finishing well within its deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::{Duration, Instant};

use understudy_backend::fake::{CountingBackend, FakeBackend};
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};
use understudy_serve::resilience::{Policy, Resilient};

type Counting = CountingBackend<FakeBackend>;

fn setup(policy: Policy) -> (Arc<Counting>, Resilient) {
    let inner = Arc::new(CountingBackend::new(FakeBackend::new()));
    (inner.clone(), Resilient::new(inner, policy))
}

fn req(model: &str) -> ValidChatRequest {
    ChatRequest::new(model, vec![ChatMessage::user("hello world")])
        .validate()
        .unwrap()
}

fn fast() -> Policy {
    Policy {
        backoff: Duration::from_millis(5),
        ..Policy::default()
    }
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let (inner, backend) = setup(fast());
    let r = backend.chat(req("flaky-2")).await.unwrap();
    assert_eq!(r.answer, "hello world");
    assert_eq!(inner.calls(), 3);
}

#[tokio::test]
async fn a_failing_model_falls_back_in_order() {
    let mut policy = fast();
    policy.fallback.insert(
        "error-500".into(),
        vec!["error-503".into(), "label:fallback".into()],
    );
    let (inner, backend) = setup(policy);
    let started = Instant::now();
    let r = backend.chat(req("error-500")).await.unwrap();
    assert_eq!(r.answer, "fallback");
    assert_eq!(inner.calls(), 3 + 3 + 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (inner, backend) = setup(fast());
    let err = backend.chat(req("error-400")).await.unwrap_err();
    assert!(
        matches!(err, BackendError::Http { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(inner.calls(), 1);
}

#[tokio::test]
async fn a_slow_model_falls_back_within_the_deadline() {
    let mut policy = fast();
    policy.first_byte_deadline = Some(Duration::from_millis(200));
    policy.fallback =
        BTreeMap::from([("slow-5000ms".to_string(), vec!["label:quick".to_string()])]);
    let (_, backend) = setup(policy);
    let started = Instant::now();
    let r = backend.chat(req("slow-5000ms")).await.unwrap();
    assert_eq!(r.answer, "quick");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures() {
    let mut policy = fast();
    policy.retries = 0;
    policy.breaker_failures = 3;
    policy.breaker_cooldown = Duration::from_secs(60);
    let (inner, backend) = setup(policy);
    for _ in 0..3 {
        assert!(backend.chat(req("error-502")).await.is_err());
    }
    assert_eq!(inner.calls(), 3);
    let err = backend.chat(req("error-502")).await.unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    match &err {
        BackendError::Http {
            status: 503,
            retry_after: Some(wait),
            ..
        } => assert!(
            *wait > Duration::from_secs(50) && *wait <= Duration::from_secs(60),
            "clients are told when the circuit closes: {wait:?}"
        ),
        other => panic!("{other:?}"),
    }
    // Clients see the gateway's 502 with a Retry-After they (and OpenAI's SDKs) can honour.
    let api = understudy_serve::error::ApiError::from(err);
    assert_eq!(api.status.as_u16(), 502);
    assert!(
        matches!(api.retry_after, Some(51..=60)),
        "{:?}",
        api.retry_after
    );
    assert_eq!(
        inner.calls(),
        3,
        "an open circuit does not call the backend"
    );
}

#[tokio::test]
async fn a_connection_lost_mid_stream_ends_with_an_error_event() {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    // Upstream: one content chunk, then the connection closes without finish or [DONE].
    let upstream = axum::Router::new()
        .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    [("content-type", "text/event-stream")],
                    "data: {\"choices\":[{\"delta\":{\"content\":\"partial\"}}]}\n\n",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await.unwrap() });
    let client =
        understudy_backend::openai::OpenAiBackend::new("up", &format!("http://{addr}/v1"), None, 5)
            .unwrap();
    let gateway = Arc::new(Resilient::new(Arc::new(client), fast()));
    let state = Arc::new(understudy_serve::AppState::new(
        gateway,
        BTreeMap::new(),
        Vec::new(),
        1 << 20,
    ));
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        ))
        .unwrap();
    let started = Instant::now();
    let response = understudy_serve::router(state)
        .oneshot(request)
        .await
        .unwrap();
    let bytes = tokio::time::timeout(
        Duration::from_secs(10),
        axum::body::to_bytes(response.into_body(), usize::MAX),
    )
    .await
    .expect("the stream must end, not hang")
    .unwrap();
    let body = String::from_utf8_lossy(&bytes);
    assert!(body.contains("partial"), "{body}");
    let last = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let error: serde_json::Value = serde_json::from_str(last).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended before the answer was complete"),
        "{body}"
    );
    assert!(!body.contains("[DONE]"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
