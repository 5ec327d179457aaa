//! A finished chat answer: the text, the reasoning kept apart, why it stopped, token usage and timing.

use serde::{Deserialize, Serialize};

use crate::timing::Timing;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn or hit a stop sequence.
    Stop,
    /// `max_tokens` (or the context window) ran out.
    Length,
    /// The caller went away before the answer was complete.
    Cancelled,
}

impl FinishReason {
    /// The OpenAI API's spelling (`cancelled` has none there and maps to `stop`).
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Stop | FinishReason::Cancelled => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Token counts for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// True when the backend reported no counts and these were estimated from the stream.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Usage {
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The model that answered, as the backend names it.
    pub model: String,
    /// The answer, with any reasoning removed.
    pub answer: String,
    /// Reasoning text (`<think>…</think>` or `reasoning_content`), if the model produced any.
    pub reasoning: Option<String>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub timing: Timing,
}
