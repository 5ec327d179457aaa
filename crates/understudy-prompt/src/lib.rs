//! The prompt program shared by eval, tune and serve: what eval measures is what serve sends.
//! Strategy strings parse here, profiles deserialize into [`Program`], and answers are read by
//! one extractor ([`AnswerContract::extract`]) after one chain-of-thought splitter ([`cot`]).

pub mod contract;
pub use understudy_core::cot;
mod error;
pub mod fields;
pub mod format;
pub mod input;
pub mod program;
pub mod strategy;
pub mod technique;
pub mod template;
pub mod trace;

pub use contract::AnswerContract;
pub use error::PromptError;
pub use format::Format;
pub use input::Input;
pub use program::{Example, ExampleSearch, Program, Read, Retrieval, Solved};
pub use strategy::{Component, Strategy};
pub use technique::Technique;
pub use template::Template;
pub use trace::{
    ConversationTrace, ExampleTrace, ExamplesTrace, PassageTrace, RetrievalTrace, ThinkingTrace,
    Trace,
};
