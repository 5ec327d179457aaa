//! One request running in a slot of the engine: its prompt still to process, then one token per
//! engine step through sampling, stop sequences and the `<think>` splitter, each delta sent as it
//! comes; the closing event carries usage, timing and the concurrency it ran under.

use std::collections::VecDeque;
use std::ops::Range;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc as tmpsc;
use understudy_core::response::{ConfidenceAccumulator, LogSoftmax, TokenLogprob, TopLogprob};
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::think_tags::ThinkSplitter;
use understudy_core::{FinishReason, StreamEvent, TimingRecorder};

use super::pick::Picker;
use super::prompt::{prompt_batches, Prepared, PromptCounts};
use super::utf8::Utf8Decoder;
use crate::stop::StopMatcher;
use crate::BackendError;

pub(super) type Events = tmpsc::UnboundedSender<Result<StreamEvent, BackendError>>;

/// Where a sequence stands between engine steps.
enum Phase {
    /// Prompt tokens (ranges into the prompt) still to process, in order.
    Prompt(VecDeque<Range<usize>>),
    /// The last picked token, to be fed back at `position` for the next one's logits.
    Generate { token: LlamaToken, position: usize },
}

/// What the engine puts in the next batch for a sequence.
pub(super) enum Work<'a> {
    /// Prompt tokens from `position` on; `last` when they end the prompt (logits wanted).
    Prompt {
        tokens: &'a [LlamaToken],
        position: usize,
        last: bool,
    },
    Token {
        token: LlamaToken,
        position: usize,
    },
}

/// A request in a slot.
pub(super) struct Sequence {
    events: Events,
    timing: TimingRecorder,
    tokens: Vec<LlamaToken>,
    counts: PromptCounts,
    phase: Phase,
    picker: Picker,
    decoder: Utf8Decoder,
    stops: StopMatcher,
    splitter: ThinkSplitter,
    confidence: ConfidenceAccumulator,
    logprobs: bool,
    top_logprobs: Option<u8>,
    budget: usize,
    generated: usize,
}

/// A sequence after a step: still running, or done with its closing event sent.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Status {
    Running,
    Done,
}

impl Sequence {
    /// Starts `prepared` with its first `reused` prompt tokens already in the slot's cache.
    pub(super) fn start(
        prepared: Prepared,
        reused: usize,
        events: Events,
        mut timing: TimingRecorder,
    ) -> Self {
        timing.mark_prompt_start();
        let chunks = prompt_batches(&prepared.tokens[reused..])
            .into_iter()
            .scan(reused, |at, chunk| {
                let range = *at..*at + chunk.len();
                *at = range.end;
                Some(range)
            })
            .collect();
        Self {
            events,
            timing,
            counts: PromptCounts {
                total: prepared.tokens.len(),
                reused,
            },
            tokens: prepared.tokens,
            phase: Phase::Prompt(chunks),
            picker: prepared.picker,
            decoder: Utf8Decoder::default(),
            stops: StopMatcher::new(&prepared.stop),
            splitter: if prepared.starts_in_thought {
                ThinkSplitter::starting_in_thought()
            } else {
                ThinkSplitter::default()
            },
            confidence: ConfidenceAccumulator::default(),
            logprobs: prepared.logprobs,
            top_logprobs: prepared.top_logprobs,
            budget: prepared.budget,
            generated: 0,
        }
    }

    /// The caller went away (the stream was dropped): the slot can be freed at once.
    pub(super) fn abandoned(&self) -> bool {
        self.events.is_closed()
    }

    /// The prompt's tokens.
    pub(super) fn prompt(&self) -> &[LlamaToken] {
        &self.tokens
    }

    pub(super) fn prefilling(&self) -> bool {
        matches!(self.phase, Phase::Prompt(_))
    }

    /// `running` sequences share this step.
    pub(super) fn note_step(&mut self, running: usize) {
        self.timing
            .note_concurrency(u32::try_from(running).unwrap_or(u32::MAX));
    }

