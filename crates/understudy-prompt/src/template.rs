//! A task template: the instruction, the layout (format) and the answer contract that turn one
//! input into the user turn — the same text whether eval renders an item or the gateway wraps a
//! client's message.

use serde::{Deserialize, Serialize};

use crate::contract::AnswerContract;
use crate::cot;
use crate::fields;
use crate::format::Format;
use crate::input::Input;

/// Instruction, layout and answer contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub instruction: String,
    #[serde(default)]
    pub format: Format,
    pub answer: AnswerContract,
}

fn yaml_block(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Template {
    /// The last line of the user turn: the answer's shape, or under chain of thought the
    /// step-by-step instruction naming it.
    pub fn answer_line(&self, input: &Input, cot: bool) -> String {
        let what = self.answer.describe(input);
        if cot {
            cot::instruction(Some(&what))
        } else {
            format!("Reply with {what}.")
        }
    }

    /// The user turn for one input, laid out in the template's format.
    pub fn user_turn(&self, input: &Input, cot: bool) -> String {
        let instruction = self.instruction.trim();
        let input_text = input.text();
        let answer = self.answer_line(input, cot);
        match self.format {
            Format::Plain => format!("{instruction}\n\n{input_text}\n\n{answer}"),
            Format::Markdown => format!(
                "## Task\n{instruction}\n\n## Input\n{input_text}\n\n## Answer format\n{answer}"
            ),
            Format::Json => serde_json::to_string_pretty(&serde_json::json!({
                "task": instruction,
                "input": input_text,
                "answer_format": answer,
            }))
            .unwrap_or_default(),
            Format::Yaml => format!(
                "task: |\n{}\ninput: |\n{}\nanswer_format: |\n{}",
                yaml_block(instruction),
                yaml_block(&input_text),
                yaml_block(&answer)
            ),
            Format::Fields => fields::user_turn(&input_text, &self.answer.describe(input), cot),
        }
    }

    /// The template's part of the system prompt: under the `fields` layout the fields and the
    /// instruction (which the user turn then leaves out); nothing in the other layouts.
    pub fn system_text(&self, cot: bool) -> Option<String> {
        (self.format == Format::Fields).then(|| fields::system(&self.instruction, cot))
    }

    /// Reads a reply's answer part: the answer field under the `fields` layout (with the
    /// reasoning field before it), else the text after the last final-answer marker when
    /// `split_cot`, else the whole text; (reasoning, answer text), trimmed.
    pub fn split_reply(&self, text: &str, split_cot: bool) -> (Option<String>, String) {
        if self.format == Format::Fields {
            let (reasoning, answer) = fields::split(text);
            if split_cot && reasoning.is_none() {
                return cot::split(&answer);
            }
            return (reasoning, answer);
        }
        split(text, split_cot)
    }

    /// What a grader reads of a reply: under the `fields` layout the answer field alone (its
    /// markers and any reasoning field dropped, see [`Template::split_reply`]); otherwise the
    /// reply as written (the grader splits chain of thought itself).
    pub fn graded_part(&self, text: &str) -> String {
        match self.format {
            Format::Fields => fields::split(text).1,
            _ => text.to_string(),
        }
    }

    /// Tokens the layout adds to a reply (the field markers).
    pub fn reply_overhead_tokens(&self) -> u32 {
        match self.format {
            Format::Fields => fields::REPLY_TOKENS,
            _ => 0,
        }
    }

    /// The assistant turn answering a worked example: the reasoning (under chain of thought,
    /// when there is some) and the target, as the layout asks a reply to be written.
    pub fn example_answer(&self, target: &str, reasoning: Option<&str>, cot: bool) -> String {
        if self.format == Format::Fields {
            return fields::example_answer(target, reasoning, cot);
        }
        let answer = if cot {
            format!("{} {target}", cot::MARKER)
        } else {
            target.to_string()
        };
        match reasoning.map(str::trim).filter(|r| cot && !r.is_empty()) {
            Some(reasoning) => format!("{reasoning}\n\n{answer}"),
            None => answer,
        }
    }
}

/// A reply split at the last final-answer marker when `split_cot` (see [`cot::split`]), else
/// all answer; both trimmed.
pub fn split(text: &str, split_cot: bool) -> (Option<String>, String) {
    if split_cot {
        cot::split(text)
    } else {
        (None, text.trim().to_string())
    }
}
