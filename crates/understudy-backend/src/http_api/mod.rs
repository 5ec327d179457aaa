//! What every HTTP backend shares: one server's root URL, key and timeout, a pooled client
//! (`transport`) whose waits count as upstream time, deadlines on every wait, non-2xx answers as
//! errors carrying the server's status, message and `Retry-After`, and a pulled SSE reader
//! (`sse_reader`) driven by each protocol's own event mapping.

pub(crate) mod retry_after;
pub(crate) mod sse_reader;
pub(crate) mod transport;

use std::time::Duration;

use serde_json::Value;

use crate::{upstream, BackendError};
use transport::{Auth, SendError, Transport};

/// How long to wait for a TCP connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which way the endpoint sends its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyStyle {
    Bearer,
    Anthropic,
}

/// One server: its API root, its key, the timeout of every wait, and the pooled client.
#[derive(Debug, Clone)]
pub(crate) struct HttpEndpoint {
    pub(crate) base_url: String,
    api_key: Option<String>,
    key_style: KeyStyle,
    pub(crate) timeout_secs: u64,
    http: Transport,
}

impl HttpEndpoint {
    pub(crate) fn new(
        base_url: &str,
        api_key: Option<String>,
        key_style: KeyStyle,
        timeout_secs: u64,
    ) -> Result<Self, BackendError> {
        let http = Transport::new(CONNECT_TIMEOUT)
            .map_err(|e| BackendError::Inference(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            key_style,
            timeout_secs,
            http,
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    fn auth(&self) -> Auth<'_> {
        match (self.key_style, self.api_key.as_deref()) {
            (KeyStyle::Anthropic, key) => Auth::Anthropic(key),
            (KeyStyle::Bearer, Some(key)) => Auth::Bearer(key),
            (KeyStyle::Bearer, None) => Auth::None,
        }
    }

    fn map_send_error(url: &str, err: SendError) -> BackendError {
        match err {
            SendError::NoAnswer(reason) => BackendError::Unreachable {
                url: url.to_string(),
                reason,
            },
            SendError::Invalid(reason) => BackendError::Protocol(format!("{url}: {reason}")),
        }
    }

    /// Bounds one whole wait on the server (headers, a body, the next stream event) by the
    /// timeout: a timeout per read would restart on every frame, so a server that trickles a
    /// byte at a time (slow loris) would hold the caller forever.
    pub(crate) async fn within_deadline<T>(
        &self,
        url: &str,
        wait: impl std::future::Future<Output = T>,
    ) -> Result<T, BackendError> {
        tokio::time::timeout(Duration::from_secs(self.timeout_secs), wait)
            .await
            .map_err(|_| BackendError::Timeout {
                url: url.to_string(),
                secs: self.timeout_secs,
            })
    }

    /// Sends `body` as JSON to `url` and waits for the response headers, within the timeout.
    pub(crate) async fn send_json(
        &self,
        url: &str,
        body: &impl serde::Serialize,
    ) -> Result<transport::Response, BackendError> {
        // Serializing the body is the caller's work; the wait starts after it (see `send`).
        let body = serde_json::to_vec(body).map_err(|e| {
            BackendError::Protocol(format!("{url}: cannot encode the request: {e}"))
        })?;
        self.send(url, Some(body)).await
    }

    /// Sends a request (a POST of `json`, else a GET) and waits for a successful answer's head:
    /// upstream time from the request's bytes written to that head reaching the socket.
    pub(crate) async fn send(
        &self,
        url: &str,
        json: Option<Vec<u8>>,
    ) -> Result<transport::Response, BackendError> {
        let sent = self.http.send(url, self.auth(), json);
        let response = upstream::wait_received(
            upstream::current(),
            self.within_deadline(url, sent),
            |answer| match answer {
                Ok(Ok(response)) => transport::wire_stamps(response),
                _ => None,
            },
        )
        .await?
        .map_err(|e| Self::map_send_error(url, e))?;
        self.check_status(url, response).await
    }

    /// Reads `response`'s whole body, within the timeout; upstream time up to the moment its
    /// last bytes reached the socket.
    pub(crate) async fn read_body(
        &self,
        url: &str,
        response: transport::Response,
    ) -> Result<bytes::Bytes, BackendError> {
        let wire = transport::wire_stamps(&response);
        let read = transport::read_body(response.into_body());
        upstream::wait_received(upstream::current(), self.within_deadline(url, read), |_| {
            wire.clone()
        })
        .await?
        .map_err(|reason| BackendError::Protocol(format!("{url}: {reason}")))
    }

    async fn check_status(
        &self,
        url: &str,
        response: transport::Response,
    ) -> Result<transport::Response, BackendError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after::from_headers(response.headers());
        let body = self
            .within_deadline(url, transport::read_body(response.into_body()))
            .await?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        Err(BackendError::Http {
            url: url.to_string(),
            status: status.as_u16(),
            message: error_message(&body),
            retry_after,
        })
    }
}

/// Pulls a human message out of an error body: OpenAI's and Anthropic's `{"error":{"message"}}`, FastAPI
/// `{"detail": …}`, or the text itself.
pub fn error_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        if let Some(message) = value.pointer("/error/message").and_then(Value::as_str) {
            return message.to_string();
        }
        if let Some(message) = value.get("error").and_then(Value::as_str) {
            return message.to_string();
        }
        if let Some(detail) = value.get("detail") {
            return match detail {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
        }
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_string();
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        "(empty body)".to_string()
    } else {
        trimmed.chars().take(500).collect()
    }
}
