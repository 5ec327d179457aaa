//! The OpenAI Responses API's answer: a `response` object whose `output` holds reasoning,
//! message and `function_call` items, and its streamed events (`response.created`,
//! `response.output_item.added`, `response.output_text.delta`,
//! `response.function_call_arguments.delta`, the `.done` events, `response.completed`), each
//! with its `sequence_number`.

use axum::response::sse::Event;
use serde_json::{json, Map, Value};
use understudy_core::stream::StreamEnd;
use understudy_core::{ChatResponse, FinishReason, ToolCall, ToolCallDelta, Usage};

use crate::error::ApiError;
use crate::responses::now_secs;
use crate::responses::Named;
use crate::stream::Encoder;

/// What a response object repeats of its request, and whether it is kept for
/// `previous_response_id`.
#[derive(Debug, Clone, Default)]
pub struct ResponsesEcho {
    pub fields: Map<String, Value>,
    pub previous: Option<String>,
    pub store: bool,
}

fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens(),
    })
}

/// The response object around `output`.
fn object(
    id: &str,
    named: &Named,
    echo: &ResponsesEcho,
    output: Vec<Value>,
    end: Option<(FinishReason, &Usage)>,
) -> Value {
    let (status, incomplete) = match end {
        None => ("in_progress", Value::Null),
        Some((FinishReason::Length, _)) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(_) => ("completed", Value::Null),
    };
    let mut body = json!({
        "id": id,
        "object": "response",
        "created_at": now_secs(),
        "status": status,
        "model": named.model,
        "output": output,
        "error": null,
        "incomplete_details": incomplete,
        "usage": end.map(|(_, u)| usage(u)),
        "tools": [],
        "text": {"format": {"type": "text"}},
    });
    if let Some(o) = body.as_object_mut() {
        o.extend(echo.fields.clone());
    }
    body
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    })
}

fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"type": "reasoning", "id": id, "summary": [], "content": [{"type": "reasoning_text", "text": text}]})
}

fn call_item(call: &ToolCall, status: &str) -> Value {
    json!({
        "type": "function_call", "id": format!("fc_{}", call.id), "call_id": call.id,
        "name": call.name, "arguments": call.arguments, "status": status,
    })
}

/// The ids of an answer's message and reasoning items, from the response's own id.
fn item_id(kind: &str, response_id: &str) -> String {
    format!("{kind}_{}", response_id.trim_start_matches("resp_"))
}

pub struct ResponseBody;

impl ResponseBody {
    /// A whole answer's response object.
    pub fn completed(id: &str, named: &Named, r: &ChatResponse, echo: &ResponsesEcho) -> Value {
        let mut output = Vec::new();
        if let Some(reasoning) = r.reasoning.as_deref().filter(|t| !t.is_empty()) {
            output.push(reasoning_item(&item_id("rs", id), reasoning));
        }
        if !r.answer.is_empty() || r.tool_calls.is_empty() {
            output.push(message_item(&item_id("msg", id), &r.answer, "completed"));
        }
        output.extend(r.tool_calls.iter().map(|c| call_item(c, "completed")));
        object(id, named, echo, output, Some((r.finish_reason, &r.usage)))
    }
}

/// The output item being streamed.
enum Open {
    Reasoning(String),
    Message(String),
    Call { index: u32, call: ToolCall },
}

/// Streams an answer as Responses events: each output item added, its text or arguments as
/// deltas, done with its whole content before the next begins, and the whole response at the
/// end (`response.completed`, or `response.incomplete` when the token budget ran out).
pub(crate) struct ResponsesEncoder {
    id: String,
    named: Named,
    echo: ResponsesEcho,
    sequence: u64,
    output: Vec<Value>,
    open: Option<Open>,
    last: Option<Value>,
}

impl ResponsesEncoder {
    pub fn new(id: String, named: Named, echo: ResponsesEcho) -> Self {
        Self {
            id,
            named,
            echo,
            sequence: 0,
            output: Vec::new(),
            open: None,
            last: None,
        }
    }

    fn event(&mut self, kind: &str, mut data: Value) -> Event {
        if let Some(o) = data.as_object_mut() {
            o.insert("type".into(), kind.into());
            o.insert("sequence_number".into(), self.sequence.into());
        }
        self.sequence += 1;
        Event::default().event(kind).data(data.to_string())
    }

    fn index(&self) -> usize {
        self.output.len()
    }

