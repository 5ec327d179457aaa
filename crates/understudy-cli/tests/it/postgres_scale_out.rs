//! Past one machine, on a real PostgreSQL server (started per test binary by
//! `understudy_store::test_server`): gateway replicas sharing conversations, memory and the
//! request log, one of them killed under load; eval workers sharing one run, one of them
//! SIGKILLed and restarted. Skipped with a note when no server can be started, unless
//! UNDERSTUDY_REQUIRE_POSTGRES is set (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{home, serve_openai_mock, text, toy_review_task, understudy};

/// Request bodies the mock upstream received, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A mock upstream that answers every chat request with `answer` after `delay_ms` and keeps
/// each request's body.
fn recording_upstream(
    runtime: &tokio::runtime::Runtime,
    answer: &'static str,
    delay_ms: u64,
) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let chunk = serde_json::json!({"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]});
                (
                    [("content-type", "text/event-stream")],
                    format!("data: {chunk}\n\ndata: [DONE]\n\n"),
                )
            }
        }),
    );
    (serve_openai_mock(runtime, app), seen)
}

fn database(runtime: &tokio::runtime::Runtime) -> Option<String> {
    runtime.block_on(understudy_store::test_server::fresh_database())
}

/// POSTs one chat turn to `port` in conversation `conversation` (if any); the HTTP status.
fn say(port: u16, model: &str, conversation: Option<&str>, content: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let body =
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": content}]})
            .to_string();
    let header = conversation
        .map(|c| format!("x-conversation-id: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{header}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Rows of `understudy logs --json` on the store.
fn logged(url: &str) -> Vec<serde_json::Value> {
    common::logged_rows(url)
}

#[test]
fn two_gateways_on_one_postgres_share_conversations_memory_and_the_log() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = database(&runtime) else {
        return;
    };
    let (upstream, seen) = recording_upstream(&runtime, "noted", 2);
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("reset.md"),
        "To reset your password open Settings, choose Security and press Reset password.",
    )
    .unwrap();
    std::fs::write(
        docs.join("billing.md"),
        "Invoices are sent on the first day of each month by email.",
    )
    .unwrap();
    // The collection is added once, through neither gateway.
    let out = understudy()
        .args([
            "memory",
            "add",
            docs.to_str().unwrap(),
            "--collection",
            "handbook",
            "--db",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[profiles.notes]\nmodel = \"openai/m\"\nconversation = true\nlog_content = true\n\n[profiles.helpdesk]\nmodel = \"openai/m\"\nmemory = { collection = \"handbook\", k = 1 }\n",
    )
    .unwrap();
    let mut replicas = crate::common::gateways(&config, &url, &upstream, 2);
    let (b, _replica_b) = replicas.pop().unwrap();
    let (a, mut replica_a) = replicas.pop().unwrap();
    let last_sent = || seen.lock().unwrap().last().cloned().unwrap_or_default();

    // A conversation started on one replica continues on the other, in both orders.
    for (first, second, id) in [(a, b, "ab"), (b, a, "ba")] {
        assert_eq!(
            say(first, "notes", Some(id), &format!("My name is Ada-{id}.")),
            200
        );
        assert_eq!(say(second, "notes", Some(id), "What is my name?"), 200);
        let sent = last_sent();
        assert!(
            sent.contains(&format!("My name is Ada-{id}.")),
            "{id}: {sent}"
        );
        assert!(
            sent.contains("noted"),
            "{id}: the first answer is kept: {sent}"
        );
    }
    // The collection added once is searched by both.
    for port in [a, b] {
        assert_eq!(
            say(port, "helpdesk", None, "How do I reset my password?"),
            200
        );
        let sent = last_sent();
        assert!(sent.contains("press Reset password"), "port {port}: {sent}");
    }
    // Both replicas' rows are in one log.
    let rows = logged(&url);
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["model"] == "notes").count(), 4);

    // Replica A killed under load: every request a client saw answered has its row.
    let before = rows.len();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let port = if c % 2 == 0 { a } else { b };
            std::thread::spawn(move || {
                let mut answered = 0;
                for i in 0..150 {
                    if say(
                        port,
                        "notes",
                        Some(&format!("load{c}")),
                        &format!("turn {i}"),
                    ) != 200
                    {
                        break;
                    }
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let _ = replica_a.0.kill();
    let _ = replica_a.0.wait();
    let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let rows = logged(&url);
    let new_rows = rows.len() - before;
    assert!(answered > 0);
    // At most one request per client on A was in flight at the kill (logged or not).
    assert!(
        new_rows >= answered && new_rows <= answered + 4,
        "{answered} answered, {new_rows} logged"
    );
    // Every row is whole: the profile that logs content has it in each answered row.
    let broken = rows
        .iter()
        .filter(|r| r["model"] == "notes" && r["status"] == 200 && r["prompt_json"].is_null())
        .count();
    assert_eq!(broken, 0);
    // Old days go whole: everything logged before a day far ahead is removed.
    let out = understudy()
        .args([
            "logs",
            "--drop-before",
            "2999-01-01T00:00:00Z",
            "--db",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("removed {} requests", rows.len())),
        "{}",
        text(&out.stderr)
    );
    assert!(logged(&url).is_empty());
}

/// Runs `understudy eval` with `args` as a child process.
fn eval_worker(args: &[String], upstream: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(args)
        .env("UNDERSTUDY_HOME", home())
        .env("OPENAI_BASE_URL", upstream)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `understudy show --json` of the store's latest run, without what differs between runs of one
/// plan (ids, times, latency, machine load).
fn scores(db: &str) -> serde_json::Value {
    let out = understudy()
        .args(["show", "--json", "--db", db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let rows: Vec<serde_json::Value> = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!({
                "row": [&r["model"], &r["strategy"], &r["format"]],
                "tasks": r["tasks"], "pooled": r["pooled"], "cells": r["cells"],
            })
        })
        .collect();
    let mut kept = serde_json::json!({"rows": rows, "comparisons": summary["comparisons"]});
    drop_latency(&mut kept);
    kept
}

/// Removes every `latency…` field: timings differ between any two runs.
fn drop_latency(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| !key.starts_with("latency"));
            map.values_mut().for_each(drop_latency);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_latency),
        _ => {}
    }
}

#[test]
fn three_eval_workers_share_one_run_and_a_killed_one_loses_and_repeats_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = database(&runtime) else {
        return;
    };
    let (upstream, seen) = recording_upstream(&runtime, "positive", 40);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_review_task(dir.path(), 30, "Classify the review.");
    let args = |db: &str| -> Vec<String> {
        [
            "eval",
            "--models",
            "openai/m",
            "--tasks",
            task.to_str().unwrap(),
            "--limit",
            "30",
            "--strategies",
            "zero-shot,role",
            "--formats",
            "plain,json",
            "--no-reference",
            "--concurrency",
            "2",
            "--no-cache",
            "--claim-lease",
            "2",
            "--db",
            db,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cells = 30 * 2 * 2;
    let mut workers: Vec<std::process::Child> = (0..3)
        .map(|_| eval_worker(&args(&url), &upstream))
        .collect();
    // Kill one worker midway (after a third of the cells were asked for), then restart it.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while seen.lock().unwrap().len() < cells / 3 {
        if std::time::Instant::now() > deadline
            || workers
                .iter_mut()
                .any(|w| matches!(w.try_wait(), Ok(Some(_))))
        {
            let errors: Vec<String> = workers
                .into_iter()
                .map(|mut w| {
                    let _ = w.kill();
                    text(&w.wait_with_output().unwrap().stderr)
                })
                .collect();
            panic!("the workers made no progress: {errors:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    workers[1].kill().unwrap();
    workers[1].wait().unwrap();
    let at_kill = seen.lock().unwrap().len();
    workers.push(eval_worker(&args(&url), &upstream));
    for (i, w) in workers.into_iter().enumerate() {
        let out = w.wait_with_output().unwrap();
        if i != 1 {
            assert!(out.status.success(), "worker {i}: {}", text(&out.stderr));
        }
    }
    assert!(at_kill < cells, "the kill came after the run was over");
    // Count model calls: every cell asked for once, except at most the two the killed worker
    // had in flight (it died before storing them; another worker asked again).
    let mut calls: HashMap<String, usize> = HashMap::new();
    for body in seen.lock().unwrap().iter() {
        *calls.entry(body.clone()).or_default() += 1;
    }
    let listing = text(
        &understudy()
            .args(["runs", "--db", &url])
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(
        calls.len(),
        cells,
        "every cell was asked for ({} calls; {listing})",
        seen.lock().unwrap().len()
    );
    let repeated = calls.values().filter(|&&n| n > 1).count();
    assert!(
        repeated <= 2 && calls.values().all(|&n| n <= 2),
        "{repeated} cells asked for twice"
    );
    // One run holding every cell once; the summary equals a single worker's on the same plan.
    let runs = understudy().args(["runs", "--db", &url]).output().unwrap();
    let listing = text(&runs.stdout);
    assert_eq!(listing.lines().count(), 2, "one run: {listing}");
    assert!(
        listing.contains("finished") && listing.contains(&format!(" {cells} ")),
        "{listing}"
    );
    let single = dir.path().join("single.db");
    let out = understudy()
        .env("OPENAI_BASE_URL", &upstream)
        .args(args(single.to_str().unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(scores(&url), scores(single.to_str().unwrap()));
}
