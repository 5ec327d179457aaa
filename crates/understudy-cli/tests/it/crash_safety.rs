//! Crash safety with SIGKILL at pseudo-random moments: the eval runner 20 times (each rerun
//! completes with no lost and no duplicated cell), the gateway under concurrent traffic with the
//! request log and conversation memory being written, and `memory add` mid-collection. After
//! every kill the SQLite file passes `PRAGMA integrity_check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    answering, free_port, home, serve_command, serve_openai_mock, text, understudy, wait_for_port,
};

/// A mock OpenAI-compatible upstream: chat answers "positive" after `delay_ms`; embeddings
/// answer a small vector per input.
fn upstream(runtime: &tokio::runtime::Runtime, delay_ms: u64) -> String {
    use axum::routing::post;
    let app = answering("positive", delay_ms).route(
        "/v1/embeddings",
        post(move |body: String| async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let n = v["input"].as_array().map(Vec::len).unwrap_or(1);
            let data: Vec<serde_json::Value> = (0..n)
                .map(|i| serde_json::json!({"index": i, "embedding": [1.0, i as f64, 0.5]}))
                .collect();
            axum::Json(serde_json::json!({"data": data, "model": "m"}))
        }),
    );
    serve_openai_mock(runtime, app)
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

/// A small deterministic generator, so a failing kill point can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn toy_task(dir: &Path) -> std::path::PathBuf {
    let rows: String = (0..10)
        .map(|i| {
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"review {i}\",\"label\":\"{}\"}}\n",
                if i % 2 == 0 { "positive" } else { "negative" }
            )
        })
        .collect();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

/// A mock upstream for eval that answers "positive" after `delay_ms` and counts the calls.
fn counting_upstream(
    runtime: &tokio::runtime::Runtime,
    delay_ms: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = answering("positive", delay_ms).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            if request.uri().path().ends_with("/chat/completions") {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            next.run(request)
        },
    ));
    (serve_openai_mock(runtime, app), calls)
}

/// Counts model calls, not rows: with the response cache off, the rerun must call the model
/// exactly once for each cell the killed run did not store (a cell answered twice shows up as an
/// extra call), and the killed run can have lost at most the calls in flight (concurrency 2).
#[test]
fn eval_killed_twenty_times_loses_and_duplicates_nothing() {
    use std::sync::atomic::Ordering;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (base, calls) = counting_upstream(&runtime, 3);
    let mut rng = Lcg(2026);
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let task = toy_task(dir.path());
        let db = dir.path().join("u.db");
        let args = [
            "eval",
            "--models",
            "openai/m",
            "--tasks",
            task.to_str().unwrap(),
            "--strategies",
            "zero-shot,role",
            "--formats",
            "plain,json",
            "--no-reference",
            "--concurrency",
            "2",
            "--no-cache",
            "--db",
            db.to_str().unwrap(),
        ];
        calls.store(0, Ordering::SeqCst);
        let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
            .args(args)
            .env("UNDERSTUDY_HOME", home())
            .env("OPENAI_BASE_URL", &base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + rng.next(200)));
        child.kill().unwrap();
        child.wait().unwrap();
        let first_calls = calls.load(Ordering::SeqCst);
        let (stored, first_finished) = if db.exists() {
            assert_eq!(integrity(&db), "ok", "round {round}: after the kill");
            (
                count(&db, "SELECT COUNT(*) FROM cells"),
                count(&db, "SELECT COUNT(*) FROM runs WHERE status = 'finished'") == 1,
            )
        } else {
            (0, false)
        };
        let stored = usize::try_from(stored).unwrap();
        assert!(
            first_calls >= stored && first_calls <= stored + 2,
            "round {round}: the killed run stored {stored} cells from {first_calls} calls"
        );
        let out = understudy()
            .env("OPENAI_BASE_URL", &base)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
        assert_eq!(integrity(&db), "ok", "round {round}");
        let rerun_calls = calls.load(Ordering::SeqCst) - first_calls;
        // A finished first run is not resumed: the same command is then a new run of 40 cells.
        let missing = if first_finished { 40 } else { 40 - stored };
        assert_eq!(
            rerun_calls, missing,
            "round {round}: the rerun called the model {rerun_calls} times for {missing} missing cells"
        );
        let last = count(
            &db,
            "SELECT COUNT(*) FROM cells WHERE run_id = (SELECT MAX(id) FROM runs)",
        );
        assert_eq!(last, 40, "round {round}: lost cells");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM runs WHERE status != 'finished'"),
            0,
            "round {round}: the rerun did not finish the killed run"
        );
    }
}

