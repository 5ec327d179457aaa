//! Server-sent events for streamed answers, in whichever API's spelling the request came in
//! (an [`Encoder`]): chain-of-thought split at the last final-answer marker and a template's
//! answer read by its contract (as unary answers are), reasoning unless stripped, and a
//! mid-stream failure as the API's error event followed by the end of the stream. The request's
//! log row is committed before the closing events, so a client that saw the end (or the error
//! event) can count on the row surviving a crash.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use understudy_backend::EventStream;
use understudy_core::cot::{Piece, StreamSplitter};
use understudy_core::response::TokenLogprob;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::tools::ToolCallAssembler;
use understudy_core::{ChatMessage, StreamEvent, ToolCallDelta};

use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::turn::Turn;

/// Reads a profile's streamed answer as its unary answer is read: reasoning goes out as it comes
/// (chain of thought; under the `fields` layout at the end), the answer — after the last marker,
/// through the template's contract — at the end, once it is known.
struct AnswerReader {
    turn: Turn,
    splitter: Option<StreamSplitter>,
    all: String,
}

impl AnswerReader {
    /// `None` when the turn leaves the answer as the model writes it.
    fn new(turn: Turn) -> Option<Self> {
        if !turn.reads_answer() {
            return None;
        }
        let program = &turn.program;
        // Under the `fields` layout the reasoning is a field of its own: it goes out whole at
        // the end, read as the unary answer reads it.
        let fields = program
            .template
            .as_ref()
            .is_some_and(|t| t.format == understudy_prompt::Format::Fields);
        let splitter = (program.cot && !fields).then(StreamSplitter::default);
        Some(Self {
            splitter,
            turn,
            all: String::new(),
        })
    }

    fn push(&mut self, text: &str) -> Vec<Delta> {
        self.all.push_str(text);
        let Some(splitter) = self.splitter.as_mut() else {
            return Vec::new();
        };
        reasoning_only(splitter.push(text))
    }

    fn finish(&mut self) -> Vec<Delta> {
        let mut out = match self.splitter.as_mut() {
            Some(splitter) => reasoning_only(splitter.finish().0),
            None => Vec::new(),
        };
        let read = self.turn.read(&self.all);
        if self.splitter.is_none() {
            out.extend(read.reasoning.map(Delta::Reasoning));
        }
        out.push(Delta::Answer(read.answer.unwrap_or(read.text)));
        out
    }
}

fn reasoning_only(pieces: Vec<Piece>) -> Vec<Delta> {
    pieces
        .into_iter()
        .filter_map(|p| match p {
            Piece::Reasoning(t) => Some(Delta::Reasoning(t)),
            Piece::Answer(_) => None,
        })
        .collect()
}

/// How one API spells a streamed answer: OpenAI chat chunks, Anthropic message events or
/// Responses events. The mapping from backend events (reading the answer, reasoning policy,
/// the log row) is the same for all; only the spelling differs.
pub(crate) trait Encoder: Send {
    /// The events before any content (the role chunk, `message_start`, `response.created`).
    fn start(&mut self) -> Vec<Event>;
    fn text(&mut self, text: &str) -> Vec<Event>;
    fn reasoning(&mut self, text: &str) -> Vec<Event>;
    fn tool_call(&mut self, piece: &ToolCallDelta) -> Vec<Event>;
    /// Tokens' log-probabilities (only requests that asked get them; APIs without them
    /// send nothing).
    fn logprobs(&mut self, tokens: &[TokenLogprob]) -> Vec<Event> {
        let _ = tokens;
        Vec::new()
    }
    /// The answer ended: why, and its usage.
    fn end(&mut self, end: &StreamEnd) -> Vec<Event>;
    /// A failure mid-stream, as the API's error event.
    fn error(&mut self, error: &ApiError) -> Vec<Event>;
    /// The last events of a completed answer, sent once the request is logged (and stored):
    /// `[DONE]`, `message_stop`, `response.completed`.
    fn closing(&mut self) -> Vec<Event>;
}

/// Runs after a completed streamed answer, before its closing events (a stored response is
/// written here, so a client that saw the end can refer to it).
pub(crate) type AfterAnswer =
    Box<dyn FnOnce(ChatMessage) -> futures::future::BoxFuture<'static, ()> + Send>;

/// What the event mapping and the stream's tail share: the request's record, the encoder and the
/// answer as sent so far.
struct Shared {
    guard: RequestGuard,
    mapper: EventMapper,
}

