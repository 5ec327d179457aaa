//! Upstream time of a request: the wall time during which the request waits on the model (an
//! HTTP server's bytes, the embedded engine's tokens, a retry's back-off), so that the gateway
//! can report its own time as the rest. Overlapping waits (map-reduce's parallel calls) count
//! once. The caller (the gateway's handler) sets a clock for the request's task with
//! [`UpstreamClock::scope`]; backends mark each wait with [`wait_for`] (or [`wait_on`] a clock
//! captured with [`current`] where the work runs on a task of their own, or [`Waited`] around a
//! stream whose every pending poll is a wait for the model). Outside a scope all of this does
//! nothing. [`wait_for`] and [`Waited`] end a wait when the model's data woke the task, not when
//! the task next ran: time a woken request spends queued behind the gateway's other work is the
//! gateway's own; [`wait_received`] narrows it to the wire, from the request's bytes written to
//! the answer's bytes reaching the socket (a connection's [`WireStamps`]), so the time an HTTP
//! client's connection task waits for a worker is the gateway's too.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;

tokio::task_local! {
    static CLOCK: Arc<UpstreamClock>;
}

/// Upstream wall time of one request: the union of the intervals its backend calls were pending.
#[derive(Debug, Default)]
pub struct UpstreamClock {
    inner: Mutex<ClockState>,
}

#[derive(Debug, Default)]
struct ClockState {
    pending: u32,
    since: Option<Instant>,
    total: Duration,
}

impl UpstreamClock {
    /// One wait begins; true when it opens an interval (no other wait was pending).
    fn enter(&self) -> bool {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let opens = s.pending == 0;
        if opens {
            s.since = Some(Instant::now());
        }
        s.pending += 1;
        opens
    }

    /// One wait ended at `at` (now, or when the model's data woke the waiting task or reached
    /// the socket). `began`: when the wait really began, later than it entered (the request's
    /// bytes left for the server), taken only from a wait that opened the interval and is the
    /// only one pending, so no other wait's time is lost.
    fn leave(&self, began: Option<Instant>, at: Instant) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(began), 1) = (began, s.pending) {
            s.since = s.since.map(|since| since.max(began));
        }
        s.pending = s.pending.saturating_sub(1);
        if s.pending == 0 {
            if let Some(since) = s.since.take() {
                s.total += at.saturating_duration_since(since);
            }
        }
    }

    /// Upstream time so far, a call still pending included up to now.
    pub fn total(&self) -> Duration {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.total + s.since.map(|t| t.elapsed()).unwrap_or_default()
    }

    /// Runs `work` with this clock as the one [`wait_for`] and [`Waited`] count on.
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, work: F) -> F::Output {
        CLOCK.scope(self, work).await
    }
}

/// The clock of the request being answered on this task, if the caller set one.
pub fn current() -> Option<Arc<UpstreamClock>> {
    CLOCK.try_with(Arc::clone).ok()
}

/// Upstream time in progress; leaves the clock when dropped, so a wait cancelled mid-way
/// (client gone) stops counting.
struct Pending {
    clock: Option<Arc<UpstreamClock>>,
    /// This wait opened the clock's interval.
    opened: bool,
    /// When the wait really began, if later than it entered.
    began: Option<Instant>,
    /// When the wait ended, if before the drop.
    ended: Option<Instant>,
}

impl Pending {
    /// Counts on `clock` (nothing when there is none).
    fn on(clock: Option<Arc<UpstreamClock>>) -> Self {
        let opened = clock.as_ref().is_some_and(|c| c.enter());
        Self {
            clock,
            opened,
            began: None,
            ended: None,
        }
    }

    /// The wait began at `began` (when the request left), if later than the guard was made, and
    /// ended at `at` (when the model's data woke the task or reached the socket), though the
    /// guard lives on.
    fn spanned(mut self, began: Option<Instant>, at: Option<Instant>) {
        self.began = began.filter(|_| self.opened);
        self.ended = at;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(c) = &self.clock {
            let now = Instant::now();
            c.leave(self.began, self.ended.map_or(now, |at| at.min(now)));
        }
    }
}

/// Awaits `work`, a wait for the model, as upstream time on the current request's clock, up to
/// the moment the model's answer woke this task.
pub async fn wait_for<F: Future>(work: F) -> F::Output {
    wait_on(current(), work).await
}

/// [`wait_for`] on `clock` (captured with [`current`] where the work may run elsewhere).
pub async fn wait_on<F: Future>(clock: Option<Arc<UpstreamClock>>, work: F) -> F::Output {
    wait_received(clock, work, |_| None).await
}

