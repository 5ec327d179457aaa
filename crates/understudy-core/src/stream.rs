//! Streaming events: answer and reasoning deltas, then one closing event; and the collector that
//! turns a stream into a [`ChatResponse`].

use serde::{Deserialize, Serialize};

use crate::response::{ChatResponse, Confidence, FinishReason, Usage};
use crate::timing::Timing;

/// A piece of generated text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Delta {
    Answer(String),
    Reasoning(String),
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
    end: Option<StreamEnd>,
}

impl ResponseCollector {
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Delta(Delta::Answer(text)) => self.answer.push_str(&text),
            StreamEvent::Delta(Delta::Reasoning(text)) => self.reasoning.push_str(&text),
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
        }));
        let r = c.finish().unwrap();
        assert_eq!(r.answer, "4");
        assert_eq!(r.reasoning.as_deref(), Some("think"));
    }
}
