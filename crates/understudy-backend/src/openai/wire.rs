//! Wire types (DTOs) of the OpenAI chat-completions API as this client sends and reads them.
//! Only shapes here; mapping to core types happens in the client module.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::http_api::error_message;
use understudy_core::{ChatMessage, ResponseFormat, ToolCall, ToolChoice, ValidChatRequest};

#[derive(Debug, Serialize)]
pub struct WireRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<WireMessage<'a>>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub top_p: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// vLLM / SGLang convention for switching a model's thinking mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_template_kwargs: Option<Value>,
    /// OpenAI-style reasoning effort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: &'static str,
    /// `null` for an assistant turn that only called tools, as the API writes it.
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

impl<'a> WireMessage<'a> {
    fn of(m: &'a ChatMessage) -> Self {
        let calls =
            (!m.tool_calls.is_empty()).then(|| m.tool_calls.iter().map(call_value).collect());
        Self {
            role: m.role.as_str(),
            content: (!m.content.is_empty() || calls.is_none()).then_some(m.content.as_str()),
            tool_calls: calls,
            tool_call_id: m.tool_call_id.as_deref(),
        }
    }
}

/// A call as the API writes it.
pub fn call_value(call: &ToolCall) -> Value {
    serde_json::json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments}
    })
}

/// `tool_choice` as the API writes it.
pub fn tool_choice_value(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => Value::from("auto"),
        ToolChoice::None => Value::from("none"),
        ToolChoice::Required => Value::from("required"),
        ToolChoice::Function(name) => {
            serde_json::json!({"type": "function", "function": {"name": name}})
        }
    }
}

impl<'a> WireRequest<'a> {
    pub fn from_request(model: &'a str, request: &'a ValidChatRequest, stream: bool) -> Self {
        let response_format = match &request.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(serde_json::json!({"type": "json_object"})),
            ResponseFormat::JsonSchema { schema } => Some(serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": true}
            })),
        };
        Self {
            model,
            messages: request.messages.iter().map(WireMessage::of).collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            top_p: request.top_p,
            seed: request.seed,
            stop: &request.stop,
            stream,
            stream_options: stream.then(|| serde_json::json!({"include_usage": true})),
            response_format,
            chat_template_kwargs: request
                .thinking
                .map(|on| serde_json::json!({"enable_thinking": on})),
            reasoning_effort: request.reasoning_effort.as_deref(),
            logprobs: request.logprobs,
            top_logprobs: request.top_logprobs,
            tools: (!request.tools.is_empty()).then(|| {
                request
                    .tools
                    .tools
                    .iter()
                    .map(|t| {
                        let mut function =
                            serde_json::json!({"name": t.name, "parameters": t.parameters});
                        if let Some(d) = &t.description {
                            function["description"] = Value::from(d.as_str());
                        }
                        serde_json::json!({"type": "function", "function": function})
                    })
                    .collect()
            }),
            tool_choice: (!request.tools.is_empty() && request.tools.choice != ToolChoice::Auto)
                .then(|| tool_choice_value(&request.tools.choice)),
            parallel_tool_calls: request.tools.parallel.filter(|_| !request.tools.is_empty()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    /// vLLM, llama.cpp's server and OpenAI report reused prompt tokens here.
    #[serde(default)]
    pub prompt_tokens_details: Option<WirePromptDetails>,
}

#[derive(Debug, Deserialize)]
pub struct WirePromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u32>,
}

impl WireUsage {
    pub fn usage(&self) -> understudy_core::Usage {
        understudy_core::Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            estimated: false,
            cached_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireCompletion {
    #[serde(default)]
    pub model: Option<String>,
    pub choices: Vec<WireChoice>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub struct WireChoice {
    pub message: WireAnswer,
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
}

/// `choices[].logprobs` (OpenAI, vLLM, llama.cpp server).
#[derive(Debug, Deserialize, Default)]
pub struct WireLogprobs {
    #[serde(default)]
    pub content: Option<Vec<WireTokenLogprob>>,
}

#[derive(Debug, Deserialize)]
pub struct WireTokenLogprob {
    pub logprob: f64,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    #[serde(default)]
    pub top_logprobs: Vec<WireTopLogprob>,
}

#[derive(Debug, Deserialize)]
pub struct WireTopLogprob {
    #[serde(default)]
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
}

impl WireLogprobs {
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.content.iter().flatten().map(|t| t.logprob)
    }

    /// The tokens as the server reported them (bytes from the token text when it sent none).
    pub fn tokens(&self) -> Vec<understudy_core::response::TokenLogprob> {
        use understudy_core::response::{TokenLogprob, TopLogprob};
        let bytes =
            |b: &Option<Vec<u8>>, t: &str| b.clone().unwrap_or_else(|| t.as_bytes().to_vec());
        self.content
            .iter()
            .flatten()
            .map(|t| TokenLogprob {
                token: t.token.clone(),
                logprob: t.logprob,
                bytes: bytes(&t.bytes, &t.token),
                top: t
                    .top_logprobs
                    .iter()
                    .map(|a| TopLogprob {
                        token: a.token.clone(),
                        logprob: a.logprob,
                        bytes: bytes(&a.bytes, &a.token),
                    })
                    .collect(),
            })
            .collect()
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct WireAnswer {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, alias = "reasoning")]
    pub reasoning_content: Option<String>,
    /// Whole calls in a completion, pieces of calls in a stream chunk.
    #[serde(default)]
    pub tool_calls: Vec<WireCallPiece>,
}

/// A tool call, or in a stream a piece of one (`index` says which).
#[derive(Debug, Deserialize, Default)]
pub struct WireCallPiece {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: WireFunctionPiece,
}

#[derive(Debug, Deserialize, Default)]
pub struct WireFunctionPiece {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

impl WireCallPiece {
    /// This piece as a core delta; `position` is its place in the list when `index` is absent.
    pub fn delta(self, position: usize) -> understudy_core::ToolCallDelta {
        understudy_core::ToolCallDelta {
            index: self
                .index
                .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX)),
            id: self.id,
            name: self.function.name,
            arguments: self.function.arguments.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireChunk {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    pub usage: Option<WireUsage>,
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct WireChunkChoice {
    #[serde(default)]
    pub delta: WireAnswer,
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
}

#[derive(Debug, Deserialize)]
pub struct WireModelList {
    pub data: Vec<WireModel>,
}

#[derive(Debug, Deserialize)]
pub struct WireModel {
    pub id: String,
    #[serde(default)]
    pub owned_by: Option<String>,
    /// What the name stands for now, as understudy's gateway reports it (not in OpenAI's schema).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The weights a vLLM server loaded for this name.
    #[serde(default)]
    pub root: Option<String>,
}
