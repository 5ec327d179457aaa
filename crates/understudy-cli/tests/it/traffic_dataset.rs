//! Your traffic as the benchmark, end to end: a mock upstream plays the reference behind the
//! gateway (capturing a profile's requests) and the pairwise judge; `dataset from-log` makes a
//! task of the captured conversations (filters, near-duplicates, one split per conversation);
//! `eval` runs the embedded model on it, each text answer judged against the reference's in both
//! orders, calls matched against the reference's calls. On SQLite, and the capture-to-dataset
//! part again on a real PostgreSQL shared by two gateway replicas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::routing::post;
use serde_json::{json, Value};

use crate::common::{self, ensure_model, serve_openai_mock, text};

pub(crate) const REFUSAL: &str = "I cannot help with that.";

const CONFIG: &str = r#"
[profiles.support]
model = "openai/m"
capture = { rate = 1.0 }

[profiles.other]
model = "openai/m"
capture = { rate = 1.0 }
"#;

fn sse(delta: Value, finish: &str) -> String {
    format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"delta": delta, "finish_reason": finish}]})
    )
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    text.split(open)
        .nth(1)
        .and_then(|rest| rest.split(close).next())
        .unwrap_or("")
}

/// The reference (refuses every question, calls `get_weather` when offered it), the judge
/// (prefers the reply that does not refuse; always "A" when the conversation says FLIP; no
/// verdict when it says MUMBLE), and model `slow`, a candidate that answers after two seconds.
pub(crate) async fn upstream(body: String) -> ([(&'static str, &'static str); 1], String) {
    let request: Value = serde_json::from_str(&body).unwrap();
    if request["model"] == "slow" {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let answer = json!({"content": "Here is a real answer."});
        return ([("content-type", "text/event-stream")], sse(answer, "stop"));
    }
    let messages = request["messages"].as_array().unwrap();
    let first = messages[0]["content"].as_str().unwrap_or("");
    let header = [("content-type", "text/event-stream")];
    if first.starts_with("You are judging two replies") {
        let shown = messages[1]["content"].as_str().unwrap();
        let conversation = between(shown, "<conversation>", "</conversation>");
        let (a, b) = (
            between(shown, "<reply_a>", "</reply_a>"),
            between(shown, "<reply_b>", "</reply_b>"),
        );
        let verdict = if conversation.contains("MUMBLE") {
            "Both are fine, I suppose."
        } else if conversation.contains("FLIP") {
            "The first one. [[A]]"
        } else {
            match (a.contains(REFUSAL), b.contains(REFUSAL)) {
                (true, false) => "B answers. [[B]]",
                (false, true) => "A answers. [[A]]",
                _ => "Same. [[C]]",
            }
        };
        return (header, sse(json!({"content": verdict}), "stop"));
    }
    if request["tools"].as_array().is_some_and(|t| !t.is_empty()) {
        let call = json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]});
        return (header, sse(call, "tool_calls"));
    }
    (header, sse(json!({"content": REFUSAL}), "stop"))
}

