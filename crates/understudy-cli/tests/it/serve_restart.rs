//! `understudy serve` killed mid-conversation (SIGKILL, no clean shutdown) and started again on
//! the same store: the next turn of the conversation still carries the earlier turns, because
//! conversation memory lives in SQLite. Real binary, real embedded model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{ensure_small_model, free_port, serve_command, text, understudy, wait_for_port};

fn start(config: &Path, db: &Path, port: u16) -> Child {
    let child = serve_command(config, db, port)
        .args(["--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, 60);
    child
}

fn turn(port: u16, content: &str) -> serde_json::Value {
    let body = serde_json::json!({
        "model": "notes",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 8,
        "temperature": 0
    });
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-conversation-id: trip-42\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    use std::io::{Read, Write};
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let json = reply.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(json).unwrap()
}

#[test]
fn conversation_survives_a_killed_gateway() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[profiles.notes]\nmodel = \"smollm2-135m\"\nconversation = true\nlog_content = true\n",
    )
    .unwrap();
    let db = dir.path().join("u.db");
    let port = free_port();

    let mut first = start(&config, &db, port);
    turn(port, "My locker code word is Zorbulon.");
    first.kill().unwrap(); // SIGKILL: no chance to flush anything on the way out
    first.wait().unwrap();

    let second = start(&config, &db, port);
    turn(port, "What is my locker code word?");
    // SIGTERM this time: a clean stop (the restart under test is the SIGKILL above).
    let _ = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status();
    let mut second = second;
    second.wait().unwrap();

    let out = understudy()
        .args(["logs", "--json", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Both turns are logged: a row is committed before its answer reaches the client, so the
    // SIGKILL after the first answer cannot lose it.
    assert_eq!(rows.len(), 2, "{rows:?}");
    let later = rows
        .iter()
        .find(|r| {
            r["prompt_json"]
                .as_str()
                .is_some_and(|p| p.contains("What is my locker code word?"))
        })
        .expect("the second turn is logged with its prompt");
    let prompt = later["prompt_json"].as_str().unwrap();
    assert!(
        prompt.contains("Zorbulon"),
        "the turn after the restart lost the earlier turn: {prompt}"
    );
}
