//! The gateway's memory: `POST /v1/embeddings`, retrieval for profiles with
//! `memory = { collection, k, budget_tokens }` and found few-shot examples for profiles with
//! `examples = { collection, k }`. The embedder is loaded on first use (installing
//! the default model can take a while and most gateways never need it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use understudy_core::ChatRequest;
use understudy_memory::examples::{self, Found};
use understudy_memory::{prompt, Embedder, Hit, VectorStore};
use understudy_prompt::{ExampleSearch, Retrieval};

use crate::error::ApiError;

type Loader = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<dyn Embedder>, String>> + Send>>
        + Send
        + Sync,
>;

/// The store and a lazily loaded embedder.
pub struct MemoryRuntime {
    pub store: Arc<dyn VectorStore>,
    embedder: tokio::sync::OnceCell<Arc<dyn Embedder>>,
    loader: Loader,
}

fn unavailable(message: String) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        message,
        kind: "server_error",
        param: None,
        code: Some("embeddings_unavailable"),
        retry_after: None,
    }
}

impl MemoryRuntime {
    pub fn new(store: Arc<dyn VectorStore>, loader: Loader) -> Self {
        Self {
            store,
            embedder: tokio::sync::OnceCell::new(),
            loader,
        }
    }

    /// The embedder, loading it on first use.
    pub async fn embedder(&self) -> Result<Arc<dyn Embedder>, ApiError> {
        self.embedder
            .get_or_try_init(|| (self.loader)())
            .await
            .cloned()
            .map_err(|e| unavailable(format!("cannot load the embedding model: {e}")))
    }

    /// Embeds `texts` off the async threads.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ApiError> {
        let embedder = self.embedder().await?;
        tokio::task::spawn_blocking(move || embedder.embed(&texts))
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .map_err(|e| unavailable(e.to_string()))
    }

    /// Finds passages for `query` (see `Profile::retrieval_query`) and puts them in the system
    /// prompt, after the profile's own text (which stays first and unchanged), with ids to cite.
    pub async fn retrieve_into(
        &self,
        spec: &Retrieval,
        query: Option<String>,
        request: &mut ChatRequest,
    ) -> Result<Vec<Hit>, ApiError> {
        let Some(query) = query else {
            return Ok(Vec::new());
        };
        let embedder = self.embedder_for(&spec.collection).await?;
        let vector = self.embed(vec![query]).await?;
        let hits = self
            .store
            .search(&spec.collection, &vector[0], spec.k)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let count = |h: &Hit| embedder.count_tokens(&h.text);
        let kept = prompt::within_budget(&hits, spec.budget_tokens, &count).to_vec();
        if !kept.is_empty() {
            prompt::put_in_system(
                &mut request.messages,
                prompt::passages_block(&spec.collection, &kept),
            );
        }
        Ok(kept)
    }

    /// The `spec.k` solved examples nearest `input` (the client's last user turn, as eval
    /// embeds an item's input), best first.
    pub async fn find_examples(
        &self,
        spec: &ExampleSearch,
        input: String,
    ) -> Result<Vec<Found>, ApiError> {
        self.embedder_for(&spec.collection).await?;
        let vector = self.embed(vec![input.clone()]).await?;
        examples::nearest(
            self.store.as_ref(),
            &spec.collection,
            &vector[0],
            &input,
            spec.k,
        )
        .await
        .map_err(|e| unavailable(e.to_string()))
    }

    /// The embedder, checked against the one `collection` was built with.
    async fn embedder_for(&self, collection: &str) -> Result<Arc<dyn Embedder>, ApiError> {
        let embedder = self.embedder().await?;
        match self.store.collection_embedder(collection).await {
            Ok(Some(name)) if name == embedder.name() => Ok(embedder),
            Ok(Some(name)) => Err(unavailable(format!(
                "collection {collection:?} was embedded with {name}, the gateway uses {}",
                embedder.name()
            ))),
            Ok(None) => Err(unavailable(format!(
                "no memory collection {collection:?} (add documents with `understudy memory add`, \
                 examples with `understudy memory add-examples`)"
            ))),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }
}
