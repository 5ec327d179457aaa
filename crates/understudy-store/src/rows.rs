//! The rows the store keeps: a scored cell (and its key within a run), a gateway request, a run's
//! description, a stored turn's role, a search hit and a vector collection's description.

use serde::Serialize;
use understudy_core::ChatMessage;

/// One scored answer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Cell {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub task: String,
    pub item_id: String,
    pub prompt_json: String,
    pub answer: String,
    pub reasoning: Option<String>,
    pub parsed: Option<String>,
    pub gold: String,
    pub score: f64,
    pub format_failure: bool,
    pub ttft_ms: f64,
    pub total_ms: f64,
    pub decode_tps: Option<f64>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Of `prompt_tokens`, how many the engine's KV prefix cache supplied instead of processing
    /// them (OpenAI's `cached_tokens`); a warm measurement when above 0.
    #[serde(default)]
    pub cached_prompt_tokens: u32,
    /// Answered from the response cache (no model call in this run).
    pub cached: bool,
    /// Scorer-specific results as JSON (ROUGE parts, per-instruction verdicts, judge ratings,
    /// sandbox outcome, truncation).
    pub detail: Option<String>,
    /// The machine's state while the answer was produced; `None` for cached answers (produced
    /// earlier, under conditions not recorded here) and where `/proc` cannot be read.
    pub conditions: Option<crate::Conditions>,
    /// The prompt program the cell was sent (`understudy_prompt::Program` as canonical JSON);
    /// `None` for cells stored before programs were recorded, and in a study's cells file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

impl Cell {
    /// The cell has no usable grade (its task's grader failed, or the judge): it is left out of
    /// every mean and counted apart, never scored as a 0.
    pub fn ungraded(&self) -> bool {
        self.detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .is_some_and(|d| d["ungraded"] == serde_json::Value::Bool(true))
    }

    /// A fresh zero-shot, plain-format cell of model `m` on task `t` scoring `score` on `item`
    /// (gold = item id), for tests to adjust with struct-update syntax.
    pub fn for_test(item: &str, score: f64) -> Cell {
        Cell {
            model: "m".into(),
            strategy: "zero-shot".into(),
            format: "plain".into(),
            task: "t".into(),
            item_id: item.into(),
            prompt_json: "[]".into(),
            answer: String::new(),
            reasoning: None,
            parsed: None,
            gold: item.into(),
            score,
            format_failure: false,
            ttft_ms: 1.0,
            total_ms: 1.0,
            decode_tps: None,
            prompt_tokens: 1,
            completion_tokens: 1,
            cached_prompt_tokens: 0,
            cached: false,
            detail: None,
            conditions: None,
            program: None,
        }
    }
}

/// One gateway request, as the request log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct RequestRow {
    pub at: Option<String>,
    pub model: String,
    pub profile: Option<String>,
    pub backend_model: Option<String>,
    pub status: u16,
    pub error_type: Option<String>,
    pub stream: bool,
    pub total_ms: f64,
    pub ttft_ms: Option<f64>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// Prompt tokens the backend reused from its KV cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u32>,
    /// Requests to the model running at once: the most the engine batched with this one when it
    /// reports that, else this gateway's requests in flight for the model when it arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Prompt and answer text, only when the profile opts in.
    pub prompt_json: Option<String>,
    pub answer: Option<String>,
    /// How the request was served (thinking decision, cascade, plan steps), as JSON.
    #[serde(default)]
    pub route: Option<String>,
    /// The captured request and answer, redacted (JSON; see the gateway's capture.rs), when
    /// the profile captures and this request was sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
}

/// One shadowed request: the reference's answer the client got, and the candidate's answer to
/// the same request made afterwards in the background, each with its latency.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct ShadowRow {
    pub at: Option<String>,
    pub profile: String,
    pub conversation: String,
    /// The request as the client sent it (redacted), as JSON: messages, tools, response format.
    pub request: String,
    pub reference_model: String,
    /// The reference's answer, JSON `{content, tool_calls}`.
    pub reference: String,
    pub reference_ms: f64,
    pub reference_tokens: Option<u32>,
    pub candidate_model: String,
    /// The candidate's answer, as `reference`; `None` when it failed (`error` says why).
    pub candidate: Option<String>,
    pub candidate_ms: f64,
    pub candidate_tokens: Option<u32>,
    pub error: Option<String>,
}

