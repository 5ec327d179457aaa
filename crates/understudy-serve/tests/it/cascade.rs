//! Profiles with techniques. A cascade: the light model answers when its answer passes the signals, the
//! heavy one otherwise; the `x-understudy-model` header says which, unary and streamed. A
//! planner/executor profile returns only the composed answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::fake::FakeBackend;
use understudy_serve::{profile, router, AppState};

fn state() -> Arc<AppState> {
    let table: toml::Table = toml::from_str(
        r#"
[profiles.json-cascade]
model = "unused"
json = true
cascade = { models = ["label:not json", "label:{\"ok\": true}"], signals = ["format", "self_check"] }

[profiles.planned]
model = "label:final answer"
plan_execute = { planner = "label:1. Look it up.", max_steps = 3 }

[profiles.easy]
model = "unused"
cascade = { models = ["label:yes", "label:heavy"], signals = ["self_check"] }
"#,
    )
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap();
    Arc::new(AppState::new(
        Arc::new(FakeBackend::new()),
        profiles,
        Vec::new(),
        1 << 20,
    ))
}

async fn post(model: &str, stream: bool) -> (StatusCode, String, String) {
    let body = serde_json::json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": "Give me JSON."}]
    });
    let resp = router(state())
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let who = resp
        .headers()
        .get("x-understudy-model")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, who, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn invalid_light_answers_escalate_and_the_header_says_who_answered() {
    let (status, who, body) = post("json-cascade", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(who, "label:{\"ok\": true}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "{\"ok\": true}");

    let (status, who, body) = post("easy", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(who, "label:yes", "a light answer that passes stays light");

    let (status, who, body) = post("json-cascade", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who, "label:{\"ok\": true}");
    assert!(
        body.contains("\\\"ok\\\": true") && body.trim_end().ends_with("[DONE]"),
        "{body}"
    );
}

#[tokio::test]
async fn planner_executor_returns_only_the_composed_answer() {
    let (status, who, body) = post("planned", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(who, "label:final answer");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "final answer");
    assert!(
        !body.contains("Look it up"),
        "the plan stays out of the reply: {body}"
    );
}

#[test]
fn bad_cascade_profiles_name_the_key() {
    let table: toml::Table = toml::from_str(
        "[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"a\"], signals = [\"self_check\"] }\n",
    )
    .unwrap();
    let err = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("profiles.p.cascade") && err.contains("two models"),
        "{err}"
    );
    let table: toml::Table = toml::from_str(
        "[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"a\", \"b\"], signals = [\"vibes\"] }\n",
    )
    .unwrap();
    let err = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("vibes"), "{err}");
}

/// A signal that cannot work on its profile or backend is refused before serving, with the
/// reason: `format` outside a JSON profile (and as the default there), `confidence:T` on a model
/// that returns no log-probabilities (the fake backend returns none).
#[tokio::test]
async fn unworkable_cascade_signals_are_refused_at_start_up() {
    let parse = |text: &str| {
        let table: toml::Table = toml::from_str(text).unwrap();
        profile::parse_profiles(
            table["profiles"].as_table().unwrap().clone(),
            Path::new("t.toml"),
        )
    };
    let err = parse(
        "[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"a\", \"b\"], signals = [\"format\", \"self_check\"] }\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("profiles.p.cascade") && err.contains("json = true"),
        "{err}"
    );
    let err = parse("[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"a\", \"b\"] }\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("signals"), "{err}");
    assert!(parse(
        "[profiles.p]\nmodel = \"m\"\njson = true\ncascade = { models = [\"a\", \"b\"] }\n"
    )
    .is_ok());

    let confident = parse(
        "[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"echo\", \"label:heavy\"], signals = [\"confidence:-0.5\"] }\n",
    )
    .unwrap();
    let err = understudy_serve::signal_checks::check_cascade_signals(
        &FakeBackend::new(),
        confident.values(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("confidence:-0.5")
            && err.contains("echo")
            && err.contains("log-probabilities"),
        "{err}"
    );
    let fine = parse(
        "[profiles.p]\nmodel = \"m\"\ncascade = { models = [\"echo\", \"label:heavy\"], signals = [\"self_check\"] }\n",
    )
    .unwrap();
    understudy_serve::signal_checks::check_cascade_signals(&FakeBackend::new(), fine.values())
        .await
        .unwrap();
}
