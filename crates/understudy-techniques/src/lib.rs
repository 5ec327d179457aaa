//! Run-time techniques that let a small model stand in for a bigger one, each usable by the
//! gateway (as a profile option) and by the eval harness (as something to measure): the cascade
//! today. A technique calls models through a caller function, so eval can answer from its response
//! cache and the gateway can go straight to the backend.

pub mod cascade;
pub mod mapreduce;

use std::future::Future;

use understudy_backend::{Backend, BackendError};
use understudy_core::{ChatResponse, ValidChatRequest};

/// The result of one model call: the answer and whether it came from a cache (its latency is
/// then the one measured when it was produced).
pub type Called = Result<(ChatResponse, bool), BackendError>;

/// A boxed call future.
pub type CallFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Called> + Send + 'a>>;

/// A call straight to a backend (the gateway's caller; eval's goes through its response cache).
pub fn direct<'a>(backend: &'a dyn Backend) -> impl Fn(ValidChatRequest) -> CallFuture<'a> + 'a {
    move |request| Box::pin(async move { Ok((backend.chat(request).await?, false)) })
}
