//! The gateway's answers to what clients get wrong or do unexpectedly, in-process on the fake
//! backend: OpenAI-shaped 404/405, `GET /v1/models/{id}`, error texts in the client's terms (no
//! Rust types or parser positions), bad tools and tool turns refused by field, bodies that never parse counted in
//! metrics and the log, a dropped stream logged as a disconnect, and metrics labels that a
//! client's choice of model name cannot grow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use proptest::prelude::*;
use tower::ServiceExt;
use understudy_backend::fake::FakeBackend;
use understudy_serve::served::ServedModels;
use understudy_serve::{router, AppState};

fn state() -> AppState {
    AppState::new(
        Arc::new(FakeBackend::new()),
        BTreeMap::new(),
        Vec::new(),
        64 * 1024,
    )
    .with_served(ServedModels::new().with_names(["echo"]))
}

async fn call(state: Arc<AppState>, request: Request<Body>) -> (StatusCode, String) {
    let resp = router(state).oneshot(request).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post(state: Arc<AppState>, body: &str) -> (StatusCode, String) {
    call(
        state,
        Request::post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

fn error_of(text: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    assert!(v["error"]["message"].is_string(), "{text}");
    assert!(v["error"]["type"].is_string(), "{text}");
    v["error"].clone()
}

async fn metrics(state: Arc<AppState>) -> String {
    call(state, Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .1
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_openai_shape() {
    let st = Arc::new(state());
    let (status, text) = call(
        st.clone(),
        Request::get("/v1/chat/completions")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let err = error_of(&text);
    assert!(
        err["message"].as_str().unwrap().contains("use POST"),
        "{text}"
    );

    let (status, text) = call(
        st.clone(),
        Request::get("/v1/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&text)["message"]
        .as_str()
        .unwrap()
        .contains("/v1/nope"));
}

#[tokio::test]
async fn one_model_can_be_fetched_by_id() {
    let st = Arc::new(state());
    let (status, text) = call(
        st.clone(),
        Request::get("/v1/models/echo").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["id"], "echo");
    assert_eq!(v["object"], "model");
    let (status, text) = call(
        st,
        Request::get("/v1/models/not-here")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&text)["code"], "model_not_found");
}

#[tokio::test]
async fn errors_speak_json_not_rust() {
    let st = Arc::new(state());
    let (status, text) = post(st.clone(), r#"{"model":"echo"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let err = error_of(&text);
    assert_eq!(err["param"], "messages", "{text}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .starts_with("messages is required"));

    for body in [
        r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
        r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":-3}"#,
        r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"seed":1.5}"#,
        r#"{"model":"echo","messages":"hi"}"#,
        r#"{"model":"echo","messages":[{"role":"user","content":"x"}],}"#,
    ] {
        let (status, text) = post(st.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = error_of(&text)["message"].as_str().unwrap().to_string();
        for leak in [
            "f32", "u32", "u64", "usize", "struct ", "enum ", "at line", "column",
        ] {
            assert!(
                !message.contains(leak),
                "{body}: {message:?} leaks {leak:?}"
            );
        }
    }
}

#[tokio::test]
async fn bad_tools_and_tool_turns_are_refused_by_field() {
    let st = Arc::new(state());
    let cases = [
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"objekt"}}}]}"#,
            "tools[0].function.parameters",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c9","content":"42"}]}"#,
            "messages[1].tool_call_id",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{oops"}}]},{"role":"tool","tool_call_id":"c1","content":"1"}]}"#,
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}"#,
            "tool_choice",
        ),
        // Legacy functions are served, but not beside tools.
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"functions":[{"name":"f"}]}"#,
            "functions",
        ),
        (
            r#"{"model":"echo","messages":[{"role":"user","content":"x"},{"role":"function","name":"f","content":"1"}],"functions":[{"name":"f"}]}"#,
            "messages[1].name",
        ),
    ];
    for (body, param) in cases {
        let (status, text) = post(st.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(error_of(&text)["param"], param, "{body}: {text}");
    }
}

#[tokio::test]
async fn a_body_that_never_parses_is_still_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let log = understudy_serve::log::RequestLog::new(
        understudy_store::Store::open_path(&db).await.unwrap().log,
    );
    let st = Arc::new(state().with_log(log));
    let (status, _) = post(st.clone(), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = metrics(st.clone()).await;
    assert!(
        text.contains("understudy_requests_total{model=\"other\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("understudy_in_flight{model=\"other\"} 0")
            || !text.contains("understudy_in_flight{model=\"other\"}"),
        "{text}"
    );
    drop(st);
    let store = understudy_store::Store::open_path(&db).await.unwrap();
    let rows = store.log.requests("", 10).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, 400);
    assert_eq!(rows[0].error_type.as_deref(), Some("invalid_request_error"));
}

#[tokio::test]
async fn a_stream_the_client_drops_is_logged_as_a_disconnect() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let log = understudy_serve::log::RequestLog::new(
        understudy_store::Store::open_path(&db).await.unwrap().log,
    );
    let st = Arc::new(state().with_log(log));
    let resp = router(st.clone())
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"model":"slow-200ms","messages":[{"role":"user","content":"a b c d e f g h"}],"stream":true}"#,
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(body);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let text = metrics(st.clone()).await;
    assert!(
        text.contains("understudy_errors_total{model=\"other\",type=\"client_disconnected\"} 1"),
        "{text}"
    );
    drop(st);
    let store = understudy_store::Store::open_path(&db).await.unwrap();
    let rows = store.log.requests("", 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, 499, "{rows:?}");
    assert_eq!(rows[0].error_type.as_deref(), Some("client_disconnected"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever model names clients send, the metrics keep the configured labels plus one
    /// bucket, and the exposition does not grow with the number of distinct names.
    #[test]
    fn client_chosen_model_names_never_grow_the_metrics(
        names in proptest::collection::vec("[a-z0-9./_-]{0,24}|/etc/[a-z]{1,8}|\\.\\./[a-z]{1,8}\\.gguf", 1..24)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let st = Arc::new(state());
            post(st.clone(), r#"{"model":"echo","messages":[{"role":"user","content":"x"}]}"#).await;
            for name in &names {
                let body = serde_json::json!({"model": name, "messages": [{"role": "user", "content": "x"}]});
                post(st.clone(), &body.to_string()).await;
            }
            assert!(st.metrics.label_count() <= 2, "{}", metrics(st.clone()).await);
            let text = metrics(st.clone()).await;
            for name in &names {
                if name != "echo" && !name.is_empty() {
                    assert!(!text.contains(&format!("model=\"{name}\"")), "{name} became a label");
                }
            }
        });
    }
}

