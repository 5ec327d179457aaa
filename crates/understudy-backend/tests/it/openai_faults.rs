//! The OpenAI-compatible client against small in-process servers that misbehave on purpose:
//! HTTP errors, unreachable hosts, malformed and truncated streams, reasoning in either form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

fn req() -> ValidChatRequest {
    ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap()
}

async fn serve(app: Router) -> String {
    let app = app.route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }));
    serve_as_is(app).await
}

async fn serve_as_is(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

fn sse(lines: &[&str]) -> impl IntoResponse {
    let body: String = lines.iter().map(|l| format!("data: {l}\n\n")).collect();
    ([("content-type", "text/event-stream")], body)
}

#[tokio::test]
async fn server_error_carries_status_and_message() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":{"message":"GPU on fire","type":"server_error"}}"#,
            )
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let err = backend.chat(req()).await.unwrap_err();
    match &err {
        BackendError::Http {
            status, message, ..
        } => {
            assert_eq!(*status, 500);
            assert_eq!(message, "GPU on fire");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("HTTP 500"));
    let err = backend.chat_unary(req()).await.unwrap_err();
    assert!(err.to_string().contains("GPU on fire"), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_named() {
    // Port 1 on loopback: nothing listens there.
    let backend = OpenAiBackend::new("t", "http://127.0.0.1:1/v1", None, 5).unwrap();
    let err = backend.chat(req()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let err = backend.list_models().await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn reasoning_content_and_think_tags_are_kept_apart() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(&[
                r#"{"choices":[{"delta":{"reasoning_content":"2+2 is 4"}}]}"#,
                r#"{"choices":[{"delta":{"content":"<think>also </th"}}]}"#,
                r#"{"choices":[{"delta":{"content":"ink>The answer"}}]}"#,
                r#"{"choices":[{"delta":{"content":" is 4."},"finish_reason":"stop"}]}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9}}"#,
                "[DONE]",
            ])
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let r = backend.chat(req()).await.unwrap();
    assert_eq!(r.answer, "The answer is 4.");
    assert_eq!(r.reasoning.as_deref(), Some("2+2 is 4also"));
    assert_eq!(r.usage.prompt_tokens, 7);
    assert_eq!(r.usage.completion_tokens, 9);
    assert!(!r.usage.estimated);
}

#[tokio::test]
async fn malformed_chunk_is_a_protocol_error() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(&[
                r#"{"choices":[{"delta":{"content":"ok"}}]}"#,
                "{not json",
                "[DONE]",
            ])
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let mut stream = backend.chat_stream(req()).await.unwrap();
    let mut saw_error = None;
    while let Some(event) = stream.next().await {
        if let Err(e) = event {
            saw_error = Some(e);
            break;
        }
    }
    let err = saw_error.expect("a malformed chunk must surface as an error");
    assert!(err.to_string().contains("malformed stream chunk"), "{err}");
}

#[tokio::test]
async fn stream_cut_short_is_an_error_not_a_short_answer() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async { sse(&[r#"{"choices":[{"delta":{"content":"The ans"}}]}"#]) }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let err = backend.chat(req()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ended before the answer was complete"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_usage_is_marked_estimated() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(&[
                r#"{"choices":[{"delta":{"content":"a"}}]}"#,
                r#"{"choices":[{"delta":{"content":"b"},"finish_reason":"length"}]}"#,
                "[DONE]",
            ])
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let r = backend.chat(req()).await.unwrap();
    assert!(r.usage.estimated);
    assert_eq!(r.usage.completion_tokens, 2);
    assert_eq!(r.finish_reason, understudy_core::FinishReason::Length);
}

#[tokio::test]
async fn slow_server_times_out_with_a_clear_error() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 1).unwrap();
    let err = backend.chat(req()).await.unwrap_err();
    assert!(matches!(err, BackendError::Timeout { .. }), "{err:?}");
    assert_eq!(backend.list_models().await.unwrap()[0].id, "m");
}

#[tokio::test]
async fn a_model_the_server_does_not_list_is_refused_before_generating() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(&[
                r#"{"choices":[{"delta":{"content":"wrong model"},"finish_reason":"stop"}]}"#,
                "[DONE]",
            ])
        }),
    );
    let backend = OpenAiBackend::new("t", &serve(app).await, None, 5).unwrap();
    let other = ChatRequest::new("gpt-4o", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap();
    let err = backend.chat(other).await.unwrap_err();
    assert!(matches!(err, BackendError::UnknownModel { .. }), "{err:?}");
    assert!(err.to_string().contains("serves m"), "{err}");
    assert_eq!(backend.chat(req()).await.unwrap().answer, "wrong model");
}

#[tokio::test]
async fn a_server_without_model_listing_is_trusted() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(&[
                r#"{"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}"#,
                "[DONE]",
            ])
        }),
    );
    let backend = OpenAiBackend::new("t", &serve_as_is(app).await, None, 5).unwrap();
    assert_eq!(backend.chat(req()).await.unwrap().answer, "ok");
}
