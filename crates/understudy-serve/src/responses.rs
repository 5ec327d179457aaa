//! The bodies the gateway answers with, as typed values in OpenAI's shapes (as TGI's router types
//! them): a chat completion, a streamed chunk, the model list and the embedding list.

use serde::Serialize;
use understudy_core::response::TokenLogprob;
use understudy_core::{ChatResponse, FinishReason, Timing, ToolCall, ToolCallDelta, Usage};

/// The name a response answers under and that name's fingerprint (see fingerprint.rs).
#[derive(Debug, Clone)]
pub struct Named {
    pub model: String,
    pub fingerprint: String,
}

/// `usage` in OpenAI's shape, with the prompt tokens reused from the KV cache under
/// `prompt_tokens_details.cached_tokens`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsageBody {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    pub prompt_tokens_details: CachedTokens,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CachedTokens {
    pub cached_tokens: u32,
}

impl From<&Usage> for UsageBody {
    fn from(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens(),
            prompt_tokens_details: CachedTokens {
                cached_tokens: usage.cached_tokens,
            },
        }
    }
}

/// A whole answer: `object: "chat.completion"`.
#[derive(Debug, Serialize)]
pub struct ChatCompletion<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'a str,
    pub choices: [Choice<'a>; 1],
    pub usage: UsageBody,
    /// understudy's own timing (clients ignore unknown fields).
    pub timing: &'a Timing,
}

#[derive(Debug, Serialize)]
pub struct Choice<'a> {
    pub index: u32,
    pub message: Message<'a>,
    /// `{"content": [...]}` when the request asked for log-probabilities, else `null`.
    pub logprobs: Option<LogprobsBody>,
    pub finish_reason: &'static str,
}

/// `logprobs` in OpenAI's shape: each token with its log-probability, bytes and alternatives.
#[derive(Debug, Serialize)]
pub struct LogprobsBody {
    pub content: Vec<serde_json::Value>,
    pub refusal: Option<()>,
}

impl LogprobsBody {
    pub fn new(tokens: &[TokenLogprob]) -> Self {
        let entry = |token: &str, logprob: f64, bytes: &[u8]| serde_json::json!({"token": token, "logprob": logprob, "bytes": bytes});
        let content = tokens
            .iter()
            .map(|t| {
                let mut e = entry(&t.token, t.logprob, &t.bytes);
                let top: Vec<_> = t
                    .top
                    .iter()
                    .map(|a| entry(&a.token, a.logprob, &a.bytes))
                    .collect();
                e["top_logprobs"] = serde_json::Value::Array(top);
                e
            })
            .collect();
        Self {
            content,
            refusal: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub role: &'static str,
    /// `null` when the answer is only tool calls, as OpenAI writes it.
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CallBody<'a>>,
    /// Legacy function calling's one call (then `tool_calls` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionBody<'a>>,
}

/// A tool call in OpenAI's shape; in a stream chunk, `index` says which call a piece belongs to.
#[derive(Debug, Serialize)]
pub struct CallBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct FunctionBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

impl<'a> CallBody<'a> {
    pub fn whole(call: &'a ToolCall) -> Self {
        Self {
            index: None,
            id: Some(&call.id),
            kind: Some("function"),
            function: FunctionBody {
                name: Some(&call.name),
                arguments: &call.arguments,
            },
        }
    }

    /// A streamed piece: id, type and name on the call's first piece only.
    pub fn piece(delta: &'a ToolCallDelta) -> Self {
        Self {
            index: Some(delta.index),
            id: delta.id.as_deref(),
            kind: delta.id.as_ref().map(|_| "function"),
            function: FunctionBody {
                name: delta.name.as_deref(),
                arguments: &delta.arguments,
            },
        }
    }
}

/// The finish reason as a client of `legacy` function calling reads it.
pub fn finish_reason(r: FinishReason, legacy: bool) -> &'static str {
    match (r, legacy) {
        (FinishReason::ToolCalls, true) => "function_call",
        _ => r.as_openai(),
    }
}

impl<'a> ChatCompletion<'a> {
    /// `legacy`: the request used `functions`, so the call goes back as `function_call`.
    pub fn new(id: &'a str, named: &'a Named, r: &'a ChatResponse, legacy: bool) -> Self {
        let (tool_calls, function_call) = if legacy {
            let first = r.tool_calls.first().map(|c| FunctionBody {
                name: Some(&c.name),
                arguments: &c.arguments,
            });
            (Vec::new(), first)
        } else {
            (r.tool_calls.iter().map(CallBody::whole).collect(), None)
        };
        Self {
            id,
            object: "chat.completion",
            created: now_secs(),
            model: &named.model,
            system_fingerprint: &named.fingerprint,
            choices: [Choice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content: (!r.answer.is_empty() || r.tool_calls.is_empty())
                        .then_some(r.answer.as_str()),
                    reasoning_content: r.reasoning.as_deref(),
                    tool_calls,
                    function_call,
                },
                logprobs: (!r.token_logprobs.is_empty())
                    .then(|| LogprobsBody::new(&r.token_logprobs)),
                finish_reason: finish_reason(r.finish_reason, legacy),
            }],
            usage: UsageBody::from(&r.usage),
            timing: &r.timing,
        }
    }
}

