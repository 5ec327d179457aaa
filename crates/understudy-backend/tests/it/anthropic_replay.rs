//! The Anthropic backend against in-process servers: a replayed Messages API stream in the shape
//! Anthropic documents (ping, thinking with its signature, text, a tool call in
//! `input_json_delta` pieces, usage with cache reads), the request body and headers it sends,
//! and errors — an HTTP 529 and an `error` event mid-stream — with the server's status and
//! message. (Live end to end it runs against understudy's own `/v1/messages` in the CLI tests.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use understudy_backend::anthropic::AnthropicBackend;
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatRequest, FinishReason, ToolCall, ValidChatRequest};

const RECORDED: &str = include_str!("../data/anthropic_tool_stream.sse");

fn req(messages: Vec<ChatMessage>) -> ValidChatRequest {
    ChatRequest::new("claude-sonnet-4-5", messages)
        .validate()
        .unwrap()
}

async fn serve(app: Router) -> String {
    let app = app.route(
        "/v1/models",
        get(|| async { r#"{"data":[{"id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","type":"model"}]}"# }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

fn sse(body: &'static str) -> impl IntoResponse {
    ([("content-type", "text/event-stream")], body)
}

#[tokio::test]
async fn a_recorded_stream_reads_as_reasoning_text_a_call_and_usage() {
    let seen: Arc<Mutex<Option<(HeaderMap, serde_json::Value)>>> = Arc::default();
    let keep = seen.clone();
    let app = Router::new().route(
        "/v1/messages",
        post(move |headers: HeaderMap, body: String| {
            let keep = keep.clone();
            async move {
                *keep.lock().unwrap() = Some((headers, serde_json::from_str(&body).unwrap()));
                sse(RECORDED)
            }
        }),
    );
    let url = serve(app).await;
    let backend = AnthropicBackend::new("claude", &url, Some("sk-ant-test".into()), 5).unwrap();
    let call = ToolCall {
        id: "toolu_0".into(),
        name: "get_weather".into(),
        arguments: r#"{"location":"Paris"}"#.into(),
    };
    let answer = backend
        .chat(req(vec![
            ChatMessage::system("Use the tools."),
            ChatMessage::user("Weather in Paris?"),
            ChatMessage::assistant_calls("", vec![call]),
            ChatMessage::tool_result("toolu_0", "18C"),
            ChatMessage::user("And in San Francisco?"),
        ]))
        .await
        .unwrap();
    assert_eq!(answer.answer, "Let me check the weather.");
    assert_eq!(
        answer.reasoning.as_deref(),
        Some("The user wants the weather; call get_weather.")
    );
    assert_eq!(answer.finish_reason, FinishReason::ToolCalls);
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(answer.tool_calls[0].name, "get_weather");
    let args: serde_json::Value = serde_json::from_str(&answer.tool_calls[0].arguments).unwrap();
    assert_eq!(args["location"], "San Francisco, CA");
    assert_eq!(answer.usage.prompt_tokens, 572, "input + cache reads");
    assert_eq!(answer.usage.cached_tokens, 100);
    assert_eq!(answer.usage.completion_tokens, 89);
    assert_eq!(answer.model, "claude-sonnet-4-5");

    let (headers, body) = seen.lock().unwrap().take().unwrap();
    assert_eq!(headers["x-api-key"], "sk-ant-test");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(headers.get("authorization").is_none());
    assert_eq!(body["system"], "Use the tools.");
    assert_eq!(body["stream"], true);
    let turns = body["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{body}");
    assert_eq!(turns[1]["content"][0]["type"], "tool_use");
    assert_eq!(turns[2]["content"][0]["type"], "tool_result");
    assert_eq!(turns[2]["content"][1]["text"], "And in San Francisco?");
}

#[tokio::test]
async fn overloaded_and_mid_stream_errors_carry_status_and_message() {
    let app = Router::new().route(
        "/v1/messages",
        post(|| async {
            (
                StatusCode::from_u16(529).unwrap(),
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
        }),
    );
    let backend = AnthropicBackend::new("claude", &serve(app).await, None, 5).unwrap();
    match backend.chat(req(vec![ChatMessage::user("hi")])).await {
        Err(BackendError::Http {
            status, message, ..
        }) => {
            assert_eq!(status, 529);
            assert_eq!(message, "Overloaded");
        }
        other => panic!("{other:?}"),
    }

    let app = Router::new().route(
        "/v1/messages",
        post(|| async {
            sse(concat!(
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            ))
        }),
    );
    let backend = AnthropicBackend::new("claude", &serve(app).await, None, 5).unwrap();
    let err = backend
        .chat(req(vec![ChatMessage::user("hi")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::Http { status: 529, message, .. } if message == "Overloaded"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stream_cut_before_its_end_is_an_error_and_unknown_models_are_named() {
    let app = Router::new().route(
        "/v1/messages",
        post(|| async {
            sse("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n")
        }),
    );
    let backend = AnthropicBackend::new("claude", &serve(app).await, None, 5).unwrap();
    let err = backend
        .chat(req(vec![ChatMessage::user("hi")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ended before"), "{err}");
    let unknown = ChatRequest::new("claude-nope", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap();
    let err = backend.chat(unknown).await.unwrap_err();
    assert!(matches!(err, BackendError::UnknownModel { .. }), "{err:?}");
    assert!(err.to_string().contains("claude-sonnet-4-5"), "{err}");
}
