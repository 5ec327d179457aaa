//! How the next token is chosen. Greedy decoding without a grammar is an argmax over the logits
//! read in place; everything else (a JSON grammar, temperature and top-p) goes through a llama.cpp
//! sampler chain. llama.cpp's greedy sampler first copies every logit into a candidate array —
//! 1.8 MB per token for Qwen's 152k-token vocabulary — which cost a few percent of decode speed.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use understudy_core::{ResponseFormat, ValidChatRequest};

use super::tool_grammar::CallGrammar;
use crate::BackendError;

/// The token chooser for one request.
pub enum Picker {
    /// The most likely token; the first of equals, as llama.cpp's greedy sampler picks.
    Argmax,
    Sampler(LlamaSampler),
}

impl Picker {
    /// The chooser for `request`; `calls` holds tool calls to their schemas (ignored when the
    /// request asks for a JSON answer, whose own grammar applies).
    pub fn for_request(
        model: &LlamaModel,
        request: &ValidChatRequest,
        calls: Option<&CallGrammar>,
    ) -> Result<Self, BackendError> {
        let calls = calls.filter(|_| request.response_format == ResponseFormat::Text);
        if request.temperature <= 0.0
            && request.response_format == ResponseFormat::Text
            && calls.is_none()
        {
            return Ok(Self::Argmax);
        }
        sampler_for(model, request, calls).map(Self::Sampler)
    }

    /// The next token, from the logits of batch entry `index`.
    pub fn pick(&mut self, ctx: &LlamaContext<'_>, index: i32) -> LlamaToken {
        match self {
            Self::Argmax => {
                let best = argmax(ctx.get_logits_ith(index));
                LlamaToken(i32::try_from(best).unwrap_or(0))
            }
            Self::Sampler(sampler) => sampler.sample(ctx, index),
        }
    }
}

/// Index of the largest value, the first of equals; NaN never wins.
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] || values[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// The sampler chain: an optional JSON grammar (from `response_format`), then greedy decoding
/// at temperature 0 or seeded top-p/temperature sampling otherwise.
fn sampler_for(
    model: &LlamaModel,
    request: &ValidChatRequest,
    calls: Option<&CallGrammar>,
) -> Result<LlamaSampler, BackendError> {
    let mut chain = Vec::new();
    if let Some(calls) = calls {
        let sampler = match calls.trigger {
            Some(word) => LlamaSampler::grammar_lazy(model, &calls.gbnf, "root", [word], &[]),
            None => LlamaSampler::grammar(model, &calls.gbnf, "root"),
        };
        match sampler {
            Ok(s) => chain.push(s),
            // A grammar llama.cpp rejects leaves the calls unconstrained, read as before.
            Err(e) => tracing::debug!("tool-call grammar not used: {e}"),
        }
    }
    let schema = match &request.response_format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(r#"{"type":"object"}"#.to_string()),
        ResponseFormat::JsonSchema { schema } => Some(schema.to_string()),
    };
    if let Some(schema) = schema {
        // llama.cpp's own errors ("ffi error -3") say nothing to a client: name the field.
        let grammar = llama_cpp_2::json_schema_to_grammar(&schema).map_err(|_| {
            BackendError::InvalidRequest(
                "response_format.json_schema.schema: this JSON Schema cannot be enforced (it is not valid JSON Schema, or uses a feature llama.cpp's grammar conversion lacks, such as an unresolved $ref); simplify it or use {\"type\": \"json_object\"}".into(),
            )
        })?;
        let sampler = LlamaSampler::grammar(model, &grammar, "root").map_err(|_| {
            BackendError::InvalidRequest(
                "response_format.json_schema.schema: the grammar made from this JSON Schema was rejected by llama.cpp; simplify the schema".into(),
            )
        })?;
        chain.push(sampler);
    }
    if request.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
        return Ok(LlamaSampler::chain_simple(chain));
    }
    let seed = request
        .seed
        .map(|s| (s % u64::from(u32::MAX)) as u32)
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(1)
        });
    if request.top_p < 1.0 {
        chain.push(LlamaSampler::top_p(request.top_p, 1));
    }
    chain.push(LlamaSampler::temp(request.temperature));
    chain.push(LlamaSampler::dist(seed));
    Ok(LlamaSampler::chain_simple(chain))
}

#[cfg(test)]
mod tests {
    use super::argmax;

    #[test]
    fn argmax_takes_the_first_of_equals_and_skips_nan() {
        assert_eq!(argmax(&[0.1, 3.0, -1.0, 3.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 2.0, 5.0]), 2);
        assert_eq!(argmax(&[-4.0, f32::NAN, -2.0]), 2);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
        assert_eq!(argmax(&[7.0]), 0);
    }
}
