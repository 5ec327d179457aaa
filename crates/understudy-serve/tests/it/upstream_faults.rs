//! Fault injection end to end: a real gateway on a loopback port, its OpenAI-compatible backend
//! pointed at a scripted upstream that misbehaves on purpose — 500s, 429 with Retry-After,
//! silence, connection resets before and mid-stream, malformed SSE, slow loris in the headers
//! and in the body. Every client request must end within its deadline, with a success (retry or
//! fallback) or an OpenAI-format error; none may hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use understudy_backend::openai::OpenAiBackend;
use understudy_serve::resilience::{Policy, Resilient};
use understudy_serve::AppState;

/// The backend's timeout: the longest the gateway waits for headers or for the next event.
const UPSTREAM_TIMEOUT_SECS: u64 = 1;
/// What a client allows any one request, however the upstream behaves.
const CLIENT_DEADLINE: Duration = Duration::from_secs(8);

const OK_STREAM: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"fine\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n\
data: [DONE]\n\n";

/// What the upstream does with a chat request for a model, by name and by how often that model
/// was asked before.
fn behave(model: &str, seen: usize) -> Script {
    match (model, seen) {
        ("steady", _) => Script::Stream(OK_STREAM.into()),
        ("flaky-500", 0 | 1) => Script::Status(500, None),
        ("flaky-500", _) => Script::Stream(OK_STREAM.into()),
        ("limited-briefly", 0) => Script::Status(429, Some("1")),
        ("limited-briefly", _) => Script::Stream(OK_STREAM.into()),
        ("limited-long" | "limited-then-fallback", _) => Script::Status(429, Some("120")),
        ("silent", _) => Script::Silent,
        ("reset-once", 0) => Script::Reset,
        ("reset-once", _) => Script::Stream(OK_STREAM.into()),
        ("reset-always", _) => Script::Reset,
        ("reset-mid-stream", _) => Script::StreamThenReset(
            "data: {\"choices\":[{\"delta\":{\"content\":\"partial\"}}]}\n\n".into(),
        ),
        ("malformed", _) => Script::Stream("data: {\"choices\":[{\"delta\":\n\n".into()),
        ("loris-headers", _) => Script::LorisHeaders,
        ("loris-body", _) => Script::LorisBody(String::new()),
        ("loris-after-a-token", _) => Script::LorisBody(
            "data: {\"choices\":[{\"delta\":{\"content\":\"partial\"}}]}\n\n".into(),
        ),
        (other, _) => panic!("the scripted upstream has no model {other}"),
    }
}

enum Script {
    Stream(String),
    Status(u16, Option<&'static str>),
    Silent,
    Reset,
    StreamThenReset(String),
    LorisHeaders,
    LorisBody(String),
}

const MODELS: &[&str] = &[
    "steady",
    "flaky-500",
    "limited-briefly",
    "limited-long",
    "limited-then-fallback",
    "silent",
    "reset-once",
    "reset-always",
    "reset-mid-stream",
    "malformed",
    "loris-headers",
    "loris-body",
    "loris-after-a-token",
];

type Calls = Arc<Mutex<HashMap<String, usize>>>;

/// A scripted HTTP/1.1 upstream on raw TCP, so that it can reset and trickle at will.
async fn upstream() -> (SocketAddr, Calls) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls: Calls = Arc::default();
    let counted = calls.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let calls = counted.clone();
            tokio::spawn(async move {
                let _ = answer(socket, calls).await;
            });
        }
    });
    (addr, calls)
}

/// Reads one request (headers and a Content-Length body); `None` when the peer closed.
async fn read_request(socket: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    Some((head, body))
}