/// Turns backend events into the SSE response.
pub(crate) fn sse(
    events: EventStream,
    mut encoder: Box<dyn Encoder>,
    turn: Option<Turn>,
    guard: RequestGuard,
    after: Option<AfterAnswer>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let first = futures::stream::iter(encoder.start());
    let mapper = EventMapper {
        strip: turn.as_ref().is_some_and(Turn::strips_reasoning),
        reader: turn.and_then(AnswerReader::new),
        encoder,
        finished: false,
        completed: false,
        finish_reason: None,
        answer: String::new(),
        calls: ToolCallAssembler::default(),
    };
    // Shared by the event mapping (which fills it in) and the tail (which logs it); dropped with
    // the stream, and so logged without waiting, when the client goes away first.
    let slot = Arc::new(Mutex::new(Shared { guard, mapper }));
    let body_slot = slot.clone();
    let body = events.flat_map(move |event| {
        let work = std::time::Instant::now();
        let mut lock = body_slot.lock().unwrap_or_else(|p| p.into_inner());
        let Shared { guard, mapper } = &mut *lock;
        if mapper.finished {
            return futures::stream::iter(Vec::new());
        }
        let out = mapper.map(event, guard);
        guard.add_stream_work(work.elapsed());
        futures::stream::iter(out)
    });
    let tail = futures::stream::once(async move {
        let (mut guard, answer, finish_reason) = {
            let mut lock = slot.lock().unwrap_or_else(|p| p.into_inner());
            let guard = std::mem::replace(&mut lock.guard, RequestGuard::detached());
            (
                guard,
                lock.mapper.completed.then(|| lock.mapper.take_answer()),
                lock.mapper.finish_reason,
            )
        };
        if let Some(answer) = answer.as_ref().filter(|_| guard.captures()) {
            guard.captured_answer(crate::capture::Answer {
                content: answer.content.clone(),
                tool_calls: answer.tool_calls.clone(),
                finish_reason,
            });
        }
        let work = std::time::Instant::now();
        guard.log_committed().await;
        guard.add_stream_work(work.elapsed());
        let Some(answer) = answer else {
            return Vec::new();
        };
        if let Some(after) = after {
            after(answer).await;
        }
        let mut lock = slot.lock().unwrap_or_else(|p| p.into_inner());
        lock.mapper.encoder.closing()
    })
    .flat_map(futures::stream::iter);
    Sse::new(first.chain(body).chain(tail).map(Ok)).keep_alive(KeepAlive::default())
}

/// Turns the backend's events into the encoder's: the answer read as the profile reads it,
/// reasoning unless stripped, the end with usage, or the error; keeps the answer as sent.
struct EventMapper {
    strip: bool,
    reader: Option<AnswerReader>,
    encoder: Box<dyn Encoder>,
    finished: bool,
    completed: bool,
    finish_reason: Option<understudy_core::FinishReason>,
    answer: String,
    calls: ToolCallAssembler,
}

impl EventMapper {
    fn map(
        &mut self,
        event: Result<StreamEvent, understudy_backend::BackendError>,
        guard: &mut RequestGuard,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        match event {
            Ok(StreamEvent::Delta(Delta::Answer(text))) => {
                guard.add_to_content(&text);
                if let Some(reader) = self.reader.as_mut() {
                    let deltas = reader.push(&text);
                    deltas.into_iter().for_each(|d| self.delta(d, &mut out));
                } else {
                    self.delta(Delta::Answer(text), &mut out);
                }
            }
            Ok(StreamEvent::Delta(d)) => self.delta(d, &mut out),
            Ok(StreamEvent::End(end)) => {
                guard.answered(&end.timing, &end.usage);
                if let Some(reader) = self.reader.as_mut() {
                    let rest = reader.finish();
                    rest.into_iter().for_each(|d| self.delta(d, &mut out));
                }
                out.extend(self.encoder.end(&end));
                self.finish_reason = Some(end.finish_reason);
                self.completed = true;
                self.finished = true;
            }
            Err(err) => {
                let api = ApiError::from(err);
                guard.fail(api.status.as_u16(), api.kind);
                out.extend(self.encoder.error(&api));
                self.finished = true;
            }
        }
        out
    }

    fn delta(&mut self, d: Delta, out: &mut Vec<Event>) {
        match d {
            Delta::Answer(t) if !t.is_empty() => {
                self.answer.push_str(&t);
                out.extend(self.encoder.text(&t));
            }
            Delta::Reasoning(t) if !t.is_empty() && !self.strip => {
                out.extend(self.encoder.reasoning(&t));
            }
            Delta::ToolCall(piece) => {
                out.extend(self.encoder.tool_call(&piece));
                self.calls.push(piece);
            }
            Delta::Logprobs(tokens) => out.extend(self.encoder.logprobs(&tokens)),
            _ => {}
        }
    }

    /// The answer as the client received it.
    fn take_answer(&mut self) -> ChatMessage {
        let calls = std::mem::take(&mut self.calls).finish();
        ChatMessage::assistant_calls(std::mem::take(&mut self.answer), calls)
    }
}
