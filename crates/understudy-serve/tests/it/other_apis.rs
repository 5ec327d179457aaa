//! The Messages and Responses APIs in-process on the fake backend: their unary shapes, the order
//! of their streamed events, Anthropic's `x-api-key` and error shape, and a profile applied to a
//! request that came in through either (one path for all three APIs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::fake::FakeBackend;
use understudy_serve::{router, AppState};

fn state(keys: Vec<String>) -> Arc<AppState> {
    Arc::new(AppState::new(
        Arc::new(FakeBackend::new()),
        BTreeMap::new(),
        keys,
        64 * 1024,
    ))
}

async fn post(
    state: Arc<AppState>,
    path: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut req = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router(state)
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The `event:` names of an SSE body, in order.
fn event_names(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn messages_answer_in_anthropics_shape_unary_and_streamed() {
    let body = serde_json::json!({"model": "echo", "max_tokens": 20, "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello there"}]});
    let (status, text) = post(state(vec![]), "/v1/messages", body.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v = json(&text);
    assert_eq!(v["type"], "message");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"), "{v}");
    assert_eq!(v["content"][0]["type"], "text");
    assert!(
        v["content"][0]["text"].as_str().unwrap().contains("hello"),
        "{v}"
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0, "{v}");

    let mut streamed = body;
    streamed["stream"] = true.into();
    let (status, text) = post(state(vec![]), "/v1/messages", streamed, &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Deltas of one text block between its start and stop; nothing after message_stop.
    let mut names = event_names(&text);
    names.dedup();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{text}"
    );
    assert!(!text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn anthropic_clients_authenticate_with_x_api_key_and_read_its_error_shape() {
    let keyed = || state(vec!["sk-right".into()]);
    let body = serde_json::json!({"model": "echo", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _) = post(
        keyed(),
        "/v1/messages",
        body.clone(),
        &[("x-api-key", "sk-right")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = post(
        keyed(),
        "/v1/messages",
        body.clone(),
        &[("x-api-key", "sk-wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(&text)["error"]["type"],
        "authentication_error",
        "{text}"
    );
    assert_eq!(json(&text)["type"], "error", "{text}");
    // The OpenAI routes keep OpenAI's shape.
    let (_, text) = post(
        keyed(),
        "/v1/responses",
        serde_json::json!({"model": "echo", "input": "hi"}),
        &[],
    )
    .await;
    assert_eq!(json(&text)["error"]["code"], "invalid_api_key", "{text}");
    // A missing required field, in Anthropic's shape.
    let (status, text) = post(
        state(vec![]),
        "/v1/messages",
        serde_json::json!({"model": "echo", "messages": []}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&text)["error"]["type"],
        "invalid_request_error",
        "{text}"
    );
    assert!(
        json(&text)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{text}"
    );
}

#[tokio::test]
async fn responses_answer_as_response_objects_and_stream_numbered_events() {
    let body = serde_json::json!({"model": "echo", "input": "hello there", "instructions": "Be brief.", "metadata": {"k": "v"}});
    let (status, text) = post(state(vec![]), "/v1/responses", body.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v = json(&text);
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["instructions"], "Be brief.");
    assert_eq!(v["metadata"]["k"], "v");
    assert_eq!(v["output"][0]["type"], "message");
    assert!(
        v["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("hello"),
        "{v}"
    );

    let mut streamed = body;
    streamed["stream"] = true.into();
    let (_, text) = post(state(vec![]), "/v1/responses", streamed, &[]).await;
    let names = event_names(&text);
    assert_eq!(
        names.first().map(String::as_str),
        Some("response.created"),
        "{text}"
    );
    assert_eq!(
        names.last().map(String::as_str),
        Some("response.completed"),
        "{text}"
    );
    for kind in [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_item.done",
    ] {
        assert!(names.iter().any(|n| n == kind), "{kind} missing: {names:?}");
    }
    let numbers: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| json(d)["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..numbers.len() as u64).collect::<Vec<_>>(),
        "{text}"
    );
}

#[tokio::test]
async fn a_stored_response_is_continued_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = understudy_store::Store::open_path(&dir.path().join("u.db"))
        .await
        .unwrap();
    let recorder = understudy_backend::recording::Recording::answering("noted");
    let backend = recorder.clone() as Arc<dyn understudy_backend::Backend>;
    let state = Arc::new(
        AppState::new(backend, BTreeMap::new(), vec![], 64 * 1024)
            .with_conversations(store.conversations),
    );
    let first =
        serde_json::json!({"model": "m", "input": "first words", "instructions": "Be brief."});
    let (_, first) = post(state.clone(), "/v1/responses", first, &[]).await;
    let id = json(&first)["id"].as_str().unwrap().to_string();
    let second = serde_json::json!({"model": "m", "input": "second", "previous_response_id": id});
    let (status, second) = post(state.clone(), "/v1/responses", second, &[]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(json(&second)["previous_response_id"], id.as_str());
    // The earlier turns went to the model; the earlier instructions did not (as OpenAI does).
    let sent: Vec<(String, String)> = recorder
        .seen()
        .last()
        .unwrap()
        .messages
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.content.clone()))
        .collect();
    let expected = [
        ("user", "first words"),
        ("assistant", "noted"),
        ("user", "second"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect();
    assert_eq!(sent, expected);
    let unknown =
        serde_json::json!({"model": "m", "input": "x", "previous_response_id": "resp_none"});
    let (status, text) = post(state, "/v1/responses", unknown, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&text)["error"]["param"],
        "previous_response_id",
        "{text}"
    );
}
