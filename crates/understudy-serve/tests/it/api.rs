//! The gateway in-process (`router(state).oneshot`) on the fake backend: OpenAI shapes for unary
//! and streamed answers, profiles, and every bad-input case with its status and named field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::fake::FakeBackend;
use understudy_serve::{profile, router, AppState};

fn state_with(keys: Vec<String>, limit: usize) -> Arc<AppState> {
    let table: toml::Table = toml::from_str(
        r#"
[profiles.bot]
model = "echo"
system = "You are {{ who }}."
vars = { who = "a test bot" }
cot = "on"

[profiles.strict-json]
model = "label:not json"
json = true

[profiles.good-json]
model = "label:{\"ok\":true}"
json = true
reasoning = "strip"

[profiles.fenced-json]
model = "label:```json\n{\"ok\": 1}\n```"
json = true
"#,
    )
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("test.toml"),
    )
    .unwrap();
    Arc::new(AppState::new(
        Arc::new(FakeBackend::new()),
        profiles,
        keys,
        limit,
    ))
}

fn state() -> Arc<AppState> {
    state_with(Vec::new(), 64 * 1024)
}

async fn post(state: Arc<AppState>, body: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::post("/v1/chat/completions").header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
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

#[tokio::test]
async fn unary_answer_has_the_openai_shape() {
    let (status, body) = post(
        state(),
        r#"{"model":"echo","messages":[{"role":"user","content":"hello there"}],"max_tokens":10}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 2);
    // OpenAI's place for prompt tokens reused from a KV cache (the fake backend reuses none).
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        v["usage"]["total_tokens"],
        v["usage"]["prompt_tokens"].as_u64().unwrap() + 2
    );
    // max_completion_tokens and stop are honoured.
    let (_, body) = post(state(), r#"{"model":"echo","messages":[{"role":"user","content":"a b c d"}],"max_completion_tokens":2}"#, None).await;
    assert_eq!(json(&body)["choices"][0]["finish_reason"], "length");
    let (_, body) = post(
        state(),
        r#"{"model":"echo","messages":[{"role":"user","content":"a b STOP c"}],"stop":"STOP"}"#,
        None,
    )
    .await;
    assert_eq!(json(&body)["choices"][0]["message"]["content"], "a b ");
}

#[tokio::test]
async fn profile_adds_system_prompt_and_cot_then_splits_the_answer() {
    // `echo` repeats the last user turn, which now carries the chain-of-thought instruction
    // ending in the marker, so the answer after the marker is what the profile returns.
    let (status, body) = post(
        state(),
        r#"{"model":"bot","messages":[{"role":"user","content":"question"}]}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["model"], "bot");
    let reasoning = v["choices"][0]["message"]["reasoning_content"]
        .as_str()
        .unwrap();
    assert!(reasoning.starts_with("question"), "{reasoning}");
    assert_eq!(v["choices"][0]["message"]["content"], "<answer>\".");
}

#[tokio::test]
async fn json_profiles_validate_and_retry() {
    let (status, body) = post(
        state(),
        r#"{"model":"strict-json","messages":[{"role":"user","content":"x"}]}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(json(&body)["error"]["code"], "invalid_json_output");
    let (status, body) = post(
        state(),
        r#"{"model":"good-json","messages":[{"role":"user","content":"x"}]}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["choices"][0]["message"]["content"],
        "{\"ok\":true}"
    );
    // A fenced document is read by the program's JSON reader, not retried.
    let (status, body) = post(
        state(),
        r#"{"model":"fenced-json","messages":[{"role":"user","content":"x"}]}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["choices"][0]["message"]["content"],
        "{\"ok\": 1}"
    );
}

#[tokio::test]
async fn streaming_sends_chunks_usage_and_done() {
    let (status, body) = post(
        state(),
        r#"{"model":"think","messages":[{"role":"user","content":"one two three"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let data: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(*data.last().unwrap(), "[DONE]");
    let chunks: Vec<serde_json::Value> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "one two three");
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "Let me think.");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 4);
}

#[tokio::test]
async fn upstream_failures_keep_the_openai_error_shape() {
    let (status, body) = post(
        state(),
        r#"{"model":"error-500","messages":[{"role":"user","content":"x"}]}"#,
        None,
    )
    .await;
    // An upstream failure is the gateway's bad gateway, with the upstream's message.
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(json(&body)["error"]["type"], "server_error");
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    let (status, body) = post(
        state(),
        r#"{"model":"error-503","messages":[{"role":"user","content":"x"}],"stream":true}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let cases = [
        ("{not json", StatusCode::BAD_REQUEST, "not valid JSON"),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
            StatusCode::BAD_REQUEST,
            "temperature",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"},{"role":"robot","content":"y"}]}"#,
            StatusCode::BAD_REQUEST,
            "messages[1].role",
        ),
        (
            r#"{"model":"echo","messages":[]}"#,
            StatusCode::BAD_REQUEST,
            "`messages` is empty",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}]}"#,
            StatusCode::BAD_REQUEST,
            "model",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"temperature":9}"#,
            StatusCode::BAD_REQUEST,
            "`temperature`",
        ),
        (
            r#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#,
            StatusCode::NOT_FOUND,
            "nope",
        ),
    ];
    for (body, want, needle) in cases {
        let (status, text) = post(state(), body, None).await;
        assert_eq!(status, want, "{body} -> {text}");
        let v = json(&text);
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{body} -> {text}"
        );
        assert!(v["error"]["type"].is_string());
    }
    let big = format!(
        r#"{{"model":"echo","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(2000)
    );
    let (status, text) = post(state_with(Vec::new(), 1000), &big, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert_eq!(json(&text)["error"]["code"], "request_too_large");
}

