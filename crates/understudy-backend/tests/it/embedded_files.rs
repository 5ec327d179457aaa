//! Which files the embedded backend opens and how many it keeps: a GGUF without a chat template
//! falls back to a named one, a missing or corrupt file is one clear error, a serving backend
//! never treats a model name as a path, and one engine serves a file with a cap on loaded models.
//! All on the smallest default model.
#![cfg(feature = "embedded")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use understudy_backend::embedded::{EmbeddedBackend, EmbeddedOptions, GgufSource, GgufSpec};
use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

fn request(model: &str, prompt: &str) -> ChatRequest {
    ChatRequest::new(model, vec![ChatMessage::user(prompt)])
}

fn valid(r: ChatRequest) -> ValidChatRequest {
    r.validate().unwrap()
}

fn backend() -> EmbeddedBackend {
    EmbeddedBackend::new(support::embedded_options())
}

/// A copy of the smallest model whose chat-template key is renamed, so llama.cpp finds none.
fn gguf_without_template(dir: &std::path::Path, model: &std::path::Path) -> std::path::PathBuf {
    let mut bytes = std::fs::read(model).unwrap();
    let key = b"tokenizer.chat_template";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("template key");
    bytes[at + key.len() - 1] = b'X';
    let path = dir.join("no-template.gguf");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gguf_without_template_falls_back_to_a_named_one() {
    let model = support::smallest_model().await;
    let dir = tempfile::tempdir().unwrap();
    let bare = gguf_without_template(dir.path(), &model);
    let name = bare.to_str().unwrap().to_string();
    let backend = backend();
    let r = backend
        .chat(valid(ChatRequest {
            max_tokens: Some(32),
            ..request(&name, "What is 2+2? Answer with one number.")
        }))
        .await
        .unwrap();
    let info = backend.loaded_info(&name).await.unwrap();
    assert_eq!(info.template_origin, "fallback chatml");
    assert!(info
        .template_warning
        .unwrap()
        .contains("has no chat template"));
    // SmolLM2 was trained on ChatML, so the fallback gives the same answer as its own template.
    assert!(r.answer.contains('4'), "{:?}", r.answer);

    // A named template the user asks for is used; an unknown name is a clear error.
    let named = EmbeddedBackend::new(support::embedded_options()).with_model(
        "llama3-templated",
        GgufSpec {
            source: GgufSource::Path(bare.clone()),
            chat_template: Some("llama3".into()),
            context_length: None,
            parallel: None,
        },
    );
    named
        .chat(valid(request("llama3-templated", "hi")))
        .await
        .unwrap();
    assert_eq!(
        named
            .loaded_info("llama3-templated")
            .await
            .unwrap()
            .template_origin,
        "chat_template llama3"
    );
    let bogus = EmbeddedBackend::new(support::embedded_options()).with_model(
        "bogus",
        GgufSpec {
            source: GgufSource::Path(bare),
            chat_template: Some("no-such-template".into()),
            context_length: None,
            parallel: None,
        },
    );
    let err = bogus
        .chat(valid(request("bogus", "hi")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-template") && err.contains("chatml"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_corrupt_files_are_clear_errors() {
    let backend = backend();
    let err = backend
        .chat(valid(request("/nonexistent/model.gguf", "hi")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::ModelFileMissing { .. }),
        "{err}"
    );

    let model = support::smallest_model().await;
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.gguf");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let err = backend
        .chat(valid(request(truncated.to_str().unwrap(), "hi")))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let not_gguf = dir.path().join("notes.gguf");
    std::fs::write(&not_gguf, b"hello world, not a model").unwrap();
    let err = backend
        .chat(valid(request(not_gguf.to_str().unwrap(), "hi")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a GGUF file"), "{err}");
}

fn serving_backend(max_loaded: usize) -> EmbeddedBackend {
    EmbeddedBackend::new(EmbeddedOptions {
        paths: understudy_backend::embedded::ModelPaths::Refused,
        max_loaded,
        prefix_cache: true,
        parallel: None,
        batch_decode: false,
        ..support::embedded_options()
    })
}

/// A network service never opens a client-named path: an existing GGUF, a missing file, a
/// non-GGUF and a `..` path all give the same error (no existence oracle) and load nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_backend_never_opens_a_path() {
    let model = support::smallest_model().await;
    let backend = serving_backend(4);
    let real = model.to_str().unwrap().to_string();
    let dotdot = format!(
        "{}/../{}",
        model.parent().unwrap().display(),
        model.file_name().unwrap().to_str().unwrap()
    );
    let mut messages = Vec::new();
    for name in [
        real.as_str(),
        dotdot.as_str(),
        "/etc/shadow",
        "/nonexistent/x.gguf",
        "embedded.gguf",
    ] {
        let err = backend.chat(valid(request(name, "hi"))).await.unwrap_err();
        assert!(
            matches!(err, BackendError::UnknownModel { .. }),
            "{name}: {err}"
        );
        assert!(backend.check_model(name).await.is_err(), "{name}");
        assert!(backend.model_identity(name).await.is_err(), "{name}");
        messages.push(err.to_string().replace(name, "NAME"));
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:#?}");
    assert!(!messages[0].contains("not found") && !messages[0].contains("GGUF file"));
    assert_eq!(backend.loaded_count().await, 0);
}

/// One file written three ways is one engine; past the cap the least recently used goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_per_file_and_a_cap_on_loaded_models() {
    let model = support::smallest_model().await;
    let dir = model.parent().unwrap().display().to_string();
    let file = model.file_name().unwrap().to_str().unwrap().to_string();
    let backend = backend();
    for name in [
        format!("{dir}/{file}"),
        format!("{dir}/./{file}"),
        format!("/{dir}/{file}"),
    ] {
        backend
            .chat(valid(ChatRequest {
                max_tokens: Some(2),
                ..request(&name, "hi")
            }))
            .await
            .unwrap();
    }
    assert_eq!(backend.loaded_count().await, 1);

    let capped = EmbeddedBackend::new(EmbeddedOptions {
        max_loaded: 1,
        prefix_cache: true,
        parallel: None,
        batch_decode: false,
        ..support::embedded_options()
    })
    .with_model(
        "plain",
        GgufSpec {
            source: GgufSource::Path(model.clone()),
            chat_template: None,
            context_length: None,
            parallel: None,
        },
    )
    .with_model(
        "chatml",
        GgufSpec {
            source: GgufSource::Path(model.clone()),
            chat_template: Some("chatml".into()),
            context_length: None,
            parallel: None,
        },
    );
    for name in ["plain", "chatml", "plain"] {
        capped
            .chat(valid(ChatRequest {
                max_tokens: Some(2),
                ..request(name, "hi")
            }))
            .await
            .unwrap();
        assert_eq!(capped.loaded_count().await, 1, "after {name}");
    }
}
