//! The trace shared by eval's cell details and the gateway's request log: one [`Trace`] with a
//! field per record (a thinking decision, the passages retrieval put into a prompt, the examples
//! found for it, the conversation, a technique's route, the answer's confidence), each under its
//! own key and absent when unset. (Cascade steps, plans and map-reduce notes are the techniques'
//! own outcome types, kept as the JSON they serialize to.)

use serde::{Deserialize, Serialize};
use understudy_core::thinking_switch::{Switched, ThinkingControl, ThinkingMode};

/// What the thinking switch did for one request or cell (key `thinking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThinkingTrace {
    /// What was asked for.
    pub mode: ThinkingMode,
    /// How the model is switched.
    pub control: ThinkingControl,
    /// Thinking was on for this request.
    pub on: bool,
    /// `auto` decided (from the difficulty signal).
    pub auto: bool,
    /// On through the chain-of-thought fallback: the answer is read after the marker.
    pub cot_fallback: bool,
}

impl ThinkingTrace {
    pub fn new(mode: ThinkingMode, control: ThinkingControl, switched: Switched) -> Self {
        Self {
            mode,
            control,
            on: switched.on,
            auto: switched.auto,
            cot_fallback: switched.split_cot,
        }
    }
}

/// One passage put into a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageTrace {
    pub id: String,
    pub source: String,
    /// The chunk's position in its source.
    pub position: usize,
    pub score: f32,
}

/// The passages retrieval put into a prompt (key `retrieval`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalTrace {
    pub collection: String,
    pub passages: Vec<PassageTrace>,
}

/// One solved example found for a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleTrace {
    pub id: String,
    pub score: f32,
}

/// The examples found for a prompt, best first (key `examples`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExamplesTrace {
    pub collection: String,
    pub examples: Vec<ExampleTrace>,
}

/// The conversation a request was answered in (key `conversation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationTrace {
    pub id: String,
}

/// How one request or cell was served: what the request log stores as its route and what eval
/// adds to a cell's detail, one type for both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationTrace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<ExamplesTrace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<RetrievalTrace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingTrace>,
    /// A cascade's steps (`understudy_techniques::cascade::Outcome`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<serde_json::Value>,
    /// A plan and its steps' results (`understudy_techniques::plan_execute::Outcome`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_execute: Option<serde_json::Value>,
    /// Map-reduce's chunks per level (`understudy_techniques::mapreduce::Outcome`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_reduce: Option<serde_json::Value>,
    /// How a token budget was counted: `tokenizer` (the model's own) or `estimated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_counts: Option<String>,
    /// The answer's mean token log-probability (what `tune` calibrates cascades on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_logprob: Option<f64>,
}

impl Trace {
    /// Nothing was recorded.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The trace as a JSON object (empty when nothing was recorded).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// `detail` (a grader's record) with the trace's keys added; `None` when both are empty.
    pub fn merged_into(&self, detail: Option<serde_json::Value>) -> Option<serde_json::Value> {
        let fields = self.to_map();
        if fields.is_empty() {
            return detail;
        }
        let mut detail = detail.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        if let serde_json::Value::Object(map) = &mut detail {
            map.extend(fields);
        }
        Some(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_writes_only_what_was_recorded_under_its_keys() {
        assert!(Trace::default().is_empty());
        assert_eq!(Trace::default().merged_into(None), None);
        let trace = Trace {
            conversation: Some(ConversationTrace { id: "c1".into() }),
            token_counts: Some("estimated".into()),
            mean_logprob: Some(-0.25),
            ..Trace::default()
        };
        let json = serde_json::to_value(&trace).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"conversation": {"id": "c1"}, "token_counts": "estimated", "mean_logprob": -0.25})
        );
        let merged = trace.merged_into(Some(serde_json::json!({"rouge_l": 0.5})));
        assert_eq!(
            merged.as_ref().map(|m| m["rouge_l"].clone()),
            Some(0.5.into())
        );
        assert_eq!(
            merged.map(|m| m["token_counts"].clone()),
            Some("estimated".into())
        );
        let back: Trace = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(back, trace);
    }
}