/// Which request-log rows to read: logged at or after `since` and before `until` (ISO-8601
/// UTC), of `profile`, answered by `model` (the backend model), with exactly `status` or a
/// status in the hundred `status_class` (4 for 4xx), only captured ones when `captured`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    pub since: String,
    pub until: Option<String>,
    pub profile: Option<String>,
    pub model: Option<String>,
    pub status: Option<u16>,
    pub status_class: Option<u16>,
    pub captured: bool,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub id: i64,
    pub plan_key: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    /// The plan as stored; JSON output shows it as the object it is, under `plan`.
    #[serde(
        rename = "plan",
        serialize_with = "json_text_as_object",
        deserialize_with = "json_object_as_text"
    )]
    pub plan_json: String,
    pub cells: i64,
}

impl RunInfo {
    /// The plan the run was made with, as a type.
    pub fn plan(&self) -> crate::stored_plan::StoredPlan {
        crate::stored_plan::StoredPlan::parse(&self.plan_json)
    }

    /// A list the stored plan names — `models`, `strategies`, `formats`, or `tasks` (by name).
    pub fn plan_list(&self, key: &str) -> Vec<String> {
        let plan = self.plan();
        match key {
            "models" => plan.models,
            "strategies" => plan.strategies,
            "formats" => plan.formats,
            "tasks" => plan.task_names(),
            _ => Vec::new(),
        }
    }

    /// The reference model the stored plan names, if any.
    pub fn plan_reference(&self) -> Option<String> {
        self.plan().reference
    }
}

/// Writes JSON text as the JSON value it holds (text that does not parse stays a string).
fn json_text_as_object<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => serde::Serialize::serialize(&value, serializer),
        Err(_) => serializer.serialize_str(text),
    }
}

/// Reads what [`json_text_as_object`] wrote back into JSON text.
fn json_object_as_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let value: serde_json::Value = serde::Deserialize::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

/// One vector-search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub source: String,
    pub position: usize,
    pub score: f32,
    pub text: String,
}

/// A vector collection: its name, the embedder that made its vectors, and its chunk count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionInfo {
    pub name: String,
    pub embedder: String,
    pub chunks: i64,
}

/// The identity of a cell within a run.
pub fn cell_key(model: &str, strategy: &str, format: &str, task: &str, item: &str) -> String {
    format!("{model}\u{1f}{strategy}\u{1f}{format}\u{1f}{task}\u{1f}{item}")
}

/// The role a stored turn was written with (anything unknown reads as the user's).
pub(crate) fn parse_role(text: &str) -> understudy_core::Role {
    match text {
        "assistant" => understudy_core::Role::Assistant,
        "system" => understudy_core::Role::System,
        "tool" => understudy_core::Role::Tool,
        _ => understudy_core::Role::User,
    }
}

/// What a stored turn keeps beside its role and text: its tool calls, or the call it answers
/// (JSON in the `calls` column; `None` for a plain text turn).
pub(crate) fn turn_calls(turn: &ChatMessage) -> Option<String> {
    if turn.tool_calls.is_empty() && turn.tool_call_id.is_none() {
        return None;
    }
    let calls =
        serde_json::json!({"tool_calls": turn.tool_calls, "tool_call_id": turn.tool_call_id});
    Some(calls.to_string())
}

/// A stored turn read back, with what [`turn_calls`] kept.
pub(crate) fn stored_turn(role: &str, content: String, calls: Option<String>) -> ChatMessage {
    #[derive(serde::Deserialize)]
    struct Kept {
        #[serde(default)]
        tool_calls: Vec<understudy_core::ToolCall>,
        tool_call_id: Option<String>,
    }
    let turn = ChatMessage::new(parse_role(role), content);
    match calls.and_then(|c| serde_json::from_str::<Kept>(&c).ok()) {
        Some(kept) => ChatMessage {
            tool_calls: kept.tool_calls,
            tool_call_id: kept.tool_call_id,
            ..turn
        },
        None => turn,
    }
}
