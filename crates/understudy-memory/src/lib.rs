//! Memory for understudy: text embeddings (all-MiniLM-L6-v2 in-process behind the `candle`
//! feature, or any OpenAI-compatible `/v1/embeddings` server), token-aware chunking with stable
//! chunk ids, the prompt text of retrieved passages, and collections of solved examples found
//! by their inputs (dynamic few-shot). Chunks and vectors live in the store's vector collections
//! (`understudy_store::VectorStore`).

pub mod chunk;
pub mod embed;
pub mod error;
pub mod examples;
#[cfg(feature = "candle")]
pub mod minilm;
pub mod prompt;

pub use embed::{Embedder, HttpEmbedder, WordHashEmbedder};
pub use error::MemoryError;
pub use understudy_store::{Hit, VectorStore};
