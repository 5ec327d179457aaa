//! One SSE stream's state: the answer and reasoning kept apart, confidence and usage gathered,
//! and the end event made once.

use understudy_core::response::ConfidenceAccumulator;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::think_tags::ThinkSplitter;
use understudy_core::{FinishReason, StreamEvent, TimingRecorder, Usage};

use super::parse_finish;
use super::wire::{error_message, WireChunk};
use crate::http_api::sse_reader::{cut_short, SseState};
use crate::BackendError;

/// State carried through one SSE stream.
pub(super) struct StreamState {
    pub(super) model: String,
    pub(super) splitter: ThinkSplitter,
    pub(super) timing: TimingRecorder,
    pub(super) finish: Option<FinishReason>,
    pub(super) usage: Option<Usage>,
    pub(super) chunks: u32,
    pub(super) done: bool,
    pub(super) confidence: ConfidenceAccumulator,
    /// The request asked for each token's log-probability (passed on as they come).
    pub(super) token_logprobs: bool,
}

impl SseState for StreamState {
    fn on_event(
        &mut self,
        url: &str,
        _name: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, BackendError> {
        self.on_data(url, data)
    }

    fn done(&self) -> bool {
        self.done
    }

    /// The server closed the stream without `[DONE]`: finished if it gave a reason.
    fn closed(&mut self, url: &str) -> Result<Vec<StreamEvent>, BackendError> {
        if self.finish.is_none() {
            return Err(cut_short(url));
        }
        Ok(self.last_events())
    }
}

impl StreamState {
    /// What the splitter still holds, then the end event.
    fn last_events(&mut self) -> Vec<StreamEvent> {
        let mut events: Vec<StreamEvent> = self
            .splitter
            .finish()
            .into_iter()
            .map(StreamEvent::Delta)
            .collect();
        events.push(self.end_event());
        events
    }

    pub(super) fn end_event(&mut self) -> StreamEvent {
        let usage = self.usage.unwrap_or(Usage {
            completion_tokens: self.chunks,
            estimated: true,
            ..Usage::default()
        });
        StreamEvent::End(StreamEnd {
            model: self.model.clone(),
            finish_reason: self.finish.unwrap_or(FinishReason::Stop),
            usage,
            timing: self.timing.finish(None, Some(usage.completion_tokens)),
            confidence: self.confidence.finish(),
            unparsed_tool_calls: 0,
        })
    }

    /// Maps one SSE data payload to events.
    pub(super) fn on_data(
        &mut self,
        url: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, BackendError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(self.last_events());
        }
        let chunk: WireChunk = serde_json::from_str(data).map_err(|e| {
            BackendError::Protocol(format!(
                "{url}: malformed stream chunk ({e}): {}",
                clip(data)
            ))
        })?;
        if let Some(error) = chunk.error {
            return Err(BackendError::Http {
                url: url.to_string(),
                status: error
                    .get("code")
                    .and_then(|c| c.as_u64())
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(500),
                message: error_message(&serde_json::json!({ "error": error }).to_string()),
                retry_after: None,
            });
        }
        if let Some(model) = chunk.model {
            self.model = model;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.usage());
        }
        let mut events = Vec::new();
        for choice in chunk.choices {
            for lp in choice.logprobs.iter().flat_map(|l| l.values()) {
                self.confidence.push(lp);
            }
            if let Some(lps) = choice.logprobs.as_ref().filter(|_| self.token_logprobs) {
                let tokens = lps.tokens();
                if !tokens.is_empty() {
                    events.push(StreamEvent::Delta(Delta::Logprobs(tokens)));
                }
            }
            if let Some(reasoning) = choice.delta.reasoning_content.filter(|r| !r.is_empty()) {
                self.timing.mark_token();
                self.chunks += 1;
                events.push(StreamEvent::Delta(Delta::Reasoning(reasoning)));
            }
            if let Some(content) = choice.delta.content.filter(|c| !c.is_empty()) {
                self.timing.mark_token();
                self.chunks += 1;
                events.extend(
                    self.splitter
                        .push(&content)
                        .into_iter()
                        .map(StreamEvent::Delta),
                );
            }
            for (i, piece) in choice.delta.tool_calls.into_iter().enumerate() {
                self.timing.mark_token();
                self.chunks += 1;
                events.push(StreamEvent::Delta(Delta::ToolCall(piece.delta(i))));
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                self.finish = Some(parse_finish(Some(reason)));
            }
        }
        Ok(events)
    }
}

fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(200).collect();
    if clipped.len() < text.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}
