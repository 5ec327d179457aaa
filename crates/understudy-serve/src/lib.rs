//! `understudy serve`: an OpenAI-compatible gateway (axum; chat completions and responses, and
//! Anthropic's messages) that applies profiles — system prompt,
//! few-shot examples, chain-of-thought and reasoning policy, JSON requirement — in front of any
//! backend. `router(state)` is the whole app, so tests drive it in-process.

pub mod accept_loop;
mod api_kind;
pub mod auth;
mod body_read;
pub mod canary;
pub mod capture;
pub mod capture_read;
pub mod config;
pub mod conversation;
mod dialect;
mod embeddings;
pub mod error;
pub mod fingerprint;
pub mod handlers;
pub mod host_check;
pub mod json_content;
pub mod log;
pub mod memory;
mod messages_body;
mod messages_count;
pub mod metrics;
pub mod overhead;
mod prepare;
pub mod profile;
pub mod profile_shape;
pub mod redact;
mod reply;
pub mod request_clock;
pub mod request_guard;
pub mod resilience;
pub mod responses;
mod responses_body;
mod responses_store;
pub mod retention;
pub mod served;
pub mod shadow;
pub mod signal_checks;
pub mod socket_arrival;
pub mod stream;
mod stream_chat;
mod system_template;
pub mod techniques;
pub mod turn;
pub mod unrouted;
pub mod wire;
mod wire_legacy;
mod wire_messages;
mod wire_responses;
mod wire_tools;
mod wire_words;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use understudy_backend::Backend;

pub use error::{ApiError, ServeError};
pub use profile::Profile;

/// Largest request body accepted when the config sets none (4 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The longest a request body may pause between chunks when the config sets nothing (nginx's
/// `client_body_timeout`).
pub const DEFAULT_BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Requests per model answered or queued at once when the config sets no limit.
pub const DEFAULT_MAX_QUEUE: usize = 64;

/// Everything the handlers share.
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub profiles: BTreeMap<String, Profile>,
    /// Accepted bearer keys; empty means no authentication.
    pub api_keys: Vec<String>,
    /// Host names answered besides loopback ones when there are no keys (`[serve]
    /// allowed_hosts`; see host_check.rs).
    pub allowed_hosts: Vec<String>,
    pub body_limit: usize,
    /// The longest a request body may pause between two of its chunks (408 past it).
    pub body_idle: std::time::Duration,
    /// Per-connection limits: the request head's timeout, the cap on open connections.
    pub conn_limits: accept_loop::ConnLimits,
    /// Most requests per model answered or waiting at once; more get 429 `overloaded`.
    pub max_queue: usize,
    pub metrics: Arc<metrics::Metrics>,
    /// The names metrics are labelled with (profiles and what the operator configured).
    pub served: served::ServedModels,
    /// The request log's writer, when logging is on.
    pub log: Option<Arc<log::RequestLog>>,
    /// Embeddings and retrieval, when configured.
    pub memory: Option<Arc<memory::MemoryRuntime>>,
    /// Stored conversations for profiles with `conversation = true`.
    pub conversations: Option<Arc<dyn understudy_store::ConversationStore>>,
    /// Served names that split traffic between profiles (`[serve.canary]`).
    pub canaries: Arc<canary::Canaries>,
    /// The queue shadowed requests' jobs go to (profiles with `shadow`).
    pub shadow_queue: Option<Arc<shadow::ShadowQueue>>,
    pub(crate) next_id: AtomicU64,
    /// Each served name's fingerprint, computed on first use: profiles and model identities do
    /// not change while the gateway runs, so no request hashes them again.
    pub(crate) fingerprints: std::sync::Mutex<BTreeMap<String, String>>,
}

