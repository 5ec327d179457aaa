//! Chunks and their vectors in the SQLite file the rest of understudy uses (tables `memory_*`).
//! A chunk's id is a hash of (collection, source, position), so re-adding a file replaces its
//! chunks instead of duplicating them. Search is exact: every vector of the collection is kept in
//! memory after the first query and scored with a dot product (vectors are unit length).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::MemoryError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS memory_collections (
    name TEXT PRIMARY KEY,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_chunks (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_chunks_source ON memory_chunks(collection, source);
"#;

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub source: String,
    pub position: usize,
    pub score: f32,
    pub text: String,
}

struct Loaded {
    ids: Vec<String>,
    /// Row-major, `dim` floats per chunk.
    vectors: Vec<f32>,
    dim: usize,
}

/// The memory tables of one SQLite file.
pub struct MemoryStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    cache: Mutex<HashMap<String, std::sync::Arc<Loaded>>>,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The stable id of a chunk.
pub fn chunk_id(collection: &str, source: &str, position: usize) -> String {
    let mut h = Sha256::new();
    h.update(collection.as_bytes());
    h.update([0]);
    h.update(source.as_bytes());
    h.update([0]);
    h.update(position.to_le_bytes());
    hex::encode(&h.finalize()[..12])
}

impl MemoryStore {
    pub fn open(path: &Path) -> Result<Self, MemoryError> {
        let conn = Connection::open(path).map_err(|source| MemoryError::Store {
            path: path.to_path_buf(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "busy_timeout", 5000))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|source| MemoryError::Store {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> MemoryError + '_ {
        |source| MemoryError::Store {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the chunks of `source` in `collection` (one transaction).
    pub fn put_document(
        &self,
        collection: &str,
        embedder: &str,
        source: &str,
        chunks: &[String],
        vectors: &[Vec<f32>],
    ) -> Result<(), MemoryError> {
        let dim = vectors.first().map(Vec::len).unwrap_or(0);
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        let stored: Option<(String, i64)> = tx
            .query_row(
                "SELECT embedder, dim FROM memory_collections WHERE name = ?1",
                [collection],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        match stored {
            Some((e, _)) if e != embedder => {
                return Err(MemoryError::EmbedderMismatch {
                    collection: collection.to_string(),
                    stored: e,
                    asked: embedder.to_string(),
                })
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO memory_collections (name, embedder, dim) VALUES (?1, ?2, ?3)",
                    params![collection, embedder, dim as i64],
                )
                .map_err(self.err())?;
            }
        }
        tx.execute(
            "DELETE FROM memory_chunks WHERE collection = ?1 AND source = ?2",
            params![collection, source],
        )
        .map_err(self.err())?;
        for (i, (text, v)) in chunks.iter().zip(vectors).enumerate() {
            tx.execute(
                "INSERT INTO memory_chunks (id, collection, source, position, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![chunk_id(collection, source, i), collection, source, i as i64, text, to_blob(v)],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(collection);
        Ok(())
    }

    /// The stored chunk texts of `source` in `collection`, in order (empty when none): lets a
    /// caller skip re-embedding a document that has not changed.
    pub fn chunk_texts(&self, collection: &str, source: &str) -> Result<Vec<String>, MemoryError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT text FROM memory_chunks WHERE collection = ?1 AND source = ?2 ORDER BY position",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![collection, source], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The embedder a collection was built with, if it exists.
    pub fn collection_embedder(&self, collection: &str) -> Result<Option<String>, MemoryError> {
        self.conn()
            .query_row(
                "SELECT embedder FROM memory_collections WHERE name = ?1",
                [collection],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// (name, embedder, chunks) of every collection.
    pub fn collections(&self) -> Result<Vec<(String, String, i64)>, MemoryError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT c.name, c.embedder, (SELECT COUNT(*) FROM memory_chunks m WHERE m.collection = c.name) FROM memory_collections c ORDER BY c.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn load(&self, collection: &str) -> Result<std::sync::Arc<Loaded>, MemoryError> {
        if let Some(l) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(collection)
        {
            return Ok(l.clone());
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, embedding FROM memory_chunks WHERE collection = ?1 ORDER BY rowid")
            .map_err(self.err())?;
        let mut ids = Vec::new();
        let mut vectors = Vec::new();
        let mut dim = 0;
        let rows = stmt
            .query_map([collection], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(self.err())?;
        for row in rows {
            let (id, blob) = row.map_err(self.err())?;
            let v = from_blob(&blob);
            dim = v.len();
            ids.push(id);
            vectors.extend(v);
        }
        let loaded = std::sync::Arc::new(Loaded { ids, vectors, dim });
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(collection.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// The `k` chunks closest to `query` (a unit vector), best first.
    pub fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, MemoryError> {
        let loaded = self.load(collection)?;
        let top = top_k(&loaded.vectors, loaded.dim, query, k);
        let conn = self.conn();
        let mut out = Vec::new();
        for (index, score) in top {
            let id = &loaded.ids[index];
            let hit = conn
                .query_row(
                    "SELECT source, position, text FROM memory_chunks WHERE id = ?1",
                    [id],
                    |r| {
                        Ok(Hit {
                            id: id.clone(),
                            source: r.get(0)?,
                            position: r.get::<_, i64>(1)? as usize,
                            score,
                            text: r.get(2)?,
                        })
                    },
                )
                .map_err(self.err())?;
            out.push(hit);
        }
        Ok(out)
    }
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
    fn re_adding_replaces_and_search_ranks_by_similarity() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = MemoryStore::open(&dir.path().join("u.db")).unwrap_or_else(|e| panic!("{e}"));
        let chunks = vec!["a".to_string(), "b".to_string()];
        let vectors = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        store
            .put_document("c", "e", "doc", &chunks, &vectors)
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .put_document("c", "e", "doc", &chunks, &vectors)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            store.collections().unwrap_or_default(),
            vec![("c".to_string(), "e".to_string(), 2)]
        );
        let hits = store.search("c", &[0.6, 0.8], 1).unwrap_or_default();
        assert_eq!(hits[0].text, "b");
        assert_eq!(store.chunk_texts("c", "doc").unwrap_or_default(), chunks);
        assert!(store
            .chunk_texts("c", "nope")
            .unwrap_or_default()
            .is_empty());
        assert!(matches!(
            store.put_document("c", "other", "doc2", &chunks, &vectors),
            Err(MemoryError::EmbedderMismatch { .. })
        ));
        assert_eq!(
            top_k(&[1.0, 0.0, 0.5, 0.5, 0.0, 1.0], 2, &[0.0, 1.0], 2),
            vec![(2, 1.0), (1, 0.5)]
        );
    }
}
