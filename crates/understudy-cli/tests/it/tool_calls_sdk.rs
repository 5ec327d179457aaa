//! Tool calls (and token log-probabilities) end to end with the official `openai` Python
//! package: the embedded
//! qwen2.5-coder-0.5b served by `understudy serve`, and the same through a second gateway that
//! reaches the first as an OpenAI-compatible HTTP upstream (tools passed through, streamed too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{free_port, run_script, serve_command, wait_for_port, Killed};

fn run_client(python: &std::path::Path, port: u16, model: &str) -> String {
    let url = format!("http://127.0.0.1:{port}/v1");
    run_script(
        python,
        "openai_tools.py",
        &[&url, model],
        "openai tools: ok",
    )
}

#[test]
fn the_openai_sdk_runs_a_tool_loop_on_the_embedded_model_and_through_an_http_upstream() {
    let found = crate::serve_cli::openai_python()
        .ok_or("the openai package is not installed (scripts/setup-openai-client.sh)".to_string());
    let Some(python) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_OPENAI")
    else {
        return;
    };
    crate::common::ensure_model("qwen2.5-coder-0.5b");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.toml");
    std::fs::write(&local, "").unwrap();
    let port = free_port();
    let _server = Killed(
        serve_command(&local, &dir.path().join("local.db"), port)
            .args(["--threads", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 120);
    let stdout = run_client(&python, port, "qwen2.5-coder-0.5b");
    assert!(stdout.contains("final answer:"), "{stdout}");
    run_logprobs(&python, port, "qwen2.5-coder-0.5b");

    // A second gateway with the first as its OpenAI-compatible upstream.
    let front = dir.path().join("front.toml");
    std::fs::write(
        &front,
        format!(
            "[backends.upstream]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n"
        ),
    )
    .unwrap();
    let front_port = free_port();
    let _front = Killed(
        serve_command(&front, &dir.path().join("front.db"), front_port)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(front_port, 60);
    run_client(&python, front_port, "upstream/qwen2.5-coder-0.5b");
    // Log-probabilities pass through an OpenAI-compatible upstream unchanged.
    run_logprobs(&python, front_port, "upstream/qwen2.5-coder-0.5b");
}

/// `openai_logprobs.py`: token log-probabilities, unary and streamed, and their 400s.
fn run_logprobs(python: &std::path::Path, port: u16, model: &str) {
    let url = format!("http://127.0.0.1:{port}/v1");
    run_script(
        python,
        "openai_logprobs.py",
        &[&url, model],
        "openai logprobs: ok",
    );
}
