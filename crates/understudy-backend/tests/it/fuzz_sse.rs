//! Fuzzing (proptest) the HTTP backend's stream reader: a loopback server answers with valid
//! OpenAI SSE streams after random edits, or with arbitrary bytes; the client must end every
//! stream with events or a clear error, within a deadline, and never panic. Cases:
//! PROPTEST_CASES (default 400; each is a real HTTP exchange).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use futures::StreamExt;
use proptest::prelude::*;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest};

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const VALID: &str = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"<think>hm</think>Hel\"},\"logprobs\":{\"content\":[{\"token\":\"Hel\",\"logprob\":-0.1}]}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"x\",\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n\
data: [DONE]\n\n";

/// Requests the mock servers answered (each case is one).
static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Server {
    runtime: tokio::runtime::Runtime,
    body: Arc<Mutex<Vec<u8>>>,
    backend: OpenAiBackend,
}

fn server() -> Server {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = Arc::new(Mutex::new(Vec::new()));
    let shared = body.clone();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
        .route(
            "/v1/chat/completions",
            post(move || {
                HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let bytes = shared.lock().unwrap().clone();
                async move { ([("content-type", "text/event-stream")], bytes) }
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let backend = OpenAiBackend::new("fuzz", &format!("http://{addr}/v1"), None, 5).unwrap();
    Server {
        runtime,
        body,
        backend,
    }
}

fn mutate(text: &[u8], edits: &[(f64, usize, Vec<u8>)]) -> Vec<u8> {
    let mut s = text.to_vec();
    for (at, delete, insert) in edits {
        let i = ((s.len() as f64) * at) as usize;
        let j = (i + delete).min(s.len());
        s.splice(i..j, insert.iter().copied());
    }
    s
}

fn exchange(server: &Server, body: Vec<u8>) -> Result<(), String> {
    *server.body.lock().unwrap() = body;
    let request = ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap();
    server.runtime.block_on(async {
        let run = async {
            match server.backend.chat_stream(request).await {
                Err(e) => assert!(!e.to_string().is_empty()),
                Ok(mut events) => {
                    while let Some(event) = events.next().await {
                        if let Err(e) = event {
                            assert!(!e.to_string().is_empty());
                            break;
                        }
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .map_err(|_| "the stream did not end within 10 s".to_string())
    })
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn edited_streams_end_cleanly(
        edits in prop::collection::vec(
            (0.0..1.0f64, 0usize..12, prop::collection::vec(
                prop::sample::select(b"data: {}[]\",:\n\r0123456789abcdeDONE\\\xff\xc3".to_vec()), 0..8)),
            1..6)
    ) {
        thread_local!(static SERVER: Server = server());
        let result = SERVER.with(|s| exchange(s, mutate(VALID.as_bytes(), &edits)));
        prop_assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn arbitrary_bytes_end_cleanly(body in prop::collection::vec(any::<u8>(), 0..400)) {
        thread_local!(static SERVER: Server = server());
        let before = HITS.load(std::sync::atomic::Ordering::SeqCst);
        let result = SERVER.with(|s| exchange(s, body));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(HITS.load(std::sync::atomic::Ordering::SeqCst) > before, "the server was not asked");
    }
}

#[test]
fn the_unedited_stream_is_read_in_full() {
    let s = server();
    *s.body.lock().unwrap() = VALID.as_bytes().to_vec();
    let request = ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap();
    let response = s.runtime.block_on(s.backend.chat(request)).unwrap();
    assert_eq!(response.answer, "Hello");
}
