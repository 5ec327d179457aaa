//! The Anthropic Messages API's answer: a `message` object with `thinking`, `text` and
//! `tool_use` content blocks, `stop_reason` and usage, and its streamed events (`message_start`,
//! `content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop`, `error`).

use axum::response::sse::Event;
use serde_json::{json, Value};
use understudy_core::stream::StreamEnd;
use understudy_core::{ChatResponse, FinishReason, ToolCallDelta, Usage};

use crate::error::ApiError;
use crate::responses::Named;
use crate::stream::Encoder;

/// Anthropic's `stop_reason` for a finish reason. A stop sequence is reported as `end_turn`:
/// backends do not say whether a stop sequence or the end of turn stopped the model.
pub fn stop_reason(finish: FinishReason) -> &'static str {
    match finish {
        FinishReason::Stop | FinishReason::Cancelled => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
    }
}

/// Anthropic's usage: input tokens read from the cache are counted apart from the others.
pub fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens.saturating_sub(usage.cached_tokens),
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "output_tokens": usage.completion_tokens,
    })
}

/// A call's arguments as the `input` object; text that is not JSON is passed on as a string,
/// never replaced by an empty object.
fn input_of(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_string()))
}

/// A whole answer: `{"type": "message", "content": [...], ...}`.
pub fn message_body(id: &str, named: &Named, r: &ChatResponse) -> Value {
    let mut content = Vec::new();
    if let Some(reasoning) = r.reasoning.as_deref().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
    }
    if !r.answer.is_empty() || r.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": r.answer}));
    }
    for call in &r.tool_calls {
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input_of(&call.arguments)}));
    }
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": named.model,
        "content": content,
        "stop_reason": stop_reason(r.finish_reason),
        "stop_sequence": null,
        "usage": usage(&r.usage),
    })
}

/// The kind of content block open in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Thinking,
    Text,
    /// A tool call, by its index among the answer's calls.
    Call(u32),
}

/// Streams an answer as Anthropic's events: one content block per run of thinking, text or
/// one tool call, each opened before its first delta and closed before the next begins.
pub(crate) struct MessagesEncoder {
    id: String,
    named: Named,
    open: Option<Block>,
    /// Index of the next content block.
    next: u32,
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

impl MessagesEncoder {
    pub fn new(id: String, named: Named) -> Self {
        Self {
            id,
            named,
            open: None,
            next: 0,
        }
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if self.open.take().is_some() {
            let index = self.next - 1;
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Opens `block` (closing the one open) unless it is open already; its index.
    fn open(&mut self, block: Block, start: Value, out: &mut Vec<Event>) -> u32 {
        if self.open != Some(block) {
            self.close(out);
            out.push(event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": self.next, "content_block": start}),
            ));
            self.open = Some(block);
            self.next += 1;
        }
        self.next - 1
    }

    fn delta(index: u32, delta: Value) -> Event {
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    }
}

impl Encoder for MessagesEncoder {
    fn start(&mut self) -> Vec<Event> {
        let message = json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.named.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        });
        vec![event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        )]
    }

    fn text(&mut self, text: &str) -> Vec<Event> {
        let mut out = Vec::new();
        let index = self.open(Block::Text, json!({"type": "text", "text": ""}), &mut out);
        out.push(Self::delta(
            index,
            json!({"type": "text_delta", "text": text}),
        ));
        out
    }

    fn reasoning(&mut self, text: &str) -> Vec<Event> {
        let mut out = Vec::new();
        let start = json!({"type": "thinking", "thinking": "", "signature": ""});
        let index = self.open(Block::Thinking, start, &mut out);
        out.push(Self::delta(
            index,
            json!({"type": "thinking_delta", "thinking": text}),
        ));
        out
    }

    fn tool_call(&mut self, piece: &ToolCallDelta) -> Vec<Event> {
        let mut out = Vec::new();
        let start = json!({
            "type": "tool_use",
            "id": piece.id.clone().unwrap_or_default(),
            "name": piece.name.clone().unwrap_or_default(),
            "input": {},
        });
        let index = self.open(Block::Call(piece.index), start, &mut out);
        if !piece.arguments.is_empty() {
            out.push(Self::delta(
                index,
                json!({"type": "input_json_delta", "partial_json": piece.arguments}),
            ));
        }
        out
    }

    fn end(&mut self, end: &StreamEnd) -> Vec<Event> {
        let mut out = Vec::new();
        if self.next == 0 {
            // An empty answer is still one (empty) text block, as the unary body has.
            self.open(Block::Text, json!({"type": "text", "text": ""}), &mut out);
        }
        self.close(&mut out);
        out.push(event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(end.finish_reason), "stop_sequence": null},
                "usage": usage(&end.usage),
            }),
        ));
        out
    }

    fn error(&mut self, error: &ApiError) -> Vec<Event> {
        vec![event("error", &error.anthropic_body())]
    }

    fn closing(&mut self) -> Vec<Event> {
        vec![event("message_stop", &json!({"type": "message_stop"}))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder() -> MessagesEncoder {
        let named = Named {
            model: "m".into(),
            fingerprint: "fp".into(),
        };
        MessagesEncoder::new("msg_1".into(), named)
    }

    #[test]
    fn blocks_open_once_and_close_before_the_next() {
        let mut e = encoder();
        let mut out = e.start();
        out.extend(e.text("Hel"));
        out.extend(e.text("lo"));
        out.extend(e.tool_call(&ToolCallDelta {
            index: 0,
            id: Some("toolu_1".into()),
            name: Some("f".into()),
            arguments: "{\"a\":".into(),
        }));
        out.extend(e.tool_call(&ToolCallDelta {
            index: 0,
            id: None,
            name: None,
            arguments: "1}".into(),
        }));
        out.extend(e.end(&StreamEnd {
            model: "m".into(),
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
            timing: understudy_core::Timing::default(),
            confidence: None,
            unparsed_tool_calls: 0,
        }));
        out.extend(e.closing());
        let text = format!("{out:?}");
        let order: Vec<&str> = [
            "message_start",
            "content_block_start",
            "text_delta",
            "content_block_stop",
            "tool_use",
            "input_json_delta",
            "message_delta",
            "message_stop",
        ]
        .into_iter()
        .collect();
        let mut at = 0;
        for name in order {
            let found = text[at..].find(name);
            assert!(found.is_some(), "{name} missing after {at} in {text}");
            at += found.unwrap_or(0);
        }
        assert_eq!(text.matches("event: content_block_start").count(), 2);
        assert_eq!(text.matches("event: content_block_stop").count(), 2);
        assert!(text.contains("tool_use"));
    }
}