/// [`wait_on`] for work that talks to the model over a connection whose traffic is stamped
/// (`wire`, given the work's output): on a connection that was already open, the wait begins
/// when the request's bytes were written (a new connection's setup, TCP and TLS handshakes,
/// stays the upstream's); it ends when the bytes that finished it reached the socket, if that
/// was during the wait, else at the wake. Time the request waits for the connection's writer to
/// run, and the answer for its reader, is the gateway's own.
pub async fn wait_received<F: Future>(
    clock: Option<Arc<UpstreamClock>>,
    work: F,
    wire: impl FnOnce(&F::Output) -> Option<WireStamps>,
) -> F::Output {
    if clock.is_none() {
        return work.await;
    }
    let started = Instant::now();
    let pending = Pending::on(clock);
    let stamp = Arc::new(WakeStamp::default());
    let mut work = std::pin::pin!(work);
    let (out, woken) = std::future::poll_fn(|cx| stamp.poll(cx, |cx| work.as_mut().poll(cx))).await;
    let wire = wire(&out);
    let during =
        |at: Option<std::time::Instant>| at.map(Instant::from_std).filter(|at| *at >= started);
    let reused = wire
        .as_ref()
        .is_some_and(|w| Instant::from_std(w.opened()) < started);
    let sent = during(wire.as_ref().and_then(WireStamps::sent)).filter(|_| reused);
    let arrived = during(wire.as_ref().and_then(WireStamps::received));
    let ended = match (woken, arrived) {
        (Some(woken), Some(arrived)) => Some(woken.min(arrived)),
        (woken, arrived) => arrived.or(woken),
    };
    pending.spanned(
        sent.filter(|sent| ended.is_none_or(|end| *sent <= end)),
        ended,
    );
    out
}

/// When one upstream connection last wrote a request and last received bytes, shared between
/// the connection (which stamps its writes and its reads) and the responses it carries (whose
/// waits start and end there). On HTTP/1.1 a connection carries one exchange at a time, so its
/// latest stamps belong to the exchange in progress.
#[derive(Debug, Clone)]
pub struct WireStamps(Arc<Mutex<WireTimes>>);

#[derive(Debug)]
struct WireTimes {
    opened: std::time::Instant,
    sent: Option<std::time::Instant>,
    received: Option<std::time::Instant>,
}

impl WireStamps {
    /// The stamps of a connection opened now.
    pub fn opened_now() -> Self {
        Self(Arc::new(Mutex::new(WireTimes {
            opened: std::time::Instant::now(),
            sent: None,
            received: None,
        })))
    }

    /// When the connection was opened.
    pub fn opened(&self) -> std::time::Instant {
        self.times().opened
    }

    /// A write completed now.
    pub fn note_sent(&self) {
        self.times().sent = Some(std::time::Instant::now());
    }

    /// Bytes arrived at `at`.
    pub fn note_received(&self, at: std::time::Instant) {
        self.times().received = Some(at);
    }

    /// When the latest write completed, if any did.
    pub fn sent(&self) -> Option<std::time::Instant> {
        self.times().sent
    }

    /// When the latest bytes arrived, if any did.
    pub fn received(&self) -> Option<std::time::Instant> {
        self.times().received
    }

