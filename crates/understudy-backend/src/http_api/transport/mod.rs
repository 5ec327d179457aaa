//! The HTTP backends' client: hyper's pooled HTTP/1.1 client over connections that stamp
//! when the server's bytes arrive (`connector`), so a request's upstream time ends at its answer's
//! arrival and the time that answer waits for a busy gateway's worker is the gateway's own (an
//! HTTP client that hides its sockets, as reqwest does, cannot give that stamp). TLS is rustls
//! with the system's root certificates; `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
//! are read from the environment as curl reads them.

mod connector;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, PROXY_AUTHORIZATION};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::upstream::WireStamps;
use connector::StampedConnector;

/// A server's answer, its body still to be read.
pub(crate) type Response = http::Response<hyper::body::Incoming>;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The URL, the key or the body cannot form a request.
    #[error("{0}")]
    Invalid(String),
    /// No answer's head came back: no connection to the server (or its proxy), or one that
    /// broke or closed before the answer (a kept-alive connection the server had dropped).
    #[error("{0}")]
    NoAnswer(String),
}

/// How a request proves who sends it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'k> {
    None,
    /// `Authorization: Bearer <key>` (OpenAI-compatible servers).
    Bearer(&'k str),
    /// `x-api-key: <key>` and the API version Anthropic's servers require.
    Anthropic(Option<&'k str>),
}

/// The Messages API version sent to Anthropic-compatible servers.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// One pooled client for one backend.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<StampedConnector>, Full<Bytes>>,
    proxies: Arc<Matcher>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// A client that gives up on a TCP connection after `connect_timeout`.
    pub(crate) fn new(connect_timeout: Duration) -> Result<Self, String> {
        let proxies = Arc::new(Matcher::from_env());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(StampedConnector::new(connect_timeout, proxies.clone()));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Self { client, proxies })
    }

    /// Sends a request (`json`: a POST with that body, else a GET) and waits for the answer's
    /// head.
    pub(crate) async fn send(
        &self,
        url: &str,
        auth: Auth<'_>,
        json: Option<Vec<u8>>,
    ) -> Result<Response, SendError> {
        let request = self.request(url, auth, json)?;
        self.client
            .request(request)
            .await
            .map_err(|e| SendError::NoAnswer(root_cause(&e)))
    }

    fn request(
        &self,
        url: &str,
        auth: Auth<'_>,
        json: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, SendError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| SendError::Invalid(format!("not a URL: {e}")))?;
        let mut builder = Request::builder().uri(uri.clone());
        let header = |text: String| {
            HeaderValue::from_str(&text).map_err(|_| {
                SendError::Invalid("the API key has characters a header cannot carry".into())
            })
        };
        match auth {
            Auth::None => {}
            Auth::Bearer(key) => {
                builder = builder.header(AUTHORIZATION, header(format!("Bearer {key}"))?)
            }
            Auth::Anthropic(key) => {
                builder = builder.header("anthropic-version", ANTHROPIC_VERSION);
                if let Some(key) = key {
                    builder = builder.header("x-api-key", header(key.to_string())?);
                }
            }
        }
        // A plain-HTTP request through a proxy carries the proxy's credentials itself (a
        // tunnel's are sent with its CONNECT).
        if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
            if let Some(auth) = self
                .proxies
                .intercept(&uri)
                .and_then(|p| p.basic_auth().cloned())
            {
                builder = builder.header(PROXY_AUTHORIZATION, auth);
            }
        }
        let (method, body) = match json {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                (Method::POST, Full::new(Bytes::from(body)))
            }
            None => (Method::GET, Full::default()),
        };
        builder
            .method(method)
            .body(body)
            .map_err(|e| SendError::Invalid(e.to_string()))
    }
}

/// The stamps of the connection that carried `response`.
pub(crate) fn wire_stamps(response: &Response) -> Option<WireStamps> {
    response.extensions().get::<WireStamps>().cloned()
}

/// Reads a whole body.
pub(crate) async fn read_body(body: hyper::body::Incoming) -> Result<Bytes, String> {
    body.collect()
        .await
        .map(|all| all.to_bytes())
        .map_err(|e| root_cause(&e))
}

/// rustls with the system's root certificates; one that cannot be parsed is skipped, and a
/// system without any still reaches plain-HTTP servers (HTTPS then fails at the handshake, saying
/// the issuer is unknown).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!("system root certificates: {error}");
    }
    let (_added, skipped) = roots.add_parsable_certificates(found.certs);
    if skipped > 0 {
        tracing::debug!("{skipped} system root certificates could not be parsed");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| format!("TLS: {e}"))
}

/// The innermost error message, which is the one that says what happened.
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
