//! A TCP connection that tells its owner when bytes reached its socket, from the kernel's receive
//! timestamp (`SO_TIMESTAMPNS`, read back with `recvmsg`), and when its writes completed: the
//! gateway's accepted connections use it for a request's arrival and its answer's write, the
//! OpenAI backend's for the model's side of a wait. Where the kernel gives no stamp (off Linux,
//! or a socket that refuses the option) the moment the bytes are read stands in.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most one read takes from the socket.
const MAX_READ: usize = 64 * 1024;

/// A kernel stamp older than this is not believed (the wall clock stepped): the read's own
/// moment is used instead.
const MAX_SOCKET_WAIT: Duration = Duration::from_secs(10);

/// Turns receive timestamps on for `socket` (a listener passes the option to the sockets it
/// accepts); false when it refuses.
pub fn turn_on(socket: &impl std::os::fd::AsFd) -> bool {
    kernel::turn_on(socket)
}

/// What a stamped connection tells its owner.
pub trait WireEvents: Unpin {
    /// Bytes that reached the socket at `at` were read.
    fn received(&mut self, at: Instant);

    /// A write finished, with this result.
    fn wrote(&mut self, result: &io::Result<usize>);
}

/// A TCP connection whose reads and writes are reported to `E`.
pub struct StampedTcp<E> {
    tcp: TcpStream,
    stamps: ReceiveStamps,
    events: E,
}

impl<E: WireEvents> StampedTcp<E> {
    /// Turns receive timestamps on for `tcp` (reads fall back to their own moment if it refuses).
    pub fn new(tcp: TcpStream, events: E) -> Self {
        let stamps = ReceiveStamps::enable(&tcp);
        Self {
            tcp,
            stamps,
            events,
        }
    }

    /// Who hears of the reads and writes.
    pub fn events(&self) -> &E {
        &self.events
    }
}

impl<E: WireEvents> AsyncRead for StampedTcp<E> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(at) = ready!(this.stamps.poll_read(&mut this.tcp, cx, buf))? {
            this.events.received(at);
        }
        Poll::Ready(Ok(()))
    }
}

impl<E: WireEvents> AsyncWrite for StampedTcp<E> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let wrote = ready!(Pin::new(&mut this.tcp).poll_write(cx, data));
        this.events.wrote(&wrote);
        Poll::Ready(wrote)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let wrote = ready!(Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs));
        this.events.wrote(&wrote);
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

/// Reads a socket with the arrival time of what each read returns.
struct ReceiveStamps {
    kernel: Option<kernel::Stamps>,
}

impl ReceiveStamps {
    fn enable(tcp: &TcpStream) -> Self {
        Self {
            kernel: kernel::Stamps::enable(tcp),
        }
    }

    /// Reads what `tcp` has into `buf`, as `AsyncRead` would; on bytes read, also when they
    /// reached the socket (`None` at the end of the stream).
    fn poll_read(
        &mut self,
        tcp: &mut TcpStream,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<Option<Instant>>> {
        let Some(stamps) = self.kernel.as_mut() else {
            let before = buf.filled().len();
            ready!(Pin::new(tcp).poll_read(cx, buf))?;
            let read = buf.filled().len() > before;
            return Poll::Ready(Ok(read.then(Instant::now)));
        };
        loop {
            ready!(tcp.poll_read_ready(cx))?;
            // `recvmsg` wants initialized memory (no unsafe here): zero at most one read's worth
            // of hyper's buffer, which can grow to hundreds of KiB for large bodies.
            let unfilled = buf.initialize_unfilled_to(buf.remaining().min(MAX_READ));
            let received = tcp.try_io(tokio::io::Interest::READABLE, || {
                stamps.receive(tcp, unfilled)
            });
            match received {
                Ok((n, stamp)) => {
                    buf.advance(n);
                    let at = (n > 0).then(|| stamp.unwrap_or_else(Instant::now));
                    return Poll::Ready(Ok(at));
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
    //! No receive timestamps off Linux: bytes are stamped when read.

    pub struct Stamps;

    pub fn turn_on(_: &impl std::os::fd::AsFd) -> bool {
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

    #[test]
    fn a_stamp_from_the_future_or_long_ago_is_not_believed() {
        let now = std::time::SystemTime::now();
        assert!(instant_of(now + Duration::from_secs(5)).is_none());
        assert!(instant_of(now - MAX_SOCKET_WAIT * 2).is_none());
        let recent = instant_of(now - Duration::from_millis(20)).unwrap();
        assert!(recent.elapsed() >= Duration::from_millis(20));
    }
}