impl AppState {
    pub fn new(
        backend: Arc<dyn Backend>,
        profiles: BTreeMap<String, Profile>,
        api_keys: Vec<String>,
        body_limit: usize,
    ) -> Self {
        let served = served::ServedModels::new().with_names(profiles.keys().cloned());
        Self {
            backend,
            profiles,
            api_keys,
            allowed_hosts: Vec::new(),
            body_limit,
            body_idle: DEFAULT_BODY_IDLE,
            conn_limits: accept_loop::ConnLimits::default(),
            max_queue: DEFAULT_MAX_QUEUE,
            metrics: Arc::new(metrics::Metrics::default()),
            served,
            log: None,
            memory: None,
            conversations: None,
            shadow_queue: None,
            canaries: Arc::new(canary::Canaries::default()),
            next_id: AtomicU64::new(1),
            fingerprints: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Logs every request in `log`.
    pub fn with_log(mut self, log: Arc<log::RequestLog>) -> Self {
        self.log = Some(log);
        self
    }

    /// Serves `/v1/embeddings` and profile retrieval from `memory`.
    pub fn with_memory(mut self, memory: memory::MemoryRuntime) -> Self {
        self.memory = Some(Arc::new(memory));
        self
    }

    /// Keeps conversations of `conversation = true` profiles in `store`.
    pub fn with_conversations(
        mut self,
        store: Arc<dyn understudy_store::ConversationStore>,
    ) -> Self {
        self.conversations = Some(store);
        self
    }

    /// Answers shadowed requests with this state's backend in the background, at most
    /// `capacity` waiting, pairs written to `log`.
    pub fn with_shadow_queue(
        mut self,
        capacity: usize,
        log: Arc<dyn understudy_store::RequestLog>,
    ) -> Self {
        self.shadow_queue = Some(shadow::ShadowQueue::start(
            capacity,
            self.backend.clone(),
            log,
            self.metrics.clone(),
        ));
        self
    }

    /// Serves `canaries` (their names labelled in metrics like profiles').
    pub fn with_canaries(mut self, canaries: canary::Canaries) -> Self {
        self.served = std::mem::take(&mut self.served).with_names(canaries.names().cloned());
        self.canaries = Arc::new(canaries);
        self
    }

    /// Labels metrics with `served`'s names as well as the profiles'.
    pub fn with_served(mut self, served: served::ServedModels) -> Self {
        self.served = served.with_names(self.profiles.keys().cloned());
        self
    }

    /// Answers `hosts` as well as loopback names when there are no keys.
    pub fn with_allowed_hosts(mut self, hosts: Vec<String>) -> Self {
        self.allowed_hosts = hosts;
        self
    }

    /// Sets how long a body may pause and the per-connection limits.
    pub fn with_slow_client_limits(
        mut self,
        body_idle: std::time::Duration,
        conn_limits: accept_loop::ConnLimits,
    ) -> Self {
        self.body_idle = body_idle;
        self.conn_limits = conn_limits;
        self
    }

    /// Sets the per-model admission limit.
    pub fn with_max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue.max(1);
        self
    }
}

/// The gateway's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/chat/completions", post(handlers::chat_completions))
        .route("/v1/messages", post(handlers::messages))
        .route(
            "/v1/messages/count_tokens",
            post(messages_count::count_tokens),
        )
        .route("/v1/responses", post(handlers::responses))
        .route("/v1/models", get(handlers::models))
        .route("/v1/models/{*id}", get(handlers::model))
        .route("/v1/embeddings", post(handlers::embeddings))
        .layer(axum::middleware::from_fn(json_content::require_json))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    // With keys configured, the metrics (profile names, traffic) need one too.
    let metrics = Router::new()
        .route("/metrics", get(handlers::metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/health", get(handlers::health))
        .merge(metrics)
        .merge(v1)
        .fallback(unrouted::not_found)
        .method_not_allowed_fallback(unrouted::method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(overhead::stamp_arrival))
        .with_state(state)
}

/// How long in-flight requests may run after a shutdown signal when the config sets nothing.
pub const DEFAULT_DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// for at most `drain`. `extra` holds routes served beside the API (the CLI mounts
/// `understudy view` there); `Router::new()` for none.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<AppState>,
    extra: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: std::time::Duration,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Server)?;
    on_listening(local);
    let (signalled, mut watch) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = signalled.send(true);
    };
    let listener = socket_arrival::StampedListener::new(listener);
    let hosts = Arc::new(host_check::HostPolicy::new(
        !state.api_keys.is_empty(),
        &state.allowed_hosts,
    ));
    let limits = state.conn_limits;
    let app = router(state)
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            host_check::check,
        ));
    let server = accept_loop::serve(listener, app, limits, signal);
    let deadline = async move {
        while !*watch.borrow() {
            if watch.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        () = server => Ok(()),
        _ = deadline => {
            tracing::warn!("drain deadline of {drain:?} passed; closing with requests still in flight");
            Ok(())
        }
    }
}
