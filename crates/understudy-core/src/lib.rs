//! Shared types for understudy: chat messages, validated requests, responses, stream events,
//! timing and configuration. No I/O beyond reading a config file, no heavy dependencies.

pub mod config;
mod config_backends;
pub mod cot;
pub mod difficulty;
pub mod keys;
pub mod message;
pub mod price;
pub mod request;
pub mod response;
pub mod since;
pub mod stream;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod think_tags;
pub mod thinking_switch;
pub mod timing;
pub mod toml_error;
pub mod tools;

pub use message::{ChatMessage, Role};
pub use request::{ChatRequest, RequestError, ResponseFormat, ValidChatRequest};
pub use response::{ChatResponse, Confidence, FinishReason, Usage};
pub use stream::{Delta, StreamEnd, StreamEvent};
pub use timing::{Timing, TimingRecorder};
pub use tools::{ToolCall, ToolCallDelta, ToolChoice, ToolDef, ToolUse};
