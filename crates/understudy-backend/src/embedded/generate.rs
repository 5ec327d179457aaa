//! One request's generation on a loaded model: the prompt templated and tokenized, processed in
//! batches, then one token at a time through sampling, stop sequences and the `<think>`
//! splitter, each delta sent as it comes; the closing event carries usage and timing.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc as tmpsc;
use understudy_core::response::{logprob_of, ConfidenceAccumulator};
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::think::ThinkSplitter;
use understudy_core::{FinishReason, StreamEvent, TimingRecorder, Usage, ValidChatRequest};

use super::engine::BATCH_SIZE;
use super::pick::Picker;
use super::prefix::{PrefixCache, ALIGN};
use super::template::{self, ChosenTemplate};
use super::utf8::Utf8Decoder;
use crate::stop::StopMatcher;
use crate::BackendError;

/// Everything the worker needs that lives as long as the model.
pub(super) struct Loaded<'m> {
    pub(super) model: &'m LlamaModel,
    pub(super) ctx: LlamaContext<'m>,
    pub(super) template: ChosenTemplate,
    pub(super) context: u32,
    pub(super) name: String,
    /// What the KV cache holds, for the next request's shared prefix.
    pub(super) cache: PrefixCache,
}

/// Opening text that makes a thinking model skip its reasoning (Qwen3 convention).
const EMPTY_THOUGHT: &str = "<think>\n\n</think>\n\n";

fn build_prompt(
    loaded: &Loaded<'_>,
    request: &ValidChatRequest,
) -> Result<(String, bool), BackendError> {
    let mut prompt = template::render(loaded.model, &loaded.template.template, &request.messages)?;
    let thinks = loaded
        .template
        .source_text
        .as_deref()
        .is_some_and(|t| t.contains("<think>"));
    if thinks && request.thinking == Some(false) && !prompt.trim_end().ends_with("<think>") {
        prompt.push_str(EMPTY_THOUGHT);
    }
    let starts_in_thought = prompt.trim_end().ends_with("<think>");
    Ok((prompt, starts_in_thought))
}

/// Runs one request to completion and returns its closing event (deltas are sent as they come).
pub(super) fn generate(
    loaded: &mut Loaded<'_>,
    request: &ValidChatRequest,
    timing: &mut TimingRecorder,
    events: &tmpsc::UnboundedSender<Result<StreamEvent, BackendError>>,
) -> Result<StreamEvent, BackendError> {
    let (tokens, starts_in_thought) = prompt_tokens(loaded, request)?;
    let vocab = loaded.model.vocab();
    let budget = (request.max_tokens as usize).min(loaded.context as usize - tokens.len());
    // Keep the cached prefix this prompt shares; process only the rest.
    let reused = loaded
        .cache
        .keep(&mut loaded.ctx, loaded.cache.reusable(&tokens));
    let counts = PromptCounts {
        total: tokens.len(),
        reused,
    };
    timing.mark_prompt_start();
    let mut batch = LlamaBatch::new(BATCH_SIZE as usize, 1);
    if !decode_prompt(loaded, &tokens, reused, &mut batch, events)? {
        return Ok(cancelled_end(loaded, counts, timing));
    }
    timing.mark_prompt_done();

    let mut picker = Picker::for_request(loaded.model, request)?;
    let mut decoder = Utf8Decoder::default();
    let mut stops = StopMatcher::new(&request.stop);
    let mut splitter = if starts_in_thought {
        ThinkSplitter::starting_in_thought()
    } else {
        ThinkSplitter::default()
    };
    let mut position = tokens.len();
    let mut generated = 0usize;
    let mut finish = FinishReason::Length;
    let mut stopped_by_sequence = false;
    let send = |deltas: Vec<Delta>| -> bool {
        deltas
            .into_iter()
            .all(|d| events.send(Ok(StreamEvent::Delta(d))).is_ok())
    };
    let mut confidence = ConfidenceAccumulator::default();
    while generated < budget {
        let token = picker.pick(&loaded.ctx, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            finish = FinishReason::Stop;
            break;
        }
        if request.logprobs {
            push_logprob(&mut confidence, loaded, batch.n_tokens() - 1, token);
        }
        generated += 1;
        timing.mark_token();
        let text = decoder.push(&vocab.token_to_piece(token, false, None));
        let step = stops.push(&text);
        if !send(splitter.push(&step.emit)) {
            finish = FinishReason::Cancelled;
            break;
        }
        if step.stopped {
            finish = FinishReason::Stop;
            stopped_by_sequence = true;
            break;
        }
        if generated == budget {
            break;
        }
        decode_one(loaded, &mut batch, token, position)?;
        position += 1;
    }
    if finish != FinishReason::Cancelled {
        send(flush(
            &mut stops,
            &mut decoder,
            &mut splitter,
            stopped_by_sequence,
        ));
    }
    Ok(end_event(loaded, finish, counts, timing, confidence))
}

/// The templated prompt as tokens (BOS added unless the template wrote it), checked to fit the
/// context, and whether generation starts inside a thought.
fn prompt_tokens(
    loaded: &Loaded<'_>,
    request: &ValidChatRequest,
) -> Result<(Vec<LlamaToken>, bool), BackendError> {
    let (prompt, starts_in_thought) = build_prompt(loaded, request)?;
    let vocab = loaded.model.vocab();
    let bos_text = vocab
        .text(vocab.bos())
        .and_then(|t| t.to_str().ok())
        .unwrap_or("")
        .to_string();
    let add_special = bos_text.is_empty() || !prompt.starts_with(&bos_text);
    let tokens = vocab.tokenize(prompt.as_bytes(), add_special, true);
    if tokens.is_empty() {
        return Err(BackendError::InvalidRequest(
            "the prompt is empty after templating".into(),
        ));
    }
    if tokens.len() >= loaded.context as usize {
        return Err(BackendError::ContextOverflow {
            model: loaded.name.clone(),
            prompt_tokens: tokens.len(),
            max_tokens: request.max_tokens,
            context: loaded.context,
        });
    }
    Ok((tokens, starts_in_thought))
}

