//! Server-sent events for streamed completions: OpenAI `chat.completion.chunk` frames, reasoning
//! as `reasoning_content`, chain-of-thought split at the final-answer marker, usage on request,
//! and a mid-stream failure as an OpenAI error event followed by the end of the stream. The
//! request's log row is committed before the last event, so a client that saw `[DONE]` (or the
//! error event) can count on the row surviving a crash.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use understudy_backend::EventStream;
use understudy_core::stream::Delta;
use understudy_core::thinking::FINAL_ANSWER_MARKER;
use understudy_core::StreamEvent;

use crate::error::ApiError;
use crate::handlers::now_secs;
use crate::profile::{CotPolicy, Profile, ReasoningPolicy};
use crate::request_guard::RequestGuard;

/// Routes chain-of-thought text: reasoning until the marker, answer after it.
struct CotRouter {
    seen_marker: bool,
    pending: String,
    all: String,
}

impl CotRouter {
    fn push(&mut self, text: &str) -> Vec<Delta> {
        self.all.push_str(text);
        if self.seen_marker {
            return vec![Delta::Answer(text.to_string())];
        }
        self.pending.push_str(text);
        if let Some(at) = self.pending.find(FINAL_ANSWER_MARKER) {
            self.seen_marker = true;
            let before = self.pending[..at].to_string();
            let after = self.pending[at + FINAL_ANSWER_MARKER.len()..]
                .trim_start()
                .to_string();
            self.pending.clear();
            return [Delta::Reasoning(before), Delta::Answer(after)]
                .into_iter()
                .filter(|d| !matches!(d, Delta::Reasoning(t) | Delta::Answer(t) if t.is_empty()))
                .collect();
        }
        // Hold back what could be the start of the marker.
        let keep = (1..FINAL_ANSWER_MARKER.len())
            .rev()
            .find(|&n| {
                self.pending.len() >= n
                    && self.pending.is_char_boundary(self.pending.len() - n)
                    && FINAL_ANSWER_MARKER.starts_with(&self.pending[self.pending.len() - n..])
            })
            .unwrap_or(0);
        let cut = self.pending.len() - keep;
        let out = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        if out.is_empty() {
            Vec::new()
        } else {
            vec![Delta::Reasoning(out)]
        }
    }

    /// Without a marker the whole text was the answer: send it as content at the end.
    fn finish(&mut self) -> Vec<Delta> {
        if self.seen_marker {
            return Vec::new();
        }
        vec![Delta::Answer(
            std::mem::take(&mut self.all).trim().to_string(),
        )]
    }
}

/// The name a response answers under and that name's fingerprint (see fingerprint.rs).
#[derive(Debug, Clone)]
pub struct Named {
    pub model: String,
    pub fingerprint: String,
}

fn chunk(id: &str, named: &Named, delta: serde_json::Value, finish: Option<&str>) -> Event {
    Event::default().data(
        serde_json::json!({
            "id": id, "object": "chat.completion.chunk", "created": now_secs(), "model": named.model,
            "system_fingerprint": named.fingerprint,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string(),
    )
}

/// Turns backend events into the SSE response.
pub fn sse(
    events: EventStream,
    id: String,
    named: Named,
    profile: Option<Profile>,
    include_usage: bool,
    guard: RequestGuard,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Shared by the event mapping (which fills it in) and the tail (which logs it); dropped with
    // the stream, and so logged without waiting, when the client goes away first.
    let slot = Arc::new(Mutex::new(guard));
    let body_slot = slot.clone();
    let completed = Arc::new(AtomicBool::new(false));
    let body_completed = completed.clone();
    let strip = profile
        .as_ref()
        .is_some_and(|p| p.reasoning == ReasoningPolicy::Strip);
    let mut cot = profile
        .as_ref()
        .filter(|p| p.cot == CotPolicy::On)
        .map(|_| CotRouter {
            seen_marker: false,
            pending: String::new(),
            all: String::new(),
        });
    let first = futures::stream::once({
        let (id, named) = (id.clone(), named.clone());
        async move {
            chunk(
                &id,
                &named,
                serde_json::json!({"role": "assistant", "content": ""}),
                None,
            )
        }
    });
    let mut finished = false;
    let body = events.flat_map(move |event| {
        let work = std::time::Instant::now();
        let mut out: Vec<Event> = Vec::new();
        if finished {
            return futures::stream::iter(out);
        }
        let to_event = |d: Delta, out: &mut Vec<Event>| match d {
            Delta::Answer(t) if !t.is_empty() => out.push(chunk(&id, &named, serde_json::json!({"content": t}), None)),
            Delta::Reasoning(t) if !t.is_empty() && !strip => out.push(chunk(&id, &named, serde_json::json!({"reasoning_content": t}), None)),
            _ => {}
        };
        let mut lock = body_slot.lock().unwrap_or_else(|p| p.into_inner());
        let guard = &mut *lock;
        match event {
            Ok(StreamEvent::Delta(Delta::Answer(text))) => {
                if let Some((_, answer)) = guard.content.as_mut() {
                    answer.push_str(&text);
                }
                match cot.as_mut() {
                Some(router) => router.push(&text).into_iter().for_each(|d| to_event(d, &mut out)),
                None => to_event(Delta::Answer(text), &mut out),
                }
            }
            Ok(StreamEvent::Delta(d)) => to_event(d, &mut out),
            Ok(StreamEvent::End(end)) => {
                guard.answered(&end.timing, &end.usage);
                if let Some(router) = cot.as_mut() {
                    router.finish().into_iter().for_each(|d| to_event(d, &mut out));
                }
                out.push(chunk(&id, &named, serde_json::json!({}), Some(end.finish_reason.as_openai())));
                if include_usage {
                    out.push(Event::default().data(
                        serde_json::json!({
                            "id": id, "object": "chat.completion.chunk", "created": now_secs(), "model": named.model, "system_fingerprint": named.fingerprint, "choices": [],
                            "usage": {"prompt_tokens": end.usage.prompt_tokens, "completion_tokens": end.usage.completion_tokens, "total_tokens": end.usage.total_tokens()},
                        })
                        .to_string(),
                    ));
                }
                body_completed.store(true, Ordering::Relaxed);
                finished = true;
            }
            Err(err) => {
                let api = ApiError::from(err);
                guard.fail(api.status.as_u16(), api.kind);
                out.push(Event::default().data(api.body().to_string()));
                finished = true;
            }
        }
        guard.add_stream_work(work.elapsed());
        futures::stream::iter(out)
    });
    let tail = futures::stream::once(async move {
        let mut guard = std::mem::replace(
            &mut *slot.lock().unwrap_or_else(|p| p.into_inner()),
            RequestGuard::detached(),
        );
        let work = std::time::Instant::now();
        guard.log_committed();
        guard.add_stream_work(work.elapsed());
        completed
            .load(Ordering::Relaxed)
            .then(|| Event::default().data("[DONE]"))
    })
    .filter_map(futures::future::ready);
    Sse::new(first.chain(body).chain(tail).map(Ok)).keep_alive(KeepAlive::default())
}
