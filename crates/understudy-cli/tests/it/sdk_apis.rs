//! The Messages API with the official `anthropic` Python package and the Responses API with the
//! official `openai` package, end to end: the embedded qwen2.5-coder-0.5b served by
//! `understudy serve`, and the same through a second gateway that reaches the first as an
//! OpenAI-compatible HTTP upstream (so both APIs are served on every backend kind).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::common;

use common::{free_port, home, serve_command, text, wait_for_port, Killed};

fn anthropic_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UNDERSTUDY_ANTHROPIC_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = home().join("anthropic-client-venv-2.10.0/bin/python");
    default.exists().then_some(default)
}

fn run_script(python: &Path, script: &str, args: &[&str], done: &str) -> String {
    let script = common::repo_root()
        .join("crates/understudy-cli/tests")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{args:?}: {stdout}\n{stderr}");
    assert!(stdout.contains(done), "{stdout}");
    stdout
}

/// A gateway on the embedded model, and a second one in front of it over HTTP: their ports.
struct Gateways {
    local: u16,
    front: u16,
    _dir: tempfile::TempDir,
    _servers: [Killed; 2],
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
    let front_config = dir.path().join("front.toml");
    std::fs::write(
        &front_config,
        format!(
            "[backends.upstream]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{local}/v1\"\n"
        ),
    )
    .unwrap();
    let front = free_port();
    let front_server = Killed(
        serve_command(&front_config, &dir.path().join("front.db"), front)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(front, 60);
    Gateways {
        local,
        front,
        _dir: dir,
        _servers: [local_server, front_server],
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
    for (port, model) in [
        (g.local, "qwen2.5-coder-0.5b"),
        (g.front, "upstream/qwen2.5-coder-0.5b"),
    ] {
        let url = format!("http://127.0.0.1:{port}/v1");
        run_script(
            &python,
            "openai_responses.py",
            &[&url, model],
            "openai responses: ok",
        );
    }
}
