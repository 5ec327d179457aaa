//! The Messages API with the official `anthropic` Python package and the Responses API with the
//! official `openai` package, end to end: the embedded qwen2.5-coder-0.5b served by
//! `understudy serve`, and the same through a second gateway that reaches the first as an
//! OpenAI-compatible HTTP upstream and a third that reaches it through the `anthropic` backend
//! kind (the first gateway's `/v1/messages` standing in for Anthropic's API), so both APIs are
//! served on every backend kind and the anthropic backend runs a real tool loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::common;

use common::{free_port, home, run_script, serve_command, wait_for_port, Killed};

fn anthropic_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UNDERSTUDY_ANTHROPIC_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = home().join("anthropic-client-venv-2.10.0/bin/python");
    default.exists().then_some(default)
}

/// A gateway on the embedded model, and two in front of it over HTTP (OpenAI's protocol,
/// Anthropic's): their ports.
struct Gateways {
    local: u16,
    front: u16,
    claude_front: u16,
    _dir: tempfile::TempDir,
    _servers: [Killed; 3],
}

/// A gateway whose only backend is `upstream`, reached with `kind`.
fn front_gateway(dir: &Path, kind: &str, upstream: u16) -> (u16, Killed) {
    let config = dir.join(format!("{kind}.toml"));
    std::fs::write(
        &config,
        format!("[backends.upstream]\nkind = \"{kind}\"\nbase_url = \"http://127.0.0.1:{upstream}/v1\"\n"),
    )
    .unwrap();
    let port = free_port();
    let server = Killed(
        serve_command(&config, &dir.join(format!("{kind}.db")), port)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 60);
    (port, server)
}

fn gateways() -> Gateways {
    common::ensure_model("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let local_config = dir.path().join("local.toml");
    std::fs::write(&local_config, "").unwrap();
    let local = free_port();
    let local_server = Killed(
        serve_command(&local_config, &dir.path().join("local.db"), local)
            .args(["--threads", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(local, 120);
    let (front, front_server) = front_gateway(dir.path(), "openai", local);
    let (claude_front, claude_server) = front_gateway(dir.path(), "anthropic", local);
    Gateways {
        local,
        front,
        _dir: dir,
        claude_front,
        _servers: [local_server, front_server, claude_server],
    }
}

#[test]
fn the_anthropic_sdk_runs_a_tool_loop_through_the_messages_api() {
    let found = anthropic_python().ok_or(
        "the anthropic package is not installed (scripts/setup-anthropic-client.sh)".to_string(),
    );
    let Some(python) =
        understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_ANTHROPIC")
    else {
        return;
    };
    let g = gateways();
    let script = "anthropic_messages.py";
    let local = format!("http://127.0.0.1:{}", g.local);
    // The embedded engine counts prompt tokens exactly: count_tokens must match usage.
    let out = run_script(
        &python,
        script,
        &[&local, "qwen2.5-coder-0.5b", "exact"],
        "anthropic messages: ok",
    );
    assert!(out.contains("final answer:"), "{out}");
    let front = format!("http://127.0.0.1:{}", g.front);
    run_script(
        &python,
        script,
        &[&front, "upstream/qwen2.5-coder-0.5b"],
        "anthropic messages: ok",
    );
    // Through the anthropic backend, count_tokens asks the upstream's own count: exact again.
    let claude = format!("http://127.0.0.1:{}", g.claude_front);
    run_script(
        &python,
        script,
        &[&claude, "upstream/qwen2.5-coder-0.5b", "exact"],
        "anthropic messages: ok",
    );
}

#[test]
fn the_anthropic_backend_runs_an_openai_clients_tool_loop() {
    let found = crate::serve_cli::openai_python()
        .ok_or("the openai package is not installed (scripts/setup-openai-client.sh)".to_string());
    let Some(python) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_OPENAI")
    else {
        return;
    };
    let g = gateways();
    let url = format!("http://127.0.0.1:{}/v1", g.claude_front);
    // Chat completions with tools in, the Messages API out to the upstream, and back.
    run_script(
        &python,
        "openai_tools.py",
        &[&url, "upstream/qwen2.5-coder-0.5b"],
        "openai tools: ok",
    );
    // The Messages API has no log-probabilities: asking for them is a 400, not a silent drop.
    run_script(
        &python,
        "openai_logprobs.py",
        &[&url, "upstream/qwen2.5-coder-0.5b", "refused"],
        "openai logprobs: ok",
    );
}

#[test]
fn the_openai_sdk_uses_the_responses_api_unary_streamed_and_with_tools() {
    let found = crate::serve_cli::openai_python()
        .ok_or("the openai package is not installed (scripts/setup-openai-client.sh)".to_string());
    let Some(python) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_OPENAI")
    else {
        return;
    };
    let g = gateways();
    let model = "upstream/qwen2.5-coder-0.5b";
    for (port, model, flags) in [
        (g.local, "qwen2.5-coder-0.5b", None),
        (g.front, model, None),
        (g.claude_front, model, Some("no-json-schema")),
    ] {
        let url = format!("http://127.0.0.1:{port}/v1");
        let mut args = vec![url.as_str(), model];
        args.extend(flags);
        run_script(
            &python,
            "openai_responses.py",
            &args,
            "openai responses: ok",
        );
    }
}
