//! Gateway memory with a deterministic test embedder: `/v1/embeddings` in OpenAI's shape, and a
//! profile with `memory = {...}` whose request reaches the model with the relevant passage (with
//! its citation number) after the profile's own system prompt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use understudy_backend::recording::Recording;
use understudy_backend::Backend;
use understudy_memory::{Embedder, WordHashEmbedder};
use understudy_serve::memory::MemoryRuntime;
use understudy_serve::{profile, router, AppState};

/// The deterministic bag-of-words embedder, 64 dimensions.
const WORDS: WordHashEmbedder = WordHashEmbedder { dim: 64 };

async fn gateway(dir: &Path) -> (Arc<Recording>, Arc<AppState>) {
    let store = understudy_store::Store::open_path(&dir.join("u.db"))
        .await
        .unwrap()
        .vectors;
    let docs = [
        (
            "reset.md",
            "To reset your password open Settings, choose Security and press Reset password.",
        ),
        (
            "billing.md",
            "Invoices are sent on the first day of each month by email.",
        ),
        (
            "export.md",
            "Export your data from the Settings page as a zip archive.",
        ),
    ];
    for (source, text) in docs {
        let chunks = vec![text.to_string()];
        let vectors = WORDS.embed(&chunks).unwrap();
        store
            .put_document("handbook", "word-hash", source, &chunks, &vectors)
            .await
            .unwrap();
    }
    let table: toml::Table = toml::from_str(
        "[profiles.helpdesk]\nmodel = \"m\"\nsystem = \"You are the Acme helpdesk.\"\nmemory = { collection = \"handbook\", k = 1 }\n\n[profiles.lost]\nmodel = \"m\"\nmemory = { collection = \"nowhere\" }\n",
    )
    .unwrap();
    let profiles = profile::parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("t.toml"),
    )
    .unwrap();
    let recorder = Recording::answering("ok");
    let memory = MemoryRuntime::new(
        store,
        Box::new(|| Box::pin(async { Ok(Arc::new(WORDS) as Arc<dyn Embedder>) })),
    );
    let state = AppState::new(
        recorder.clone() as Arc<dyn Backend>,
        profiles,
        Vec::new(),
        1 << 20,
    )
    .with_memory(memory);
    (recorder, Arc::new(state))
}

async fn post(
    state: Arc<AppState>,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let resp = router(state)
        .oneshot(
            Request::post(path)
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

#[tokio::test]
async fn embeddings_endpoint_speaks_openai() {
    let dir = tempfile::tempdir().unwrap();
    let (_, state) = gateway(dir.path()).await;
    let (status, reply) = post(
        state.clone(),
        "/v1/embeddings",
        serde_json::json!({"model": "word-hash", "input": ["reset my password", "hello"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["data"].as_array().unwrap().len(), 2);
    assert_eq!(reply["data"][1]["index"], 1);
    assert_eq!(reply["data"][0]["embedding"].as_array().unwrap().len(), 64);
    let (status, reply) = post(
        state,
        "/v1/embeddings",
        serde_json::json!({"model": "x", "input": []}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["error"]["param"], "input");
}

#[tokio::test]
async fn embeddings_answer_only_their_own_name_in_base64_or_shortened() {
    const TEXT: &str =
        "the quick brown fox jumps over the lazy dog while an old owl hoots at seven silver moons";
    let dir = tempfile::tempdir().unwrap();
    let (_, state) = gateway(dir.path()).await;
    for name in ["gpt-4o", "text-embedding-3-small", "echo", "/etc/shadow"] {
        let (status, reply) = post(
            state.clone(),
            "/v1/embeddings",
            serde_json::json!({"model": name, "input": "hello"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {reply}");
        assert_eq!(reply["error"]["code"], "model_not_found");
    }
    let floats = post(
        state.clone(),
        "/v1/embeddings",
        serde_json::json!({"model": "word-hash", "input": TEXT}),
    )
    .await
    .1["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect::<Vec<f32>>();
    let (status, reply) = post(
        state.clone(),
        "/v1/embeddings",
        serde_json::json!({"model": "word-hash", "input": TEXT, "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(reply["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, floats);
    let (status, reply) = post(
        state.clone(),
        "/v1/embeddings",
        serde_json::json!({"model": "word-hash", "input": TEXT, "dimensions": 32}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let short: Vec<f64> = reply["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    // The first 32 components of the full vector, scaled back to unit length.
    let head: Vec<f64> = floats[..32].iter().map(|x| f64::from(*x)).collect();
    let norm = head.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(
        norm > 0.0 && norm < 0.999,
        "{norm}: the test needs a cut that shortens"
    );
    assert_eq!(short.len(), 32);
    for (s, h) in short.iter().zip(&head) {
        assert!((s - h / norm).abs() < 1e-5, "{short:?} vs {head:?}");
    }
    let (status, reply) = post(
        state,
        "/v1/embeddings",
        serde_json::json!({"model": "word-hash", "input": [[101, 2023]]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("token ids"),
        "{reply}"
    );
}

#[tokio::test]
async fn profiles_put_cited_passages_after_their_system_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, state) = gateway(dir.path()).await;
    let (status, reply) = post(
        state.clone(),
        "/v1/chat/completions",
        serde_json::json!({"model": "helpdesk", "messages": [{"role": "user", "content": "How do I reset my password?"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let sent = recorder.seen().last().cloned().unwrap();
    let system = &sent.messages[0].content;
    assert!(system.starts_with("You are the Acme helpdesk."), "{system}");
    assert!(
        system.contains("[1] (reset.md#0) To reset your password"),
        "{system}"
    );
    assert!(
        !system.contains("Invoices"),
        "k = 1 keeps one passage: {system}"
    );
    let (status, reply) = post(
        state,
        "/v1/chat/completions",
        serde_json::json!({"model": "lost", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nowhere"),
        "{reply}"
    );
}
