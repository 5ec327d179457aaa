//! From a task item and a strategy to the prompt program eval sends (the program, its parsing
//! and rendering live in `understudy-prompt`, shared with the gateway). Keep it free of I/O.

use understudy_core::ChatMessage;
pub use understudy_prompt::cot::{MARKER as FINAL_ANSWER_MARKER, MAX_TOKENS as COT_MAX_TOKENS};
pub use understudy_prompt::strategy::{DEFAULT_ROLE_PROMPT, MAX_COUNT, MINIMAL_PROMPT, SPELLINGS};
use understudy_prompt::{AnswerContract, Example, Input, Program, Template};
pub use understudy_prompt::{Component, Format, Strategy};

use crate::task::{AnswerSpec, Item, LoadedTask};

/// Tokens to allow for an answer under `strategy`.
pub fn max_tokens(strategy: &Strategy, task: &LoadedTask) -> u32 {
    if strategy.cot() {
        COT_MAX_TOKENS
    } else {
        task.def.max_tokens
    }
}

/// The answer contract a task's answer kind asks for: how the prompt names it and how the
/// answer is read before grading.
pub fn contract(spec: &AnswerSpec) -> AnswerContract {
    let free = |describe: &str| AnswerContract::Free {
        describe: describe.to_string(),
    };
    match spec {
        AnswerSpec::Label {
            labels, synonyms, ..
        } => AnswerContract::Label {
            labels: labels.clone(),
            synonyms: synonyms.clone(),
        },
        AnswerSpec::Choice { .. } => AnswerContract::Choice,
        AnswerSpec::Number { .. } => AnswerContract::Number,
        AnswerSpec::Exact => free("only the answer, nothing else"),
        AnswerSpec::Json | AnswerSpec::Structured(_) => AnswerContract::Json,
        AnswerSpec::Regex { format, .. } => {
            free(format.as_deref().unwrap_or("only the answer, nothing else"))
        }
        AnswerSpec::Code { .. } => free("the complete function in one ```python code block"),
        AnswerSpec::Ifeval | AnswerSpec::Judge { .. } | AnswerSpec::Reference(_) => {
            free("your response")
        }
        AnswerSpec::Rules { format, .. } => {
            free(format.as_deref().unwrap_or("a reply that keeps every rule"))
        }
        AnswerSpec::Rouge => free("only the one-sentence summary"),
        AnswerSpec::Command(spec) => free(spec.format.as_deref().unwrap_or("only the answer")),
        AnswerSpec::ToolCalls(_) => {
            free("the function calls the request needs, or a reply if none applies")
        }
    }
}

/// The task's template in `format`.
pub fn template(task: &LoadedTask, format: Format) -> Template {
    Template {
        instruction: task.def.instruction.trim().to_string(),
        format,
        answer: contract(&task.def.answer),
    }
}

/// What the model (or a gateway client) is given for `item`: its question and options.
pub fn input(item: &Item) -> Input {
    Input::new(item.question.clone(), item.options.clone())
}

/// The program eval sends for `item`: the task's system text with the role or minimal prompt,
/// few-shot turns from the task's pool (never the item itself), the task template, CoT and the
/// thinking mode; under `raw`, nothing but the input (a served profile adds its own). Retrieval and run-time techniques are added by the runner, which knows them.
/// A conversation task (`messages_field`) has no template: its conversations are sent as the
/// client sent them, as a profile without a template serves them.
pub fn program(
    task: &LoadedTask,
    item: &Item,
    strategy: &Strategy,
    format: Format,
    role_prompt: &str,
) -> Program {
    if strategy.raw() {
        // The served profile wraps the input and reads the answer; eval only scores it.
        return Program::default();
    }
    let cot = strategy.cot();
    let template = template(task, format);
    let wrapped = task.def.messages_field.is_none();
    let mut system: Vec<&str> = task.def.system.iter().map(|s| s.trim()).collect();
    if strategy.role() {
        system.push(role_prompt);
    } else if strategy.minimal() {
        system.push(MINIMAL_PROMPT);
    }
    let few_shot = task
        .pool
        .iter()
        .filter(|e| e.id != item.id)
        .take(strategy.few_shot())
        .enumerate()
        .map(|(index, example)| match &task.def.answer {
            AnswerSpec::Reference(spec) => crate::reference_examples::example(
                spec,
                wrapped.then_some(&template),
                (example, &input(example)),
                index,
                cot,
            ),
            AnswerSpec::ToolCalls(_) => crate::tool_call_examples::example(
                &template,
                &input(example),
                &example.target,
                index,
                cot,
            ),
            _ => Example::worked(
                &template,
                &input(example),
                &example.target,
                example.rationale.as_deref(),
                cot,
            ),
        })
        .collect();
    let overhead = if wrapped {
        template.reply_overhead_tokens()
    } else {
        0
    };
    let answer_tokens = max_tokens(strategy, task) + overhead;
    Program {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        few_shot,
        template: wrapped.then_some(template),
        cot,
        thinking: strategy.thinking(),
        max_tokens: Some(answer_tokens),
        ..Program::default()
    }
}

/// The messages `program` sends for `item`: the item's input as the user turn, wrapped, or the
/// item's whole conversation.
pub fn render(program: &Program, item: &Item) -> Vec<ChatMessage> {
    if !item.conversation.is_empty() {
        return program.messages(item.conversation.clone());
    }
    program.messages(vec![ChatMessage::user(input(item).text())])
}