async fn answer(mut socket: TcpStream, calls: Calls) -> std::io::Result<()> {
    while let Some((head, body)) = read_request(&mut socket).await {
        if head.starts_with("GET /v1/models") {
            let list = MODELS
                .iter()
                .map(|m| format!("{{\"id\":\"{m}\"}}"))
                .collect::<Vec<_>>()
                .join(",");
            let json = format!("{{\"data\":[{list}]}}");
            write_response(&mut socket, 200, "application/json", &[], &json).await?;
            continue;
        }
        let request: serde_json::Value = serde_json::from_str(&body).unwrap();
        let model = request["model"].as_str().unwrap().to_string();
        let seen = {
            let mut map = calls.lock().unwrap();
            let count = map.entry(model.clone()).or_default();
            *count += 1;
            *count - 1
        };
        match behave(&model, seen) {
            Script::Stream(sse) => {
                write_response(&mut socket, 200, "text/event-stream", &[], &sse).await?;
            }
            Script::Status(status, retry_after) => {
                let headers: Vec<(&str, &str)> = retry_after
                    .map(|s| ("retry-after", s))
                    .into_iter()
                    .collect();
                let json = format!(
                    "{{\"error\":{{\"message\":\"scripted {status}\",\"type\":\"scripted\"}}}}"
                );
                write_response(&mut socket, status, "application/json", &headers, &json).await?;
            }
            Script::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Script::Reset => {
                reset(socket);
                return Ok(());
            }
            Script::StreamThenReset(partial) => {
                socket.write_all(stream_head().as_bytes()).await?;
                socket.write_all(chunked(&partial).as_bytes()).await?;
                socket.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                reset(socket);
                return Ok(());
            }
            Script::LorisHeaders => {
                for byte in stream_head().bytes().cycle() {
                    socket.write_all(&[byte]).await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Script::LorisBody(first) => {
                socket.write_all(stream_head().as_bytes()).await?;
                if !first.is_empty() {
                    socket.write_all(chunked(&first).as_bytes()).await?;
                }
                // One byte of a data line at a time, never a whole event.
                loop {
                    socket.write_all(chunked("d").as_bytes()).await?;
                    socket.flush().await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Ok(())
}

fn stream_head() -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        .into()
}

fn chunked(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// Closes with a TCP reset (RST), not an orderly FIN.
fn reset(socket: TcpStream) {
    let std = socket.into_std().unwrap();
    socket2::SockRef::from(&std)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(std);
}

async fn write_response(
    socket: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.flush().await
}

/// The real gateway on a loopback port in front of the scripted upstream.
async fn gateway(upstream: SocketAddr) -> String {
    let backend = OpenAiBackend::new(
        "scripted",
        &format!("http://{upstream}/v1"),
        None,
        UPSTREAM_TIMEOUT_SECS,
    )
    .unwrap();
    let policy = Policy {
        retries: 2,
        backoff: Duration::from_millis(50),
        fallback: BTreeMap::from([(
            "limited-then-fallback".to_string(),
            vec!["steady".to_string()],
        )]),
        breaker_failures: 100,
        ..Policy::default()
    };
    let state = Arc::new(AppState::new(
        Arc::new(Resilient::new(Arc::new(backend), policy)),
        BTreeMap::new(),
        Vec::new(),
        1 << 20,
    ));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(understudy_serve::serve(
        "127.0.0.1:0".parse().unwrap(),
        state,
        axum::Router::new(),
        std::future::pending(),
        Duration::from_secs(1),
        move |addr| {
            let _ = tx.send(addr);
        },
    ));
    format!("http://{}", rx.await.unwrap())
}

struct Outcome {
    status: u16,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

/// One client request with the client's deadline; a request that outlives it fails the test.
async fn ask(base: &str, model: &str, stream: bool) -> Outcome {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let call = async {
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .json(&serde_json::json!({
                "model": model,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": stream,
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.text().await.unwrap_or_default();
        (status, retry_after, body)
    };
    let (status, retry_after, body) = tokio::time::timeout(CLIENT_DEADLINE, call)
        .await
        .unwrap_or_else(|_| panic!("{model} (stream {stream}) hung past the client's deadline"));
    Outcome {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

fn error_of(outcome: &Outcome) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(&outcome.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", outcome.body));
    let error = value["error"].clone();
    assert!(
        error["message"].is_string() && error["type"].is_string(),
        "not an OpenAI error body: {}",
        outcome.body
    );
    error
}

fn answer_of(outcome: &Outcome) -> String {
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    let value: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
    value["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The SSE `data:` payloads of a streamed answer.
fn events_of(outcome: &Outcome) -> Vec<String> {
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    outcome
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn transient_upstream_failures_are_retried_to_a_success() {
    let (up, calls) = upstream().await;
    let base = gateway(up).await;
    let flaky = ask(&base, "flaky-500", false).await;
    assert_eq!(answer_of(&flaky), "fine");
    assert_eq!(
        calls.lock().unwrap()["flaky-500"],
        3,
        "two 500s, then success"
    );

    let reset = ask(&base, "reset-once", true).await;
    let events = events_of(&reset);
    assert!(events.iter().any(|e| e.contains("fine")), "{events:?}");
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn retry_after_is_honoured_when_short_and_passed_on_when_long() {
    let (up, calls) = upstream().await;
    let base = gateway(up).await;

    let brief = ask(&base, "limited-briefly", false).await;
    assert_eq!(answer_of(&brief), "fine");
    assert!(
        brief.took >= Duration::from_millis(950),
        "the upstream asked for 1 s and got {:?} (backoff alone is 50 ms)",
        brief.took
    );

    let long = ask(&base, "limited-long", false).await;
    assert_eq!(long.status, 429, "{}", long.body);
    assert_eq!(long.retry_after.as_deref(), Some("120"));
    let error = error_of(&long);
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(error["message"].as_str().unwrap().contains("scripted 429"));
    assert!(long.took < Duration::from_secs(2), "took {:?}", long.took);
    assert_eq!(
        calls.lock().unwrap()["limited-long"],
        1,
        "a wait longer than the policy allows is not retried"
    );

    let fallback = ask(&base, "limited-then-fallback", false).await;
    assert_eq!(answer_of(&fallback), "fine", "the fallback model answers");
    assert!(fallback.took < Duration::from_secs(2));
}

#[tokio::test]
async fn a_silent_or_resetting_upstream_ends_in_a_clear_error() {
    let (up, calls) = upstream().await;
    let base = gateway(up).await;

    let silent = ask(&base, "silent", false).await;
    assert_eq!(silent.status, 504, "{}", silent.body);
    assert_eq!(error_of(&silent)["code"], "timeout");
    assert!(
        silent.took < Duration::from_secs(3),
        "took {:?}",
        silent.took
    );

    let reset = ask(&base, "reset-always", false).await;
    assert_eq!(reset.status, 502, "{}", reset.body);
    assert_eq!(error_of(&reset)["code"], "upstream_error");
    assert_eq!(
        calls.lock().unwrap()["reset-always"],
        3,
        "first try and two retries"
    );
}

#[tokio::test]
async fn a_stream_broken_midway_or_malformed_ends_with_an_error() {
    let (up, _) = upstream().await;
    let base = gateway(up).await;

    let streamed = ask(&base, "reset-mid-stream", true).await;
    let events = events_of(&streamed);
    assert!(events.iter().any(|e| e.contains("partial")), "{events:?}");
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{events:?}");
    assert!(!events.iter().any(|e| e == "[DONE]"));

    let unary = ask(&base, "reset-mid-stream", false).await;
    assert_eq!(unary.status, 502, "{}", unary.body);
    error_of(&unary);

    let malformed = ask(&base, "malformed", false).await;
    assert_eq!(malformed.status, 502, "{}", malformed.body);
    assert!(
        error_of(&malformed)["message"]
            .as_str()
            .unwrap()
            .contains("malformed stream chunk"),
        "{}",
        malformed.body
    );
}

#[tokio::test]
async fn a_slow_loris_upstream_is_cut_off_at_the_timeout() {
    let (up, _) = upstream().await;
    let base = gateway(up).await;
    let bound = Duration::from_secs(UPSTREAM_TIMEOUT_SECS + 2);

    // Trickling the status line and headers a byte at a time.
    let headers = ask(&base, "loris-headers", false).await;
    assert_eq!(headers.status, 504, "{}", headers.body);
    assert_eq!(error_of(&headers)["code"], "timeout");
    assert!(headers.took < bound, "took {:?}", headers.took);

    // Trickling a body that never completes an event.
    let body = ask(&base, "loris-body", true).await;
    assert_eq!(body.status, 504, "{}", body.body);
    assert!(body.took < bound, "took {:?}", body.took);

    // One real token, then trickling: the client keeps the token and gets a closing error.
    let after = ask(&base, "loris-after-a-token", true).await;
    let events = events_of(&after);
    assert!(events.iter().any(|e| e.contains("partial")), "{events:?}");
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within"),
        "{events:?}"
    );
    assert!(after.took < bound, "took {:?}", after.took);
}
