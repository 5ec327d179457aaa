//! Vector collections in PostgreSQL with pgvector. Vectors of every dimension share one table;
//! each dimension in use gets its own HNSW index (inner product; vectors are unit length) over
//! its rows, and a collection of at least [`INDEXED_FROM`] chunks is searched through it. Smaller
//! collections, and [`VectorStore::search_exact`], scan every vector. Every search reads the
//! database, so a change made through one replica is seen by all.

use async_trait::async_trait;
use pgvector::Vector;
use tokio_postgres::Row;

use super::PgStore;
use crate::api::VectorStore;
use crate::rows::{CollectionInfo, Hit};
use crate::vector_math::chunk_id;
use crate::StoreError;

/// Chunks from which a collection is searched through the HNSW index.
pub const INDEXED_FROM: i64 = 10_000;

/// Candidates the HNSW search keeps (pgvector's default is 40); with iterative scans on, a
/// collection filter that rejects candidates makes it search further instead of returning fewer.
const EF_SEARCH: i32 = 100;

fn hit(r: &Row) -> Result<Hit, tokio_postgres::Error> {
    Ok(Hit {
        id: r.try_get(0)?,
        source: r.try_get(1)?,
        position: r.try_get::<_, i32>(2)? as usize,
        text: r.try_get(3)?,
        score: r.try_get::<_, f64>(4)? as f32,
    })
}

impl PgStore {
    /// (dimension, chunks) of `collection`, if it exists.
    async fn shape(&self, collection: &str) -> Result<Option<(i32, i64)>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT dim, chunks FROM memory_collections WHERE name = $1",
                &[&collection],
            )
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(|e| self.fail(e))
    }

    async fn nearest(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        exact: bool,
    ) -> Result<Vec<Hit>, StoreError> {
        let Some((dim, chunks)) = self.shape(collection).await? else {
            return Ok(Vec::new());
        };
        if query.len() != dim as usize || k == 0 {
            return Ok(Vec::new());
        }
        let indexed = !exact && chunks >= INDEXED_FROM;
        // The index is on `embedding::vector(dim)` for rows of that dimension; ordering by the
        // plain column leaves it unused (an exact scan).
        let distance = if indexed {
            format!("embedding::vector({dim}) <#> $2::vector({dim})")
        } else {
            "embedding <#> $2".to_string()
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        // With the collection filter, the planner may prefer the collection's btree and a sort
        // (exact, and slow on a large collection); sorting off makes the ordered HNSW scan win.
        let settings = if indexed {
            format!("SET LOCAL hnsw.ef_search = {EF_SEARCH}; SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL enable_sort = off")
        } else {
            "SET LOCAL enable_indexscan = off".to_string()
        };
        tx.batch_execute(&settings)
            .await
            .map_err(|e| self.fail(e))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT id, source, position, text, -({distance})::float8 FROM memory_chunks
                     WHERE collection = $1 AND dim = {dim} ORDER BY {distance} LIMIT $3"
                ),
                &[&collection, &Vector::from(query.to_vec()), &(k as i64)],
            )
            .await
            .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        let mut hits = rows
            .iter()
            .map(hit)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e))?;
        // Relaxed iterative scans may return candidates slightly out of order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }
}

impl PgStore {
    /// The dimension of `collection`, made (with its dimension's HNSW index) on first use; an
    /// error when it was embedded with another embedder.
    async fn collection_dim(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        collection: &str,
        embedder: &str,
        dim: i32,
    ) -> Result<i32, StoreError> {
        let stored = tx
            .query_opt(
                "SELECT embedder, dim FROM memory_collections WHERE name = $1",
                &[&collection],
            )
            .await
            .map_err(|e| self.fail(e))?;
        let dim = match stored {
            Some(row) => {
                let (e, d): (String, i32) = (
                    row.try_get(0).map_err(|e| self.fail(e))?,
                    row.try_get(1).map_err(|e| self.fail(e))?,
                );
                if e != embedder {
                    return Err(StoreError::EmbedderMismatch {
                        collection: collection.to_string(),
                        stored: e,
                        asked: embedder.to_string(),
                    });
                }
                d
            }
            None => {
                tx.execute(
                    "INSERT INTO memory_collections (name, embedder, dim) VALUES ($1, $2, $3)",
                    &[&collection, &embedder, &dim],
                )
                .await
                .map_err(|e| self.fail(e))?;
                tx.batch_execute(&format!(
                    "CREATE INDEX IF NOT EXISTS memory_chunks_hnsw_{dim} ON memory_chunks USING hnsw ((embedding::vector({dim})) vector_ip_ops) WHERE dim = {dim}"
                ))
                .await
                .map_err(|e| self.fail(e))?;
                dim
            }
        };
        Ok(dim)
    }
}

#[async_trait]
impl VectorStore for PgStore {
    async fn put_document(
        &self,
        collection: &str,
        embedder: &str,
        source: &str,
        chunks: &[String],
        vectors: &[Vec<f32>],
    ) -> Result<(), StoreError> {
        let dim = vectors.first().map(Vec::len).unwrap_or(0) as i32;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 3))",
            &[&collection],
        )
        .await
        .map_err(|e| self.fail(e))?;
        let stored_dim = self.collection_dim(&tx, collection, embedder, dim).await?;
        if let Some(v) = vectors.iter().find(|v| v.len() as i32 != stored_dim) {
            return Err(StoreError::DimensionMismatch {
                collection: collection.to_string(),
                stored: stored_dim as usize,
                asked: v.len(),
            });
        }
        tx.execute(
            "DELETE FROM memory_chunks WHERE collection = $1 AND source = $2",
            &[&collection, &source],
        )
        .await
        .map_err(|e| self.fail(e))?;
        let insert = tx
            .prepare(
                "INSERT INTO memory_chunks (id, collection, source, position, text, dim, embedding) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await
            .map_err(|e| self.fail(e))?;
        for (i, (text, v)) in chunks.iter().zip(vectors).enumerate() {
            tx.execute(
                &insert,
                &[
                    &chunk_id(collection, source, i),
                    &collection,
                    &source,
                    &(i as i32),
                    text,
                    &stored_dim,
                    &Vector::from(v.clone()),
                ],
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.execute(
            "UPDATE memory_collections SET chunks = (SELECT COUNT(*) FROM memory_chunks WHERE collection = $1) WHERE name = $1",
            &[&collection],
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))
    }

    async fn chunk_texts(&self, collection: &str, source: &str) -> Result<Vec<String>, StoreError> {
        self.rows("SELECT text FROM memory_chunks WHERE collection = $1 AND source = $2 ORDER BY position", &[&collection, &source], |r| r.try_get(0)).await
    }

    async fn collection_embedder(&self, collection: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT embedder FROM memory_collections WHERE name = $1",
                &[&collection],
            )
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| self.fail(e))
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        self.rows(
            "SELECT name, embedder, chunks FROM memory_collections ORDER BY name",
            &[],
            |r| {
                Ok(CollectionInfo {
                    name: r.try_get(0)?,
                    embedder: r.try_get(1)?,
                    chunks: r.try_get(2)?,
                })
            },
        )
        .await
    }

    async fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        self.nearest(collection, query, k, false).await
    }

    async fn search_exact(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        self.nearest(collection, query, k, true).await
    }
}
