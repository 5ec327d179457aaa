//! Memory for understudy: text embeddings (all-MiniLM-L6-v2 in-process behind the `candle`
//! feature, or any OpenAI-compatible `/v1/embeddings` server), token-aware chunking with stable
//! chunk ids, and exact vector search over chunks kept in the same SQLite file as everything else.

pub mod chunk;
pub mod embed;
pub mod error;
#[cfg(feature = "candle")]
pub mod minilm;
pub mod prompt;
pub mod store;

pub use embed::{Embedder, HttpEmbedder, WordHashEmbedder};
pub use error::MemoryError;
pub use store::{Hit, MemoryStore};
