//! Memory benchmarks, printed as figures and ratios measured side by side in one process:
//! search latency (top-5 of 10k and 100k chunks of 384-d unit vectors) for the store's exact
//! search vs a naive score-everything-then-sort, and add throughput (chunks/s) of the in-process
//! MiniLM embedder on real text.
//!
//! `cargo run --release -p understudy-memory --example bench_memory`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use rand::{Rng, SeedableRng};
use understudy_store::vector_math::top_k;
use understudy_store::Store;

fn unit(rng: &mut rand::rngs::StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn naive(vectors: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut all: Vec<(usize, f32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, r)| (i, r.iter().zip(q).map(|(a, b)| a * b).sum()))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dim = 384;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for n in [10_000usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_path(&dir.path().join("m.db"))
            .await
            .unwrap()
            .vectors;
        let vectors: Vec<Vec<f32>> = (0..n).map(|_| unit(&mut rng, dim)).collect();
        let texts: Vec<String> = (0..n).map(|i| format!("chunk {i}")).collect();
        let t = Instant::now();
        for (i, (text, v)) in texts.chunks(1000).zip(vectors.chunks(1000)).enumerate() {
            store
                .put_document("bench", "random", &format!("doc{i}"), text, v)
                .await
                .unwrap();
        }
        let insert = t.elapsed().as_secs_f64();
        let queries: Vec<Vec<f32>> = (0..50).map(|_| unit(&mut rng, dim)).collect();
        // Warm the in-memory copy once (the first query loads it from SQLite).
        let t = Instant::now();
        store.search("bench", &queries[0], 5).await.unwrap();
        let cold = t.elapsed().as_secs_f64() * 1000.0;
        let flat: Vec<f32> = vectors.concat();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for q in &queries {
            let t = Instant::now();
            let hits = store.search("bench", q, 5).await.unwrap();
            ours.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let reference = naive(&flat, dim, q, 5);
            theirs.push(t.elapsed().as_secs_f64() * 1000.0);
            let same: Vec<usize> = reference.iter().map(|(i, _)| *i).collect();
            let got: Vec<String> = hits.iter().map(|h| h.text.clone()).collect();
            let want: Vec<String> = same.iter().map(|i| format!("chunk {i}")).collect();
            assert_eq!(got, want, "exact search must equal brute force");
        }
        let top_only = {
            let t = Instant::now();
            for q in &queries {
                top_k(&flat, dim, q, 5);
            }
            t.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64
        };
        println!(
            "{n} chunks: store search top-5 median {:.2} ms (scoring alone {:.2} ms), naive sort {:.2} ms, ratio naive/ours {:.2}; first query (loads vectors) {:.0} ms; insert {:.0} chunks/s",
            median(ours.clone()),
            top_only,
            median(theirs.clone()),
            median(theirs) / median(ours),
            cold,
            n as f64 / insert
        );
    }

    #[cfg(feature = "candle")]
    {
        use understudy_memory::{chunk, minilm, Embedder};
        let home = std::env::var_os("UNDERSTUDY_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy")
            });
        let model = minilm::MiniLm::load(&minilm::model_dir(&home))
            .expect("run `understudy memory add` once to install the model");
        let text = include_str!("../../understudy-cli/tests/fixtures/harbour.txt").repeat(4);
        let pieces = chunk::chunk(&text, &model, 200, 32).unwrap();
        let t = Instant::now();
        let vectors = model.embed(&pieces).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "MiniLM add: {} chunks of ≤200 tokens embedded in {secs:.1} s = {:.1} chunks/s ({} dims)",
            pieces.len(),
            pieces.len() as f64 / secs,
            vectors[0].len()
        );
    }
}
