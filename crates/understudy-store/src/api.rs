//! What the product keeps, as traits: eval runs and their cells (with claims, so that several
//! workers share one run), the response cache, the gateway's request log, kept conversations and
//! vector collections. SQLite and PostgreSQL implement each one; no other crate names a driver.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use understudy_core::ChatMessage;

use crate::rows::{Cell, CollectionInfo, Hit, RequestRow, RunInfo};
use crate::StoreError;

/// Eval runs and their scored cells.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// The newest unfinished run with `plan_key`, or a new one holding `plan_json`; atomic, so
    /// that workers started together on one plan join one run. Returns the id and whether the
    /// run already existed.
    async fn open_run(&self, plan_key: &str, plan_json: &str) -> Result<(i64, bool), StoreError>;
    async fn set_status(&self, run: i64, status: &str) -> Result<(), StoreError>;
    /// Keys ([`crate::cell_key`]) of the cells already stored for `run`.
    async fn done_keys(&self, run: i64) -> Result<HashSet<String>, StoreError>;
    /// Stores a cell and marks its claim done; a duplicate key is ignored (returns false), so a
    /// retried cell is never stored twice.
    async fn insert_cell(&self, run: i64, cell: &Cell) -> Result<bool, StoreError>;
    /// The cells of `run` in the order they were stored.
    async fn cells(&self, run: i64) -> Result<Vec<Cell>, StoreError>;
    /// The (model, strategy, format) rows of `run`, in the order of their first stored cell,
    /// without reading the cells.
    async fn row_keys(&self, run: i64) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Every run with its cell count, oldest first.
    async fn runs(&self) -> Result<Vec<RunInfo>, StoreError>;
    async fn run(&self, id: i64) -> Result<RunInfo, StoreError>;
    /// Speeds measured on generated (not cached) cells, per model: (decode tok/s, prompt
    /// tok/s); the prompt speed counts the tokens processed, not those the prefix cache supplied.
    async fn measured_speeds(&self) -> Result<Vec<(String, f64, f64)>, StoreError>;
    /// Mean output tokens of generated (not cached) cells per (model, strategy).
    async fn measured_output_tokens(&self) -> Result<Vec<(String, String, f64)>, StoreError>;
    /// Claims cell `key` of `run` for `worker` for `lease`: true when the worker now holds it
    /// (unclaimed, its own, or a dead worker's expired claim), false when the cell is done or
    /// another live worker holds it.
    async fn claim(
        &self,
        run: i64,
        key: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StoreError>;
    /// Extends every open claim of `worker` on `run` by `lease` from now.
    async fn renew_claims(&self, run: i64, worker: &str, lease: Duration)
        -> Result<(), StoreError>;
    /// The workers holding open (not done) claims on `run`, expired or not.
    async fn claim_holders(&self, run: i64) -> Result<Vec<String>, StoreError>;
    /// Gives back `worker`'s open claims on `run` (an interrupted worker's cells go to others
    /// at once instead of after the lease).
    async fn release_claims(&self, run: i64, worker: &str) -> Result<(), StoreError>;
}

/// Answers kept by request identity, so that a repeated request is not sent again.
#[async_trait]
pub trait ResponseCache: Send + Sync {
    async fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn cache_put(&self, key: &str, response_json: &str) -> Result<(), StoreError>;
}

/// The gateway's request log.
#[async_trait]
pub trait RequestLog: Send + Sync {
    /// Appends one row, committed when this returns.
    async fn log_request(&self, row: &RequestRow) -> Result<(), StoreError>;
    /// Rows at or after `since` (ISO-8601 UTC), oldest first, the newest `limit` of them.
    async fn requests(&self, since: &str, limit: usize) -> Result<Vec<RequestRow>, StoreError> {
        let filter = crate::RequestFilter {
            since: since.to_string(),
            ..Default::default()
        };
        self.requests_where(&filter, limit).await
    }
    /// Rows matching `filter` (filtered in the query, so old matches are found past any number
    /// of newer rows that do not match), oldest first, the newest `limit` of them.
    async fn requests_where(
        &self,
        filter: &crate::RequestFilter,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError>;
    /// The profiles that have rows at or after `since`, in order.
    async fn request_profiles(&self, since: &str) -> Result<Vec<String>, StoreError>;
    /// Removes every row logged before the start of UTC day `day` (`YYYY-MM-DD`); how many.
    /// PostgreSQL drops whole day partitions (no row-by-row delete, no bloat left behind).
    async fn drop_requests_before(&self, day: &str) -> Result<u64, StoreError>;
    /// Removes all but the newest `rows` rows; how many were removed.
    async fn keep_newest_requests(&self, rows: u64) -> Result<u64, StoreError>;
    /// Clears the captured request and answer of rows logged before the start of UTC day `day`
    /// (the rows and their metrics stay); how many were cleared.
    async fn clear_captures_before(&self, day: &str) -> Result<u64, StoreError>;
    /// Appends one shadowed pair, committed when this returns.
    async fn log_shadow(&self, row: &crate::ShadowRow) -> Result<(), StoreError>;
    /// Sets the weights of canary profile `profile`'s arms (JSON `{arm: weight}`), replacing
    /// any set before; every gateway on this store reads them.
    async fn set_canary_weights(&self, profile: &str, weights: &str) -> Result<(), StoreError>;
    /// Every canary profile's weights as last set: `(profile, JSON weights)`.
    async fn canary_weights(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// The shadowed pairs of `profile` at or after `since`, oldest first.
    async fn shadows(
        &self,
        profile: &str,
        since: &str,
    ) -> Result<Vec<crate::ShadowRow>, StoreError>;
}

/// A kept conversation: the summary of trimmed turns, then the kept turns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub summary: Option<String>,
    pub turns: Vec<ChatMessage>,
}

/// Conversations the gateway keeps for `conversation = true` profiles.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    async fn load(&self, id: &str) -> Result<History, StoreError>;
    /// Appends turns after the stored ones; appends from several replicas to one conversation
    /// never interleave within one call nor reuse a position.
    async fn append(&self, id: &str, turns: &[ChatMessage]) -> Result<(), StoreError>;
    /// Replaces the oldest `count` turns by `summary`.
    async fn fold(&self, id: &str, count: usize, summary: &str) -> Result<(), StoreError>;
}

/// Chunks of text and their unit-length vectors, in named collections.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Replaces the chunks of `source` in `collection` (one transaction); the collection is
    /// created on first use and keeps the embedder it was made with.
    async fn put_document(
        &self,
        collection: &str,
        embedder: &str,
        source: &str,
        chunks: &[String],
        vectors: &[Vec<f32>],
    ) -> Result<(), StoreError>;
    /// The stored chunk texts of `source` in `collection`, in order (empty when none).
    async fn chunk_texts(&self, collection: &str, source: &str) -> Result<Vec<String>, StoreError>;
    /// The embedder a collection was built with, if it exists.
    async fn collection_embedder(&self, collection: &str) -> Result<Option<String>, StoreError>;
    async fn collections(&self) -> Result<Vec<CollectionInfo>, StoreError>;
    /// The `k` chunks closest to `query` (a unit vector) by inner product, best first: through
    /// the approximate index where the store has one and the collection is large.
    async fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError>;
    /// The exact `k` nearest chunks, scoring every vector: the recall reference.
    async fn search_exact(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError>;
}
