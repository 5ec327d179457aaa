//! One request's clock, from its arrival to its end: the upstream time the backends mark on it,
//! the wait behind other requests the backend reports, a stream's setup and own work, and the
//! gateway's own and upstream time once settled (see overhead.rs for what each figure means).

use std::sync::Arc;
use std::time::{Duration, Instant};

use understudy_backend::upstream::UpstreamClock;

use crate::socket_arrival::ConnClock;

pub struct RequestClock {
    started: Instant,
    /// The connection's clock, when served over one: a unary answer's time ends when it is
    /// written.
    conn: Option<Arc<ConnClock>>,
    /// Upstream time of this request, marked by the backends.
    upstream: Arc<UpstreamClock>,
    /// The gateway's own time before a stream took over, and its own work on the stream since.
    stream_setup: Option<Duration>,
    stream_work: Duration,
    /// The gateway's own and upstream time, fixed when the answer was complete.
    settled: Option<(Duration, Duration)>,
    /// Time waited behind other requests for the model, as the backend reported it.
    queue: Option<Duration>,
}

impl Default for RequestClock {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            conn: None,
            upstream: Arc::default(),
            stream_setup: None,
            stream_work: Duration::ZERO,
            settled: None,
            queue: None,
        }
    }
}

impl RequestClock {
    /// Counts from `at` (the request's bytes at the gateway's socket) rather than from now, and
    /// up to the answer's write on `conn`.
    pub fn arrived(&mut self, at: Instant, conn: Option<Arc<ConnClock>>) {
        self.started = at;
        self.conn = conn;
    }

    /// Time since the request arrived.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The clock the backends mark upstream time on.
    pub fn upstream(&self) -> Arc<UpstreamClock> {
        self.upstream.clone()
    }

    /// The wait behind other requests for the model, as the backend reported it.
    pub fn queued(&mut self, queue_ms: f64) {
        self.queue = Some(Duration::from_secs_f64(queue_ms.max(0.0) / 1000.0));
    }

    pub fn queue(&self) -> Option<Duration> {
        self.queue
    }

    /// A stream takes the request over: its setup time is fixed here, and the clock left
    /// behind (for the response head) knows the time spent so far.
    pub fn hand_to_stream(&mut self) -> Self {
        let upstream = self.upstream.total();
        let setup = self.started.elapsed().saturating_sub(upstream);
        self.stream_setup = Some(setup);
        Self {
            settled: Some((setup, upstream)),
            upstream: self.upstream.clone(),
            ..Self::default()
        }
    }

    /// Adds the time the stream spent on its own work (turning events into SSE, the log commit).
    pub fn add_stream_work(&mut self, spent: Duration) {
        self.stream_work += spent;
    }

    /// The gateway's own time and the upstream time, fixed the first time this is asked after
    /// the answer is complete. For a clock left behind by [`Self::hand_to_stream`], the time up
    /// to the hand-over.
    pub fn settle(&mut self) -> (Duration, Duration) {
        if let Some(settled) = self.settled {
            return settled;
        }
        let upstream = self.upstream.total();
        let own = match self.stream_setup {
            Some(setup) => setup + self.stream_work,
            None => self.started.elapsed().saturating_sub(upstream),
        };
        self.settled = Some((own, upstream));
        (own, upstream)
    }

    /// The connection a unary answer is written on (a stream's own time is fixed already).
    pub fn take_unary_conn(&mut self) -> Option<Arc<ConnClock>> {
        self.conn.take().filter(|_| self.stream_setup.is_none())
    }
}