fn chat(port: u16, profile: &str, messages: Value, tools: Option<Value>) {
    let mut body = json!({"model": profile, "messages": messages});
    if let Some(tools) = tools {
        body["tools"] = tools;
    }
    let (status, answer) = common::http(port, "POST", "/v1/chat/completions", &body.to_string());
    assert_eq!(status, 200, "{answer}");
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// Sends the traffic through `ports` (round robin): 10 requests to `support`, one to `other`.
fn send_traffic(ports: &[u16]) {
    let port = |i: usize| ports[i % ports.len()];
    let questions = [
        "Summarise the plot of Hamlet in one sentence.",
        "Explain what a hash map is.",
        "explain what a hash map is",
        "Give three tips for writing clear status reports.",
        "FLIP: name a prime number larger than 10.",
        "MUMBLE: name a colour of the rainbow.",
        "Why is the sky blue?",
    ];
    for (i, q) in questions.iter().enumerate() {
        chat(port(i), "support", user(q), None);
    }
    let first = "Translate 'good morning' into Spanish.";
    chat(port(0), "support", user(first), None);
    chat(
        port(1),
        "support",
        json!([{"role": "user", "content": first}, {"role": "assistant", "content": REFUSAL},
               {"role": "user", "content": "And into German?"}]),
        None,
    );
    let weather = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    chat(
        port(0),
        "support",
        user("What's the weather in Oslo right now?"),
        Some(weather),
    );
    chat(
        port(1),
        "other",
        user("Not part of the support dataset."),
        None,
    );
}

fn from_log(db: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    common::understudy()
        .args([
            "dataset",
            "from-log",
            "--profile",
            "support",
            "--since",
            "1h",
            "--db",
            db,
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Captures the traffic through `replicas` gateways on `db` and makes two datasets of it;
/// checks what they hold. The directory of the all-test one.
fn capture_and_make(
    runtime: &tokio::runtime::Runtime,
    db: &str,
    replicas: usize,
    dir: &std::path::Path,
) {
    let mock = serve_openai_mock(
        runtime,
        axum::Router::new().route("/v1/chat/completions", post(upstream)),
    );
    let config = dir.join("understudy.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let gateways = common::gateways(&config, db, &mock, replicas);
    let ports: Vec<u16> = gateways.iter().map(|(p, _)| *p).collect();
    send_traffic(&ports);
    drop(gateways);

    let out = from_log(db, dir, &["--name", "traffic", "--split", "0,0,100"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("10 requests captured"), "{stderr}");
    assert!(stderr.contains("left out 1 near-duplicates"), "{stderr}");
    let items = rows(&dir.join("traffic.jsonl"));
    assert_eq!(items.len(), 9, "{stderr}");
    assert!(items.iter().all(|r| r["split"] == "test"));
    let calls: Vec<&Value> = items
        .iter()
        .filter(|r| r["reference_kind"] == "calls")
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["reference"].as_str().unwrap()).unwrap(),
        json!([{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    );
    assert_eq!(calls[0]["tools"][0]["function"]["name"], "get_weather");
    // The second turn keeps the whole conversation, and shares the first turn's key.
    let german = items
        .iter()
        .find(|r| r["input"] == "And into German?")
        .unwrap();
    assert_eq!(german["messages"].as_array().unwrap().len(), 3);
    let spanish = items
        .iter()
        .find(|r| r["input"] == "Translate 'good morning' into Spanish.")
        .unwrap();
    assert_eq!(german["conversation"], spanish["conversation"]);
    assert!(items
        .iter()
        .all(|r| r["input"] != "Not part of the support dataset."));

    // The default split: a conversation's turns are always in one split.
    let out = from_log(db, dir, &["--name", "split", "--dedup", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let split = rows(&dir.join("split.jsonl"));
    assert_eq!(split.len(), 10);
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    for r in &split {
        let previous = seen.insert(
            r["conversation"].as_str().unwrap().into(),
            r["split"].as_str().unwrap().into(),
        );
        assert!(previous.is_none_or(|p| p == r["split"]), "{split:?}");
        assert_eq!(r["pool"], r["split"] == "pool");
    }

    // A filter that matches nothing is an error that says what it filtered on.
    let out = from_log(db, dir, &["--name", "none", "--model", "nobody"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no captured requests match") && stderr.contains("model nobody"),
        "{stderr}"
    );
}

#[test]
fn captured_traffic_becomes_a_task_judged_against_the_reference() {
    ensure_model("qwen2.5-coder-0.5b");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    capture_and_make(&runtime, db.to_str().unwrap(), 1, dir.path());

    let judge = serve_openai_mock(
        &runtime,
        axum::Router::new().route("/v1/chat/completions", post(upstream)),
    );
    let eval_db = dir.path().join("eval.db");
    let out = common::understudy()
        .env("OPENAI_BASE_URL", &judge)
        .args([
            "eval",
            "--models",
            "qwen2.5-coder-0.5b",
            "--no-reference",
            "--judge",
            "openai/m",
        ])
        .args(["--strategies", "zero-shot", "--formats", "plain", "--tasks"])
        .arg(dir.path().join("traffic.toml"))
        .arg("--db")
        .arg(&eval_db)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for figure in [
        "wins over the reference",
        "position flips",
        "win rate, length-controlled",
        "calls matching the reference's",
        // The item the judge gave no verdict on is counted apart, never scored.
        "reference answers: 7 text, 1 calls, 0 json",
        "ungraded (judge failed twice, left out of the score): 1",
    ] {
        assert!(stdout.contains(figure), "{figure}: {stdout}");
    }

    let conn = rusqlite::Connection::open(&eval_db).unwrap();
    let cells: Vec<(String, Value)> = conn
        .prepare("select prompt_json, detail from cells")
        .unwrap()
        .query_map([], |r| {
            let detail: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&detail).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cells.len(), 9);
    let mut wins = 0;
    for (prompt, detail) in &cells {
        match detail["reference_kind"].as_str().unwrap() {
            "calls" => assert!(detail["vs_reference"].is_string(), "{detail}"),
            "text" => {
                assert_eq!(detail["orders"].as_array().unwrap().len(), 2, "{detail}");
                if prompt.contains("MUMBLE") {
                    assert_eq!(detail["ungraded"], true, "{detail}");
                } else if prompt.contains("FLIP") {
                    assert_eq!(detail["vs_reference"], "tie", "{detail}");
                    assert_eq!(detail["position_flip"], true, "{detail}");
                } else {
                    wins += usize::from(detail["vs_reference"] == "win");
                }
            }
            other => panic!("unexpected kind {other}"),
        }
        if prompt.contains("And into German?") {
            // Sent as the client sent it: the earlier turns before the last.
            assert!(
                prompt.contains("good morning") && prompt.contains(REFUSAL),
                "{prompt}"
            );
        }
    }
    // The model answers where the reference refused: the judge prefers it, in both orders.
    assert!(wins >= 4, "{wins} wins of 6: {cells:?}");

    if let Some(url) = runtime.block_on(understudy_store::test_server::fresh_database()) {
        let pg_dir = tempfile::tempdir().unwrap();
        capture_and_make(&runtime, &url, 2, pg_dir.path());
    }
}
