//! `understudy serve` through the real binary, driven by the unmodified official `openai` Python
//! package, then its request log through `understudy logs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::{ensure_small_model, free_port, home, serve_command, text, understudy, wait_for_port};

pub fn openai_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UNDERSTUDY_OPENAI_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = home().join("openai-client-venv-3.51.0/bin/python");
    default.exists().then_some(default)
}

#[test]
fn official_openai_client_works_against_serve() {
    let found = openai_python()
        .ok_or("the openai package is not installed (scripts/setup-openai-client.sh)".to_string());
    let Some(python) = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_OPENAI")
    else {
        return;
    };
    ensure_small_model();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(
        &config,
        "[serve]\napi_keys_env = [\"UNDERSTUDY_TEST_KEY\"]\n\n[profiles.support-bot]\nmodel = \"smollm2-135m\"\nsystem = \"You are a concise assistant for {{ product }}.\"\nvars = { product = \"Acme\" }\n",
    )
    .unwrap();
    let port = free_port();
    let mut server = serve_command(&config, &dir.path().join("log.db"), port)
        .args(["--threads", "2"])
        .env("UNDERSTUDY_TEST_KEY", "sk-e2e")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, 60);
    let script = crate::common::repo_root().join("crates/understudy-cli/tests/openai_client.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([&format!("http://127.0.0.1:{port}/v1"), "sk-e2e"])
        .output()
        .unwrap();
    // SIGTERM: the server stops accepting and exits cleanly.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let status = server.wait().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("openai client: ok"));
    assert!(
        status.success(),
        "serve exited with {status:?} after SIGTERM"
    );

    // Every request is in the request log, errors included, with no prompt text by default.
    let out = understudy()
        .args([
            "logs",
            "--json",
            "--db",
            dir.path().join("log.db").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() >= 3, "{rows:?}");
    assert!(rows.iter().any(|r| r["model"] == "support-bot"
        && r["status"] == 200
        && r["profile"] == "support-bot"));
    assert!(rows.iter().any(|r| r["status"] == 404));
    assert!(rows
        .iter()
        .any(|r| r["stream"] == true && r["completion_tokens"].as_u64().unwrap_or(0) > 0));
    assert!(rows.iter().all(|r| r["prompt_json"].is_null()));
}
