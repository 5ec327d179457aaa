//! Through the real binary: the gateway streams two concurrent requests to one embedded model
//! whose engine runs two sequences, both streams finish, and the request log records that they
//! ran together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Stdio;

use common::{ensure_small_model, free_port, http, serve_command, wait_for_port, Killed};

fn streamed(prompt: &str) -> String {
    serde_json::json!({
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 48,
        "stream": true,
    })
    .to_string()
}

#[test]
fn two_concurrent_streams_to_one_embedded_model_both_finish() {
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[defaults]\nthreads = 2\n\n[backends.embedded]\nparallel = 2\n",
    )
    .unwrap();
    let db = dir.path().join("u.db");
    let port = free_port();
    let _server = Killed(
        serve_command(&config, &db, port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 60);
    // Load the model first, so that both streams start together.
    let (status, _) = http(port, "POST", "/v1/chat/completions", &streamed("Hi."));
    assert_eq!(status, 200);

    let clients: Vec<_> = ["Write a poem about rain.", "Describe a busy market."]
        .into_iter()
        .map(|prompt| {
            std::thread::spawn(move || {
                http(port, "POST", "/v1/chat/completions", &streamed(prompt))
            })
        })
        .collect();
    for client in clients {
        let (status, body) = client.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("data: [DONE]"),
            "the stream did not finish: {body}"
        );
        assert!(body.matches("\"content\"").count() > 3, "{body}");
    }
    // The log is written as each request ends; both rows say two ran at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let store = rusqlite::Connection::open(&db).unwrap();
        let together: i64 = store
            .query_row(
                "SELECT COUNT(*) FROM requests WHERE concurrency = 2 AND status = 200",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if together == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{together} logged requests ran two at once"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
