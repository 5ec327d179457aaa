//! Shadow mode end to end: behind the gateway a mock reference answers clients at once while a
//! shadow candidate answers the same requests in the background — a mock that takes two
//! seconds (so a delay of the client's answer would show), and the embedded smollm2-135m. The
//! clients' answers come back unchanged and without the candidate's delay; the bounded queue
//! drops what it cannot hold and counts it on /metrics; `understudy shadow` judges the stored
//! pairs with the mock judge and prints the verdict with its test. On SQLite with one gateway
//! and on a real PostgreSQL with two replicas writing one set of pairs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::json;

use crate::common::{self, ensure_small_model, serve_openai_mock_listing, text};
use crate::traffic_dataset::{upstream, REFUSAL};

const CONFIG: &str = r#"
[serve]
shadow_queue = 2

[profiles.support]
model = "openai/m"
shadow = { model = "openai/slow", rate = 1.0 }

[profiles.local]
model = "openai/m"
shadow = { model = "smollm2-135m" }
"#;

fn ask(port: u16, profile: &str, question: &str) -> (Duration, String) {
    let body = json!({"model": profile, "messages": [{"role": "user", "content": question}]});
    let started = Instant::now();
    let (status, answer) = common::http(port, "POST", "/v1/chat/completions", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    (started.elapsed(), answer)
}

fn shadow_report(db: &str, profile: &str, mock: &str) -> std::process::Output {
    common::understudy()
        .env("OPENAI_BASE_URL", mock)
        .args([
            "shadow", profile, "--judge", "openai/m", "--since", "1h", "--db", db,
        ])
        .output()
        .unwrap()
}

/// Polls `understudy shadow` until it reports `pairs` pairs (the worker writes them later).
fn wait_for_pairs(db: &str, profile: &str, mock: &str, pairs: usize) -> String {
    let wanted = format!("{pairs} shadow pairs");
    for _ in 0..120 {
        let out = shadow_report(db, profile, mock);
        let stdout = text(&out.stdout);
        if stdout.contains(&wanted) {
            return stdout;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "never saw {wanted}: {}",
        text(&shadow_report(db, profile, mock).stderr)
    );
}

fn check_shadow(runtime: &tokio::runtime::Runtime, db: &str, replicas: usize) {
    let mock = serve_openai_mock_listing(
        runtime,
        axum::Router::new().route("/v1/chat/completions", post(upstream)),
        &["m", "slow"],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let gateways = common::gateways(&config, db, &mock, replicas);
    let port = |i: usize| gateways[i % gateways.len()].0;

    // Six requests in a row per replica: each answered at once and unchanged, though every
    // one is shadowed by a candidate that takes two seconds.
    let sent = 6 * replicas;
    for i in 0..sent {
        let (took, answer) = ask(
            port(i),
            "support",
            &format!("Question {i}: why is the sky blue?"),
        );
        assert!(answer.contains(REFUSAL), "{answer}");
        assert!(
            took < Duration::from_millis(1500),
            "request {i} took {took:?}"
        );
    }
    // Per replica the worker holds one job and the queue two: the rest were dropped, counted.
    std::thread::sleep(Duration::from_secs(7));
    let mut answered = 0;
    let mut dropped = 0;
    for (p, _) in &gateways {
        let (_, metrics) = common::http(*p, "GET", "/metrics", "");
        for line in metrics
            .lines()
            .filter(|l| l.contains("profile=\"support\""))
        {
            let n: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
            if line.contains("outcome=\"answered\"") {
                answered += n;
            } else if line.contains("outcome=\"dropped\"") {
                dropped += n;
            }
        }
    }
    assert_eq!(
        answered + dropped,
        sent,
        "answered {answered}, dropped {dropped}"
    );
    assert!(
        answered >= 3 * replicas && dropped >= replicas,
        "answered {answered}, dropped {dropped}"
    );

    let stdout = wait_for_pairs(db, "support", &mock, answered);
    for expected in [
        "openai/slow (candidate) against openai/m (reference)",
        "wins 100%",
        "position flips (counted as ties): 0%",
        "candidate 2",
        "verdict: ",
        "test: the lower end of the win rate's 95% interval",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }

    // The embedded model as the candidate.
    ask(port(0), "local", "Name a colour of the rainbow.");
    ask(port(1), "local", "What is two plus two?");
    let stdout = wait_for_pairs(db, "local", &mock, 2);
    assert!(stdout.contains("smollm2-135m (candidate)"), "{stdout}");
    assert!(stdout.contains("0 candidate failures"), "{stdout}");
}

#[test]
fn shadowed_requests_are_answered_unchanged_and_judged_in_the_background() {
    ensure_small_model();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shadow.db");
    check_shadow(&runtime, db.to_str().unwrap(), 1);
    if let Some(url) = runtime.block_on(understudy_store::test_server::fresh_database()) {
        check_shadow(&runtime, &url, 2);
    }
}

#[test]
fn no_pairs_is_an_error_that_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(dir.path().join("understudy.toml"), "").unwrap();
    // A store that exists but has no pairs.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(understudy_store::Store::open(
            &understudy_store::Location::parse(db.to_str().unwrap()),
        ))
        .unwrap();
    let out = common::understudy()
        .args(["shadow", "support", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no shadow pairs for profile support"),
        "{stderr}"
    );
}
