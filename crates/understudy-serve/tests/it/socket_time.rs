//! A request's bytes that wait at the gateway's socket while its workers are busy are the
//! gateway's own time: the kernel's receive stamp, not the router, starts the clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use understudy_backend::fake::FakeBackend;
use understudy_backend::{Backend, BackendError, EventStream, ModelInfo};
use understudy_core::ValidChatRequest;
use understudy_serve::AppState;

/// The fake backend, except that model `stall` blocks the thread it runs on for 300 ms (a
/// worker stuck in CPU-bound work) before answering like `echo`.
struct Stalling(FakeBackend);

#[async_trait::async_trait]
impl Backend for Stalling {
    fn name(&self) -> &str {
        "stalling"
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, BackendError> {
        self.0.list_models().await
    }

    async fn chat_stream(
        &self,
        mut request: ValidChatRequest,
    ) -> Result<EventStream, BackendError> {
        if request.model == "stall" {
            std::thread::sleep(Duration::from_millis(300));
            request.model = "echo".into();
        }
        self.0.chat_stream(request).await
    }
}

/// The gateway on one worker thread of its own; its address.
fn one_worker_gateway() -> std::net::SocketAddr {
    let state = Arc::new(AppState::new(
        Arc::new(Stalling(FakeBackend::new())),
        BTreeMap::new(),
        Vec::new(),
        1 << 20,
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(understudy_serve::serve(
            "127.0.0.1:0".parse().unwrap(),
            state,
            axum::Router::new(),
            std::future::pending(),
            Duration::from_secs(1),
            move |addr| {
                let _ = tx.send(addr);
            },
        ))
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

async fn ask(client: &reqwest::Client, addr: std::net::SocketAddr, model: &str) -> (f64, f64) {
    let response = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{model}: {}",
        response.status()
    );
    let ms = |name: &str| -> f64 { response.headers()[name].to_str().unwrap().parse().unwrap() };
    (
        ms("x-understudy-gateway-ms"),
        ms("x-understudy-upstream-ms"),
    )
}

#[tokio::test]
async fn bytes_waiting_for_a_busy_worker_count_as_the_gateways_own_time() {
    let addr = one_worker_gateway();
    // Separate clients: separate connections, so the second request is not queued behind the
    // first in a client pool but sent while the gateway's only worker is stuck.
    let (first, second) = (reqwest::Client::new(), reqwest::Client::new());
    let stalled = tokio::spawn(async move { ask(&first, addr, "stall").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (own, upstream) = ask(&second, addr, "echo").await;
    stalled.await.unwrap();
    // Sent ~100 ms into a 300 ms stall: its bytes waited ~200 ms for the worker.
    assert!(
        own >= 150.0,
        "the second request's own time is {own} ms (upstream {upstream} ms)"
    );
    assert!(upstream < 50.0, "upstream {upstream} ms");
}

#[tokio::test]
async fn a_large_body_read_through_the_stamped_socket_arrives_whole() {
    let addr = one_worker_gateway();
    // Several reads of at most 64 KiB each, and hyper's buffer growing between them.
    let text: String = (0..300_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let body = serde_json::json!({
        "model": "echo",
        "messages": [{"role": "user", "content": text}],
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let answer: serde_json::Value = response.json().await.unwrap();
    let echoed = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(echoed.len(), text.len());
    assert_eq!(echoed, text);
}
