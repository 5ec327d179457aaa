//! Conversation memory: a `conversation = true` profile keeps the turns of each conversation in
//! SQLite, so after a restart (a new gateway on the same file) the next turn still reaches the
//! model with the earlier ones; past its budget the oldest half is summarised, not dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::recording::Recording;
use understudy_backend::Backend;
use understudy_core::ValidChatRequest;
use understudy_serve::{profile, router, AppState};

async fn gateway(db: &Path, budget: usize) -> (Arc<Recording>, Arc<AppState>) {
    let table: toml::Table = toml::from_str(&format!(
        "[profiles.pal]\nmodel = \"m\"\nsystem = \"You are a pal.\"\nconversation = true\nhistory_tokens = {budget}\n"
    ))
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap();
    let recorder = Recording::answering("noted");
    let state = AppState::new(
        recorder.clone() as Arc<dyn Backend>,
        profiles,
        Vec::new(),
        1 << 20,
    )
    .with_conversations(
        understudy_store::Store::open_path(db)
            .await
            .unwrap()
            .conversations,
    );
    (recorder, Arc::new(state))
}

async fn say(state: &Arc<AppState>, conversation: &str, text: &str) -> StatusCode {
    let body = serde_json::json!({"model": "pal", "messages": [{"role": "user", "content": text}]});
    router(state.clone())
        .oneshot(
            Request::post("/v1/chat/completions")
                .header("content-type", "application/json")
                .header("x-conversation-id", conversation)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

fn contents(r: &ValidChatRequest) -> Vec<String> {
    r.messages.iter().map(|m| m.content.clone()).collect()
}

#[tokio::test]
async fn turns_survive_a_restart_and_stay_per_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    {
        let (_, state) = gateway(&db, 10_000).await;
        assert_eq!(say(&state, "c1", "My name is Ada.").await, StatusCode::OK);
        assert_eq!(say(&state, "c2", "I like tea.").await, StatusCode::OK);
    }
    // A new gateway on the same file: the restart.
    let (recorder, state) = gateway(&db, 10_000).await;
    assert_eq!(say(&state, "c1", "What is my name?").await, StatusCode::OK);
    let sent = contents(&recorder.seen().last().cloned().unwrap());
    assert_eq!(sent[0], "You are a pal.");
    assert!(sent.contains(&"My name is Ada.".to_string()), "{sent:?}");
    assert!(
        sent.contains(&"noted".to_string()),
        "the earlier answer is kept: {sent:?}"
    );
    assert!(
        !sent.contains(&"I like tea.".to_string()),
        "conversations stay apart: {sent:?}"
    );
    assert_eq!(sent.last().unwrap(), "What is my name?");
}

#[tokio::test]
async fn long_histories_are_summarised_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, state) = gateway(&dir.path().join("u.db"), 20).await;
    for i in 0..4 {
        let text = format!("Fact number {i}: the sky over harbour {i} was unusually bright today.");
        assert_eq!(say(&state, "long", &text).await, StatusCode::OK);
    }
    let seen = recorder.seen();
    // Summaries were asked for, and the latest request carries a summary instead of the oldest turns.
    assert!(seen.iter().any(|r| r.messages[0]
        .content
        .starts_with("Summarise this conversation")
        || r.messages
            .last()
            .unwrap()
            .content
            .contains("Summarise this conversation")));
    let last = contents(
        seen.iter()
            .rev()
            .find(|r| {
                r.messages[0].content == "You are a pal."
                    || r.messages[0].content.starts_with("You are a pal.")
            })
            .unwrap(),
    );
    assert!(
        last.iter()
            .any(|m| m.contains("Summary of the earlier part of this conversation")),
        "{last:?}"
    );
    assert!(
        !last.iter().any(|m| m.contains("Fact number 0")),
        "the oldest turn was folded: {last:?}"
    );
}
