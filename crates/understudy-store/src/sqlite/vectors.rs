//! Vector collections in SQLite: vectors as little-endian f32 blobs, searched exactly in memory.
//! A searched collection's vectors stay loaded until its generation (bumped by every change, from
//! any process) moves on, so a search never answers from a stale copy.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::api::VectorStore;
use crate::rows::{CollectionInfo, Hit};
use crate::vector_math::{chunk_id, top_k};
use crate::StoreError;

/// A collection's vectors in memory.
pub(super) struct Loaded {
    generation: i64,
    ids: Vec<String>,
    /// Row-major, `dim` floats per chunk.
    vectors: Vec<f32>,
    dim: usize,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn generation(conn: &Connection, collection: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT generation FROM memory_collections WHERE name = ?1",
        [collection],
        |r| r.get(0),
    )
    .optional()
}

impl SqliteStore {
    /// The collection's vectors, read again when another writer changed it.
    fn loaded(&self, collection: &str) -> Result<Option<Arc<Loaded>>, StoreError> {
        let conn = self.conn();
        let Some(current) = generation(&conn, collection).map_err(self.err())? else {
            return Ok(None);
        };
        let mut cache = self.vectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = cache.get(collection).filter(|l| l.generation == current) {
            return Ok(Some(l.clone()));
        }
        let mut stmt = conn
            .prepare("SELECT id, embedding FROM memory_chunks WHERE collection = ?1 ORDER BY rowid")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([collection], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(self.err())?;
        let (mut ids, mut vectors, mut dim) = (Vec::new(), Vec::new(), 0);
        for row in rows {
            let (id, blob) = row.map_err(self.err())?;
            let v = from_blob(&blob);
            dim = v.len();
            ids.push(id);
            vectors.extend(v);
        }
        let loaded = Arc::new(Loaded {
            generation: current,
            ids,
            vectors,
            dim,
        });
        cache.insert(collection.to_string(), loaded.clone());
        Ok(Some(loaded))
    }

    fn hits(&self, loaded: &Loaded, top: Vec<(usize, f32)>) -> Result<Vec<Hit>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT source, position, text FROM memory_chunks WHERE id = ?1")
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(top.len());
        for (index, score) in top {
            let id = &loaded.ids[index];
            let hit = stmt
                .query_row([id], |r| {
                    Ok(Hit {
                        id: id.clone(),
                        source: r.get(0)?,
                        position: r.get::<_, i64>(1)? as usize,
                        score,
                        text: r.get(2)?,
                    })
                })
                .map_err(self.err())?;
            out.push(hit);
        }
        Ok(out)
    }
}

#[async_trait]
impl VectorStore for SqliteStore {
    async fn put_document(
        &self,
        collection: &str,
        embedder: &str,
        source: &str,
        chunks: &[String],
        vectors: &[Vec<f32>],
    ) -> Result<(), StoreError> {
        let dim = vectors.first().map(Vec::len).unwrap_or(0);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.err())?;
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
                return Err(StoreError::EmbedderMismatch {
                    collection: collection.to_string(),
                    stored: e,
                    asked: embedder.to_string(),
                })
            }
            Some(_) => {
                tx.execute(
                    "UPDATE memory_collections SET generation = generation + 1 WHERE name = ?1",
                    [collection],
                )
                .map_err(self.err())?;
            }
            None => {
                tx.execute(
                    "INSERT INTO memory_collections (name, embedder, dim, generation) VALUES (?1, ?2, ?3, 1)",
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
        tx.commit().map_err(self.err())
    }

    async fn chunk_texts(&self, collection: &str, source: &str) -> Result<Vec<String>, StoreError> {
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

    async fn collection_embedder(&self, collection: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT embedder FROM memory_collections WHERE name = ?1",
                [collection],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT c.name, c.embedder, (SELECT COUNT(*) FROM memory_chunks m WHERE m.collection = c.name) FROM memory_collections c ORDER BY c.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CollectionInfo {
                    name: r.get(0)?,
                    embedder: r.get(1)?,
                    chunks: r.get(2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    async fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        self.search_exact(collection, query, k).await
    }

    async fn search_exact(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let Some(loaded) = self.loaded(collection)? else {
            return Ok(Vec::new());
        };
        let top = top_k(&loaded.vectors, loaded.dim, query, k);
        self.hits(&loaded, top)
    }
}
