//! Prompt strategies and formats: the one place that turns a task item into chat messages.
//! `zero-shot`, `few-shot:K`, `cot`, `role`, `thinking:on|off|auto`, `map-reduce`, `memory:K`,
//! `minimal`, combinable with `+`, each rendered
//! in `plain`, `markdown`, `json` or `yaml`. The gateway reuses this code; keep it free of I/O.

use std::fmt;

use understudy_core::ChatMessage;

use crate::task::{AnswerSpec, Item, LoadedTask};
use crate::EvalError;

use understudy_core::thinking::ThinkingMode;
/// The marker a chain-of-thought answer must end with.
pub use understudy_core::thinking::FINAL_ANSWER_MARKER;

/// Tokens allowed for chain-of-thought reasoning.
pub const COT_MAX_TOKENS: u32 = 320;

/// The report's best practices as a system prompt: role and tone, decomposition, format,
/// constraints, and saying so when unsure. Users override it with `role_prompt`.
pub const DEFAULT_ROLE_PROMPT: &str = "You are a meticulous expert assistant. Read the task and the input carefully. \
Break the problem into the facts that matter before deciding. Follow the requested answer format exactly and \
add nothing else. Use only the information given plus well-established knowledge. If you are unsure, still give \
your single best answer in the requested format.";

/// The `minimal` strategy's system prompt: no role detail, steps, constraints or format.
pub const MINIMAL_PROMPT: &str = "You are a helpful assistant.";

/// How the same instruction content is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Plain,
    Markdown,
    Json,
    Yaml,
}

impl Format {
    pub fn parse(name: &str) -> Result<Self, EvalError> {
        match name.trim() {
            "plain" => Ok(Self::Plain),
            "markdown" | "md" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            "yaml" => Ok(Self::Yaml),
            other => Err(EvalError::UnknownFormat {
                name: other.to_string(),
            }),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Markdown => "markdown",
            Self::Json => "json",
            Self::Yaml => "yaml",
        }
    }
}

/// One composable piece of a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    ZeroShot,
    FewShot(usize),
    Cot,
    Role,
    Thinking(ThinkingMode),
    /// Inputs over the model's context go through map-reduce (instead of being cut).
    MapReduce,
    /// The K passages of the task's documents nearest the question go into the system prompt.
    Memory(usize),
    /// A one-line system prompt (the baseline `role`'s detailed prompt is compared against).
    Minimal,
}

/// Every strategy spelling [`Strategy::parse`] accepts, for help texts and error messages (one
/// list, checked against the parser by a test).
pub const SPELLINGS: &str = "zero-shot, few-shot:K (K = 1..16), cot, role, minimal, thinking:on|off|auto, map-reduce, memory:K (K = 1..16)";

/// A strategy: components joined with `+` (e.g. `role+few-shot:3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Strategy {
    pub components: Vec<Component>,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .components
            .iter()
            .map(|c| match c {
                Component::ZeroShot => "zero-shot".to_string(),
                Component::FewShot(k) => format!("few-shot:{k}"),
                Component::Cot => "cot".to_string(),
                Component::Role => "role".to_string(),
                Component::MapReduce => "map-reduce".to_string(),
                Component::Memory(k) => format!("memory:{k}"),
                Component::Minimal => "minimal".to_string(),
                Component::Thinking(mode) => format!(
                    "thinking:{}",
                    match mode {
                        ThinkingMode::On => "on",
                        ThinkingMode::Off => "off",
                        ThinkingMode::Auto => "auto",
                    }
                ),
            })
            .collect();
        f.write_str(&parts.join("+"))
    }
}

/// Most examples (`few-shot:K`) or passages (`memory:K`) one prompt may carry.
pub const MAX_COUNT: usize = 16;

