//! Timing measured where tokens are produced: queue wait, time to first token, prompt and decode
//! speed, total wall time. The recorder is the one way backends produce a [`Timing`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Measured latency of one request, in milliseconds and tokens per second.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Time spent waiting for the model (queue behind other requests, model load).
    pub queue_ms: f64,
    /// From the request being submitted to the first generated token.
    pub ttft_ms: f64,
    /// From the request being submitted to the last token.
    pub total_ms: f64,
    /// Prompt processing speed, when the backend can see it.
    pub prompt_tokens_per_s: Option<f64>,
    /// Generation speed after the first token.
    pub decode_tokens_per_s: Option<f64>,
    /// The most requests the model ran at once (this one included) while this one ran, when the
    /// backend batches them itself (the embedded engine's parallel sequences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

/// Records the moments that make up a [`Timing`].
#[derive(Debug, Clone)]
pub struct TimingRecorder {
    submitted: Instant,
    started: Option<Instant>,
    prompt_start: Option<Instant>,
    prompt_done: Option<Instant>,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
    tokens: u32,
    concurrency: Option<u32>,
}

impl TimingRecorder {
    /// Starts the clock: call when the request is submitted.
    pub fn start() -> Self {
        Self::start_at(Instant::now())
    }

    pub fn start_at(submitted: Instant) -> Self {
        Self {
            submitted,
            started: None,
            prompt_start: None,
            prompt_done: None,
            first_token: None,
            last_token: None,
            tokens: 0,
            concurrency: None,
        }
    }

    /// The model began working on this request (queue wait ends).
    pub fn mark_started(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    /// Prompt processing (prefill) begins; without this mark it is taken to begin at `started`.
    pub fn mark_prompt_start(&mut self) {
        self.prompt_start.get_or_insert_with(Instant::now);
    }

    /// The prompt has been processed.
    pub fn mark_prompt_done(&mut self) {
        self.prompt_done.get_or_insert_with(Instant::now);
    }

    /// One more token was generated.
    pub fn mark_token(&mut self) {
        let now = Instant::now();
        self.first_token.get_or_insert(now);
        self.last_token = Some(now);
        self.tokens += 1;
    }

    /// `running` requests (this one included) shared the model for a step of this one; the
    /// timing reports the most.
    pub fn note_concurrency(&mut self, running: u32) {
        self.concurrency = Some(self.concurrency.unwrap_or(0).max(running));
    }

    /// Tokens counted so far.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }

    /// The timing, given the prompt size (used for prompt tokens/s when known) and the number of
    /// generated tokens (defaults to the count of `mark_token` calls when `None`).
    pub fn finish(&self, prompt_tokens: Option<u32>, completion_tokens: Option<u32>) -> Timing {
        let now = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let started = self.started.unwrap_or(self.submitted);
        let first = self.first_token.unwrap_or(now);
        let last = self.last_token.unwrap_or(now);
        let tokens = completion_tokens.unwrap_or(self.tokens);
        let prompt_tokens_per_s = match (prompt_tokens, self.prompt_done) {
            (Some(n), Some(done)) if n > 0 => {
                let secs = done
                    .duration_since(self.prompt_start.unwrap_or(started))
                    .as_secs_f64();
                (secs > 0.0).then(|| f64::from(n) / secs)
            }
            _ => None,
        };
        let decode_secs = last.duration_since(first).as_secs_f64();
        let decode_tokens_per_s =
            (tokens > 1 && decode_secs > 0.0).then(|| f64::from(tokens - 1) / decode_secs);
        Timing {
            queue_ms: ms(started.duration_since(self.submitted)),
            ttft_ms: ms(first.duration_since(self.submitted)),
            total_ms: ms(last.max(now).duration_since(self.submitted)),
            prompt_tokens_per_s,
            decode_tokens_per_s,
            concurrency: self.concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rate_counts_tokens_after_the_first() {
        let t0 = Instant::now() - Duration::from_millis(100);
        let mut r = TimingRecorder::start_at(t0);
        r.mark_started();
        r.mark_prompt_done();
        r.mark_token();
        std::thread::sleep(Duration::from_millis(20));
        r.mark_token();
        r.mark_token();
        let t = r.finish(Some(10), None);
        assert!(t.ttft_ms >= 100.0);
        assert!(t.total_ms >= t.ttft_ms);
        let rate = t.decode_tokens_per_s.unwrap();
        assert!(rate > 0.0 && rate <= 2.0 / 0.020 + 1.0, "{rate}");
        assert!(t.prompt_tokens_per_s.is_some());
    }

    #[test]
    fn one_token_has_no_decode_rate() {
        let mut r = TimingRecorder::start();
        r.mark_token();
        assert_eq!(r.finish(None, None).decode_tokens_per_s, None);
    }
}
