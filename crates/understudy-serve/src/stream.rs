//! Server-sent events for streamed completions: OpenAI `chat.completion.chunk` frames, reasoning
//! as `reasoning_content`, chain-of-thought split at the last final-answer marker and a
//! template's answer read by its contract (as unary answers are), usage on request,
//! and a mid-stream failure as an OpenAI error event followed by the end of the stream. The
//! request's log row is committed before the last event, so a client that saw `[DONE]` (or the
//! error event) can count on the row surviving a crash.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use understudy_backend::EventStream;
use understudy_core::cot::{Piece, StreamSplitter};
use understudy_core::stream::Delta;
use understudy_core::StreamEvent;

use crate::error::ApiError;
use crate::request_guard::RequestGuard;
use crate::responses::{CallBody, ChatCompletionChunk, ChunkDelta, Named};
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

fn chunk(id: &str, named: &Named, delta: ChunkDelta<'_>, finish: Option<&str>) -> Event {
    event(&ChatCompletionChunk::delta(id, named, delta, finish))
}

fn event(chunk: &ChatCompletionChunk<'_>) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_default())
}

/// Turns backend events into the SSE response.
pub fn sse(
    events: EventStream,
    id: String,
    named: Named,
    turn: Option<Turn>,
    include_usage: bool,
    guard: RequestGuard,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Shared by the event mapping (which fills it in) and the tail (which logs it); dropped with
    // the stream, and so logged without waiting, when the client goes away first.
    let slot = Arc::new(Mutex::new(guard));
    let body_slot = slot.clone();
    let completed = Arc::new(AtomicBool::new(false));
    let first = futures::stream::once({
        let (id, named) = (id.clone(), named.clone());
        async move {
            chunk(
                &id,
                &named,
                ChunkDelta {
                    role: Some("assistant"),
                    content: Some(""),
                    ..ChunkDelta::default()
                },
                None,
            )
        }
    });
    let mut mapper = EventMapper {
        strip: turn.as_ref().is_some_and(Turn::strips_reasoning),
        reader: turn.and_then(AnswerReader::new),
        id,
        named,
        include_usage,
        finished: false,
        completed: completed.clone(),
    };
    let body = events.flat_map(move |event| {
        let work = std::time::Instant::now();
        if mapper.finished {
            return futures::stream::iter(Vec::new());
        }
        let mut lock = body_slot.lock().unwrap_or_else(|p| p.into_inner());
        let out = mapper.map(event, &mut lock);
        lock.add_stream_work(work.elapsed());
        futures::stream::iter(out)
    });
    let tail = futures::stream::once(async move {
        let mut guard = std::mem::replace(
            &mut *slot.lock().unwrap_or_else(|p| p.into_inner()),
            RequestGuard::detached(),
        );
        let work = std::time::Instant::now();
        guard.log_committed().await;
        guard.add_stream_work(work.elapsed());
        completed
            .load(Ordering::Relaxed)
            .then(|| Event::default().data("[DONE]"))
    })
    .filter_map(futures::future::ready);
    Sse::new(first.chain(body).chain(tail).map(Ok)).keep_alive(KeepAlive::default())
}

/// Turns the backend's events into SSE chunks: the answer read as the profile reads it,
/// reasoning unless stripped, the finish chunk and usage at the end, or the error.
struct EventMapper {
    id: String,
    named: Named,
    strip: bool,
    reader: Option<AnswerReader>,
    include_usage: bool,
    finished: bool,
    completed: Arc<AtomicBool>,
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
                out.push(chunk(
                    &self.id,
                    &self.named,
                    ChunkDelta::default(),
                    Some(end.finish_reason.as_openai()),
                ));
                if self.include_usage {
                    out.push(self.usage(&end.usage));
                }
                self.completed.store(true, Ordering::Relaxed);
                self.finished = true;
            }
            Err(err) => {
                let api = ApiError::from(err);
                guard.fail(api.status.as_u16(), api.kind);
                out.push(Event::default().data(api.body().to_string()));
                self.finished = true;
            }
        }
        out
    }

    fn delta(&self, d: Delta, out: &mut Vec<Event>) {
        match d {
            Delta::Answer(t) if !t.is_empty() => out.push(chunk(
                &self.id,
                &self.named,
                ChunkDelta {
                    content: Some(&t),
                    ..ChunkDelta::default()
                },
                None,
            )),
            Delta::Reasoning(t) if !t.is_empty() && !self.strip => out.push(chunk(
                &self.id,
                &self.named,
                ChunkDelta {
                    reasoning_content: Some(&t),
                    ..ChunkDelta::default()
                },
                None,
            )),
            Delta::ToolCall(piece) => out.push(chunk(
                &self.id,
                &self.named,
                ChunkDelta {
                    tool_calls: Some([CallBody::piece(&piece)]),
                    ..ChunkDelta::default()
                },
                None,
            )),
            _ => {}
        }
    }

    /// The usage chunk (`stream_options.include_usage`): no choices, the token counts.
    fn usage(&self, usage: &understudy_core::Usage) -> Event {
        event(&ChatCompletionChunk::usage(&self.id, &self.named, usage))
    }
}