impl Strategy {
    pub fn parse(name: &str) -> Result<Self, EvalError> {
        let unknown = || EvalError::UnknownStrategy {
            name: name.to_string(),
        };
        let mut components = Vec::new();
        for part in name.split('+') {
            let part = part.trim();
            let component = match part {
                "zero-shot" | "zeroshot" => Component::ZeroShot,
                "cot" => Component::Cot,
                "role" => Component::Role,
                "minimal" => Component::Minimal,
                "map-reduce" => Component::MapReduce,
                "thinking:on" => Component::Thinking(ThinkingMode::On),
                "thinking:off" => Component::Thinking(ThinkingMode::Off),
                "thinking:auto" => Component::Thinking(ThinkingMode::Auto),
                _ => {
                    let counted = |prefix: &str| -> Option<Result<usize, EvalError>> {
                        let k = part.strip_prefix(prefix)?;
                        Some(match k.parse::<usize>() {
                            Ok(k) if (1..=MAX_COUNT).contains(&k) => Ok(k),
                            _ => Err(EvalError::Config(format!(
                                "strategy {name:?}: {prefix}K needs K from 1 to {MAX_COUNT}, got {k:?}"
                            ))),
                        })
                    };
                    if let Some(k) = counted("few-shot:") {
                        Component::FewShot(k?)
                    } else if let Some(k) = counted("memory:") {
                        Component::Memory(k?)
                    } else {
                        return Err(unknown());
                    }
                }
            };
            if components.contains(&component)
                || (component == Component::Minimal && components.contains(&Component::Role))
                || (component == Component::Role && components.contains(&Component::Minimal))
            {
                return Err(unknown());
            }
            components.push(component);
        }
        if components.is_empty() {
            return Err(unknown());
        }
        Ok(Self { components })
    }

    pub fn few_shot(&self) -> usize {
        self.components
            .iter()
            .find_map(|c| match c {
                Component::FewShot(k) => Some(*k),
                _ => None,
            })
            .unwrap_or(0)
    }
    pub fn cot(&self) -> bool {
        self.components.contains(&Component::Cot)
    }
    pub fn map_reduce(&self) -> bool {
        self.components.contains(&Component::MapReduce)
    }
    /// Passages to retrieve into the prompt, under `memory:K`.
    pub fn memory(&self) -> Option<usize> {
        self.components.iter().find_map(|c| match c {
            Component::Memory(k) => Some(*k),
            _ => None,
        })
    }
    pub fn role(&self) -> bool {
        self.components.contains(&Component::Role)
    }
    /// The thinking switch this strategy sets, applied through each model's own control.
    pub fn thinking(&self) -> Option<ThinkingMode> {
        self.components.iter().find_map(|c| match c {
            Component::Thinking(mode) => Some(*mode),
            _ => None,
        })
    }

    /// Tokens to allow for an answer under this strategy.
    pub fn max_tokens(&self, task: &LoadedTask) -> u32 {
        if self.cot() {
            COT_MAX_TOKENS
        } else {
            task.def.max_tokens
        }
    }
}

/// What the answer must look like, in words.
fn answer_format(task: &LoadedTask, item: &Item, cot: bool) -> String {
    let what = match &task.def.answer {
        AnswerSpec::Label { labels, .. } => format!("exactly one of: {}", labels.join(", ")),
        AnswerSpec::Choice { .. } => {
            let letters: Vec<String> = item.options.iter().map(|(l, _)| l.to_string()).collect();
            format!(
                "only the letter of the correct option ({})",
                letters.join(", ")
            )
        }
        AnswerSpec::Number { .. } => "only the final number".to_string(),
        AnswerSpec::Exact => "only the answer, nothing else".to_string(),
        AnswerSpec::Regex { format, .. } => format
            .clone()
            .unwrap_or_else(|| "only the answer, nothing else".to_string()),
        AnswerSpec::Code { .. } => "the complete function in one ```python code block".to_string(),
        AnswerSpec::Ifeval | AnswerSpec::Judge { .. } => "your response".to_string(),
        AnswerSpec::Rules { format, .. } => format
            .clone()
            .unwrap_or_else(|| "a reply that keeps every rule".to_string()),
        AnswerSpec::Rouge => "only the one-sentence summary".to_string(),
    };
    if cot {
        format!("Think step by step, then write the final line as \"{FINAL_ANSWER_MARKER} <answer>\" where <answer> is {what}.")
    } else {
        format!("Reply with {what}.")
    }
}

