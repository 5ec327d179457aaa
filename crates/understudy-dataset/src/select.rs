//! Which items a dataset keeps: near-duplicates removed by embedding (an item whose
//! conversation is at least `threshold` cosine-similar to an earlier kept one is left out), then
//! a sample of at most `n` drawn by a hash of the item id (the same on every rerun).

use sha2::{Digest, Sha256};
use understudy_memory::Embedder;

use crate::item::TrafficItem;
use crate::DatasetError;

/// The items kept and how many were near-duplicates. Items are compared in the order given
/// (the log's, oldest first), so the first of a group of near-duplicates is the one kept.
pub fn without_near_duplicates(
    items: Vec<TrafficItem>,
    embedder: &dyn Embedder,
    threshold: f32,
) -> Result<(Vec<TrafficItem>, usize), DatasetError> {
    let texts: Vec<String> = items.iter().map(TrafficItem::text_for_similarity).collect();
    let vectors = understudy_memory::embed::embed_batched(embedder, &texts)
        .map_err(|e| DatasetError::Embed(e.to_string()))?;
    let vectors: Vec<Vec<f32>> = vectors.into_iter().map(normalised).collect();
    let mut kept: Vec<usize> = Vec::new();
    let mut dropped = 0;
    for (i, v) in vectors.iter().enumerate() {
        let near = kept.iter().any(|&k| {
            // Turns of one conversation share their beginning; they are not duplicates.
            items[k].conversation != items[i].conversation
                && understudy_store::vector_math::dot(&vectors[k], v) >= threshold
        });
        if near {
            dropped += 1;
        } else {
            kept.push(i);
        }
    }
    let keep: std::collections::HashSet<usize> = kept.into_iter().collect();
    let items = items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, item)| item)
        .collect();
    Ok((items, dropped))
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// At most `n` of `items`, chosen by a hash of their ids, in their original order.
pub fn sample(items: Vec<TrafficItem>, n: usize) -> Vec<TrafficItem> {
    if items.len() <= n {
        return items;
    }
    let mut ranked: Vec<(Vec<u8>, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| (Sha256::digest(format!("sample:{}", item.id)).to_vec(), i))
        .collect();
    ranked.sort();
    let chosen: std::collections::HashSet<usize> =
        ranked.into_iter().take(n).map(|(_, i)| i).collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| chosen.contains(i))
        .map(|(_, item)| item)
        .collect()
}
