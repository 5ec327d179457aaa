//! The gateway through a real socket, as an attacker or a careless client would reach it: a
//! foreign Host (DNS rebinding) is refused without keys; a POST that is not JSON is refused; a
//! body declared over the limit is refused before it is sent; a client that hangs up mid-body is
//! logged as 499, not 413; a huge model name is capped in the log; fields the gateway does not
//! serve are refused by name; a slow request head is cut off, a stalled body gets 408, and
//! connections past the cap get 503.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use understudy_backend::fake::FakeBackend;
use understudy_serve::AppState;

const LIMIT: usize = 1 << 20;

/// The gateway (no keys) with a request log in `db`, on a port of its own.
fn gateway(db: &std::path::Path) -> SocketAddr {
    gateway_with(db, understudy_serve::DEFAULT_BODY_IDLE, Default::default())
}

/// [`gateway`] with its slow-client limits set.
fn gateway_with(
    db: &std::path::Path,
    body_idle: Duration,
    limits: understudy_serve::accept_loop::ConnLimits,
) -> SocketAddr {
    let db = db.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let store = understudy_store::Store::open_path(&db).await.unwrap();
            let state = AppState::new(
                Arc::new(FakeBackend::new()),
                BTreeMap::new(),
                Vec::new(),
                LIMIT,
            )
            .with_allowed_hosts(vec!["gateway.lan".into()])
            .with_slow_client_limits(body_idle, limits)
            .with_log(understudy_serve::log::RequestLog::new(store.log));
            understudy_serve::serve(
                "127.0.0.1:0".parse().unwrap(),
                Arc::new(state),
                axum::Router::new(),
                std::future::pending(),
                Duration::from_secs(1),
                move |addr| tx.send(addr).unwrap(),
            )
            .await
            .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Sends `head` (and `body`), reads until the server closes or 5 s pass: (status, text).
fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn post(addr: SocketAddr, host: &str, content_type: &str, body: &str) -> (u16, String) {
    exchange(
        addr,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ),
        body.as_bytes(),
    )
}

const CHAT: &str = r#"{"model":"echo","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn foreign_hosts_and_non_json_posts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let addr = gateway(&dir.path().join("log.db"));
    for host in [
        "localhost",
        &format!("127.0.0.1:{}", addr.port()),
        "gateway.lan:8080",
    ] {
        let (status, text) = post(addr, host, "application/json", CHAT);
        assert_eq!(status, 200, "{host}: {text}");
    }
    for host in [
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
    ] {
        let (status, text) = post(addr, host, "application/json", CHAT);
        assert_eq!(status, 403, "{host}: {text}");
        assert!(text.contains("allowed_hosts"), "{text}");
        let (status, _) = exchange(
            addr,
            &format!("GET /metrics HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"),
            b"",
        );
        assert_eq!(status, 403, "{host} /metrics");
    }
    // A page can post text/plain anywhere without asking the browser first: refused.
    let (status, text) = post(addr, "localhost", "text/plain", CHAT);
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("Content-Type"), "{text}");
}

#[test]
fn a_declared_excess_is_refused_before_the_body_and_a_hang_up_is_not_a_413() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let addr = gateway(&db);
    // Headers only, declaring 100 MB: the 413 comes without waiting for any of it.
    let started = Instant::now();
    let (status, text) = exchange(
        addr,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n",
        b"",
    );
    assert_eq!(status, 413, "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A client that sends part of its body and leaves.
    {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"model\":")
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    // A model name of 100,000 characters is logged capped.
    let long = "m".repeat(100_000);
    let body = format!(r#"{{"model":"{long}","messages":[{{"role":"user","content":"hi"}}]}}"#);
    let (status, _) = post(addr, "localhost", "application/json", &body);
    assert_eq!(status, 404);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = runtime.block_on(async {
            let store = understudy_store::Store::open_path(&db).await.unwrap();
            store.log.requests("", 100).await.unwrap()
        });
        if rows.len() >= 3 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let statuses: Vec<(u16, Option<String>)> = rows
        .iter()
        .map(|r| (r.status, r.error_type.clone()))
        .collect();
    assert!(
        statuses.contains(&(499, Some("client_closed_request".into()))),
        "{statuses:?}"
    );
    let long_row = rows.iter().find(|r| r.status == 404).expect("the 404 row");
    assert!(
        long_row.model.chars().count() < 300,
        "{}",
        long_row.model.len()
    );
    assert!(
        long_row.model.ends_with("(+99744 chars)"),
        "{}",
        &long_row.model[250..]
    );
    assert!(long_row
        .backend_model
        .as_ref()
        .is_none_or(|m| m.chars().count() < 300));
}

#[test]
fn fields_the_gateway_does_not_serve_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let addr = gateway(&dir.path().join("log.db"));
    for (field, value) in [
        // Log-probabilities are served, but only with `logprobs: true`.
        ("top_logprobs", "3"),
        // Legacy function calling is served, but not beside `tools`.
        ("function_call", r#""sometimes""#),
        ("tool_choice", r#""auto""#),
        ("logit_bias", r#"{"50256":-100}"#),
    ] {
        let body = format!(
            r#"{{"model":"echo","messages":[{{"role":"user","content":"hi"}}],"{field}":{value}}}"#
        );
        let (status, text) = post(addr, "localhost", "application/json", &body);
        assert_eq!(status, 400, "{field}: {text}");
        assert!(
            text.contains(&format!("\"param\":\"{field}\"")),
            "{field}: {text}"
        );
    }
    // Asking for no log-probabilities is asking for nothing unserved; asking for them gets them.
    let body = r#"{"model":"echo","messages":[{"role":"user","content":"hi"}],"logprobs":false}"#;
    let (status, text) = post(addr, "localhost", "application/json", body);
    assert_eq!(status, 200);
    assert!(text.contains(r#""logprobs":null"#), "{text}");
    let body = r#"{"model":"echo","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#;
    let (status, text) = post(addr, "localhost", "application/json", body);
    assert_eq!(status, 200);
    assert!(text.contains(r#""logprobs":{"content":[{"#), "{text}");
}

#[test]
fn slow_heads_stalled_bodies_and_connections_past_the_cap_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let addr = gateway_with(
        &dir.path().join("log.db"),
        Duration::from_secs(1),
        understudy_serve::accept_loop::ConnLimits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: 3,
        },
    );
    // Half a request head, then nothing: the connection is closed, not held.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held {:?}",
        started.elapsed()
    );

    // A body that stops halfway gets 408.
    let started = Instant::now();
    let (status, text) = exchange(
        addr,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n",
        b"{\"model\":",
    );
    assert_eq!(status, 408, "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Three idle connections fill the cap; a fourth is refused at once with 503.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, text) = exchange(
        addr,
        "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("too_many_connections")
            && text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    // Once they go (or time out), the gateway answers again.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = exchange(
            addr,
            "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
            b"",
        );
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
