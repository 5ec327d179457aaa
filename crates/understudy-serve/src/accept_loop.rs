//! The gateway's accept loop, in place of `axum::serve` (which gives hyper no timer, so hyper's
//! header-read timeout never fires and a client that sends half a request head holds its
//! connection forever). Each connection is HTTP/1.1 (as before: axum was built without HTTP/2)
//! with hyper's header-read timeout; at most
//! `max_connections` are open at once, and one more is answered `503` with `Retry-After` and
//! closed; on the shutdown signal the loop stops accepting and open connections finish
//! gracefully (the caller bounds how long).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::socket_arrival::StampedListener;

/// What one connection may take: how long its request head may take to arrive, and how many
/// connections may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnLimits {
    /// nginx-like defaults: 30 s for a request head (hyper's own default), 1,000 connections
    /// (under the common 1,024 open-file limit).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1000,
        }
    }
}

/// The answer a connection over the cap gets before it is closed.
fn over_cap() -> Vec<u8> {
    let body = r#"{"error":{"message":"too many open connections: retry shortly","type":"overloaded_error","param":null,"code":"too_many_connections"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `signal`, then lets open connections finish.
pub async fn serve(
    mut listener: StampedListener,
    app: Router,
    limits: ConnLimits,
    signal: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        let (mut io, _addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut signal => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(
                "refusing a connection: {} are open (max_connections)",
                limits.max_connections
            );
            tokio::spawn(async move {
                let _ = io.write_all(&over_cap()).await;
                let _ = io.shutdown().await;
            });
            continue;
        };
        let info = ConnectInfo(io.events().info());
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(info.clone());
                request.map(Body::new)
            });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection =
            builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!("connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_declares_its_own_length() {
        let bytes = over_cap();
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{}",
            body.len()
        );
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
