//! A connection's clock: when a request's first bytes reached the gateway's socket, taken from
//! the kernel's receive timestamp (`SO_TIMESTAMPNS`), and when its answer was written back, so
//! that the gateway's own time spans what a client's added latency spans: the time the bytes
//! wait for a parked or busy worker, HTTP parsing before the router, and writing the answer
//! count as the gateway's. Where the kernel gives no stamp the moment the bytes are read is
//! used instead.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use understudy_backend::socket_stamp::{self, StampedTcp, WireEvents};

/// Accepts connections with `TCP_NODELAY` and receive timestamps on.
pub struct StampedListener {
    inner: TcpListener,
}

impl StampedListener {
    /// Turns receive timestamps on for the listening socket too: accepted sockets inherit the
    /// option, and while one socket has it the kernel stamps every arriving packet, so that a
    /// request sent before its connection was accepted (a busy gateway) has its true arrival.
    pub fn new(inner: TcpListener) -> Self {
        socket_stamp::turn_on(&inner);
        Self { inner }
    }
}

impl axum::serve::Listener for StampedListener {
    type Io = StampedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Small SSE events and short answers must not wait for Nagle's algorithm (the usual
        // cause of 40 ms stalls behind a gateway); the OpenAI backend sets it upstream.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        (ServerConn::stream(tcp), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Work to finish once the answer now being sent on a connection is written.
type OnWritten = Box<dyn FnOnce() + Send>;

/// One connection's clock: the arrival of the request being read, and what waits for its
/// answer to be written.
#[derive(Default)]
pub struct ConnClock {
    arrival: Mutex<Option<Instant>>,
    on_written: Mutex<Option<OnWritten>>,
    closed: std::sync::atomic::AtomicBool,
}

impl ConnClock {
    /// The arrival of the request being served on this connection; each is handed out once.
    pub fn take_arrival(&self) -> Option<Instant> {
        lock(&self.arrival).take()
    }

    /// Runs `f` when the next write on this connection completes (the answer, written after
    /// the handler returned), or when the connection closes first.
    pub fn when_written(&self, f: OnWritten) {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return f();
        }
        let earlier = lock(&self.on_written).replace(f);
        if let Some(earlier) = earlier {
            earlier();
        }
        // Closed while `f` was being put in place: nothing else will run it.
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            self.written();
        }
    }

    fn arrived(&self, at: Instant) {
        *lock(&self.arrival) = Some(at);
    }

    fn written(&self) {
        let waiting = lock(&self.on_written).take();
        if let Some(f) = waiting {
            f();
        }
    }
}

impl std::fmt::Debug for ConnClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnClock")
            .field("arrival", &*lock(&self.arrival))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection's clock, as axum's connect info (the accept loop puts it in each request's
/// extensions).
#[derive(Debug, Clone)]
pub struct ConnInfo(pub Arc<ConnClock>);

/// An accepted connection that stamps the arrival of each request (the first bytes read after
/// the previous response was written) and the completion of each write. On HTTP/1.1 keep-alive
/// that is one request at a time; on HTTP/2 the streams share a stamp, all but the first fall
/// back to the router's clock, and an answer counts as written at the next write.
pub type StampedStream = StampedTcp<ServerConn>;

/// What an accepted connection's reads and writes tell its clock.
pub struct ServerConn {
    clock: Arc<ConnClock>,
    /// No byte of the next request has been read yet.
    between_requests: bool,
}

impl ServerConn {
    /// The connection's clock, for its requests' extensions.
    pub(crate) fn info(&self) -> ConnInfo {
        ConnInfo(self.clock.clone())
    }

    fn stream(tcp: TcpStream) -> StampedStream {
        let conn = Self {
            clock: Arc::default(),
            between_requests: true,
        };
        StampedTcp::new(tcp, conn)
    }
}

impl WireEvents for ServerConn {
    fn received(&mut self, at: Instant) {
        if std::mem::take(&mut self.between_requests) {
            self.clock.arrived(at);
        }
    }

    fn wrote(&mut self, _: &io::Result<usize>) {
        self.between_requests = true;
        self.clock.written();
    }
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        // Closed before the answer was written (the client went away): its time ends here.
        self.clock
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.clock.written();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counter() -> (Arc<AtomicUsize>, OnWritten) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        (
            n,
            Box::new(move || {
                m.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    #[test]
    fn an_answer_counts_once_when_written_or_when_its_connection_closes() {
        let clock = ConnClock::default();
        let (first, f) = counter();
        clock.when_written(f);
        assert_eq!(first.load(Ordering::SeqCst), 0, "not before the write");
        clock.written();
        clock.written();
        assert_eq!(first.load(Ordering::SeqCst), 1, "once, at the write");

        // A second answer put in place before the first was written finishes the first.
        let (a, f) = counter();
        clock.when_written(f);
        let (b, g) = counter();
        clock.when_written(g);
        assert_eq!((a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)), (1, 0));

        // After the connection closed, nothing else would run it: it runs at once.
        clock.closed.store(true, Ordering::SeqCst);
        clock.written();
        let (c, h) = counter();
        clock.when_written(h);
        assert_eq!((b.load(Ordering::SeqCst), c.load(Ordering::SeqCst)), (1, 1));
    }
}
