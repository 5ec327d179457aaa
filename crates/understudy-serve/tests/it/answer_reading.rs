//! The gateway reads answers as eval scores them: chain of thought split at the *last*
//! final-answer marker in any case, then the template's answer contract — the same answer unary
//! and streamed. (Before the shared prompt program the gateway matched the marker's exact case,
//! and its streaming path split at the first marker.)
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
[profiles.lower-marker]
model = "label:2 and 2 make 4. final answer: 4"
cot = "on"

[profiles.two-markers]
model = "label:Final answer: 3? No, recount. FINAL ANSWER: 4"
cot = "on"

[profiles.sentiment]
model = "label:The reviewer loved it. Final answer: Positive!"
cot = "on"
template = { instruction = "Classify the sentiment.", answer = { kind = "label", labels = ["positive", "negative"] } }

[profiles.quiz]
model = "label:The answer is (B)."
template = { instruction = "Answer the question.", format = "markdown", answer = { kind = "choice" } }
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

/// The answer's content and reasoning, unary or gathered from the stream.
async fn ask(model: &str, input: &str, stream: bool) -> (String, String) {
    let body = serde_json::json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": input}]
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
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !stream {
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
        let message = &reply["choices"][0]["message"];
        return (
            message["content"].as_str().unwrap_or("").to_string(),
            message["reasoning_content"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    let (mut content, mut reasoning) = (String::new(), String::new());
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(data) else {
            continue;
        };
        let delta = &event["choices"][0]["delta"];
        content.push_str(delta["content"].as_str().unwrap_or(""));
        reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or(""));
    }
    (content, reasoning.trim().to_string())
}

#[tokio::test]
async fn the_answer_follows_the_last_marker_in_any_case_unary_and_streamed() {
    for stream in [false, true] {
        let (content, reasoning) = ask("lower-marker", "2+2?", stream).await;
        assert_eq!(content, "4", "stream={stream}");
        assert_eq!(reasoning, "2 and 2 make 4.", "stream={stream}");
        let (content, reasoning) = ask("two-markers", "2+2?", stream).await;
        assert_eq!(content, "4", "stream={stream}");
        assert_eq!(
            reasoning, "Final answer: 3? No, recount.",
            "stream={stream}"
        );
    }
}

#[tokio::test]
async fn a_template_profile_answers_with_what_its_contract_reads() {
    for stream in [false, true] {
        let (content, _) = ask("sentiment", "I loved it.", stream).await;
        assert_eq!(content, "positive", "stream={stream}");
        let (content, _) = ask("quiz", "Which is prime?\nA. 4\nB. 7\nC. 9", stream).await;
        assert_eq!(content, "B", "stream={stream}");
    }
}
