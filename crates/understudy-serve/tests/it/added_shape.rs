//! A profile's own tools and answer schema reach requests that bring none, and only those; a
//! tools file that is wrong is a start-up error naming the key and the tool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use understudy_backend::recording::Recording;
use understudy_backend::Backend;
use understudy_core::{ResponseFormat, ToolChoice};
use understudy_serve::{profile, router, AppState};

fn profiles(
    dir: &std::path::Path,
    tools: &str,
) -> Result<BTreeMap<String, profile::Profile>, String> {
    std::fs::write(dir.join("tools.json"), tools).unwrap();
    std::fs::write(
        dir.join("schema.json"),
        r#"{"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}"#,
    )
    .unwrap();
    let table: toml::Table = toml::from_str(
        r#"
[profiles.agent]
model = "m"
tools_file = "tools.json"
tool_choice = "required"

[profiles.extractor]
model = "m"
json_schema_file = "schema.json"
"#,
    )
    .unwrap();
    profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        &dir.join("understudy.toml"),
    )
    .map_err(|e| e.to_string())
}

async fn send(state: Arc<AppState>, body: serde_json::Value) -> u16 {
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    router(state)
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn profiles_add_tools_and_a_schema_to_requests_without_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let tools = r#"[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]"#;
    let recorder = Recording::answering("ok");
    let state = Arc::new(AppState::new(
        recorder.clone() as Arc<dyn Backend>,
        profiles(dir.path(), tools).unwrap(),
        Vec::new(),
        1 << 20,
    ));
    let user = serde_json::json!([{"role": "user", "content": "hi"}]);
    assert_eq!(
        send(
            state.clone(),
            serde_json::json!({"model": "agent", "messages": user})
        )
        .await,
        200
    );
    let own = serde_json::json!([{"type": "function", "function": {"name": "mine"}}]);
    let body = serde_json::json!({"model": "agent", "messages": user, "tools": own});
    assert_eq!(send(state.clone(), body).await, 200);
    assert_eq!(
        send(
            state.clone(),
            serde_json::json!({"model": "extractor", "messages": user})
        )
        .await,
        200
    );
    let fmt = serde_json::json!({"type": "json_object"});
    let body = serde_json::json!({"model": "extractor", "messages": user, "response_format": fmt});
    assert_eq!(send(state, body).await, 200);

    let seen = recorder.seen();
    assert_eq!(seen[0].tools.tools[0].name, "lookup");
    assert_eq!(seen[0].tools.choice, ToolChoice::Required);
    assert_eq!(
        seen[1].tools.tools[0].name, "mine",
        "the request's own tools win"
    );
    assert!(
        matches!(&seen[2].response_format, ResponseFormat::JsonSchema { schema } if schema["required"][0] == "label")
    );
    assert_eq!(
        seen[3].response_format,
        ResponseFormat::JsonObject,
        "the request's own format wins"
    );
}

#[test]
fn a_wrong_tools_file_is_named_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let err = profiles(
        dir.path(),
        r#"[{"type": "function", "function": {"parameters": {}}}]"#,
    )
    .unwrap_err();
    assert!(
        err.contains("profiles.agent.tools_file") && err.contains("[0]"),
        "{err}"
    );
    let err = profiles(
        dir.path(),
        r#"[{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]"#,
    )
    .unwrap_err();
    assert!(err.contains("compiles"), "{err}");
}
