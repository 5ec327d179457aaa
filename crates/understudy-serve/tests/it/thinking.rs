//! The thinking switch through the gateway: for each control (template flag, `/no_think`,
//! `reasoning_effort`, the CoT fallback) `on`, `off` and `auto` change what reaches the backend
//! as documented, from a request field or a profile; reasoning never leaks into the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::recording::Recording;
use understudy_backend::Backend;
use understudy_core::thinking_switch::ThinkingControl;
use understudy_core::ValidChatRequest;
use understudy_serve::{profile, router, AppState};

struct Gateway {
    recorder: Arc<Recording>,
    state: Arc<AppState>,
}

fn gateway(control: ThinkingControl, answer: &'static str) -> Gateway {
    let table: toml::Table = toml::from_str(
        "[profiles.auto-bot]\nmodel = \"m\"\nthinking = \"auto\"\n\n[profiles.quiet]\nmodel = \"m\"\nthinking = false\n",
    )
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap();
    let recorder = Recording::answering_with_control(answer, control);
    let state = Arc::new(AppState::new(
        recorder.clone() as Arc<dyn Backend>,
        profiles,
        Vec::new(),
        1 << 20,
    ));
    Gateway { recorder, state }
}

async fn ask(g: &Gateway, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let resp = router(g.state.clone())
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn body(model: &str, text: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut b =
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]});
    if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    b
}

fn last(g: &Gateway) -> ValidChatRequest {
    g.recorder.seen().last().cloned().unwrap()
}

const EASY: &str = "What is the capital of France?";
const HARD: &str =
    "A shop sells 12 apples at 3 dollars and 7 pears at 2 dollars. How much in total?";

#[tokio::test]
async fn template_flag_maps_to_the_thinking_field() {
    let g = gateway(ThinkingControl::TemplateFlag, "Paris");
    for (extra, expected) in [
        (
            serde_json::json!({"understudy": {"thinking": "on"}}),
            Some(true),
        ),
        (
            serde_json::json!({"understudy": {"thinking": "off"}}),
            Some(false),
        ),
        (serde_json::json!({"reasoning_effort": "high"}), Some(true)),
        (
            serde_json::json!({"chat_template_kwargs": {"enable_thinking": false}}),
            Some(false),
        ),
        (serde_json::json!({}), None),
    ] {
        let (status, _) = ask(&g, body("m", EASY, extra.clone())).await;
        assert_eq!(status, StatusCode::OK);
        let r = last(&g);
        assert_eq!(r.thinking, expected, "{extra}");
        assert_eq!(r.reasoning_effort, None);
        assert_eq!(r.messages.last().unwrap().content, EASY);
    }
    // auto from the profile: easy → off, hard → on.
    ask(&g, body("auto-bot", EASY, serde_json::json!({}))).await;
    assert_eq!(last(&g).thinking, Some(false));
    ask(&g, body("auto-bot", HARD, serde_json::json!({}))).await;
    assert_eq!(last(&g).thinking, Some(true));
    // The request overrides the profile.
    ask(
        &g,
        body(
            "quiet",
            EASY,
            serde_json::json!({"understudy": {"thinking": "on"}}),
        ),
    )
    .await;
    assert_eq!(last(&g).thinking, Some(true));
}

#[tokio::test]
async fn no_think_tag_and_reasoning_effort_mappings() {
    let g = gateway(ThinkingControl::NoThinkTag, "Paris");
    ask(
        &g,
        body(
            "m",
            EASY,
            serde_json::json!({"understudy": {"thinking": "off"}}),
        ),
    )
    .await;
    assert_eq!(
        last(&g).messages.last().unwrap().content,
        format!("{EASY} /no_think")
    );
    ask(
        &g,
        body(
            "m",
            EASY,
            serde_json::json!({"understudy": {"thinking": "on"}}),
        ),
    )
    .await;
    assert_eq!(
        last(&g).messages.last().unwrap().content,
        format!("{EASY} /think")
    );
    assert_eq!(last(&g).thinking, None);

    let g = gateway(ThinkingControl::ReasoningEffort, "Paris");
    ask(
        &g,
        body(
            "m",
            EASY,
            serde_json::json!({"understudy": {"thinking": "off"}}),
        ),
    )
    .await;
    assert_eq!(last(&g).reasoning_effort.as_deref(), Some("minimal"));
    ask(&g, body("auto-bot", HARD, serde_json::json!({}))).await;
    assert_eq!(last(&g).reasoning_effort.as_deref(), Some("high"));
    assert_eq!(last(&g).thinking, None);
}

#[tokio::test]
async fn cot_fallback_adds_the_instruction_and_keeps_reasoning_out_of_the_answer() {
    let g = gateway(
        ThinkingControl::CotInstruction,
        "12 times 3 is 36, 7 times 2 is 14. Final answer: 50",
    );
    let (status, reply) = ask(
        &g,
        body(
            "m",
            HARD,
            serde_json::json!({"understudy": {"thinking": "on"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sent = last(&g).messages.last().unwrap().content.clone();
    assert!(
        sent.starts_with(HARD) && sent.contains("Final answer:"),
        "{sent}"
    );
    let message = &reply["choices"][0]["message"];
    assert_eq!(message["content"], "50");
    assert!(message["reasoning_content"]
        .as_str()
        .unwrap()
        .contains("36"));
    // Off: nothing added.
    ask(
        &g,
        body(
            "m",
            HARD,
            serde_json::json!({"understudy": {"thinking": "off"}}),
        ),
    )
    .await;
    assert_eq!(last(&g).messages.last().unwrap().content, HARD);
    // Auto on an easy question: nothing added either.
    ask(&g, body("auto-bot", EASY, serde_json::json!({}))).await;
    assert_eq!(last(&g).messages.last().unwrap().content, EASY);
}

#[tokio::test]
async fn bad_thinking_values_name_the_field() {
    let g = gateway(ThinkingControl::TemplateFlag, "x");
    let (status, reply) = ask(
        &g,
        body(
            "m",
            EASY,
            serde_json::json!({"understudy": {"thinking": "maybe"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["error"]["param"], "understudy.thinking");
    let (status, reply) = ask(
        &g,
        body(
            "m",
            EASY,
            serde_json::json!({"reasoning_effort": "extreme"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["error"]["param"], "reasoning_effort");
}
