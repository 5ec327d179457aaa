//! End-to-end tests of the real `understudy` binary: answers with the smallest real model, JSON
//! output, the interactive session, and one clear error line (no panic, no backtrace) for each
//! kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;

fn home() -> PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"))
}

fn understudy() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_understudy"));
    cmd.env("UNDERSTUDY_HOME", home())
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("NO_COLOR", "1");
    cmd
}

fn ensure_small_model() {
    let out = understudy()
        .args(["models", "install", "smollm2-135m"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failure must be one `error:` line on stderr, exit code 1, nothing on stdout, no panic.
fn assert_clean_failure(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr:?} lacks {needle:?}");
}

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
    use axum::routing::{get, post};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"error":{"message":"out of memory","type":"server_error"}}"#,
                )
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let out = understudy()
        .env("OPENAI_BASE_URL", format!("http://{addr}/v1"))
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
fn readme_shows_the_current_help() {
    let out = understudy().arg("--help").output().unwrap();
    let help = text(&out.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    assert!(
        readme.contains(help.trim()),
        "README.md's CLI help is out of date; paste the output of `understudy --help`:\n{help}"
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

/// A mock OpenAI-compatible server (model `m`) that answers "positive" after `delay_ms`.
fn slow_mock_server(runtime: &tokio::runtime::Runtime, delay_ms: u64) -> String {
    use axum::routing::{get, post};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/models", get(|| async { r#"{"data":[{"id":"m"}]}"# }))
        .route(
            "/v1/chat/completions",
            post(move || async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                (
                    [("content-type", "text/event-stream")],
                    "data: {\"choices\":[{\"delta\":{\"content\":\"positive\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
                )
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

fn toy_task(dir: &std::path::Path) -> PathBuf {
    let rows: String = (0..10)
        .map(|i| {
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"review {i}\",\"label\":\"{}\"}}\n",
                if i < 6 { "positive" } else { "negative" }
            )
        })
        .collect();
    std::fs::write(dir.join("rows.jsonl"), rows).unwrap();
    let task = "name = \"toy\"\ninstruction = \"Classify the review.\"\nquestion = \"{{ text }}\"\ntarget = \"{{ label }}\"\n[dataset]\npath = \"rows.jsonl\"\nid_field = \"id\"\nfew_shot_pool = 0\n[answer]\nkind = \"label\"\nlabels = [\"positive\", \"negative\"]\n";
    let path = dir.join("toy.toml");
    std::fs::write(&path, task).unwrap();
    path
}

fn count_cells(db: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM cells", [], |r| r.get(0))
        .unwrap_or(0);
    let distinct: i64 = conn
        .query_row("SELECT COUNT(*) FROM (SELECT DISTINCT run_id, model, strategy, format, task, item_id FROM cells)", [], |r| r.get(0))
        .unwrap_or(0);
    (total, distinct)
}

#[test]
fn sigkilled_eval_resumes_with_exactly_one_cell_per_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = slow_mock_server(&runtime, 40);
    let dir = tempfile::tempdir().unwrap();
    let task = toy_task(dir.path());
    let db = dir.path().join("u.db");
    let args = [
        "eval",
        "--models",
        "openai/m",
        "--tasks",
        task.to_str().unwrap(),
        "--strategies",
        "zero-shot,role",
        "--formats",
        "plain,json",
        "--concurrency",
        "1",
        "--db",
        db.to_str().unwrap(),
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(args)
        .env("UNDERSTUDY_HOME", home())
        .env("OPENAI_BASE_URL", &base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while (if db.exists() { count_cells(&db).0 } else { 0 }) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (killed_at, _) = count_cells(&db);
    assert!(
        killed_at < 40,
        "killed too late to test anything ({killed_at} cells)"
    );

    let out = understudy()
        .env("OPENAI_BASE_URL", &base)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(resumed)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        count_cells(&db),
        (40, 40),
        "exactly one cell per (model, strategy, format, task, item)"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("60% [") && stdout.contains("n=10"),
        "{stdout}"
    );

    // Rerun: a new run answered from the cache, same scores.
    let out = understudy()
        .env("OPENAI_BASE_URL", &base)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("0 generated, 40 from cache"),
        "{}",
        text(&out.stderr)
    );

    let out = understudy()
        .args(["runs", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );
    let out = understudy()
        .args(["show", "1", "--json", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"].as_array().unwrap().len(), 4);

    // The report of the same run: its JSON summary is what `show --json` printed.
    let report_dir = dir.path().join("rep");
    let out = understudy()
        .args([
            "report",
            "1",
            "--db",
            db.to_str().unwrap(),
            "--out",
            report_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().ends_with("index.html"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["summary"], summary);
    assert!(report_dir.join("report.md").exists() && report_dir.join("cells.csv").exists());
}

#[test]
fn eval_bad_names_stop_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let out = understudy()
        .args([
            "eval",
            "--tasks",
            "sentimental",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unknown task \"sentimental\"");
    let out = understudy()
        .args([
            "eval",
            "--strategies",
            "zero-shot,chain",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unknown strategy \"chain\"");
    let task = toy_task(dir.path());
    let out = understudy()
        .args([
            "eval",
            "--models",
            "nonexistent-model",
            "--strategies",
            "zero-shot",
            "--tasks",
            task.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("unknown model \"nonexistent-model\""),
        "{stderr}"
    );
    let config = dir.path().join("study.toml");
    std::fs::write(&config, "[eval]\nmodels = [\"smollm2-135m\"]\nlimt = 3\n").unwrap();
    let out = understudy()
        .args([
            "--config",
            config.to_str().unwrap(),
            "eval",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "limt");
    assert!(
        text(&out.stderr).contains("study.toml"),
        "{}",
        text(&out.stderr)
    );
}

fn openai_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UNDERSTUDY_OPENAI_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = home().join("openai-client-venv-3.51.0/bin/python");
    default.exists().then_some(default)
}

#[test]
fn official_openai_client_works_against_serve() {
    let Some(python) = openai_python() else {
        assert!(
            std::env::var_os("UNDERSTUDY_REQUIRE_OPENAI").is_none(),
            "UNDERSTUDY_REQUIRE_OPENAI is set but the openai package is not installed (scripts/setup-openai-client.sh)"
        );
        eprintln!("skipping: run scripts/setup-openai-client.sh to install the openai package");
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--threads",
            "2",
            "--db",
            dir.path().join("log.db").to_str().unwrap(),
        ])
        .env("UNDERSTUDY_HOME", home())
        .env("UNDERSTUDY_TEST_KEY", "sk-e2e")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_client.py");
    let out = std::process::Command::new(python)
        .args([script, &format!("http://127.0.0.1:{port}/v1"), "sk-e2e"])
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