    /// Ends the open item: its `.done` events and `response.output_item.done`.
    fn close(&mut self, out: &mut Vec<Event>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let index = self.index();
        let item = match open {
            Open::Reasoning(text) => {
                let id = item_id("rs", &self.id);
                let done =
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text});
                out.push(self.event("response.reasoning_text.done", done));
                reasoning_item(&id, &text)
            }
            Open::Message(text) => {
                let id = item_id("msg", &self.id);
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                let at = json!({"item_id": id, "output_index": index, "content_index": 0});
                let mut done = at.clone();
                done["text"] = text.clone().into();
                done["logprobs"] = json!([]);
                out.push(self.event("response.output_text.done", done));
                let mut part_done = at;
                part_done["part"] = part;
                out.push(self.event("response.content_part.done", part_done));
                message_item(&id, &text, "completed")
            }
            Open::Call { call, .. } => {
                let done = json!({"item_id": format!("fc_{}", call.id), "output_index": index, "name": call.name, "arguments": call.arguments});
                out.push(self.event("response.function_call_arguments.done", done));
                call_item(&call, "completed")
            }
        };
        let done = json!({"output_index": index, "item": item});
        out.push(self.event("response.output_item.done", done));
        self.output.push(item);
    }

    fn add(&mut self, item: Value, out: &mut Vec<Event>) {
        let added = json!({"output_index": self.index(), "item": item});
        out.push(self.event("response.output_item.added", added));
    }
}

impl Encoder for ResponsesEncoder {
    fn start(&mut self) -> Vec<Event> {
        let snapshot = object(&self.id, &self.named, &self.echo, Vec::new(), None);
        vec![
            self.event("response.created", json!({"response": snapshot.clone()})),
            self.event("response.in_progress", json!({"response": snapshot})),
        ]
    }

    fn text(&mut self, text: &str) -> Vec<Event> {
        let mut out = Vec::new();
        let id = item_id("msg", &self.id);
        if !matches!(self.open, Some(Open::Message(_))) {
            self.close(&mut out);
            let mut item = message_item(&id, "", "in_progress");
            item["content"] = json!([]);
            self.add(item, &mut out);
            let part = json!({"item_id": id, "output_index": self.index(), "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}});
            out.push(self.event("response.content_part.added", part));
            self.open = Some(Open::Message(String::new()));
        }
        if let Some(Open::Message(all)) = self.open.as_mut() {
            all.push_str(text);
        }
        let delta = json!({"item_id": id, "output_index": self.index(), "content_index": 0, "delta": text, "logprobs": []});
        out.push(self.event("response.output_text.delta", delta));
        out
    }

    fn reasoning(&mut self, text: &str) -> Vec<Event> {
        let mut out = Vec::new();
        let id = item_id("rs", &self.id);
        if !matches!(self.open, Some(Open::Reasoning(_))) {
            self.close(&mut out);
            self.add(reasoning_item(&id, ""), &mut out);
            self.open = Some(Open::Reasoning(String::new()));
        }
        if let Some(Open::Reasoning(all)) = self.open.as_mut() {
            all.push_str(text);
        }
        let delta =
            json!({"item_id": id, "output_index": self.index(), "content_index": 0, "delta": text});
        out.push(self.event("response.reasoning_text.delta", delta));
        out
    }

    fn tool_call(&mut self, piece: &ToolCallDelta) -> Vec<Event> {
        let mut out = Vec::new();
        let same = matches!(&self.open, Some(Open::Call { index, .. }) if *index == piece.index);
        if !same {
            self.close(&mut out);
            let call = ToolCall {
                id: piece.id.clone().unwrap_or_default(),
                name: piece.name.clone().unwrap_or_default(),
                arguments: String::new(),
            };
            self.add(call_item(&call, "in_progress"), &mut out);
            self.open = Some(Open::Call {
                index: piece.index,
                call,
            });
        }
        let Some(Open::Call { call, .. }) = self.open.as_mut() else {
            return out;
        };
        call.arguments.push_str(&piece.arguments);
        let item_id = format!("fc_{}", call.id);
        if !piece.arguments.is_empty() {
            let delta =
                json!({"item_id": item_id, "output_index": self.index(), "delta": piece.arguments});
            out.push(self.event("response.function_call_arguments.delta", delta));
        }
        out
    }

    fn end(&mut self, end: &StreamEnd) -> Vec<Event> {
        let mut out = Vec::new();
        if self.output.is_empty() && self.open.is_none() {
            // An empty answer is still one (empty) message, as the unary body has.
            out.extend(self.text(""));
        }
        self.close(&mut out);
        let output = std::mem::take(&mut self.output);
        self.last = Some(object(
            &self.id,
            &self.named,
            &self.echo,
            output,
            Some((end.finish_reason, &end.usage)),
        ));
        out
    }

    fn error(&mut self, error: &ApiError) -> Vec<Event> {
        let data = json!({"code": error.code.unwrap_or(error.kind), "message": error.message, "param": error.param});
        vec![self.event("error", data)]
    }

    fn closing(&mut self) -> Vec<Event> {
        let Some(response) = self.last.take() else {
            return Vec::new();
        };
        let kind = if response["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        vec![self.event(kind, json!({"response": response}))]
    }
}
