//! Traffic capture at the gateway, in front of an OpenAI-compatible "reference" upstream: the
//! official `openai` client's requests and the answers it got are kept redacted (built-in rules,
//! a profile pattern, a field path) on SQLite, and on a real PostgreSQL shared by two replicas;
//! conversations are sampled whole at the profile's rate; a profile without `capture` keeps
//! nothing; a pattern that does not compile stops the gateway with its key named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{answering, free_port, run_script, serve_command, serve_openai_mock, text};

const CONFIG: &str = r#"
[profiles.reference]
model = "openai/m"
capture = { rate = 1.0, patterns = ["ACME-[0-9]+"], fields = ["user"] }

[profiles.sampled]
model = "openai/m"
capture = { rate = 0.5 }

[profiles.plain]
model = "openai/m"
"#;

/// POSTs one chat request (user turns `turns`) to `port` for `model`; the HTTP status.
fn say(port: u16, model: &str, turns: &[&str]) -> u16 {
    let messages: Vec<serde_json::Value> = turns
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            let mut m = vec![serde_json::json!({"role": "user", "content": t})];
            if i + 1 < turns.len() {
                m.push(serde_json::json!({"role": "assistant", "content": "ok"}));
            }
            m
        })
        .collect();
    let body = serde_json::json!({"model": model, "messages": messages}).to_string();
    common::http(port, "POST", "/v1/chat/completions", &body).0
}

/// Captured rows of `understudy logs --json`, by profile.
fn captured(db: &str) -> Vec<(String, serde_json::Value)> {
    common::logged_rows(db)
        .into_iter()
        .filter_map(|row| {
            let capture = row["capture"].as_str()?;
            Some((
                row["profile"].as_str().unwrap_or("").to_string(),
                serde_json::from_str(capture).unwrap(),
            ))
        })
        .collect()
}

/// Runs the whole check against the store at `db` through `replicas` gateways.
fn check_capture(python: &std::path::Path, db: &str, replicas: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upstream = serve_openai_mock(&runtime, answering("Sure: reply to ops@example.com", 0));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let gateways = common::gateways(&config, db, &upstream, replicas);
    let port = |i: usize| gateways[i % gateways.len()].0;

    run_script(
        python,
        "openai_capture.py",
        &[&format!("http://127.0.0.1:{}/v1", port(0)), "reference"],
        "openai capture: ok",
    );
    // 40 conversations of two turns each, the turns sent to different replicas.
    for c in 0..40 {
        let first = format!("conversation {c} starts here");
        assert_eq!(say(port(c), "sampled", &[&first]), 200);
        assert_eq!(say(port(c + 1), "sampled", &[&first, "and goes on"]), 200);
    }
    for c in 0..5 {
        assert_eq!(say(port(c), "plain", &[&format!("plain {c}")]), 200);
    }

    let rows = captured(db);
    let of = |profile: &str| -> Vec<&serde_json::Value> {
        rows.iter()
            .filter(|(p, _)| p == profile)
            .map(|(_, c)| c)
            .collect()
    };
    let reference = of("reference");
    assert_eq!(reference.len(), 2, "{rows:?}");
    for record in &reference {
        let written = record.to_string();
        for secret in [
            "jane@example.com",
            "ops@example.com",
            "ACME-42",
            "4111",
            "customer-17",
        ] {
            assert!(!written.contains(secret), "{secret} was written: {written}");
        }
        assert_eq!(record["api"], "chat");
        assert_eq!(
            record["response"]["content"], "Sure: reply to [EMAIL]",
            "{written}"
        );
        assert_eq!(record["response"]["finish_reason"], "stop");
        let request = &record["request"];
        let last = request["messages"].as_array().unwrap().last().unwrap();
        assert_eq!(
            last["content"],
            "Mail [EMAIL] about [REDACTED]; card [CARD]."
        );
        assert_eq!(record["redacted"]["email"], 2, "{written}");
        assert_eq!(record["redacted"]["card"], 1);
        assert_eq!(record["redacted"]["pattern"], 1);
    }
    // The unary request had `user` (a field path); the streamed one did not.
    assert!(reference
        .iter()
        .any(|r| r["request"]["user"] == "[REDACTED]" && r["redacted"]["field"] == 1));
    assert!(reference.iter().any(|r| r["request"]["stream"] == true));

    // Sampled whole: each conversation's two turns are both kept or both not.
    let sampled = of("sampled");
    let mut per_conversation = std::collections::HashMap::<String, usize>::new();
    for record in &sampled {
        *per_conversation
            .entry(record["conversation"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        per_conversation.values().all(|&n| n == 2),
        "{per_conversation:?}"
    );
    let kept = per_conversation.len();
    assert!(
        (8..=32).contains(&kept),
        "{kept} of 40 conversations at rate 0.5"
    );
    assert!(of("plain").is_empty());
}

#[test]
fn the_gateway_captures_redacted_traffic_on_sqlite_and_on_postgres_replicas() {
    let found = crate::serve_cli::openai_python()
        .ok_or("the openai package is not installed (scripts/setup-openai-client.sh)".to_string());
    let Some(python) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_OPENAI")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("capture.db");
    check_capture(&python, sqlite.to_str().unwrap(), 1);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(url) = runtime.block_on(understudy_store::test_server::fresh_database()) {
        check_capture(&python, &url, 2);
    }
}

#[test]
fn a_capture_pattern_that_does_not_compile_stops_the_gateway_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[profiles.bad]\nmodel = \"openai/m\"\ncapture = { rate = 0.1, patterns = [\"ok\", \"(unclosed\"] }\n",
    )
    .unwrap();
    let out = serve_command(&config, &dir.path().join("b.db"), free_port())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("profiles.bad.capture") && stderr.contains("`patterns[1]`"),
        "{stderr}"
    );
}
