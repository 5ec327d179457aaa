//! Gateway security through the real binary: API keys (right and wrong ones, and the upstream's)
//! never reach the logs, the request log or any byte of the SQLite files, even at trace level
//! with prompt logging on; a non-loopback address without keys is refused unless
//! --insecure-no-auth is given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::{
    answering, assert_clean_failure, free_port, serve_command, serve_openai_mock, text, understudy,
    wait_for_port,
};

const CLIENT_KEY: &str = "sk-client-7f3a9c1e5b";
const WRONG_KEY: &str = "sk-wrong-2d8e4f6a0c";
const UPSTREAM_KEY: &str = "sk-upstream-9b1d3f5e7a";

fn mock_upstream(runtime: &tokio::runtime::Runtime) -> String {
    serve_openai_mock(runtime, answering("hello", 0))
}

fn post(port: u16, key: &str, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn keys_never_reach_logs_or_the_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upstream = mock_upstream(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[serve]\napi_keys_env = [\"UNDERSTUDY_TEST_KEY\"]\n\n[profiles.p]\nmodel = \"openai/m\"\nlog_content = true\n",
    )
    .unwrap();
    let db = dir.path().join("u.db");
    let port = free_port();
    let server = serve_command(&config, &db, port)
        .env("UNDERSTUDY_TEST_KEY", CLIENT_KEY)
        .env("OPENAI_BASE_URL", &upstream)
        .env("OPENAI_API_KEY", UPSTREAM_KEY)
        .env("UNDERSTUDY_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port, 30);
    let body = r#"{"model":"p","messages":[{"role":"user","content":"hi"}]}"#;
    let ok = post(port, CLIENT_KEY, body);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let streamed = post(
        port,
        CLIENT_KEY,
        r#"{"model":"p","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert!(streamed.starts_with("HTTP/1.1 200"), "{streamed}");
    let denied = post(port, WRONG_KEY, body);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    for reply in [&ok, &streamed, &denied] {
        assert!(
            !reply.contains(CLIENT_KEY)
                && !reply.contains(WRONG_KEY)
                && !reply.contains(UPSTREAM_KEY)
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let out = server.wait_with_output().unwrap();
    let logs = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(logs.len() > 200, "trace logging produced nothing: {logs}");

    let listed = understudy()
        .args(["logs", "--json", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let listed = text(&listed.stdout);
    // Both answers; the refused request is counted in /metrics, not logged a row each (a
    // flood of wrong keys must not grow the log), and the key is never anywhere.
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(!listed.contains("\"status\":401"), "{listed}");
    assert!(
        listed.contains("\"prompt_json\":\"["),
        "prompts are logged: {listed}"
    );

    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("u.db") {
            stored.extend(std::fs::read(&path).unwrap());
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    for key in [CLIENT_KEY, WRONG_KEY, UPSTREAM_KEY] {
        assert!(!logs.contains(key), "{key} in the logs");
        assert!(!listed.contains(key), "{key} in the request log");
        assert!(!stored.contains(key), "{key} in the SQLite files");
        // Not even a prefix long enough to identify it.
        assert!(!stored.contains(&key[..12]) && !logs.contains(&key[..12]));
    }
}

#[test]
fn public_address_without_keys_needs_insecure_no_auth() {
    let out = understudy()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "--insecure-no-auth");
}
