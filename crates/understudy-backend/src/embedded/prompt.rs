//! A request's prompt on a loaded model: templated, tokenized (BOS added unless the template
//! wrote it), checked against the context, split into the batches it is processed in, and the
//! token chooser and budget it generates with.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use understudy_core::{Role, ToolUse, Usage, ValidChatRequest};

use super::content_tokens;
use super::jinja;
use super::pick::Picker;
use super::prefix::ALIGN;
use super::template::ChosenTemplate;
use super::tool_grammar::ToolPlan;
use crate::tool_calls::generic_tool_turns;
use crate::BackendError;

/// Tokens per prompt-processing batch.
pub(super) const BATCH_SIZE: u32 = 512;

/// What a request needs to run, prepared before it takes a slot.
pub(super) struct Prepared {
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) starts_in_thought: bool,
    pub(super) picker: Picker,
    pub(super) stop: Vec<String>,
    pub(super) logprobs: bool,
    /// Each token's log-probability is sent with this many alternatives.
    pub(super) top_logprobs: Option<u8>,
    /// Most tokens to generate: the request's `max_tokens`, less what the context cannot hold.
    pub(super) budget: usize,
}

/// What preparing a request needs to know about the loaded model.
pub(super) struct ModelFacts<'m> {
    pub(super) model: &'m LlamaModel,
    pub(super) template: ChosenTemplate,
    /// The GGUF's Jinja template, parsed at load, when it can render tools (see jinja.rs).
    pub(super) jinja: Option<Result<jinja::JinjaTemplate, String>>,
    /// The context one sequence may use.
    pub(super) context: u32,
    pub(super) name: String,
}

/// Everything a request needs before it takes a slot (or the error it gets instead).
pub(super) fn prepare(
    facts: &ModelFacts<'_>,
    request: &ValidChatRequest,
    tools: &ToolPlan,
) -> Result<Prepared, BackendError> {
    let (tokens, starts_in_thought) = prompt_tokens(facts, request, tools.opening.as_deref())?;
    let picker = Picker::for_request(facts.model, request, tools.grammar.as_ref())?;
    let budget = (request.max_tokens as usize).min(facts.context as usize - tokens.len());
    Ok(Prepared {
        tokens,
        starts_in_thought,
        picker,
        stop: request.stop.clone(),
        logprobs: request.logprobs,
        top_logprobs: request.top_logprobs,
        budget,
    })
}

/// Opening text that makes a thinking model skip its reasoning (Qwen3 convention).
const EMPTY_THOUGHT: &str = "<think>\n\n</think>\n\n";

fn build_prompt(
    loaded: &ModelFacts<'_>,
    request: &ValidChatRequest,
    opening: Option<&str>,
) -> Result<(content_tokens::Pieces, bool), BackendError> {
    let mut prompt = render_messages(loaded, request)?;
    let thinks = loaded
        .template
        .source_text
        .as_deref()
        .is_some_and(|t| t.contains("<think>"));
    let text = prompt.text();
    if thinks && request.thinking == Some(false) && !text.trim_end().ends_with("<think>") {
        prompt.push_markup(EMPTY_THOUGHT);
    }
    let starts_in_thought = prompt.text().trim_end().ends_with("<think>");
    if let Some(opening) = opening {
        prompt.push_markup(opening);
    }
    Ok((prompt, starts_in_thought))
}

/// The conversation through the chat template. A request without tools or tool turns takes
/// llama.cpp's rendering of the template, as it always has; one with them takes the GGUF's
/// Jinja template when it can render tools, else the generic tool prompt (tool_calls/generic.rs)
/// through llama.cpp's rendering. Tools under `tool_choice: none` are left out of the prompt.
fn render_messages(
    loaded: &ModelFacts<'_>,
    request: &ValidChatRequest,
) -> Result<content_tokens::Pieces, BackendError> {
    let tool_turns = request
        .messages
        .iter()
        .any(|m| m.role == Role::Tool || !m.tool_calls.is_empty());
    let template = &loaded.template.template;
    if request.tools.is_empty() && !tool_turns {
        return content_tokens::render(loaded.model, template, &request.messages);
    }
    let offered = if request.tools.may_call() {
        request.tools.clone()
    } else {
        ToolUse::default()
    };
    match &loaded.jinja {
        Some(Ok(jinja)) => {
            let vocab = loaded.model.vocab();
            let token_text = |t| {
                vocab
                    .text(t)
                    .and_then(|t| t.to_str().ok().map(str::to_string))
                    .unwrap_or_default()
            };
            let (bos, eos) = (token_text(vocab.bos()), token_text(vocab.eos()));
            content_tokens::render_with(&request.messages, |m| {
                jinja.render(m, &offered, (&bos, &eos))
            })
        }
        Some(Err(unparsed)) => Err(BackendError::ChatTemplate(unparsed.clone())),
        None => {
            let turns = generic_tool_turns(&request.messages, &request.tools);
            content_tokens::render(loaded.model, template, &turns)
        }
    }
}

/// The templated prompt as tokens (BOS added unless the template wrote it; message contents
/// tokenized as text, see content_tokens.rs), checked to fit the context, and whether
/// generation starts inside a thought.
fn prompt_tokens(
    loaded: &ModelFacts<'_>,
    request: &ValidChatRequest,
    opening: Option<&str>,
) -> Result<(Vec<LlamaToken>, bool), BackendError> {
    let (prompt, starts_in_thought) = build_prompt(loaded, request, opening)?;
    let vocab = loaded.model.vocab();
    let bos_text = vocab
        .text(vocab.bos())
        .and_then(|t| t.to_str().ok())
        .unwrap_or("")
        .to_string();
    let add_special = bos_text.is_empty() || !prompt.text().starts_with(&bos_text);
    let tokens = prompt.tokens(loaded.model, add_special);
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

/// `tokens` in batches of at most [`BATCH_SIZE`] and never of one token (a last batch of one
/// takes the last [`ALIGN`] tokens of the one before, which keeps that one a multiple of
/// `ALIGN`): llama.cpp computes a one-token batch with other kernels, and the prefix cache
/// relies on every prompt token being computed as a cold prompt computes it.
pub(super) fn prompt_batches(tokens: &[LlamaToken]) -> Vec<&[LlamaToken]> {
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

/// A prompt's size and how much of it came from the cache.
#[derive(Clone, Copy)]
pub(super) struct PromptCounts {
    pub(super) total: usize,
    pub(super) reused: usize,
}

impl PromptCounts {
    pub(super) fn usage(self, completion_tokens: u32) -> Usage {
        Usage {
            prompt_tokens: u32::try_from(self.total).unwrap_or(u32::MAX),
            completion_tokens,
            estimated: false,
            cached_tokens: u32::try_from(self.reused).unwrap_or(u32::MAX),
        }
    }

    /// Tokens actually processed (the prompt speed counts these, not the reused ones).
    pub(super) fn processed(self) -> u32 {
        u32::try_from(self.total - self.reused).unwrap_or(u32::MAX)
    }
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
