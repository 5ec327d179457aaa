//! Run-time techniques that let a small model stand in for a bigger one, each usable by the
//! gateway (as a profile option) and by the eval harness (as something to measure): the cascade,
//! map-reduce over long inputs, and planner/executor. Their specs are the prompt program's
//! (`understudy_prompt::technique`); `run::run` is the one dispatcher both sides call. A technique
//! calls models through a caller function, so eval can answer from its response cache and the
//! gateway can go straight to the backend.

pub mod call_check;
pub mod cascade;
pub mod mapreduce;
pub mod plan_execute;
pub mod run;

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

/// What a technique's calls cost together: tokens, time and whether all were cached. Time is
/// the sum of the calls' own latencies (cached or not), so a partly cached run reports what it
/// would take fresh; the whole answer arrives at the end, so time to first token is the total.
#[derive(Debug, Clone)]
pub struct Meter {
    pub usage: understudy_core::Usage,
    pub ms: f64,
    pub all_cached: bool,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            usage: understudy_core::Usage::default(),
            ms: 0.0,
            all_cached: true,
        }
    }
}

impl Meter {
    pub fn add(&mut self, response: &ChatResponse, cached: bool) {
        self.usage.prompt_tokens += response.usage.prompt_tokens;
        self.usage.completion_tokens += response.usage.completion_tokens;
        self.usage.cached_tokens += response.usage.cached_tokens;
        self.usage.estimated |= response.usage.estimated;
        self.ms += response.timing.total_ms;
        self.all_cached &= cached;
    }

    /// `response` with the technique's totals in place of its own.
    pub fn settle(&self, mut response: ChatResponse) -> ChatResponse {
        response.usage = self.usage;
        response.timing = understudy_core::Timing {
            ttft_ms: self.ms,
            total_ms: self.ms,
            ..response.timing
        };
        response
    }
}
