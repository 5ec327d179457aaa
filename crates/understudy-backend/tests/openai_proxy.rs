//! The OpenAI backend goes through the proxy the environment names, as curl (and reqwest, which
//! it used before) would: `HTTP_PROXY` gets absolute-form requests with the proxy's credentials,
//! `HTTPS_PROXY` a `CONNECT` tunnel. One test in its own process, since it sets the environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::routing::{get, post};
use axum::Router;
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::BackendError;
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

/// `user:pass`, as a proxy reads it.
const CREDENTIALS: &str = "Basic dXNlcjpwYXNz";

fn req() -> ValidChatRequest {
    ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap()
}

/// Each request's target and its `Proxy-Authorization`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An HTTP proxy that answers itself: it records what it is sent and plays the server.
async fn start_forward_proxy(seen: Seen) -> String {
    let record = move |request: Request| {
        let auth = request
            .headers()
            .get("proxy-authorization")
            .map(|v| v.to_str().unwrap().to_string());
        seen.lock().unwrap().push((request.uri().to_string(), auth));
        request
    };
    let app = Router::new()
        .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
        .route(
            "/v1/chat/completions",
            post(|| async {
                r#"{"choices":[{"message":{"content":"via proxy"},"finish_reason":"stop"}]}"#
            }),
        )
        .layer(axum::middleware::map_request(move |r: Request| {
            let record = record.clone();
            async move { record(r) }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://user:pass@{addr}")
}

/// A proxy that reads one `CONNECT` request, keeps its head, and refuses the tunnel; `None` if
/// nobody came within 10 s.
fn start_refusing_tunnel_proxy() -> (String, std::thread::JoinHandle<Option<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let head = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut socket = loop {
            match listener.accept() {
                Ok((socket, _)) => break socket,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => return None,
            }
        };
        socket.set_nonblocking(false).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        socket
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        Some(String::from_utf8(head).unwrap())
    });
    (format!("http://user:pass@{addr}"), head)
}

#[tokio::test]
async fn requests_go_through_the_proxy_the_environment_names() {
    for var in [
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
        "https_proxy",
    ] {
        std::env::remove_var(var);
    }
    let seen = Seen::default();
    std::env::set_var("HTTP_PROXY", start_forward_proxy(seen.clone()).await);
    let (tunnel_proxy, connect_head) = start_refusing_tunnel_proxy();
    std::env::set_var("HTTPS_PROXY", tunnel_proxy);

    // Plain HTTP: the host need not resolve here, only the proxy has to reach it.
    let backend = OpenAiBackend::new("t", "http://upstream.invalid:9/v1", None, 5).unwrap();
    let answer = backend.chat_unary(req()).await.unwrap();
    assert_eq!(answer.answer, "via proxy");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.last().unwrap(),
        &(
            "http://upstream.invalid:9/v1/chat/completions".to_string(),
            Some(CREDENTIALS.to_string())
        ),
        "all requests: {seen:?}"
    );

    // HTTPS: a tunnel is asked for, with the credentials; the proxy's refusal is an unreachable
    // server, named.
    let backend = OpenAiBackend::new("t", "https://secure.invalid/v1", None, 5).unwrap();
    let err = backend.chat_unary(req()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("secure.invalid"), "{err}");
    let head = connect_head
        .join()
        .unwrap()
        .expect("no CONNECT reached the proxy")
        .to_ascii_lowercase();
    assert!(
        head.starts_with("connect secure.invalid:443 http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "proxy-authorization: {}",
            CREDENTIALS.to_ascii_lowercase()
        )),
        "{head}"
    );
}
