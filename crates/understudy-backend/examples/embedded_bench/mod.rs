//! What the embedded-backend benches share: flags, the model home, loading a default model with
//! a thread count, one timed generation through the real `Backend` path, and medians.
// Each bench compiles this module on its own and uses most, not all, of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use understudy_backend::catalog;
use understudy_backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use understudy_backend::install::{self, Silent};
use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, StreamEvent};

/// Context size both benches give every engine.
pub const CONTEXT: u32 = 2048;

/// Removes `--flag VALUE` from `args` and returns VALUE.
pub fn take(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    let value = args.remove(i + 1);
    args.remove(i);
    Some(value)
}

/// The remaining arguments as model names, or the smallest default model.
pub fn models(args: Vec<String>) -> Vec<String> {
    if args.is_empty() {
        vec!["smollm2-135m".to_string()]
    } else {
        args
    }
}

fn home() -> PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"))
}

/// Installs (if needed) and loads default model `name`; returns the backend and the GGUF path.
pub async fn load(name: &str, threads: usize) -> (EmbeddedBackend, PathBuf) {
    let home = home();
    let known = catalog::find(name).unwrap_or_else(|| panic!("{name} is not a default model"));
    let gguf = install::install(&known, &home, install::DEFAULT_INDEX_URL, &Silent)
        .await
        .unwrap();
    let backend = EmbeddedBackend::new(EmbeddedOptions {
        home,
        index_url: install::DEFAULT_INDEX_URL.into(),
        threads: threads as u32,
        context_length: Some(CONTEXT),
        progress: Arc::new(Silent),
        paths: understudy_backend::embedded::ModelPaths::Allowed,
        max_loaded: understudy_backend::embedded::DEFAULT_MAX_LOADED,
        prefix_cache: true,
        parallel: None,
        batch_decode: false,
        tool_call_grammar: true,
    });
    backend.load(name).await.unwrap();
    (backend, gguf)
}

/// One greedy generation's figures, as the backend reports them.
pub struct Sample {
    pub prompt_tokens: u32,
    pub prompt_tps: f64,
    pub decode_tps: f64,
    pub generated: usize,
}

/// Generates up to `max_tokens` for `prompt` (greedy) and returns the backend's own timing.
pub async fn generate(
    backend: &EmbeddedBackend,
    name: &str,
    prompt: &str,
    max_tokens: u32,
) -> Sample {
    let request = ChatRequest {
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..ChatRequest::new(name, vec![ChatMessage::user(prompt)])
    }
    .validate()
    .unwrap();
    let mut stream = backend.chat_stream(request).await.unwrap();
    while let Some(event) = stream.next().await {
        if let StreamEvent::End(end) = event.unwrap() {
            return Sample {
                prompt_tokens: end.usage.prompt_tokens,
                prompt_tps: end.timing.prompt_tokens_per_s.unwrap_or(f64::NAN),
                decode_tps: end.timing.decode_tokens_per_s.unwrap_or(f64::NAN),
                generated: end.usage.completion_tokens as usize,
            };
        }
    }
    panic!("stream ended without an end event");
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
