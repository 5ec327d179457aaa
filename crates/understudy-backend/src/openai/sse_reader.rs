//! Reads an OpenAI-compatible server's SSE answer as [`StreamEvent`]s, pulled by the consumer:
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
use super::StreamState;
use crate::upstream::{self, UpstreamClock, WireStamps};
use crate::{BackendError, EventStream};

type ServerEvents =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Send>>;

/// What the reader holds between pulls.
struct Reader {
    events: ServerEvents,
    state: StreamState,
    url: String,
    timeout: Duration,
    clock: Option<Arc<UpstreamClock>>,
    /// The connection's stamps: each wait ends when the latest bytes arrived.
    wire: Option<WireStamps>,
    ready: VecDeque<Result<StreamEvent, BackendError>>,
    over: bool,
}

/// The events of `response`, an SSE chat completion from `url`.
pub(super) fn events(
    response: Response,
    state: StreamState,
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

impl Reader {
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
            Ok(Some(Ok(event))) => match self.state.on_data(&self.url, &event.data) {
                Ok(out) => {
                    self.ready.extend(out.into_iter().map(Ok));
                    self.over = self.state.done;
                }
                Err(err) => self.fail(err),
            },
        }
    }

    fn fail(&mut self, error: BackendError) {
        self.ready.push_back(Err(error));
        self.over = true;
    }

    /// The server closed the stream without `[DONE]`: finish if it gave a reason, else fail.
    fn server_closed(&mut self) {
        if self.state.finish.is_some() {
            let deltas = self.state.splitter.finish();
            self.ready
                .extend(deltas.into_iter().map(|d| Ok(StreamEvent::Delta(d))));
            self.ready.push_back(Ok(self.state.end_event()));
            self.over = true;
        } else {
            self.fail(BackendError::Protocol(format!(
                "{}: the stream ended before the answer was complete",
                self.url
            )));
        }
    }
}