/// A refused key is counted in the metrics (status 401), not logged a row each: a flood of wrong
/// keys must not grow the request log. With keys configured, `/metrics` needs one too.
#[tokio::test]
async fn a_refused_key_is_counted_not_logged_and_metrics_need_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let log = understudy_serve::log::RequestLog::new(
        understudy_store::Store::open_path(&db).await.unwrap().log,
    );
    let mut keyed = state();
    keyed.api_keys = vec!["sk-right".into()];
    let st = Arc::new(keyed.with_log(log));
    for _ in 0..3 {
        let (status, _) = call(
            st.clone(),
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .header("authorization", "Bearer sk-wrong")
                .body(Body::from(
                    r#"{"model":"echo","messages":[{"role":"user","content":"hi"}]}"#,
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, text) = call(
        st.clone(),
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(!text.contains("understudy_requests_total"), "{text}");
    let (status, text) = call(
        st.clone(),
        Request::get("/metrics")
            .header("authorization", "Bearer sk-right")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("understudy_requests_total{model=\"other\",status=\"401\"} 4"),
        "{text}"
    );
    drop(st);
    let store = understudy_store::Store::open_path(&db).await.unwrap();
    let rows = store.log.requests("", 10).await.unwrap();
    assert!(rows.is_empty(), "{rows:?}");
}

/// Of requests arriving together, exactly `max_queue` are admitted: the admission count is read
/// and incremented at once, so none slips past the limit and none is refused below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_max_queue_requests_are_admitted_at_once() {
    let st = Arc::new(state().with_max_queue(3));
    let body = r#"{"model":"slow-300ms","messages":[{"role":"user","content":"x"}]}"#;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let st = st.clone();
            tokio::spawn(async move { post(st, body).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, refused), (3, 7), "{statuses:?}");
}

/// A map-reduce budget on a backend without a tokenizer is counted by estimate, and the request
/// log says so (README no longer claims the model's tokenizer there).
#[tokio::test]
async fn estimated_token_counts_are_marked_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let log = understudy_serve::log::RequestLog::new(
        understudy_store::Store::open_path(&db).await.unwrap().log,
    );
    let table: toml::Table = toml::from_str(
        "[profiles.long]\nmodel = \"echo\"\nlong_input = \"map_reduce\"\ncontext_tokens = 300\n",
    )
    .unwrap();
    let profiles = understudy_serve::profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let st = Arc::new(
        AppState::new(Arc::new(FakeBackend::new()), profiles, Vec::new(), 1 << 20).with_log(log),
    );
    let long = "The committee met on Tuesday and decided many things. ".repeat(60);
    let body = serde_json::json!({"model": "long", "max_tokens": 20, "messages": [{"role": "user", "content": long}]});
    let (status, text) = post(st.clone(), &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    drop(st);
    let store = understudy_store::Store::open_path(&db).await.unwrap();
    let rows = store.log.requests("", 10).await.unwrap();
    let route = rows[0].route.clone().unwrap_or_default();
    assert!(route.contains("\"token_counts\":\"estimated\""), "{route}");
}
