//! Streaming events: answer and reasoning deltas, then one closing event; and the collector that
//! turns a stream into a [`ChatResponse`].

use serde::{Deserialize, Serialize};

use crate::response::{ChatResponse, Confidence, FinishReason, Usage};
use crate::timing::Timing;
use crate::tools::{ToolCallAssembler, ToolCallDelta};

/// A piece of generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Delta {
    Answer(String),
    Reasoning(String),
    /// A piece of a tool call (see [`ToolCallDelta`]).
    ToolCall(ToolCallDelta),
    /// The log-probabilities of tokens just generated (when the request asked for them).
    Logprobs(Vec<crate::response::TokenLogprob>),
}

/// What closes a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub model: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Call-shaped outputs that did not parse (see `ChatResponse::unparsed_tool_calls`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unparsed_tool_calls: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One event of a streamed answer: any number of deltas, then exactly one `End`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StreamEvent {
    Delta(Delta),
    End(StreamEnd),
}

/// Accumulates stream events into a response.
#[derive(Debug, Default)]
pub struct ResponseCollector {
    answer: String,
    reasoning: String,
    calls: ToolCallAssembler,
    logprobs: Vec<crate::response::TokenLogprob>,
    end: Option<StreamEnd>,
}

impl ResponseCollector {
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Delta(Delta::Answer(text)) => self.answer.push_str(&text),
            StreamEvent::Delta(Delta::Reasoning(text)) => self.reasoning.push_str(&text),
            StreamEvent::Delta(Delta::ToolCall(piece)) => self.calls.push(piece),
            StreamEvent::Delta(Delta::Logprobs(tokens)) => self.logprobs.extend(tokens),
            StreamEvent::End(end) => self.end = Some(end),
        }
    }

    /// The response, or `None` if the stream never delivered its closing event.
    pub fn finish(self) -> Option<ChatResponse> {
        let end = self.end?;
        let reasoning = self.reasoning.trim();
        Some(ChatResponse {
            model: end.model,
            answer: self.answer,
            reasoning: (!reasoning.is_empty()).then(|| reasoning.to_string()),
            finish_reason: end.finish_reason,
            usage: end.usage,
            timing: end.timing,
            confidence: end.confidence,
            tool_calls: self.calls.finish(),
            token_logprobs: self.logprobs,
            unparsed_tool_calls: end.unparsed_tool_calls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_answer_and_reasoning_apart() {
        let mut c = ResponseCollector::default();
        c.push(StreamEvent::Delta(Delta::Reasoning("think ".into())));
        c.push(StreamEvent::Delta(Delta::Answer("4".into())));
        assert!(ResponseCollector::default().finish().is_none());
        c.push(StreamEvent::End(StreamEnd {
            model: "m".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            timing: Timing::default(),
            confidence: None,
            unparsed_tool_calls: 0,
        }));
        let r = c.finish().unwrap();
        assert_eq!(r.answer, "4");
        assert_eq!(r.reasoning.as_deref(), Some("think"));
    }
}