/// One streamed event: `object: "chat.completion.chunk"`; the usage chunk has no choices.
#[derive(Debug, Serialize)]
pub struct ChatCompletionChunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'a str,
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageBody>,
}

#[derive(Debug, Serialize)]
pub struct ChunkChoice<'a> {
    pub index: u32,
    pub delta: ChunkDelta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<LogprobsBody>,
    /// `null` until the last chunk.
    pub finish_reason: Option<&'a str>,
}

/// What a chunk adds: the role (first chunk), answer text or reasoning; empty on the last.
#[derive(Debug, Default, Serialize)]
pub struct ChunkDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[CallBody<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionBody<'a>>,
}

impl<'a> ChatCompletionChunk<'a> {
    fn with(id: &'a str, named: &'a Named) -> Self {
        Self {
            id,
            object: "chat.completion.chunk",
            created: now_secs(),
            model: &named.model,
            system_fingerprint: &named.fingerprint,
            choices: Vec::new(),
            usage: None,
        }
    }

    /// A chunk carrying `delta`, finishing the answer when `finish` says why.
    pub fn delta(
        id: &'a str,
        named: &'a Named,
        delta: ChunkDelta<'a>,
        finish: Option<&'a str>,
    ) -> Self {
        Self {
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
            }],
            ..Self::with(id, named)
        }
    }

    /// The usage chunk (`stream_options.include_usage`): no choices, the token counts.
    pub fn usage(id: &'a str, named: &'a Named, usage: &Usage) -> Self {
        Self {
            usage: Some(UsageBody::from(usage)),
            ..Self::with(id, named)
        }
    }
}

/// `GET /v1/models`: `object: "list"`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

/// One served name; `fingerprint` (not in OpenAI's schema; clients ignore unknown fields) lets a
/// client key its cache on what the name stands for now.
#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: String,
    pub fingerprint: String,
}

impl ModelEntry {
    pub fn new(id: String, owned_by: String, fingerprint: String) -> Self {
        Self {
            id,
            object: "model",
            created: 0,
            owned_by,
            fingerprint,
        }
    }
}

/// `POST /v1/embeddings`: the vectors (floats or base64), the embedder's name and its tokens.
#[derive(Debug, Serialize)]
pub struct EmbeddingList {
    pub object: &'static str,
    pub data: Vec<EmbeddingEntry>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

#[derive(Debug, Serialize)]
pub struct EmbeddingEntry {
    pub object: &'static str,
    pub index: usize,
    /// A list of floats, or their little-endian float32 bytes in base64.
    pub embedding: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// Seconds since the Unix epoch, for `created` fields.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named() -> Named {
        Named {
            model: "m".into(),
            fingerprint: "fp".into(),
        }
    }

    #[test]
    fn chunks_keep_openais_shape() {
        let n = named();
        let first = ChunkDelta {
            role: Some("assistant"),
            content: Some(""),
            ..ChunkDelta::default()
        };
        let v = serde_json::to_value(ChatCompletionChunk::delta("c1", &n, first, None))
            .unwrap_or_default();
        assert_eq!(
            v["choices"][0]["delta"],
            serde_json::json!({"role": "assistant", "content": ""})
        );
        assert!(v["choices"][0]["finish_reason"].is_null());
        assert!(v.get("usage").is_none());
        let last = ChatCompletionChunk::delta("c1", &n, ChunkDelta::default(), Some("stop"));
        let v = serde_json::to_value(last).unwrap_or_default();
        assert_eq!(v["choices"][0]["delta"], serde_json::json!({}));
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            ..Usage::default()
        };
        let v =
            serde_json::to_value(ChatCompletionChunk::usage("c1", &n, &usage)).unwrap_or_default();
        assert_eq!(v["choices"], serde_json::json!([]));
        assert_eq!(v["usage"]["total_tokens"], 5);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    }
}
