//! End-to-end tests of the real `understudy` binary: answers with the smallest real model, JSON
//! output, the interactive session, and one clear error line (no panic, no backtrace) for each
//! kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{assert_clean_failure, ensure_small_model, home, serve_openai_mock, text, understudy};

#[test]
fn chat_streams_an_answer_and_a_timing_line() {
    ensure_small_model();
    let out = understudy()
        .args([
            "chat",
            "What is 2+2? Answer with one number.",
            "--model",
            "smollm2-135m",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains('4'), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("TTFT") && stderr.contains("tok/s"),
        "{stderr}"
    );
    assert!(
        stderr.contains(" thread"),
        "the timing line names the threads: {stderr}"
    );
}

#[test]
fn chat_json_has_answer_usage_and_timing() {
    ensure_small_model();
    let out = understudy()
        .args([
            "chat",
            "What is 2+2? Answer with one number.",
            "--model",
            "smollm2-135m",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["answer"].as_str().unwrap().contains('4'));
    assert!(value["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(value["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(value["timing"]["ttft_ms"].as_f64().unwrap() > 0.0);
    assert!(value["timing"]["total_ms"].as_f64().is_some());
    assert_eq!(value["finish_reason"], "stop");
}

#[test]
fn interactive_session_keeps_the_conversation() {
    ensure_small_model();
    let out = understudy()
        .args(["chat", "--model", "smollm2-135m", "--max-tokens", "40"])
        .write_stdin("My name is Ada. Remember it.\n/reset\nHello!\n/exit\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("TTFT").count(), 2, "{stderr}");
    assert!(stderr.contains("conversation cleared"), "{stderr}");
}

#[test]
fn missing_model_file_is_one_clear_line() {
    let out = understudy()
        .args(["chat", "hi", "--model", "/no/such/dir/model.gguf"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "model file not found: /no/such/dir/model.gguf");
}

#[test]
fn truncated_gguf_is_one_clear_line() {
    ensure_small_model();
    let source = home().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(source).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.gguf");
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let out = understudy()
        .args(["chat", "hi", "--model", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_clean_failure(&out, "truncated or corrupt");
}

#[test]
fn unreachable_server_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[backends.dead]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n",
    )
    .unwrap();
    let out = understudy()
        .args([
            "--config",
            config.to_str().unwrap(),
            "chat",
            "hi",
            "--model",
            "dead/some-model",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "cannot reach http://127.0.0.1:1/v1");
}

#[test]
fn server_answering_500_is_one_clear_line() {
    use axum::routing::post;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":{"message":"out of memory","type":"server_error"}}"#,
            )
        }),
    );
    let base = serve_openai_mock(&runtime, app);
    let out = understudy()
        .env("OPENAI_BASE_URL", base)
        .args(["chat", "hi", "--model", "openai/m"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "answered HTTP 500: out of memory");
}

#[test]
fn unknown_config_key_names_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[defaults]\nmodel = \"smollm2-135m\"\ntemprature = 0.5\n",
    )
    .unwrap();
    let out = understudy()
        .args(["--config", config.to_str().unwrap(), "chat", "hi"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_clean_failure(&out, "bad.toml:3");
    assert!(stderr.contains("temprature"), "{stderr}");
}

#[test]
fn unknown_model_name_lists_what_is_known() {
    let out = understudy()
        .args(["chat", "hi", "--model", "gpt-5-local"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unknown model \"gpt-5-local\"");
    assert!(text(&out.stderr).contains("qwen2.5-coder-0.5b"));
}

#[test]
fn bad_request_values_are_named() {
    let out = understudy()
        .args([
            "chat",
            "hi",
            "--model",
            "smollm2-135m",
            "--temperature",
            "7",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "`temperature`");
}

#[test]
fn models_lists_the_default_ladder() {
    let out = understudy().args(["models", "--json"]).output().unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for name in ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let out = understudy()
        .args(["models", "install", "llama-70b"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "not a default model");
}

#[test]
fn the_cli_reference_shows_the_current_help() {
    let out = understudy().arg("--help").output().unwrap();
    let help = text(&out.stdout);
    let reference =
        std::fs::read_to_string(crate::common::repo_root().join("docs/reference/cli.md")).unwrap();
    assert!(
        reference.contains(help.trim()),
        "docs/reference/cli.md is out of date; run scripts/update-cli-reference.sh (it pastes `understudy --help`):\n{help}"
    );
}

#[test]
fn gguf_without_template_warns_once_and_answers() {
    ensure_small_model();
    let mut bytes = std::fs::read(home().join("models/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let key = b"tokenizer.chat_template";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
    bytes[at + key.len() - 1] = b'X';
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-template.gguf");
    std::fs::write(&path, bytes).unwrap();
    let out = understudy()
        .args([
            "chat",
            "What is 2+2? Answer with one number.",
            "--model",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("has no chat template").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("using chatml"), "{stderr}");
    assert!(text(&out.stdout).contains('4'));

    let out = understudy()
        .args([
            "chat",
            "hi",
            "--model",
            path.to_str().unwrap(),
            "--chat-template",
            "llama3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("has no chat template"));
}
