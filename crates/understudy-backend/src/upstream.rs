//! Upstream time of a request: the wall time during which the request waits on the model (an
//! HTTP server's bytes, the embedded engine's tokens, a retry's back-off), so that the gateway
//! can report its own time as the rest. Overlapping waits (map-reduce's parallel calls) count
//! once. The caller (the gateway's handler) sets a clock for the request's task with
//! [`UpstreamClock::scope`]; backends mark each wait with [`waiting`] (or [`Pending::on`] a
//! clock captured with [`current`], on a task of their own, or [`Waited`] around a stream whose
//! every pending poll is a wait for the model). Outside a scope all of this does nothing.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
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
    fn enter(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.pending == 0 {
            s.since = Some(Instant::now());
        }
        s.pending += 1;
    }

    fn leave(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.pending = s.pending.saturating_sub(1);
        if s.pending == 0 {
            if let Some(since) = s.since.take() {
                s.total += since.elapsed();
            }
        }
    }

    /// Upstream time so far, a call still pending included up to now.
    pub fn total(&self) -> Duration {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.total + s.since.map(|t| t.elapsed()).unwrap_or_default()
    }

    /// Runs `work` with this clock as the one [`waiting`] and [`Waited`] count on.
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, work: F) -> F::Output {
        CLOCK.scope(self, work).await
    }
}

/// The clock of the request being answered on this task, if the caller set one.
pub fn current() -> Option<Arc<UpstreamClock>> {
    CLOCK.try_with(Arc::clone).ok()
}

/// Counts upstream time from now until the guard is dropped, on the current request's clock
/// (nothing when there is none).
pub fn waiting() -> Pending {
    Pending::on(current())
}

/// Upstream time in progress; leaves the clock when dropped, so a wait cancelled mid-way
/// (client gone) stops counting.
pub struct Pending(Option<Arc<UpstreamClock>>);

impl Pending {
    /// Counts on `clock` (for work that runs on another task than the request's).
    pub fn on(clock: Option<Arc<UpstreamClock>>) -> Self {
        if let Some(c) = &clock {
            c.enter();
        }
        Self(clock)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.leave();
        }
    }
}

/// A stream of the model's output whose pending polls are upstream time on `clock`: from the
/// first poll that finds nothing ready to the poll that gets the next item.
pub struct Waited<S> {
    inner: S,
    clock: Option<Arc<UpstreamClock>>,
    waiting: Option<Pending>,
}

impl<S> Waited<S> {
    /// Wraps `inner`, counting on the current request's clock.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            clock: current(),
            waiting: None,
        }
    }
}

impl<S: Stream + Unpin> Stream for Waited<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if polled.is_pending() {
            if self.waiting.is_none() {
                let clock = self.clock.clone();
                self.waiting = Some(Pending::on(clock));
            }
        } else {
            self.waiting = None;
        }
        polled
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
                let call = |ms| async move {
                    let _t = waiting();
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                };
                futures::join!(call(60), call(50));
                // The gateway's own work between calls is not upstream time.
                tokio::time::advance(Duration::from_millis(40)).await;
                call(20).await;
            })
            .await;
        let outside = async {
            let _t = waiting();
            tokio::time::sleep(Duration::from_millis(30)).await;
        };
        outside.await;
        // Overlapping 60 and 50 ms calls, then 20 ms: 80 ms (not 130, nor 120 with the gap).
        assert_eq!(clock.total(), Duration::from_millis(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_dropped_midway_stops_counting() {
        let clock = Arc::new(UpstreamClock::default());
        clock
            .clone()
            .scope(async {
                let call = async {
                    let _t = waiting();
                    tokio::time::sleep(Duration::from_secs(10)).await;
                };
                let _ = tokio::time::timeout(Duration::from_millis(25), call).await;
                tokio::time::advance(Duration::from_millis(100)).await;
            })
            .await;
        assert_eq!(clock.total(), Duration::from_millis(25));
    }
}
