//! Exact vector search in memory and the stable identity of a chunk, shared by both stores.

use sha2::{Digest, Sha256};

/// The stable id of a chunk: a hash of (collection, source, position), so re-adding a file
/// replaces its chunks instead of duplicating them.
pub fn chunk_id(collection: &str, source: &str, position: usize) -> String {
    let mut h = Sha256::new();
    h.update(collection.as_bytes());
    h.update([0]);
    h.update(source.as_bytes());
    h.update([0]);
    h.update(position.to_le_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Dot product with eight independent accumulators: float addition is not associative, so a
/// plain `zip().sum()` stays scalar; separate lanes let the compiler use SIMD (about 4x here).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(b.len() - b.len() % 8);
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Exact top-k by dot product over row-major `vectors` of width `dim`.
pub fn top_k(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<(usize, f32)> {
    if dim == 0 || query.len() != dim || k == 0 {
        return Vec::new();
    }
    // A small sorted buffer beats sorting every score when k is small.
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (i, row) in vectors.chunks_exact(dim).enumerate() {
        let score = dot(row, query);
        if best.len() < k || score > best[best.len() - 1].1 {
            let at = best.partition_point(|(_, s)| *s >= score);
            best.insert(at, (i, score));
            best.truncate(k);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_ranks_by_dot_product() {
        assert_eq!(
            top_k(&[1.0, 0.0, 0.5, 0.5, 0.0, 1.0], 2, &[0.0, 1.0], 2),
            vec![(2, 1.0), (1, 0.5)]
        );
        assert_ne!(chunk_id("c", "s", 0), chunk_id("c", "s", 1));
    }
}
