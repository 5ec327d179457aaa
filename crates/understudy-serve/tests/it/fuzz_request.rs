//! Fuzzing (proptest) the OpenAI request parser and validator: arbitrary bytes, and JSON built
//! from the request's own keys with values of every type, never panic; a rejection always names
//! what was wrong. Cases: PROPTEST_CASES (default 4,000 per property; CI runs the default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};
use understudy_serve::wire;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "include_usage",
    "stop",
    "n",
    "seed",
    "user",
    "tools",
    "tool_choice",
    "response_format",
    "type",
    "json_schema",
    "schema",
    "logprobs",
    "reasoning_effort",
    "understudy",
    "thinking",
    "name",
    "text",
    "image_url",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "system",
            "user",
            "assistant",
            "tool",
            "developer",
            "high",
            "json_object",
            "on",
            "off",
            "auto"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A plausible request with a few keys replaced by arbitrary values.
fn request() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec((prop::sample::select(KEYS), value()), 0..5),
        any::<bool>(),
    )
        .prop_map(|(edits, stream)| {
            let mut r = json!({
                "model": "m",
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
                "stream": stream,
            });
            for (k, v) in edits {
                let in_message = (k == "role" || k == "content")
                    && r["messages"]
                        .as_array()
                        .is_some_and(|m| m.len() > 1 && m[1].is_object());
                if in_message {
                    r["messages"][1][k] = v;
                } else {
                    r[k] = v;
                }
            }
            r
        })
}

proptest! {
    #![proptest_config(cases(4000))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = wire::parse(&body) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn structured_requests_are_accepted_or_rejected_with_a_reason(r in request()) {
        let body = serde_json::to_vec(&r).unwrap();
        match wire::parse(&body) {
            Ok(parsed) => {
                if let Err(e) = parsed.request.validate() {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            Err(e) => prop_assert!(!e.message.is_empty(), "empty message for {r}"),
        }
    }
}
