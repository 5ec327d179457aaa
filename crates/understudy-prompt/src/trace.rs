//! Trace records shared by eval's cell details and the gateway's request log: one shape for a
//! thinking decision, the passages retrieval put into a prompt and the examples found for it. (Cascade steps, plans
//! and map-reduce notes are the techniques' own outcome types, serialized as they are.)

use serde::{Deserialize, Serialize};
use understudy_core::thinking::{Switched, ThinkingControl, ThinkingMode};

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
