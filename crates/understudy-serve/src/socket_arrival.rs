//! A connection's clock: when a request's first bytes reached the gateway's socket, taken from
//! the kernel's receive timestamp (`SO_TIMESTAMPNS`), and when its answer was written back, so
//! that the gateway's own time spans what a client's added latency spans: the time the bytes
//! wait for a parked or busy worker, HTTP parsing before the router, and writing the answer
//! count as the gateway's. Where the kernel gives no stamp the moment the bytes are read is
//! used instead.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The most one read takes from the socket.
const MAX_READ: usize = 64 * 1024;

/// A kernel stamp older than this is not believed (the wall clock stepped): the read's own
/// moment is used instead.
const MAX_SOCKET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections with `TCP_NODELAY` and receive timestamps on.
pub struct StampedListener {
    inner: TcpListener,
}

impl StampedListener {
    /// Turns receive timestamps on for the listening socket too: accepted sockets inherit the
    /// option, and while one socket has it the kernel stamps every arriving packet, so that a
    /// request sent before its connection was accepted (a busy gateway) has its true arrival.
    pub fn new(inner: TcpListener) -> Self {
        kernel::turn_on(&inner);
        Self { inner }
    }
}

impl axum::serve::Listener for StampedListener {
    type Io = StampedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Small SSE events and short answers must not wait for Nagle's algorithm (the usual
        // cause of 40 ms stalls behind a gateway); reqwest already sets TCP_NODELAY upstream.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        (StampedStream::new(tcp), addr)
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

/// A connection's clock, as axum's connect info (each request's extensions carry it).
#[derive(Debug, Clone)]
pub struct ConnInfo(pub Arc<ConnClock>);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, StampedListener>>
    for ConnInfo
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, StampedListener>) -> Self {
        Self(stream.io().clock.clone())
    }
}

/// An accepted connection that stamps the arrival of each request (the first bytes read after
/// the previous response was written) and the completion of each write. On HTTP/1.1 keep-alive
/// that is one request at a time; on HTTP/2 the streams share a stamp, all but the first fall
/// back to the router's clock, and an answer counts as written at the next write.
pub struct StampedStream {
    tcp: TcpStream,
    clock: Arc<ConnClock>,
    /// No byte of the next request has been read yet.
    between_requests: bool,
    kernel: Option<kernel::Stamps>,
}

impl StampedStream {
    fn new(tcp: TcpStream) -> Self {
        let kernel = kernel::Stamps::enable(&tcp);
        Self {
            tcp,
            clock: Arc::default(),
            between_requests: true,
            kernel,
        }
    }

    fn arrived(&mut self, kernel_stamp: Option<Instant>) {
        if std::mem::take(&mut self.between_requests) {
            self.clock
                .arrived(kernel_stamp.unwrap_or_else(Instant::now));
        }
    }
}

impl AsyncRead for StampedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(stamps) = this.kernel.as_mut() else {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
            if buf.filled().len() > before {
                this.arrived(None);
            }
            return Poll::Ready(Ok(()));
        };
        loop {
            ready!(this.tcp.poll_read_ready(cx))?;
            // `recvmsg` wants initialized memory (no unsafe here): zero at most one read's worth
            // of hyper's buffer, which can grow to hundreds of KiB for large bodies.
            let unfilled = buf.initialize_unfilled_to(buf.remaining().min(MAX_READ));
            let received = this.tcp.try_io(tokio::io::Interest::READABLE, || {
                stamps.receive(&this.tcp, unfilled)
            });
            match received {
                Ok((n, stamp)) => {
                    buf.advance(n);
                    if n > 0 {
                        this.arrived(stamp);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for StampedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.between_requests = true;
        let wrote = ready!(Pin::new(&mut this.tcp).poll_write(cx, data));
        this.clock.written();
        Poll::Ready(wrote)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.between_requests = true;
        let wrote = ready!(Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs));
        this.clock.written();
        Poll::Ready(wrote)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl Drop for StampedStream {
    fn drop(&mut self) {
        // Closed before the answer was written (the client went away): its time ends here.
        self.clock
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.clock.written();
    }
}

/// The moment `wall` (the realtime clock) was, on the monotonic clock; `None` when it lies in the
/// future or too far back to be believed.
fn instant_of(wall: std::time::SystemTime) -> Option<Instant> {
    let ago = std::time::SystemTime::now().duration_since(wall).ok()?;
    (ago <= MAX_SOCKET_WAIT)
        .then(|| Instant::now().checked_sub(ago))
        .flatten()
}

#[cfg(target_os = "linux")]
mod kernel {
    //! Linux receive timestamps: `SO_TIMESTAMPNS` on the socket, read back from `recvmsg`.

    use std::io::{self, IoSliceMut};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant, SystemTime};

    use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags};
    use nix::sys::time::TimeSpec;

    /// Turns receive timestamps on for `socket`; false when it refuses.
    pub fn turn_on(socket: &impl std::os::fd::AsFd) -> bool {
        match socket::setsockopt(socket, sockopt::ReceiveTimestampns, &true) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("SO_TIMESTAMPNS: {e}");
                false
            }
        }
    }

    /// A connection's control-message buffer, allocated once.
    pub struct Stamps {
        cmsg: Vec<u8>,
    }

    impl Stamps {
        /// Turns receive timestamps on; `None` when the socket refuses.
        pub fn enable(tcp: &tokio::net::TcpStream) -> Option<Self> {
            turn_on(tcp).then(|| Self {
                cmsg: nix::cmsg_space!(TimeSpec),
            })
        }

        /// Reads what is there, with the kernel's stamp of its arrival.
        pub fn receive(
            &mut self,
            tcp: &tokio::net::TcpStream,
            buf: &mut [u8],
        ) -> io::Result<(usize, Option<Instant>)> {
            let mut iov = [IoSliceMut::new(buf)];
            let msg = socket::recvmsg::<()>(
                tcp.as_raw_fd(),
                &mut iov,
                Some(&mut self.cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let stamp = msg.cmsgs().ok().and_then(|mut all| {
                all.find_map(|c| match c {
                    ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
                    _ => None,
                })
            });
            let at = stamp.and_then(|ts| {
                let since_epoch = Duration::new(
                    u64::try_from(ts.tv_sec()).ok()?,
                    u32::try_from(ts.tv_nsec()).ok()?,
                );
                super::instant_of(SystemTime::UNIX_EPOCH + since_epoch)
            });
            Ok((msg.bytes, at))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod kernel {
    //! No receive timestamps off Linux: requests are stamped when read.

    pub struct Stamps;

    pub fn turn_on(_: &tokio::net::TcpListener) -> bool {
        false
    }

    impl Stamps {
        pub fn enable(_: &tokio::net::TcpStream) -> Option<Self> {
            None
        }

        pub fn receive(
            &mut self,
            _: &tokio::net::TcpStream,
            _: &mut [u8],
        ) -> std::io::Result<(usize, Option<std::time::Instant>)> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
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

    #[test]
    fn a_stamp_from_the_future_or_long_ago_is_not_believed() {
        let now = std::time::SystemTime::now();
        assert!(instant_of(now + std::time::Duration::from_secs(5)).is_none());
        assert!(instant_of(now - MAX_SOCKET_WAIT * 2).is_none());
        let recent = instant_of(now - std::time::Duration::from_millis(20)).unwrap();
        assert!(recent.elapsed() >= std::time::Duration::from_millis(20));
    }
}