    /// This sequence's part of the next batch: its next prompt chunk if it fits in `room`
    /// tokens, or its last token; `None` when its chunk must wait for a later step.
    pub(super) fn next_work(&self, room: usize) -> Option<Work<'_>> {
        match &self.phase {
            Phase::Prompt(chunks) => {
                let range = chunks.front()?;
                (range.len() <= room).then(|| Work::Prompt {
                    tokens: &self.tokens[range.clone()],
                    position: range.start,
                    last: chunks.len() == 1,
                })
            }
            Phase::Generate { token, position } => Some(Work::Token {
                token: *token,
                position: *position,
            }),
        }
    }

    /// The next prompt chunk was decoded (without logits: more prompt follows).
    pub(super) fn chunk_done(&mut self) {
        if let Phase::Prompt(chunks) = &mut self.phase {
            chunks.pop_front();
        }
    }

    /// The batch gave this sequence logits at `index`: picks the next token and sends what it
    /// adds to the answer.
    pub(super) fn take_logits(
        &mut self,
        model: &LlamaModel,
        ctx: &LlamaContext<'_>,
        index: i32,
        name: &str,
    ) -> Status {
        let position = match &self.phase {
            Phase::Prompt(_) => {
                self.timing.mark_prompt_done();
                self.tokens.len()
            }
            Phase::Generate { position, .. } => position + 1,
        };
        if self.budget == 0 {
            return self.finish(FinishReason::Length, false, name);
        }
        let token = self.picker.pick(ctx, index);
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            return self.finish(FinishReason::Stop, false, name);
        }
        // One normalisation of the logits serves the confidence and the returned logprobs.
        let distribution = self
            .logprobs
            .then(|| LogSoftmax::new(ctx.get_logits_ith(index)));
        let chosen = distribution
            .as_ref()
            .and_then(|d| usize::try_from(token.0).ok().and_then(|i| d.logprob(i)));
        if let Some(lp) = chosen {
            self.confidence.push(lp);
        }
        self.generated += 1;
        self.timing.mark_token();
        let piece = vocab.token_to_piece(token, false, None);
        let text = self.decoder.push(&piece);
        let step = self.stops.push(&text);
        let mut deltas = self.splitter.push(&step.emit);
        if let (Some(n), Some(d)) = (self.top_logprobs, distribution.as_ref()) {
            let logprob = chosen.unwrap_or(f64::NEG_INFINITY);
            deltas.push(Delta::Logprobs(vec![token_logprob(
                model, d, logprob, piece, n,
            )]));
        }
        if !self.send(deltas) {
            return Status::Done; // the caller went away: nothing more can reach it
        }
        if step.stopped {
            return self.finish(FinishReason::Stop, true, name);
        }
        if self.generated == self.budget {
            return self.finish(FinishReason::Length, false, name);
        }
        self.phase = Phase::Generate { token, position };
        Status::Running
    }

    /// Ends the sequence with an error (a failed decode).
    pub(super) fn fail(&mut self, error: BackendError) {
        let _ = self.events.send(Err(error));
    }

    /// Sends what is still held back, then the closing event.
    fn finish(&mut self, finish: FinishReason, stopped_by_sequence: bool, name: &str) -> Status {
        let tail = flush(
            &mut self.stops,
            &mut self.decoder,
            &mut self.splitter,
            stopped_by_sequence,
        );
        self.send(tail);
        let confidence = std::mem::take(&mut self.confidence);
        let end = StreamEnd {
            model: name.to_string(),
            finish_reason: finish,
            usage: self.counts.usage(self.timing.tokens()),
            timing: self.timing.finish(Some(self.counts.processed()), None),
            confidence: confidence.finish(),
            unparsed_tool_calls: 0,
        };
        let _ = self.events.send(Ok(StreamEvent::End(end)));
        Status::Done
    }

    fn send(&self, deltas: Vec<Delta>) -> bool {
        deltas
            .into_iter()
            .all(|d| self.events.send(Ok(StreamEvent::Delta(d))).is_ok())
    }
}

/// What is still held back at the end: undecoded bytes, a partial stop sequence (dropped when
/// a stop sequence ended the answer), the splitter's last piece.
fn flush(
    stops: &mut StopMatcher,
    decoder: &mut Utf8Decoder,
    splitter: &mut ThinkSplitter,
    stopped_by_sequence: bool,
) -> Vec<Delta> {
    if stopped_by_sequence {
        return splitter.finish();
    }
    let step = stops.push(&decoder.finish());
    let mut tail = step.emit;
    if !step.stopped {
        tail.push_str(&stops.finish());
    }
    let mut deltas = splitter.push(&tail);
    deltas.extend(splitter.finish());
    deltas
}

/// The chosen token's log-probability and the `n` most likely tokens at its position, under
/// the logits it was picked from (before temperature and sampling).
fn token_logprob(
    model: &LlamaModel,
    distribution: &LogSoftmax<'_>,
    logprob: f64,
    piece: Vec<u8>,
    n: u8,
) -> TokenLogprob {
    let vocab = model.vocab();
    let top = distribution
        .top(usize::from(n))
        .into_iter()
        .filter_map(|(i, logprob)| {
            let bytes = vocab.token_to_piece(LlamaToken(i32::try_from(i).ok()?), false, None);
            Some(TopLogprob {
                token: String::from_utf8_lossy(&bytes).into_owned(),
                logprob,
                bytes,
            })
        })
        .collect();
    TokenLogprob {
        token: String::from_utf8_lossy(&piece).into_owned(),
        logprob,
        bytes: piece,
        top,
    }
}
