//! One Anthropic SSE stream read as core events: `text_delta` as answer, `thinking_delta` as
//! reasoning, each `tool_use` block as a call (its id and name first, then `input_json_delta`
//! pieces), usage from `message_start` and `message_delta`, the end at `message_stop`, and an
//! `error` event as the error it names.

use std::collections::HashMap;

use serde_json::Value;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::{FinishReason, StreamEvent, TimingRecorder, ToolCallDelta, Usage};

use crate::http_api::sse_reader::{cut_short, SseState};
use crate::BackendError;

pub(super) struct AnthropicStream {
    pub(super) model: String,
    pub(super) timing: TimingRecorder,
    usage: Usage,
    finish: Option<FinishReason>,
    done: bool,
    /// Content block index → the index of the call it carries.
    calls: HashMap<u64, u32>,
}

impl AnthropicStream {
    pub(super) fn new(model: String, timing: TimingRecorder) -> Self {
        Self {
            model,
            timing,
            usage: Usage::default(),
            finish: None,
            done: false,
            calls: HashMap::new(),
        }
    }

    fn end(&mut self) -> StreamEvent {
        StreamEvent::End(StreamEnd {
            model: self.model.clone(),
            finish_reason: self.finish.unwrap_or(FinishReason::Stop),
            usage: self.usage,
            timing: self.timing.finish(None, Some(self.usage.completion_tokens)),
            confidence: None,
            unparsed_tool_calls: 0,
        })
    }

    /// Reads the usage fields Anthropic sends (cumulative; absent ones leave the count as is).
    fn read_usage(&mut self, usage: &Value) {
        let n = |k: &str| {
            usage
                .get(k)
                .and_then(Value::as_u64)
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
        };
        if let Some(input) = n("input_tokens") {
            let cached = n("cache_read_input_tokens").unwrap_or(0);
            let created = n("cache_creation_input_tokens").unwrap_or(0);
            self.usage.prompt_tokens = input + cached + created;
            self.usage.cached_tokens = cached;
        }
        if let Some(output) = n("output_tokens") {
            self.usage.completion_tokens = output;
        }
    }

    fn delta(&mut self, delta: Delta) -> Vec<StreamEvent> {
        self.timing.mark_token();
        vec![StreamEvent::Delta(delta)]
    }
}

/// Anthropic's stop reason as a finish reason.
pub(super) fn finish_of(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// The HTTP status an error event's type stands for.
fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

impl SseState for AnthropicStream {
    fn on_event(
        &mut self,
        url: &str,
        name: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, BackendError> {
        let event: Value = serde_json::from_str(data)
            .map_err(|e| BackendError::Protocol(format!("{url}: malformed {name} event ({e})")))?;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or(name);
        let text = |key: &str| event.pointer(key).and_then(Value::as_str).unwrap_or("");
        Ok(match kind {
            "message_start" => {
                if let Some(model) = event.pointer("/message/model").and_then(Value::as_str) {
                    self.model = model.to_string();
                }
                if let Some(usage) = event.pointer("/message/usage") {
                    self.read_usage(usage);
                }
                Vec::new()
            }
            "content_block_start" if text("/content_block/type") == "tool_use" => {
                let block = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                self.calls.insert(block, index);
                self.delta(Delta::ToolCall(ToolCallDelta {
                    index,
                    id: Some(text("/content_block/id").to_string()),
                    name: Some(text("/content_block/name").to_string()),
                    arguments: String::new(),
                }))
            }
            "content_block_start" => match text("/content_block/text") {
                "" => Vec::new(),
                start => self.delta(Delta::Answer(start.to_string())),
            },
            "content_block_delta" => match text("/delta/type") {
                "text_delta" => self.delta(Delta::Answer(text("/delta/text").to_string())),
                "thinking_delta" => {
                    self.delta(Delta::Reasoning(text("/delta/thinking").to_string()))
                }
                "input_json_delta" => {
                    let block = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let index = self.calls.get(&block).copied().unwrap_or(0);
                    self.delta(Delta::ToolCall(ToolCallDelta {
                        index,
                        id: None,
                        name: None,
                        arguments: text("/delta/partial_json").to_string(),
                    }))
                }
                _ => Vec::new(),
            },
            "message_delta" => {
                if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(finish_of(reason));
                }
                if let Some(usage) = event.get("usage") {
                    self.read_usage(usage);
                }
                Vec::new()
            }
            "message_stop" => {
                self.done = true;
                vec![self.end()]
            }
            "error" => {
                return Err(BackendError::Http {
                    url: url.to_string(),
                    status: status_of(text("/error/type")),
                    message: text("/error/message").to_string(),
                    retry_after: None,
                })
            }
            // `ping`, `content_block_stop`, and event types added later.
            _ => Vec::new(),
        })
    }

    fn done(&self) -> bool {
        self.done
    }

    fn closed(&mut self, url: &str) -> Result<Vec<StreamEvent>, BackendError> {
        if self.finish.is_none() {
            return Err(cut_short(url));
        }
        Ok(vec![self.end()])
    }
}
