//! Helpers shared by the CLI's end-to-end tests: the real binary, the model cache, and the
//! one-clear-error-line check.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The checkout under test: from the manifest directory cargo gives the test process, not the one
/// compiled in (a test binary cached from another checkout of the same sources would otherwise
/// read that checkout's files).
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../..")
}

pub fn home() -> PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"))
}

pub fn understudy() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_understudy"));
    cmd.env("UNDERSTUDY_HOME", home())
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("NO_COLOR", "1");
    cmd
}

pub fn ensure_small_model() {
    ensure_model("smollm2-135m");
}

/// Installs a default model into the test cache (a no-op once it is there).
pub fn ensure_model(name: &str) {
    let out = understudy()
        .args(["models", "install", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failure must be one `error:` line on stderr, exit code 1, nothing on stdout, no panic.
pub fn assert_clean_failure(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr:?} lacks {needle:?}");
}

/// Serves `app`, plus a `/v1/models` that lists model `m`, on a loopback port of `runtime`;
/// returns the API base URL (`http://127.0.0.1:PORT/v1`).
pub fn serve_openai_mock(runtime: &tokio::runtime::Runtime, app: axum::Router) -> String {
    serve_openai_mock_listing(runtime, app, &["m"])
}

/// [`serve_openai_mock`] with `/v1/models` listing `models`.
pub fn serve_openai_mock_listing(
    runtime: &tokio::runtime::Runtime,
    app: axum::Router,
    models: &[&str],
) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let data: Vec<serde_json::Value> = models
        .iter()
        .map(|m| serde_json::json!({"id": m}))
        .collect();
    let listed = serde_json::json!({ "data": data }).to_string();
    let app = app.route(
        "/v1/models",
        axum::routing::get(move || async move { listed }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// `/v1/chat/completions` streaming `answer` (one chunk, finish `stop`, `[DONE]`) after `delay_ms`;
/// add routes to it, then serve it with [`serve_openai_mock`].
pub fn answering(answer: &'static str, delay_ms: u64) -> axum::Router {
    let body = format!(
        "data: {}\n\ndata: [DONE]\n\n",
        serde_json::json!({"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]})
    );
    axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            ([("content-type", "text/event-stream")], body)
        }),
    )
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `understudy --config CONFIG serve --listen 127.0.0.1:PORT --db DB` with the test model cache;
/// the caller adds flags, environment and output handling, then spawns it.
pub fn serve_command(
    config: &std::path::Path,
    db: &std::path::Path,
    port: u16,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"));
    cmd.arg("--config")
        .arg(config)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db)
        .env("UNDERSTUDY_HOME", home());
    cmd
}

/// `replicas` gateways on the store `db` (a file or a postgres:// URL) with `config`, their
/// `openai/…` models answered by `upstream`; each started and listening, with its port.
pub fn gateways(
    config: &std::path::Path,
    db: &str,
    upstream: &str,
    replicas: usize,
) -> Vec<(u16, Killed)> {
    (0..replicas)
        .map(|_| {
            let port = free_port();
            let child = serve_command(config, std::path::Path::new(db), port)
                .env("OPENAI_BASE_URL", upstream)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            wait_for_port(port, 60);
            (port, Killed(child))
        })
        .collect()
}

/// A spawned process (a gateway), killed and reaped when the test ends, pass or fail.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on `port`, failing the test after `secs` seconds.
pub fn wait_for_port(port: u16, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port` (connection closed after it); returns the status code
/// and the body (chunked bodies are returned as sent).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Resident memory of process `pid` in MB, from `/proc`.
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// A label task of `rows` film reviews (alternately positive and negative) under `instruction`,
/// written into `dir`; returns the task file.
pub fn toy_review_task(dir: &std::path::Path, rows: usize, instruction: &str) -> PathBuf {
    let data: String = (0..rows)
        .map(|i| {
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"Review {i}: the film was {}.\",\"label\":\"{}\"}}\n",
                if i % 2 == 0 { "wonderful" } else { "dreadful" },
                if i % 2 == 0 { "positive" } else { "negative" }
            )
        })
        .collect();
    std::fs::write(dir.join("rows.jsonl"), data).unwrap();
    let task = format!(
        "name = \"toy\"\ninstruction = \"{instruction}\"\nquestion = \"{{{{ text }}}}\"\ntarget = \"{{{{ label }}}}\"\nmax_tokens = 4\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n"
    );
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

/// `/v1/chat/completions` that behaves like a model on [`toy_review_task`]: `m` answers every
/// review right under a proper instruction and "positive" when the prompt says "sloppy"; `ref`
/// is always right. Each answer streams after `delay_ms`.
fn model_like_mock(delay_ms: u64) -> axum::Router {
    axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let messages = body["messages"].as_array().cloned().unwrap_or_default();
            let all: String = messages
                .iter()
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let last = messages
                .last()
                .and_then(|m| m["content"].as_str())
                .unwrap_or_default();
            let gold = if last.contains("wonderful") { "positive" } else { "negative" };
            let answer = if body["model"] == "m" && all.contains("sloppy") {
                "positive"
            } else {
                gold
            };
            let chunk = serde_json::json!({"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]});
            (
                [("content-type", "text/event-stream")],
                format!("data: {chunk}\n\ndata: [DONE]\n\n"),
            )
        }),
    )
}

/// Serves [`model_like_mock`] (models `m` and `ref`) on a loopback port; returns its `/v1` URL.
pub fn serve_model_like_mock(runtime: &tokio::runtime::Runtime, delay_ms: u64) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = model_like_mock(delay_ms).route(
        "/v1/models",
        axum::routing::get(|| async { r#"{"data":[{"id":"m"},{"id":"ref"}]}"# }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// `understudy eval` of the mock's models `m` (reference `ref`) on a [`toy_review_task`]: 40
/// items, zero-shot, plain, into the store `db` (a file or a postgres:// URL); add flags, run.
pub fn toy_eval(
    base: &str,
    db: impl AsRef<std::ffi::OsStr>,
    task: &std::path::Path,
    extra: &[&str],
) -> std::process::Command {
    toy_eval_items(base, db, task, 40, extra)
}

/// [`toy_eval`] over `limit` items.
pub fn toy_eval_items(
    base: &str,
    db: impl AsRef<std::ffi::OsStr>,
    task: &std::path::Path,
    limit: usize,
    extra: &[&str],
) -> std::process::Command {
    let limit = limit.to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"));
    cmd.env("UNDERSTUDY_HOME", home())
        .env("OPENAI_BASE_URL", base)
        .env_remove("OPENAI_API_KEY")
        .args([
            "eval",
            "--models",
            "openai/m",
            "--reference",
            "openai/ref",
            "--tasks",
        ])
        .arg(task)
        .args([
            "--strategies",
            "zero-shot",
            "--formats",
            "plain",
            "--limit",
            &limit,
            "--db",
        ])
        .arg(db)
        .args(extra);
    cmd
}

/// Runs a Python client script from `crates/understudy-cli/tests` with `args`; it must exit 0 and
/// print `done`. Its stdout.
pub fn run_script(python: &Path, script: &str, args: &[&str], done: &str) -> String {
    let script = repo_root().join("crates/understudy-cli/tests").join(script);
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

/// Rows of `understudy logs --json` (the last hour) on the store at `db` (a file or a URL).
pub fn logged_rows(db: &str) -> Vec<serde_json::Value> {
    let out = understudy()
        .args([
            "logs", "--json", "--since", "1h", "--limit", "1000000", "--db", db,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
