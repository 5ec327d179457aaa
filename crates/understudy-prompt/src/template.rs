//! A task template: the instruction, the layout (format) and the answer contract that turn one
//! input into the user turn — the same text whether eval renders an item or the gateway wraps a
//! client's message.

use serde::{Deserialize, Serialize};

use crate::contract::AnswerContract;
use crate::cot;
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
        }
    }

    /// The assistant turn answering a worked example.
    pub fn example_answer(target: &str, cot: bool) -> String {
        if cot {
            format!("{} {target}", cot::MARKER)
        } else {
            target.to_string()
        }
    }
}
