//! `understudy memory add | add-examples | search | list`: documents into a collection of the
//! store, and the chunks nearest a query (solved examples: `examples.rs`).

mod examples;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use understudy_memory::chunk::{self, collect_files, read_documents};

use crate::cli::{MemoryAddArgs, MemoryCommand, MemorySearchArgs, StoreArgs};
use crate::embedder::{embedder, vector_store};
use crate::output;

pub async fn run(config_path: Option<&Path>, cmd: MemoryCommand) -> Result<()> {
    match cmd {
        MemoryCommand::List(args) => list(config_path, &args).await,
        MemoryCommand::Add(args) => add(config_path, &args).await,
        MemoryCommand::AddExamples(args) => examples::add_examples(config_path, &args).await,
        MemoryCommand::Search(args) => search(config_path, &args).await,
    }
}

/// `memory list`: each collection with its chunk count and embedder.
async fn list(config_path: Option<&Path>, args: &StoreArgs) -> Result<()> {
    let store = vector_store(config_path, args, false).await?;
    let collections = store.collections().await?;
    if collections.is_empty() {
        output::note("no memory collections yet: `understudy memory add FILES` makes one");
    }
    for c in collections {
        output::data_line(&format!(
            "{}\t{}\t{}",
            c.name,
            output::plural(usize::try_from(c.chunks).unwrap_or(0), "chunk", "chunks"),
            c.embedder
        ));
    }
    Ok(())
}

/// `memory add`: every path checked, then each document chunked, embedded and stored.
async fn add(config_path: Option<&Path>, args: &MemoryAddArgs) -> Result<()> {
    if args.chunk_tokens < 16 {
        bail!("--chunk-tokens must be at least 16");
    }
    // Every path is checked before the embedder (an 83 MB install on first use) loads.
    let mut files = Vec::new();
    for p in &args.paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
        files.extend(collect_files(p)?);
    }
    if files.is_empty() {
        bail!("no .txt, .md or .jsonl files under the given paths");
    }
    let store = vector_store(config_path, &args.store, true).await?;
    let embedder = embedder(&args.embedder).await?;
    if args.chunk_tokens > embedder.max_tokens() {
        bail!(
            "--chunk-tokens {} is more than {} reads ({} tokens)",
            args.chunk_tokens,
            embedder.name(),
            embedder.max_tokens()
        );
    }
    let started = Instant::now();
    let (mut docs, mut chunks) = (0usize, 0usize);
    for file in files {
        for doc in read_documents(&file)? {
            let e = embedder.clone();
            let (text, size, overlap) = (doc.text.clone(), args.chunk_tokens, args.overlap);
            let (pieces, vectors) = tokio::task::spawn_blocking(move || {
                let pieces = chunk::chunk(&text, e.as_ref(), size, overlap)?;
                let vectors = e.embed(&pieces)?;
                Ok::<_, understudy_memory::MemoryError>((pieces, vectors))
            })
            .await??;
            store
                .put_document(
                    &args.collection,
                    embedder.name(),
                    &doc.source,
                    &pieces,
                    &vectors,
                )
                .await?;
            docs += 1;
            chunks += pieces.len();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    output::note(&format!(
        "{}, {} into {:?} in {secs:.1} s ({:.1} chunks/s, {})",
        output::plural(docs, "document", "documents"),
        output::plural(chunks, "chunk", "chunks"),
        args.collection,
        chunks as f64 / secs.max(1e-9),
        embedder.name()
    ));
    Ok(())
}

/// `memory search`: the K chunks closest to the query, with the collection's own embedder.
async fn search(config_path: Option<&Path>, args: &MemorySearchArgs) -> Result<()> {
    if args.k == 0 {
        bail!("-k must be at least 1 (the number of chunks to return)");
    }
    let store = vector_store(config_path, &args.store, false).await?;
    let Some(stored) = store.collection_embedder(&args.collection).await? else {
        bail!(
            "no collection {:?} (see `understudy memory list`)",
            args.collection
        );
    };
    let embedder = embedder(&args.embedder).await?;
    if stored != embedder.name() {
        bail!(
            "collection {:?} was embedded with {stored}; search it with the same embedder",
            args.collection
        );
    }
    let e = embedder.clone();
    let query = vec![args.query.clone()];
    let vector = tokio::task::spawn_blocking(move || e.embed(&query)).await??;
    let hits = store.search(&args.collection, &vector[0], args.k).await?;
    for hit in hits {
        if args.json {
            output::data_line(&serde_json::to_string(&hit)?);
        } else {
            output::data_line(&format!(
                "{:.3}  {}#{}  {}",
                hit.score,
                hit.source,
                hit.position,
                hit.text
                    .replace('\n', " ")
                    .chars()
                    .take(160)
                    .collect::<String>()
            ));
        }
    }
    Ok(())
}
