//! A client's cache identity follows what a gateway name stands for: the gateway publishes a
//! fingerprint per name (in `/v1/models` and as `system_fingerprint` on every answer), the
//! OpenAI-backend client puts it, and the user's `revision`, into the model identity that keys
//! eval's response cache and resume. Re-tuning a profile behind the same name changes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use understudy_backend::fake::FakeBackend;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest};
use understudy_serve::{profile, router, AppState};

/// Serves one profile, `sentiment`, with `system` as its system prompt, on a loopback port.
async fn gateway(system: &str) -> String {
    let table: toml::Table = toml::from_str(&format!(
        "[profiles.sentiment]\nmodel = \"echo\"\nsystem = {system:?}\n"
    ))
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("tuned.toml"),
    )
    .unwrap();
    let state = Arc::new(AppState::new(
        Arc::new(FakeBackend::new()),
        profiles,
        Vec::new(),
        1 << 20,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{address}/v1")
}

async fn identity(base: &str, revision: Option<&str>, model: &str) -> String {
    let client = OpenAiBackend::new("gw", base, None, 30)
        .unwrap()
        .with_revision(revision.map(str::to_string));
    client.model_identity(model).await.unwrap()
}

#[tokio::test]
async fn a_retuned_profile_behind_the_same_name_is_another_identity() {
    let first = gateway("Answer positive or negative.").await;
    let same = gateway("Answer positive or negative.").await;
    let retuned = gateway("Answer with one word: positive or negative.").await;

    let original = identity(&first, None, "sentiment").await;
    assert!(original.contains(" server=fp_"), "{original}");
    let same_config = identity(&same, None, "sentiment").await;
    let strip_url = |id: &str| id.split_once(" server=").unwrap().1.to_string();
    assert_eq!(
        strip_url(&original),
        strip_url(&same_config),
        "the same profile on another gateway reports the same fingerprint"
    );
    assert_ne!(
        strip_url(&original),
        strip_url(&identity(&retuned, None, "sentiment").await),
        "a re-tuned profile under the same name must not share cache entries"
    );
    assert_ne!(
        identity(&first, Some("2026-11-29"), "sentiment").await,
        original,
        "the user's revision label is part of the identity"
    );
    assert!(identity(&first, None, "echo").await.contains(" server=fp_"));
}

#[tokio::test]
async fn answers_carry_the_fingerprint_the_model_list_publishes() {
    let base = gateway("Be brief.").await;
    let http = reqwest::Client::new();
    let models: serde_json::Value = http
        .get(format!("{base}/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "sentiment")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let client = OpenAiBackend::new("gw", &base, None, 30).unwrap();
    let request = ChatRequest::new(
        "sentiment".to_string(),
        vec![ChatMessage::user("great film")],
    )
    .validate()
    .unwrap();
    let unary: serde_json::Value = http
        .post(format!("{base}/chat/completions"))
        .json(&serde_json::json!({"model": "sentiment", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unary["system_fingerprint"], listed.as_str());
    let streamed = http
        .post(format!("{base}/chat/completions"))
        .json(&serde_json::json!({"model": "sentiment", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first_chunk: serde_json::Value = serde_json::from_str(
        streamed
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first_chunk["system_fingerprint"], listed.as_str());
    // The client reaches the same value through the listing.
    assert!(client.chat(request).await.is_ok());
    assert!(client
        .model_identity("sentiment")
        .await
        .unwrap()
        .ends_with(&format!("server={listed}")));
}