#[tokio::test]
async fn keys_are_required_when_configured() {
    let st = state_with(vec!["sk-test".into()], 64 * 1024);
    let body = r#"{"model":"echo","messages":[{"role":"user","content":"x"}]}"#;
    let (status, text) = post(st.clone(), body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&text)["error"]["code"], "invalid_api_key");
    assert!(!text.contains("sk-test"));
    assert_eq!(
        post(st.clone(), body, Some("sk-wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(st.clone(), body, Some("sk-test")).await.0,
        StatusCode::OK
    );
    let health = router(st)
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK, "health needs no key");
}

#[tokio::test]
async fn models_lists_profiles_and_backend_models() {
    let resp = router(state())
        .oneshot(Request::get("/v1/models").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = json(&String::from_utf8_lossy(&bytes));
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"bot") && ids.contains(&"echo"), "{ids:?}");
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let st = Arc::new(
        AppState::new(
            Arc::new(FakeBackend::new()),
            BTreeMap::new(),
            Vec::new(),
            1 << 20,
        )
        .with_max_queue(1),
    );
    let body = r#"{"model":"slow-300ms","messages":[{"role":"user","content":"x"}]}"#;
    let calls = (0..3).map(|_| {
        let app = router(st.clone());
        async move {
            let req = Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            app.oneshot(req).await.unwrap()
        }
    });
    let responses = futures::future::join_all(calls).await;
    let rejected: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !rejected.is_empty(),
        "{:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_eq!(rejected[0].headers()["retry-after"], "1");
    assert!(responses.iter().any(|r| r.status() == StatusCode::OK));
}

#[tokio::test]
async fn metrics_count_requests_errors_latency_and_tokens() {
    let table: toml::Table = toml::from_str("[profiles.bot]\nmodel = \"echo\"\n").unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("test.toml"),
    )
    .unwrap();
    let st = Arc::new(
        AppState::new(
            Arc::new(FakeBackend::new()),
            profiles,
            Vec::new(),
            64 * 1024,
        )
        .with_served(
            understudy_serve::served::ServedModels::new().with_names(["echo", "error-500"]),
        ),
    );
    post(
        st.clone(),
        r#"{"model":"echo","messages":[{"role":"user","content":"a b c"}]}"#,
        None,
    )
    .await;
    post(
        st.clone(),
        r#"{"model":"echo","messages":[{"role":"user","content":"a b"}],"stream":true}"#,
        None,
    )
    .await;
    post(
        st.clone(),
        r#"{"model":"error-500","messages":[{"role":"user","content":"x"}]}"#,
        None,
    )
    .await;
    let resp = router(st)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(
        &axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .into_owned();
    assert!(
        text.contains("understudy_requests_total{model=\"echo\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("understudy_errors_total{model=\"error-500\",type=\"server_error\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("understudy_request_duration_seconds_count{model=\"echo\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("understudy_ttft_seconds_count{model=\"echo\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("understudy_tokens_total{model=\"echo\",kind=\"completion\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("understudy_in_flight{model=\"echo\"} 0"),
        "{text}"
    );
}
