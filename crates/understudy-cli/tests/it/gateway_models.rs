//! Through the real binary: a gateway serves only what its operator configured. A client's
//! `model` that is a file path (existing GGUF, missing file, system file, `..`, other spellings)
//! never opens a file, loads nothing (memory stays flat), gets the same 404 whatever exists on
//! disk, and never becomes a metrics label; an installed default model is still served.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Stdio;

use common::{
    ensure_small_model, free_port, home, http, rss_mb, serve_command, wait_for_port, Killed,
};

fn chat(model: &str) -> String {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        .to_string()
}

#[test]
fn client_paths_never_reach_the_file_system() {
    ensure_small_model();
    let gguf = understudy_models::catalog::find("smollm2-135m")
        .unwrap()
        .path(&home());
    assert!(gguf.is_file());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("understudy.toml");
    std::fs::write(&config, "[defaults]\nthreads = 1\n").unwrap();
    let port = free_port();
    let server = Killed(
        serve_command(&config, &dir.path().join("u.db"), port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, 60);
    let pid = server.0.id();

    let parent = gguf.parent().unwrap().display().to_string();
    let file = gguf.file_name().unwrap().to_str().unwrap().to_string();
    let names = [
        gguf.display().to_string(),
        format!("{parent}/./{file}"),
        format!("/{parent}/{file}"),
        format!(
            "{parent}/../{}/{file}",
            gguf.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        ),
        "/etc/shadow".to_string(),
        "/etc/passwd".to_string(),
        "/nonexistent/model.gguf".to_string(),
        "../../../../etc/hostname".to_string(),
        format!("embedded/{}", gguf.display()),
        "x.gguf".to_string(),
    ];
    let before = rss_mb(pid);
    let mut messages = Vec::new();
    for name in &names {
        let (status, body) = http(port, "POST", "/v1/chat/completions", &chat(name));
        assert_eq!(status, 404, "{name}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "model_not_found", "{body}");
        let message = v["error"]["message"]
            .as_str()
            .unwrap()
            .replace(name.as_str(), "NAME");
        for oracle in ["not found", "GGUF", "No such file", "permission", "denied"] {
            assert!(!message.contains(oracle), "{name}: {message}");
        }
        messages.push(message);
    }
    let after = rss_mb(pid);
    assert!(
        after - before < 40.0,
        "memory grew from {before:.0} MB to {after:.0} MB"
    );
    // Only the name's own words differ: nothing depends on what exists on disk.
    let distinct: std::collections::BTreeSet<&String> = messages.iter().collect();
    assert!(distinct.len() <= 2, "{distinct:#?}");

    let (status, body) = http(port, "POST", "/v1/chat/completions", &chat("smollm2-135m"));
    assert_eq!(status, 200, "{body}");

    let (_, metrics) = http(port, "GET", "/metrics", "");
    for name in &names {
        assert!(
            !metrics.contains(&format!("model=\"{name}\"")),
            "{name} is a label"
        );
    }
    assert!(metrics.contains("model=\"other\""), "{metrics}");
    assert!(metrics.contains("model=\"smollm2-135m\""), "{metrics}");
}
