//! A pool item of a reference task shown as a few-shot example: its input, then what the
//! reference answered — its calls (each answered by a tool turn, as every example call is), or
//! its text. Conversation tasks show the input unwrapped, as their items are sent.

use understudy_core::ToolCall;
use understudy_prompt::{Example, Input, Template};

use crate::task::{Item, ReferenceKind, ReferenceSpec};

/// `item` as example `index`: under `template` wrapped as scored items are, else the input as is.
pub fn example(
    spec: &ReferenceSpec,
    template: Option<&Template>,
    (item, input): (&Item, &Input),
    index: usize,
    cot: bool,
) -> Example {
    let calls = calls(spec, item, index);
    let user = match template {
        Some(t) => t.user_turn(input, cot),
        None => input.text(),
    };
    if !calls.is_empty() {
        return Example {
            user,
            assistant: String::new(),
            calls,
        };
    }
    match template {
        Some(t) => Example::worked(t, input, &item.target, item.rationale.as_deref(), cot),
        None => Example {
            user,
            assistant: item.target.clone(),
            calls: Vec::new(),
        },
    }
}

/// The reference's calls when it answered with calls (ids `call_ex{index}_{n}`).
fn calls(spec: &ReferenceSpec, item: &Item, index: usize) -> Vec<ToolCall> {
    let kind = item
        .fields
        .get(&spec.kind_field)
        .and_then(|k| ReferenceKind::parse(k).ok());
    if kind != Some(ReferenceKind::Calls) {
        return Vec::new();
    }
    crate::task::reference_calls(&item.target)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(n, call)| ToolCall {
            id: format!("call_ex{index}_{n}"),
            ..call
        })
        .collect()
}
