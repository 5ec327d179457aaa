//! A server that closes a kept-alive connection as the client reuses it (llama.cpp's server does,
//! for idle connections) costs the caller nothing: the failure policy the gateway and eval both
//! wrap their backends in sends the request again, on a fresh connection. A server that never
//! answers still fails clearly, after the policy's retries and no more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatRequest};
use understudy_serve::resilience::{Policy, Resilient};

const ANSWER: &str = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"four\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\ndata: [DONE]\n\n";

/// Reads one request (head and body); `None` when the client closed the connection.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(head.lines().next().unwrap_or("").to_string());
            }
        }
    }
}

/// A keep-alive server: `/v1/models` is 404 (nothing to check), and of the chat requests the
/// ones `drop_chat` says are closed without an answer; the others get a streamed answer.
async fn server(
    drop_chat: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let chats = Arc::new(AtomicUsize::new(0));
    let counter = chats.clone();
    let drop_chat = Arc::new(drop_chat);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let chats = counter.clone();
            let drop_chat = drop_chat.clone();
            tokio::spawn(async move {
                while let Some(line) = read_request(&mut stream).await {
                    if line.contains("/models") {
                        let reply = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                        stream.write_all(reply.as_bytes()).await.unwrap();
                        continue;
                    }
                    let n = chats.fetch_add(1, Ordering::SeqCst);
                    if drop_chat(n) {
                        return; // closed with the request unanswered
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    stream.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, chats)
}

/// The OpenAI backend for `url` behind the default failure policy.
fn resilient(url: &str) -> Resilient {
    let backend = OpenAiBackend::new("s", url, None, 10).unwrap();
    Resilient::new(Arc::new(backend), Policy::default())
}

fn ask() -> understudy_core::ValidChatRequest {
    ChatRequest::new("m", vec![ChatMessage::user("2+2?")])
        .validate()
        .unwrap()
}

#[tokio::test]
async fn a_connection_closed_under_a_request_is_retried() {
    // The second chat request arrives on the kept-alive connection, which the server closes.
    let (url, chats) = server(|n| n == 1).await;
    let backend = resilient(&url);
    assert_eq!(backend.chat(ask()).await.unwrap().answer, "four");
    assert_eq!(backend.chat(ask()).await.unwrap().answer, "four");
    assert_eq!(chats.load(Ordering::SeqCst), 3, "one retry was enough");
    // Unwrapped, the same failure reaches the caller.
    let (url, _) = server(|n| n == 1).await;
    let bare = OpenAiBackend::new("s", &url, None, 10).unwrap();
    bare.chat(ask()).await.unwrap();
    let err = bare.chat(ask()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_still_fails() {
    let (url, chats) = server(|_| true).await;
    let err = resilient(&url).chat(ask()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err}");
    assert_eq!(
        chats.load(Ordering::SeqCst),
        3,
        "the first try and the policy's two retries"
    );
}
