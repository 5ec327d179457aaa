//! The OpenAI backend's upstream time runs from the request's bytes written to the answer's bytes
//! reaching the socket, not from and to whenever a busy worker got round to writing and reading
//! them: with the only worker thread blocked before the request went out, or after it went out
//! and before the answer came, the wait counts the server's 20 ms and the blocked time is left
//! to the caller (the gateway's own time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::upstream::UpstreamClock;
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

const SERVER_TAKES: Duration = Duration::from_millis(20);
const WORKER_BLOCKED: Duration = Duration::from_millis(150);
/// How early of the server's time the upstream clock may end up (seen: 19.87 ms of 20).
const STAMP_SLACK: Duration = Duration::from_millis(2);

fn req() -> ValidChatRequest {
    ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap()
}

/// A server on a thread and runtime of its own that answers after [`SERVER_TAKES`], unary or
/// streamed as the request asks.
fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
                .route(
                    "/v1/chat/completions",
                    post(|body: String| async move {
                        tokio::time::sleep(SERVER_TAKES).await;
                        if body.contains(r#""stream":true"#) {
                            let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
                            ([("content-type", "text/event-stream")], sse.to_string())
                        } else {
                            let json = r#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#;
                            ([("content-type", "application/json")], json.to_string())
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}/v1", rx.recv().unwrap())
}

/// Runs `call` on a one-thread runtime whose thread another task blocks for [`WORKER_BLOCKED`]
/// from `after` in (0: at once, before the connection's task writes the request; 5 ms: after
/// the request went out, before the answer came); the upstream time it counted, and the whole
/// call's time.
fn timed_with_blocked_worker<F>(
    after: Duration,
    call: impl FnOnce(OpenAiBackend) -> F,
) -> (Duration, Duration)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let base_url = start_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let backend = OpenAiBackend::new("t", &base_url, None, 30).unwrap();
        // The model listing, and a pooled connection, before the timed call.
        backend.check_model("m").await.unwrap();
        let clock = Arc::new(UpstreamClock::default());
        let started = Instant::now();
        // Queued first, the call hands its request to the connection's task before the blocker
        // runs; the connection's task is queued behind the blocker.
        let timed = tokio::spawn(clock.clone().scope(call(backend)));
        let blocker = tokio::spawn(async move {
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            std::thread::sleep(WORKER_BLOCKED);
        });
        timed.await.unwrap();
        let whole = started.elapsed();
        blocker.await.unwrap();
        (clock.total(), whole)
    })
}

fn assert_counts_the_server_not_the_blocked_worker(
    what: &str,
    upstream: Duration,
    whole: Duration,
) {
    assert!(
        whole >= WORKER_BLOCKED,
        "{what}: the worker was not blocked ({whole:?})"
    );
    assert!(
        // The write stamp can come a fraction of a millisecond after the server already has
        // the bytes (on loopback the send stamp is taken after delivery), hence the slack.
        upstream + STAMP_SLACK >= SERVER_TAKES && upstream < Duration::from_millis(100),
        "{what}: {upstream:?} of {whole:?} counted as upstream"
    );
}

async fn unary(backend: OpenAiBackend) {
    let answer = backend.chat_unary(req()).await.unwrap();
    assert_eq!(answer.answer, "ok");
}

async fn streamed(backend: OpenAiBackend) {
    let mut events = backend.chat_stream(req()).await.unwrap();
    let mut n = 0;
    while let Some(event) = events.next().await {
        event.unwrap();
        n += 1;
    }
    assert!(n >= 2, "{n} events");
}

const AT_ONCE: Duration = Duration::ZERO;
const AFTER_SENDING: Duration = Duration::from_millis(5);

#[test]
fn a_unary_answer_counts_until_its_arrival_at_the_socket() {
    let (upstream, whole) = timed_with_blocked_worker(AFTER_SENDING, unary);
    assert_counts_the_server_not_the_blocked_worker("unary", upstream, whole);
}

#[test]
fn a_streamed_answer_counts_until_its_arrival_at_the_socket() {
    let (upstream, whole) = timed_with_blocked_worker(AFTER_SENDING, streamed);
    assert_counts_the_server_not_the_blocked_worker("stream", upstream, whole);
}

#[test]
fn a_request_counts_from_its_bytes_written_not_from_its_hand_over() {
    let (upstream, whole) = timed_with_blocked_worker(AT_ONCE, unary);
    assert_counts_the_server_not_the_blocked_worker("unary", upstream, whole);
    let (upstream, whole) = timed_with_blocked_worker(AT_ONCE, streamed);
    assert_counts_the_server_not_the_blocked_worker("stream", upstream, whole);
}