fn input_text(item: &Item) -> String {
    if item.options.is_empty() {
        return item.question.clone();
    }
    let options: Vec<String> = item
        .options
        .iter()
        .map(|(l, t)| format!("{l}. {t}"))
        .collect();
    format!("{}\n{}", item.question, options.join("\n"))
}

fn yaml_block(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The user turn for one item, laid out in `format`.
pub fn render_user(task: &LoadedTask, item: &Item, format: Format, cot: bool) -> String {
    let instruction = task.def.instruction.trim();
    let input = input_text(item);
    let answer = answer_format(task, item, cot);
    match format {
        Format::Plain => format!("{instruction}\n\n{input}\n\n{answer}"),
        Format::Markdown => {
            format!("## Task\n{instruction}\n\n## Input\n{input}\n\n## Answer format\n{answer}")
        }
        Format::Json => serde_json::to_string_pretty(&serde_json::json!({
            "task": instruction,
            "input": input,
            "answer_format": answer,
        }))
        .unwrap_or_default(),
        Format::Yaml => format!(
            "task: |\n{}\ninput: |\n{}\nanswer_format: |\n{}",
            yaml_block(instruction),
            yaml_block(&input),
            yaml_block(&answer)
        ),
    }
}

/// The assistant turn that answers a few-shot example.
fn example_answer(task: &LoadedTask, example: &Item, cot: bool) -> String {
    let _ = task;
    if cot {
        format!("{FINAL_ANSWER_MARKER} {}", example.target)
    } else {
        example.target.clone()
    }
}

/// Builds the messages for `item`: optional role system prompt, few-shot turns from the task's
/// pool (never the item itself), then the item.
pub fn render(
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
    format: Format,
    role_prompt: &str,
) -> Vec<ChatMessage> {
    let cot = strategy.cot();
    let mut messages = Vec::new();
    let mut system: Vec<&str> = task.def.system.iter().map(|s| s.trim()).collect();
    if strategy.role() {
        system.push(role_prompt);
    } else if strategy.components.contains(&Component::Minimal) {
        system.push(MINIMAL_PROMPT);
    }
    if !system.is_empty() {
        messages.push(ChatMessage::system(system.join("\n\n")));
    }
    for example in task
        .pool
        .iter()
        .filter(|e| e.id != item.id)
        .take(strategy.few_shot())
    {
        messages.push(ChatMessage::user(render_user(task, example, format, cot)));
        messages.push(ChatMessage::assistant(example_answer(task, example, cot)));
    }
    messages.push(ChatMessage::user(render_user(task, item, format, cot)));
    messages
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_spellings_list_is_what_the_parser_accepts() {
        for spelling in SPELLINGS.split(", ") {
            let base = spelling.split(' ').next().unwrap();
            let variants: Vec<String> = if base.contains('|') {
                let (head, modes) = base.split_once(':').unwrap();
                modes.split('|').map(|m| format!("{head}:{m}")).collect()
            } else {
                vec![base.replace(":K", ":3")]
            };
            for v in variants {
                assert!(
                    Strategy::parse(&v).is_ok(),
                    "{v} from SPELLINGS does not parse"
                );
            }
        }
        // Every component the parser knows is in the list.
        for component in [
            "zero-shot",
            "cot",
            "role",
            "minimal",
            "map-reduce",
            "few-shot",
            "memory",
            "thinking",
        ] {
            assert!(
                SPELLINGS.contains(component),
                "{component} missing from SPELLINGS"
            );
        }
    }

    use super::*;

    #[test]
    fn strategies_parse_and_print_back() {
        for name in [
            "zero-shot",
            "few-shot:3",
            "cot",
            "role+few-shot:2",
            "thinking:off+cot",
            "thinking:auto",
            "map-reduce",
            "memory:4",
            "role+memory:2",
            "minimal+few-shot:2",
        ] {
            assert_eq!(Strategy::parse(name).unwrap().to_string(), name);
        }
        for bad in [
            "few-shot",
            "few-shot:0",
            "fewshot:3",
            "memory:0",
            "role+minimal",
            "memory:x",
            "cot+cot",
            "",
            "magic",
        ] {
            assert!(Strategy::parse(bad).is_err(), "{bad}");
        }
        assert!(Format::parse("xml").is_err());
    }
}
