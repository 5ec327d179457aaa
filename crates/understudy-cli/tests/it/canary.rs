//! Canary end to end: a served name splits conversations between two profiles by weight, every
//! turn of a conversation to the same arm (whichever replica it reaches); the split is counted
//! per arm on /metrics and logged with the arm as the profile; `understudy canary` moves the
//! weights in the store and the running gateways follow. On SQLite with one gateway and on a
//! real PostgreSQL with two replicas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::common::{self, answering, free_port, serve_command, serve_openai_mock, text};

const CONFIG: &str = r#"
[profiles.local]
model = "openai/m"
log_content = true

[profiles.reference]
model = "openai/m"
log_content = true

[serve.canary.support]
arms = { local = 50, reference = 50 }
"#;

/// Conversation `c`'s turns (one or two) to canary `support` through `port`.
fn converse(port: u16, c: usize, turns: usize) {
    let mut messages = vec![json!({"role": "user", "content": format!("conversation {c}")})];
    if turns == 2 {
        messages.push(json!({"role": "assistant", "content": "ok"}));
        messages.push(json!({"role": "user", "content": "and more"}));
    }
    let body = json!({"model": "support", "messages": messages}).to_string();
    let (status, answer) = common::http(port, "POST", "/v1/chat/completions", &body);
    assert_eq!(status, 200, "{answer}");
}

/// The arm (logged profile) of each conversation's logged turns, by conversation number.
fn arms(db: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for row in common::logged_rows(db) {
        if row["model"] != "support" {
            continue;
        }
        let prompt: serde_json::Value =
            serde_json::from_str(row["prompt_json"].as_str().unwrap()).unwrap();
        let first = prompt[0]["content"].as_str().unwrap().to_string();
        out.entry(first)
            .or_default()
            .push(row["profile"].as_str().unwrap().to_string());
    }
    out
}

fn canary(config: &std::path::Path, db: &str, args: &[&str]) -> std::process::Output {
    common::understudy()
        .arg("--config")
        .arg(config)
        .args(["canary", "support"])
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

fn check_canary(runtime: &tokio::runtime::Runtime, db: &str, replicas: usize) {
    let mock = serve_openai_mock(runtime, answering("fine", 0));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let gateways = common::gateways(&config, db, &mock, replicas);
    let port = |i: usize| gateways[i % gateways.len()].0;

    // 40 conversations of two turns, the turns sent to different replicas.
    for c in 0..40 {
        converse(port(c), c, 1);
        converse(port(c + 1), c, 2);
    }
    let seen = arms(db);
    assert_eq!(seen.len(), 40, "{seen:?}");
    for (conversation, turns) in &seen {
        assert_eq!(turns.len(), 2, "{conversation}: {turns:?}");
        assert_eq!(turns[0], turns[1], "{conversation} changed arms: {turns:?}");
    }
    let local = seen.values().filter(|t| t[0] == "local").count();
    assert!(
        (8..=32).contains(&local),
        "{local} of 40 conversations to local at 50%"
    );

    let mut counted: HashMap<String, usize> = HashMap::new();
    for (p, _) in &gateways {
        let (_, metrics) = common::http(*p, "GET", "/metrics", "");
        for line in metrics
            .lines()
            .filter(|l| l.starts_with("understudy_canary_total{"))
        {
            let arm = line
                .split("arm=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let n: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
            *counted.entry(arm.to_string()).or_default() += n;
        }
    }
    assert_eq!(
        counted.get("local").copied().unwrap_or(0),
        2 * local,
        "{counted:?}"
    );
    assert_eq!(counted.values().sum::<usize>(), 80, "{counted:?}");

    // Move every conversation to the reference; the running gateways follow.
    let out = canary(&config, db, &["local=0", "reference=100"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("local 0% · reference 100%"));
    std::thread::sleep(Duration::from_secs(3));
    for c in 100..110 {
        converse(port(c), c, 1);
    }
    let seen = arms(db);
    for c in 100..110 {
        assert_eq!(
            seen[&format!("conversation {c}")],
            ["reference"],
            "{seen:?}"
        );
    }
    let shown = canary(&config, db, &[]);
    assert!(
        text(&shown.stdout).contains("support (moved): local 0% · reference 100%"),
        "{}",
        text(&shown.stdout)
    );
    let bad = canary(&config, db, &["other=5"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("\"other\" is not an arm"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn a_canary_splits_conversations_by_weight_and_follows_moved_weights() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("canary.db");
    check_canary(&runtime, db.to_str().unwrap(), 1);
    if let Some(url) = runtime.block_on(understudy_store::test_server::fresh_database()) {
        check_canary(&runtime, &url, 2);
    }
}

#[test]
fn a_canary_arm_that_is_no_profile_stops_the_gateway_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[profiles.local]\nmodel = \"openai/m\"\n[serve.canary.support]\narms = { local = 1, missing = 1 }\n",
    )
    .unwrap();
    let out = serve_command(&config, &dir.path().join("c.db"), free_port())
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("serve.canary.support.arms")
            && stderr.contains("\"missing\" is not a profile"),
        "{stderr}"
    );
}