fn post(port: u16, conversation: &str) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let body = r#"{"model":"notes","messages":[{"role":"user","content":"remember this"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-conversation-id: {conversation}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

#[test]
fn gateway_killed_under_load_leaves_a_sound_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = upstream(&runtime, 2);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[profiles.notes]\nmodel = \"openai/m\"\nconversation = true\nlog_content = true\n",
    )
    .unwrap();
    let db = dir.path().join("u.db");
    let mut rng = Lcg(7);
    let mut logged_before = 0;
    for round in 0..5 {
        let port = free_port();
        let mut server = serve_command(&config, &db, port)
            .env("OPENAI_BASE_URL", &base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, 30);
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let clients: Vec<_> = (0..8)
            .map(|c| {
                let answered = answered.clone();
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for _ in 0..200 {
                        if !post(port, &format!("c{c}")) {
                            break;
                        }
                        ok += 1;
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    ok
                })
            })
            .collect();
        // Kill under load: once requests are being answered (a busy machine can take longer
        // than a fixed pause to answer the first), then at a random moment after.
        let deadline = Instant::now() + Duration::from_secs(30);
        while answered.load(std::sync::atomic::Ordering::Relaxed) == 0 && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.next(300)));
        server.kill().unwrap();
        server.wait().unwrap();
        let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert!(
            served > 0,
            "round {round}: no request was served before the kill"
        );
        assert_eq!(integrity(&db), "ok", "round {round}");
        // Every logged request is whole: an HTTP status, and the prompt for each success.
        let broken = count(
            &db,
            "SELECT COUNT(*) FROM requests WHERE status < 100 OR status > 599 OR (status = 200 AND prompt_json IS NULL)",
        );
        assert_eq!(broken, 0, "round {round}");
        // A row is committed before its client sees the answer end: every answered request is
        // logged, plus at most the one request each client had in flight at the kill.
        let logged = count(&db, "SELECT COUNT(*) FROM requests");
        let new_rows = usize::try_from(logged - logged_before).unwrap();
        assert!(
            new_rows >= served && new_rows <= served + 8,
            "round {round}: {served} answered, {new_rows} logged"
        );
        logged_before = logged;
    }
    let logged = count(&db, "SELECT COUNT(*) FROM requests");
    assert!(logged > 0);
    // The store still works: `understudy logs` reads it.
    let out = understudy()
        .args(["logs", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn memory_add_killed_midway_reruns_to_one_copy_of_each_chunk() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = upstream(&runtime, 30);
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for i in 0..40 {
        std::fs::write(
            docs.join(format!("d{i:02}.txt")),
            format!("Document {i} says the code for room {i} is {}.", 1000 + i),
        )
        .unwrap();
    }
    let db = dir.path().join("u.db");
    let args = [
        "memory",
        "add",
        docs.to_str().unwrap(),
        "--collection",
        "c",
        "--embeddings-url",
        &base,
        "--embeddings-model",
        "m",
        "--db",
        db.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(args)
        .env("UNDERSTUDY_HOME", home())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(db.exists() && count(&db, "SELECT COUNT(*) FROM memory_chunks") >= 5) {
        assert!(Instant::now() < deadline, "memory add made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(integrity(&db), "ok");
    let partial = count(&db, "SELECT COUNT(*) FROM memory_chunks");
    assert!(partial < 40, "killed too late ({partial} chunks)");
    let out = understudy().args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(integrity(&db), "ok");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM memory_chunks"), 40);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT source) FROM memory_chunks"),
        40
    );
}
