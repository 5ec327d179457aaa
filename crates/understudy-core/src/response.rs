//! A finished chat answer: the text, the reasoning kept apart, why it stopped, token usage and timing.

use serde::{Deserialize, Serialize};

use crate::timing::Timing;
use crate::tools::ToolCall;

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
    /// The model called one or more tools.
    ToolCalls,
}

impl FinishReason {
    /// The OpenAI API's spelling (`cancelled` has none there and maps to `stop`).
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Stop | FinishReason::Cancelled => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
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
    /// Prompt tokens whose key/value cache was reused rather than computed (the embedded
    /// engine's prefix cache; an upstream's `usage.prompt_tokens_details.cached_tokens`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Usage {
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// How sure the model was of the tokens it chose: natural-log probabilities under its own
/// distribution, averaged and at their lowest (cascades escalate on low confidence).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub mean_logprob: f64,
    pub min_logprob: f64,
    pub tokens: u32,
}

/// Sums token log-probabilities into a [`Confidence`].
#[derive(Debug, Default, Clone)]
pub struct ConfidenceAccumulator {
    sum: f64,
    min: f64,
    tokens: u32,
}

impl ConfidenceAccumulator {
    pub fn push(&mut self, logprob: f64) {
        if self.tokens == 0 || logprob < self.min {
            self.min = logprob;
        }
        self.sum += logprob;
        self.tokens += 1;
    }

    /// `None` when no token was generated.
    pub fn finish(&self) -> Option<Confidence> {
        (self.tokens > 0).then(|| Confidence {
            mean_logprob: self.sum / f64::from(self.tokens),
            min_logprob: self.min,
            tokens: self.tokens,
        })
    }
}

/// The log-probability of `index` under the softmax of `logits`.
pub fn logprob_of(logits: &[f32], index: usize) -> Option<f64> {
    LogSoftmax::new(logits).logprob(index)
}

/// One generated token's log-probability (natural log, under the model's own distribution —
/// the log-softmax of its logits, before temperature or sampling), with the most likely
/// alternatives at that position when asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    /// The token's UTF-8 bytes (a token may hold part of a character).
    pub bytes: Vec<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopLogprob>,
}

/// An alternative token at a position, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    pub bytes: Vec<u8>,
}

/// The model's distribution at one position: the log-softmax of its logits, normalised once
/// for every question asked of it.
pub struct LogSoftmax<'l> {
    logits: &'l [f32],
    shift: f64,
}

impl<'l> LogSoftmax<'l> {
    pub fn new(logits: &'l [f32]) -> Self {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = logits.iter().map(|&l| (f64::from(l) - max).exp()).sum();
        Self {
            logits,
            shift: max + sum.ln(),
        }
    }

    /// The log-probability of token `index`.
    pub fn logprob(&self, index: usize) -> Option<f64> {
        Some(f64::from(*self.logits.get(index)?) - self.shift)
    }

    /// The `n` most likely tokens as (index, log-probability), most likely first.
    pub fn top(&self, n: usize) -> Vec<(usize, f64)> {
        let logits = self.logits;
        let n = n.min(logits.len());
        if n == 0 {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        let by_logit = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]);
        order.select_nth_unstable_by(n - 1, by_logit);
        order.truncate(n);
        order.sort_by(by_logit);
        order
            .into_iter()
            .map(|i| (i, f64::from(logits[i]) - self.shift))
            .collect()
    }
}

/// The `n` most likely tokens of `logits` as (index, log-probability), most likely first.
pub fn top_logprobs(logits: &[f32], n: usize) -> Vec<(usize, f64)> {
    LogSoftmax::new(logits).top(n)
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
    /// Token log-probability summary, when the backend could report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Each generated token's log-probability, when the request asked for them
    /// (`ChatRequest::top_logprobs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_logprobs: Vec<TokenLogprob>,
    /// The tools the model called (then `finish_reason` is `ToolCalls`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Outputs that looked like a tool call but did not parse as one of the offered tools; their
    /// text stays in `answer`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unparsed_tool_calls: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_alternatives_are_the_largest_logits_in_order() {
        let logits = [0.0_f32, 3.0, 1.0, 2.0];
        let top = top_logprobs(&logits, 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 3]);
        assert!((top[0].1 - logprob_of(&logits, 1).unwrap_or(0.0)).abs() < 1e-12);
        assert_eq!(top_logprobs(&logits, 9).len(), 4);
        assert!(top_logprobs(&logits, 0).is_empty());
    }

    #[test]
    fn logprobs_come_from_the_softmax() {
        let lp = logprob_of(&[0.0, 0.0], 1).unwrap_or(f64::NAN);
        assert!((lp - 0.5f64.ln()).abs() < 1e-12);
        let mut acc = ConfidenceAccumulator::default();
        assert!(acc.finish().is_none());
        acc.push(-0.1);
        acc.push(-2.0);
        let c = acc.finish().unwrap_or(Confidence {
            mean_logprob: 0.0,
            min_logprob: 0.0,
            tokens: 0,
        });
        assert!((c.mean_logprob + 1.05).abs() < 1e-12 && c.min_logprob == -2.0 && c.tokens == 2);
    }
}
