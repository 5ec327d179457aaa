//! The one error type every backend returns; messages say what failed, where, and what to do.

use std::path::PathBuf;
use std::time::Duration;

/// A backend failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    #[error("unknown model {model:?}: {hint}")]
    UnknownModel { model: String, hint: String },
    #[error("model file not found: {}", path.display())]
    ModelFileMissing { path: PathBuf },
    #[error("cannot load model {}: {reason}", path.display())]
    ModelLoad { path: PathBuf, reason: String },
    #[error("{0}")]
    ChatTemplate(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
        /// How long the server asked callers to wait (`Retry-After` / `retry-after-ms`), if it said.
        retry_after: Option<Duration>,
    },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("unexpected reply from the server: {0}")]
    Protocol(String),
    #[error("prompt has {prompt_tokens} tokens; with max_tokens {max_tokens} it exceeds the {context} token context of {model} (raise context_length or shorten the input)")]
    ContextOverflow {
        model: String,
        prompt_tokens: usize,
        max_tokens: u32,
        context: u32,
    },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("model install failed: {0}")]
    Install(#[from] crate::install::InstallError),
}

impl BackendError {
    /// The HTTP status a gateway should answer with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            BackendError::UnknownModel { .. } | BackendError::ModelFileMissing { .. } => 404,
            BackendError::InvalidRequest(_) | BackendError::ContextOverflow { .. } => 400,
            BackendError::Http { status, .. } if (400..500).contains(status) => *status,
            BackendError::Unreachable { .. }
            | BackendError::Http { .. }
            | BackendError::Protocol(_) => 502,
            BackendError::Timeout { .. } => 504,
            _ => 500,
        }
    }
}
