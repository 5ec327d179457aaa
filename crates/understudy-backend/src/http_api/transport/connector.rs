//! Connections to the server whose every write is stamped when it completes and every read with
//! when its bytes reached the socket (the kernel's receive stamp), so that a wait for the server
//! runs from the request written to the answer arrived, not between the moments hyper's
//! connection task got to run. Connects directly, or through the proxy the environment names: a
//! `CONNECT` tunnel for `https://`, absolute-form requests for `http://`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::socket_stamp::{StampedTcp, WireEvents};
use crate::upstream::WireStamps;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<ClientStream>, BoxError>> + Send>>;

/// Opens stamped connections, through the environment's proxy where it applies.
#[derive(Clone)]
pub(super) struct StampedConnector {
    direct: Direct,
    proxies: Arc<Matcher>,
}

impl StampedConnector {
    pub(super) fn new(connect_timeout: Duration, proxies: Arc<Matcher>) -> Self {
        let mut tcp = HttpConnector::new();
        // TLS is layered on top by the caller; this connector carries `https://` too.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        Self {
            direct: Direct {
                tcp,
                proxied: false,
            },
            proxies,
        }
    }
}

impl Service<Uri> for StampedConnector {
    type Response = TokioIo<ClientStream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let Some(proxy) = self.proxies.intercept(&dst) else {
            return self.direct.call(dst);
        };
        if dst.scheme() == Some(&http::uri::Scheme::HTTPS) {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), self.direct.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            return Box::pin(async move {
                std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
                Ok(tunnel.call(dst).await?)
            });
        }
        // Plain HTTP through a proxy: connect to the proxy and send absolute-form requests.
        let mut to_proxy = Direct {
            tcp: self.direct.tcp.clone(),
            proxied: true,
        };
        to_proxy.call(proxy.uri().clone())
    }
}

/// A TCP connection to `dst` (the server, or the proxy), stamped.
#[derive(Clone)]
struct Direct {
    tcp: HttpConnector,
    /// Requests on it go to a proxy in absolute form.
    proxied: bool,
}

impl Service<Uri> for Direct {
    type Response = TokioIo<ClientStream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let connecting = self.tcp.call(dst);
        let proxied = self.proxied;
        Box::pin(async move {
            let tcp = connecting.await?.into_inner();
            Ok(TokioIo::new(ClientWire::stream(tcp, proxied)))
        })
    }
}

/// One connection to the server.
pub(super) type ClientStream = StampedTcp<ClientWire>;

/// A connection's stamps, noted on each write and read: every response on the connection carries
/// them in its extensions.
pub(super) struct ClientWire {
    wire: WireStamps,
    proxied: bool,
}

impl ClientWire {
    fn stream(tcp: TcpStream, proxied: bool) -> ClientStream {
        let wire = WireStamps::opened_now();
        StampedTcp::new(tcp, Self { wire, proxied })
    }
}

impl WireEvents for ClientWire {
    fn received(&mut self, at: std::time::Instant) {
        self.wire.note_received(at);
    }

    fn wrote(&mut self, result: &io::Result<usize>) {
        if matches!(result, Ok(n) if *n > 0) {
            self.wire.note_sent();
        }
    }
}

impl Connection for ClientStream {
    fn connected(&self) -> Connected {
        let events = self.events();
        Connected::new()
            .proxy(events.proxied)
            .extra(events.wire.clone())
    }
}
