//! Reads a server's SSE answer as [`StreamEvent`]s, each event mapped by the protocol's own
//! [`SseState`], pulled by the consumer:
//! no task of its own and no channel, so each event costs no wake-up of another task (the
//! gateway's per-request overhead was dominated by such wake-ups). Each wait for the server's
//! next event counts as upstream time on the clock of the request that started it, and a wait
//! longer than the timeout fails the stream: a stream that trickles stray bytes without a whole
//! event has stalled. Dropping the stream drops the response, which closes the connection.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use understudy_core::StreamEvent;

use super::transport::{self, Response};
use crate::upstream::{self, UpstreamClock, WireStamps};
use crate::{BackendError, EventStream};

type ServerEvents =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Send>>;

/// One protocol's reading of a stream: what each server event means, and what the end of the
/// stream means.
pub(crate) trait SseState: Send + 'static {
    /// The events one server event (its `event:` name, empty when none, and its data) means.
    fn on_event(
        &mut self,
        url: &str,
        name: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, BackendError>;
    /// True once the answer is complete.
    fn done(&self) -> bool;
    /// The server closed the stream before saying it was done: the last events, or why this is
    /// an error.
    fn closed(&mut self, url: &str) -> Result<Vec<StreamEvent>, BackendError>;
}

/// The error of a stream the server closed before the answer was complete.
pub(crate) fn cut_short(url: &str) -> BackendError {
    BackendError::Protocol(format!(
        "{url}: the stream ended before the answer was complete"
    ))
}

/// What the reader holds between pulls.
struct Reader<S> {
    events: ServerEvents,
    state: S,
    url: String,
    timeout: Duration,
    clock: Option<Arc<UpstreamClock>>,
    /// The connection's stamps: each wait ends when the latest bytes arrived.
    wire: Option<WireStamps>,
    ready: VecDeque<Result<StreamEvent, BackendError>>,
    over: bool,
}

/// The events of `response`, an SSE chat completion from `url`.
pub(crate) fn events<S: SseState>(
    response: Response,
    state: S,
    url: String,
    timeout: Duration,
) -> EventStream {
    let wire = transport::wire_stamps(&response);
    let body = http_body_util::BodyDataStream::new(response.into_body());
    let reader = Reader {
        events: Box::pin(body.eventsource()),
        wire,
        state,
        url,
        timeout,
        clock: upstream::current(),
        ready: VecDeque::new(),
        over: false,
    };
    Box::pin(futures::stream::unfold(reader, |mut r| async move {
        loop {
            if let Some(item) = r.ready.pop_front() {
                return Some((item, r));
            }
            if r.over {
                return None;
            }
            r.read_one().await;
        }
    }))
}

impl<S: SseState> Reader<S> {
    /// Reads the server's next event and queues what it means; marks the end when it is one.
    async fn read_one(&mut self) {
        let wire = self.wire.as_ref();
        let next = upstream::wait_received(
            self.clock.clone(),
            tokio::time::timeout(self.timeout, self.events.next()),
            |_| wire.cloned(),
        )
        .await;
        match next {
            Err(_) => self.fail(BackendError::Timeout {
                url: self.url.clone(),
                secs: self.timeout.as_secs(),
            }),
            Ok(None) => self.server_closed(),
            Ok(Some(Err(err))) => self.fail(BackendError::Protocol(format!(
                "{}: stream broke: {err}",
                self.url
            ))),
            Ok(Some(Ok(event))) => {
                match self.state.on_event(&self.url, &event.event, &event.data) {
                    Ok(out) => {
                        self.ready.extend(out.into_iter().map(Ok));
                        self.over = self.state.done();
                    }
                    Err(err) => self.fail(err),
                }
            }
        }
    }

    fn fail(&mut self, error: BackendError) {
        self.ready.push_back(Err(error));
        self.over = true;
    }

    /// The server closed the stream: finish as the protocol says, or fail.
    fn server_closed(&mut self) {
        match self.state.closed(&self.url) {
            Ok(events) => {
                self.ready.extend(events.into_iter().map(Ok));
                self.over = true;
            }
            Err(err) => self.fail(err),
        }
    }
}