    fn times(&self) -> std::sync::MutexGuard<'_, WireTimes> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A waker in front of the task's own that notes when it was first woken since the last poll.
#[derive(Default)]
struct WakeStamp {
    task: Mutex<Option<Waker>>,
    woken: Mutex<Option<Instant>>,
}

impl WakeStamp {
    /// Polls with this stamp's waker; on `Ready`, also when the task was woken for it (`None`:
    /// it was ready without a wake).
    fn poll<T>(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        inner: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<(T, Option<Instant>)> {
        {
            let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let woken = self.woken.lock().unwrap_or_else(|p| p.into_inner()).take();
        let waker = Waker::from(self.clone());
        inner(&mut Context::from_waker(&waker)).map(|out| (out, woken))
    }
}

impl Wake for WakeStamp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// A stream of the model's output whose pending polls are upstream time on `clock`: from the
/// first poll that finds nothing ready to the wake that brings the next item.
pub struct Waited<S> {
    inner: S,
    clock: Option<Arc<UpstreamClock>>,
    waiting: Option<Pending>,
    stamp: Arc<WakeStamp>,
}

impl<S> Waited<S> {
    /// Wraps `inner`, counting on the current request's clock.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            clock: current(),
            waiting: None,
            stamp: Arc::default(),
        }
    }
}

impl<S: Stream + Unpin> Stream for Waited<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        if this.clock.is_none() {
            return Pin::new(&mut this.inner).poll_next(cx);
        }
        let inner = &mut this.inner;
        match this.stamp.poll(cx, |cx| Pin::new(inner).poll_next(cx)) {
            Poll::Pending => {
                if this.waiting.is_none() {
                    this.waiting = Some(Pending::on(this.clock.clone()));
                }
                Poll::Pending
            }
            Poll::Ready((item, woken)) => {
                if let Some(waiting) = this.waiting.take() {
                    waiting.spanned(None, woken);
                }
                Poll::Ready(item)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn overlapping_calls_count_once_and_calls_outside_a_scope_not_at_all() {
        let clock = Arc::new(UpstreamClock::default());
        clock
            .clone()
            .scope(async {
                let call = |ms| wait_for(tokio::time::sleep(Duration::from_millis(ms)));
                futures::join!(call(60), call(50));
                // The gateway's own work between calls is not upstream time.
                tokio::time::advance(Duration::from_millis(40)).await;
                call(20).await;
            })
            .await;
        wait_for(tokio::time::sleep(Duration::from_millis(30))).await;
        // Overlapping 60 and 50 ms calls, then 20 ms: 80 ms (not 130, nor 120 with the gap).
        assert_eq!(clock.total(), Duration::from_millis(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_dropped_midway_stops_counting() {
        let clock = Arc::new(UpstreamClock::default());
        clock
            .clone()
            .scope(async {
                let call = wait_for(tokio::time::sleep(Duration::from_secs(10)));
                let _ = tokio::time::timeout(Duration::from_millis(25), call).await;
                tokio::time::advance(Duration::from_millis(100)).await;
            })
            .await;
        assert_eq!(clock.total(), Duration::from_millis(25));
    }

    /// The only worker wakes the waiting request, then stays busy for 100 ms: the request's wait
    /// ended at the wake, the 100 ms it sat queued are not the model's.
    #[tokio::test(flavor = "current_thread")]
    async fn a_wait_ends_when_the_answer_wakes_the_task_not_when_the_task_runs() {
        use futures::StreamExt;
        let clock = Arc::new(UpstreamClock::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tx.send(());
            std::thread::sleep(Duration::from_millis(100));
        });
        clock.clone().scope(wait_for(rx)).await.unwrap();
        worker.await.unwrap();
        let future_wait = clock.total();

        let clock = Arc::new(UpstreamClock::default());
        let (mut tx, rx) = futures::channel::mpsc::channel::<u8>(1);
        let worker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tx.try_send(1);
            std::thread::sleep(Duration::from_millis(100));
        });
        let first = clock
            .clone()
            .scope(async { Waited::new(rx).next().await })
            .await;
        assert_eq!(first, Some(1));
        worker.await.unwrap();
        let stream_wait = clock.total();

        for (what, waited) in [("future", future_wait), ("stream", stream_wait)] {
            assert!(
                waited >= Duration::from_millis(20) && waited < Duration::from_millis(80),
                "{what}: {waited:?} counted as upstream"
            );
        }
    }

    /// A request on a kept-alive connection counts from its bytes written to its answer's
    /// arrival (the 30 ms the writer took to run are the gateway's); on a connection opened for
    /// it, from its hand-over, since a new connection's handshakes are the upstream's.
    #[tokio::test(flavor = "current_thread")]
    async fn a_wire_wait_starts_at_the_write_only_on_a_connection_already_open() {
        async fn exchange(wire: WireStamps) -> WireStamps {
            tokio::time::sleep(Duration::from_millis(30)).await;
            wire.note_sent();
            tokio::time::sleep(Duration::from_millis(20)).await;
            wire.note_received(std::time::Instant::now());
            wire
        }
        let kept_alive = WireStamps::opened_now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let clock = Arc::new(UpstreamClock::default());
        wait_received(Some(clock.clone()), exchange(kept_alive), |w| {
            Some(w.clone())
        })
        .await;
        let reused = clock.total();

        let clock = Arc::new(UpstreamClock::default());
        let opened_during_the_wait = async { exchange(WireStamps::opened_now()).await };
        wait_received(Some(clock.clone()), opened_during_the_wait, |w| {
            Some(w.clone())
        })
        .await;
        let fresh = clock.total();

        assert!(
            reused >= Duration::from_millis(20) && reused < Duration::from_millis(45),
            "kept alive: {reused:?}"
        );
        assert!(
            fresh >= Duration::from_millis(50),
            "new connection: {fresh:?}"
        );
    }
}