/// Processes the prompt from token `from` on (the ones before are in the cache), in batches
/// with logits for the last token only; false when the caller went away in between. The cache
/// records each batch once it is decoded, and is cleared when a decode fails.
fn decode_prompt(
    loaded: &mut Loaded<'_>,
    tokens: &[LlamaToken],
    from: usize,
    batch: &mut LlamaBatch,
    events: &tmpsc::UnboundedSender<Result<StreamEvent, BackendError>>,
) -> Result<bool, BackendError> {
    let last = tokens.len() - 1;
    let mut pos = from;
    for chunk in prompt_batches(&tokens[from..]) {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            batch
                .add(*token, (pos + offset) as i32, &[0], pos + offset == last)
                .map_err(|e| BackendError::Inference(e.to_string()))?;
        }
        if let Err(e) = loaded.ctx.decode(batch) {
            loaded.cache.forget(&mut loaded.ctx);
            return Err(BackendError::Inference(format!(
                "prompt decode failed: {e}"
            )));
        }
        loaded.cache.push(chunk);
        pos += chunk.len();
        if events.is_closed() {
            return Ok(false);
        }
    }
    Ok(true)
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

/// `tokens` in batches of at most [`BATCH_SIZE`] and never of one token (a last batch of one
/// takes the last [`ALIGN`] tokens of the one before, which keeps that one a multiple of
/// `ALIGN`): llama.cpp computes a one-token batch with other kernels, and the prefix cache
/// relies on every prompt token being computed as a cold prompt computes it.
fn prompt_batches(tokens: &[LlamaToken]) -> Vec<&[LlamaToken]> {
    let size = BATCH_SIZE as usize;
    let mut batches: Vec<&[LlamaToken]> = tokens.chunks(size).collect();
    if batches.len() > 1 && batches.last().is_some_and(|b| b.len() == 1) {
        let cut = tokens.len() - 1 - ALIGN;
        let n = batches.len();
        batches[n - 2] = &tokens[(n - 2) * size..cut];
        batches[n - 1] = &tokens[cut..];
    }
    batches
}

/// Feeds the picked token back at `position`, for the next token's logits.
fn decode_one(
    loaded: &mut Loaded<'_>,
    batch: &mut LlamaBatch,
    token: LlamaToken,
    position: usize,
) -> Result<(), BackendError> {
    batch.clear();
    batch
        .add(token, position as i32, &[0], true)
        .map_err(|e| BackendError::Inference(e.to_string()))?;
    if let Err(e) = loaded.ctx.decode(batch) {
        loaded.cache.forget(&mut loaded.ctx);
        return Err(BackendError::Inference(format!("decode failed: {e}")));
    }
    Ok(())
}

/// The token's log-probability under the logits it was picked from (what `confidence` averages).
fn push_logprob(
    confidence: &mut ConfidenceAccumulator,
    loaded: &Loaded<'_>,
    index: i32,
    token: LlamaToken,
) {
    let logits = loaded.ctx.get_logits_ith(index);
    if let Some(lp) = usize::try_from(token.0)
        .ok()
        .and_then(|i| logprob_of(logits, i))
    {
        confidence.push(lp);
    }
}

/// A prompt's size and how much of it came from the cache.
#[derive(Clone, Copy)]
struct PromptCounts {
    total: usize,
    reused: usize,
}

impl PromptCounts {
    fn usage(self, completion_tokens: u32) -> Usage {
        Usage {
            prompt_tokens: u32::try_from(self.total).unwrap_or(u32::MAX),
            completion_tokens,
            estimated: false,
            cached_tokens: u32::try_from(self.reused).unwrap_or(u32::MAX),
        }
    }

    /// Tokens actually processed (the prompt speed counts these, not the reused ones).
    fn processed(self) -> u32 {
        u32::try_from(self.total - self.reused).unwrap_or(u32::MAX)
    }
}

/// The closing event of a finished generation: usage counted by the engine, timing, confidence.
fn end_event(
    loaded: &Loaded<'_>,
    finish: FinishReason,
    counts: PromptCounts,
    timing: &mut TimingRecorder,
    confidence: ConfidenceAccumulator,
) -> StreamEvent {
    StreamEvent::End(StreamEnd {
        model: loaded.name.clone(),
        finish_reason: finish,
        usage: counts.usage(timing.tokens()),
        timing: timing.finish(Some(counts.processed()), None),
        confidence: confidence.finish(),
    })
}

fn cancelled_end(
    loaded: &Loaded<'_>,
    counts: PromptCounts,
    timing: &TimingRecorder,
) -> StreamEvent {
    StreamEvent::End(StreamEnd {
        model: loaded.name.clone(),
        finish_reason: FinishReason::Cancelled,
        usage: counts.usage(0),
        timing: timing.finish(None, None),
        confidence: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_batches_are_full_size_and_never_a_single_token() {
        let sizes = |n: usize| -> Vec<usize> {
            let tokens: Vec<LlamaToken> = (0..n).map(|i| LlamaToken(i as i32)).collect();
            prompt_batches(&tokens).iter().map(|b| b.len()).collect()
        };
        assert_eq!(sizes(3), vec![3]);
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(512), vec![512]);
        assert_eq!(sizes(513), vec![504, 9]);
        assert_eq!(sizes(1025), vec![512, 504, 9]);
        assert_eq!(sizes(1000), vec![512, 488]);
    }
}
