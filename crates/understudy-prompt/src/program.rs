//! The prompt program: everything that decides what a model is sent for one input and how its
//! answer is read — system prompt, few-shot turns, task template with its answer contract,
//! chain of thought, thinking mode, retrieval and a run-time technique. Eval builds one per
//! item and stores it with the cell; `tune` writes the chosen one as a profile; the gateway
//! deserializes a profile into one and sends what [`Program::messages`] builds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use understudy_core::thinking_switch::ThinkingMode;
use understudy_core::{ChatMessage, Role, ToolCall};

use crate::cot;
use crate::input::Input;
use crate::technique::Technique;
use crate::template::Template;

/// One few-shot turn pair, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub user: String,
    pub assistant: String,
    /// The calls the assistant turn makes (tool-call tasks). Each is followed by a tool turn
    /// saying the example's result is not shown, since chat APIs want every call answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ToolCall>,
}

/// What a few-shot example's tool turn says in place of a result.
pub const EXAMPLE_RESULT: &str = "(example call: its result is not shown)";

impl Example {
    /// A solved input as a turn pair under `template`: the input wrapped as an item is, the
    /// target after the final-answer marker under chain of thought. Pool examples and examples
    /// found per input are both rendered here.
    pub fn solved(template: &Template, input: &Input, target: &str, cot: bool) -> Self {
        Self::worked(template, input, target, None, cot)
    }

    /// [`Example::solved`] with worked reasoning, which under chain of thought comes before the
    /// final-answer marker (without chain of thought the answer alone is shown).
    pub fn worked(
        template: &Template,
        input: &Input,
        target: &str,
        rationale: Option<&str>,
        cot: bool,
    ) -> Self {
        Self {
            user: template.user_turn(input, cot),
            assistant: template.example_answer(target, rationale, cot),
            calls: Vec::new(),
        }
    }
}

/// Passages from a memory collection, put into the system prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retrieval {
    pub collection: String,
    #[serde(default = "default_k")]
    pub k: usize,
    /// Most tokens of passages put into the prompt.
    #[serde(default = "default_budget")]
    pub budget_tokens: usize,
}

fn default_k() -> usize {
    4
}

/// Few-shot examples found per input: the `k` solved examples of a collection whose inputs are
/// nearest the request's (by embedding), put after the fixed few-shot turns, nearest last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleSearch {
    /// A collection of solved examples (`understudy memory add-examples`).
    pub collection: String,
    #[serde(default = "default_k")]
    pub k: usize,
}

/// A solved example as found: the input as a client sends it and the answer it should get —
/// text, or (tool-call examples) the calls the answer makes, with `target` then empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solved {
    pub input: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ToolCall>,
}

fn default_budget() -> usize {
    600
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What is sent for one input, and how the answer is read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// The system prompt (a task's own text, then the role or minimal prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Turn pairs put before the conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub few_shot: Vec<Example>,
    /// When set, the last user turn is an input wrapped in this template and the answer is
    /// read with its contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    /// Ask for step-by-step reasoning; the answer is read after the final-answer marker.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Retrieval>,
    /// Few-shot examples found per input (see [`Program::with_found`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<ExampleSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<Technique>,
    /// Tokens allowed for an answer when the request does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// The answer read from a model's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Reasoning before the final-answer marker (chain of thought only).
    pub reasoning: Option<String>,
    /// The text after the marker (or all of it), trimmed.
    pub text: String,
    /// What the contract reads from `text`: `None` when it reads nothing (a format failure,
    /// and what a cascade's `format` signal escalates on). Without a contract, the text itself
    /// when it is not empty.
    pub answer: Option<String>,
}

impl Program {
    /// The messages sent for `conversation`: the program's system prompt then the caller's,
    /// few-shot turns, the caller's other turns; the last user turn wrapped in the template (or,
    /// without one, followed by the chain-of-thought instruction when `cot` is on).
    pub fn messages(&self, conversation: Vec<ChatMessage>) -> Vec<ChatMessage> {
        let (client_system, turns): (Vec<ChatMessage>, Vec<ChatMessage>) = conversation
            .into_iter()
            .partition(|m| m.role == Role::System);
        let mut system: Vec<String> = self
            .template
            .as_ref()
            .and_then(|t| t.system_text(self.cot))
            .into_iter()
            .collect();
        system.extend(self.system.iter().cloned());
        system.extend(client_system.into_iter().map(|m| m.content));
        let mut messages = Vec::with_capacity(turns.len() + 2 * self.few_shot.len() + 1);
        if !system.is_empty() {
            messages.push(ChatMessage::system(system.join("\n\n")));
        }
        for example in &self.few_shot {
            messages.push(ChatMessage::user(example.user.clone()));
            messages.push(ChatMessage::assistant_calls(
                example.assistant.clone(),
                example.calls.clone(),
            ));
            messages.extend(
                example
                    .calls
                    .iter()
                    .map(|call| ChatMessage::tool_result(call.id.clone(), EXAMPLE_RESULT)),
            );
        }
        messages.extend(turns);
        if let Some(last) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
            match &self.template {
                Some(template) => {
                    last.content = template.user_turn(&Input::parse(&last.content), self.cot)
                }
                None if self.cot => {
                    last.content.push_str("\n\n");
                    last.content.push_str(&cot::instruction(None));
                }
                None => {}
            }
        }
        messages
    }

    /// Reads the answer from the model's text for the input in `last_user` (the client's last
    /// user turn, before wrapping): the answer field under the `fields` layout, chain of thought
    /// split at the last marker when `split_cot`, then the contract's extractor.
    pub fn read(&self, text: &str, last_user: &str, split_cot: bool) -> Read {
        let (reasoning, text) = match &self.template {
            Some(t) => t.split_reply(text, split_cot),
            None => crate::template::split(text, split_cot),
        };
        let answer = match &self.template {
            Some(t) => t.answer.extract(&text, &Input::parse(last_user)),
            None => (!text.is_empty()).then(|| text.clone()),
        };
        Read {
            reasoning,
            text,
            answer,
        }
    }

    /// The program for one input with the examples found for it: each appended to the fixed
    /// few-shot turns as the template renders a pool example (the input wrapped, the answer
    /// after the final-answer marker under chain of thought), or as it is without a template.
    /// An example that makes calls shows them as a pool example's calls are shown (answered by
    /// tool turns), ids `call_found{n}_{m}` so they never meet a fixed example's.
    /// `found` is best first; the best goes last, next to the input.
    pub fn with_found(&self, found: &[Solved]) -> Program {
        let mut program = self.clone();
        for (n, solved) in found.iter().enumerate().rev() {
            let input = Input::parse(&solved.input);
            let mut example = match &self.template {
                Some(template) if solved.calls.is_empty() => {
                    Example::solved(template, &input, &solved.target, self.cot)
                }
                Some(template) => Example {
                    user: template.user_turn(&input, self.cot),
                    assistant: solved.target.clone(),
                    calls: Vec::new(),
                },
                None => Example {
                    user: solved.input.clone(),
                    assistant: solved.target.clone(),
                    calls: Vec::new(),
                },
            };
            example.calls = solved
                .calls
                .iter()
                .enumerate()
                .map(|(m, call)| ToolCall {
                    id: format!("call_found{n}_{m}"),
                    ..call.clone()
                })
                .collect();
            program.few_shot.push(example);
        }
        program
    }

    /// The program as canonical JSON (keys in declaration order, unset parts left out).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A short hash of [`Program::canonical_json`]: cells with the same hash were sent the same
    /// program.
    pub fn hash(&self) -> String {
        hash_of(&self.canonical_json())
    }
}

/// The hash of a program's canonical JSON (see [`Program::hash`]).
pub fn hash_of(canonical_json: &str) -> String {
    let digest = Sha256::digest(canonical_json.as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::AnswerContract;
    use crate::format::Format;

    fn sentiment() -> Program {
        Program {
            system: Some("Be exact.".into()),
            few_shot: vec![Example {
                user: "u".into(),
                assistant: "a".into(),
                calls: Vec::new(),
            }],
            template: Some(Template {
                instruction: "Classify.".into(),
                format: Format::Plain,
                answer: AnswerContract::Label {
                    labels: vec!["positive".into(), "negative".into()],
                    synonyms: Default::default(),
                },
            }),
            cot: true,
            ..Program::default()
        }
    }

    #[test]
    fn a_worked_example_shows_its_reasoning_before_the_marker_only_under_cot() {
        let template = sentiment().template.unwrap();
        let input = Input::parse("Great film.");
        let cot_example =
            Example::worked(&template, &input, "positive", Some("It praises it."), true);
        let read = sentiment().read(&cot_example.assistant, "Great film.", true);
        assert_eq!(read.reasoning.as_deref(), Some("It praises it."));
        assert_eq!(read.answer.as_deref(), Some("positive"));
        let plain = Example::worked(&template, &input, "positive", Some("It praises it."), false);
        assert_eq!(plain.assistant, "positive");
        assert_eq!(
            Example::worked(&template, &input, "positive", None, true),
            Example::solved(&template, &input, "positive", true)
        );
    }

    #[test]
    fn the_client_input_is_wrapped_like_an_item() {
        let p = sentiment();
        let sent = p.messages(vec![
            ChatMessage::system("Client."),
            ChatMessage::user("I loved it."),
        ]);
        assert_eq!(sent[0].content, "Be exact.\n\nClient.");
        assert_eq!(sent[1].content, "u");
        assert_eq!(
            sent[3].content,
            format!(
                "Classify.\n\nI loved it.\n\n{}",
                cot::instruction(Some("exactly one of: positive, negative"))
            )
        );
        let read = p.read("It was loved.\nfinal answer: Positive", "I loved it.", true);
        assert_eq!(read.answer.as_deref(), Some("positive"));
        assert_eq!(read.reasoning.as_deref(), Some("It was loved."));
    }

    #[test]
    fn found_examples_follow_the_fixed_ones_nearest_last_rendered_like_pool_examples() {
        let p = sentiment();
        let found = [
            Solved {
                input: "Best film.".into(),
                target: "positive".into(),
                calls: Vec::new(),
            },
            Solved {
                input: "Dull.".into(),
                target: "negative".into(),
                calls: Vec::new(),
            },
        ];
        let with = p.with_found(&found);
        let template = p.template.clone().unwrap_or_else(|| unreachable!());
        assert_eq!(with.few_shot.len(), 3);
        assert_eq!(with.few_shot[0].user, "u");
        assert_eq!(
            with.few_shot[1].user,
            template.user_turn(&Input::parse("Dull."), true)
        );
        assert_eq!(with.few_shot[2].assistant, "Final answer: positive");
        let bare = Program::default().with_found(&found[..1]);
        assert_eq!(
            bare.few_shot,
            vec![Example {
                user: "Best film.".into(),
                assistant: "positive".into(),
                calls: Vec::new(),
            }]
        );
    }

    #[test]
    fn an_example_that_calls_tools_sends_the_calls_each_answered_by_a_tool_turn() {
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "spotify_play".into(),
            arguments: r#"{"artist":"Maroon 5"}"#.into(),
        };
        let p = Program {
            few_shot: vec![Example {
                user: "Play two songs.".into(),
                assistant: String::new(),
                calls: vec![call("ex0_0"), call("ex0_1")],
            }],
            ..Program::default()
        };
        let sent = p.messages(vec![ChatMessage::user("Now this.")]);
        let roles: Vec<Role> = sent.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(sent[1].tool_calls, vec![call("ex0_0"), call("ex0_1")]);
        assert_eq!(sent[2].tool_call_id.as_deref(), Some("ex0_0"));
        assert_eq!(sent[3].tool_call_id.as_deref(), Some("ex0_1"));
        assert_eq!(sent[3].content, EXAMPLE_RESULT);
        // Examples without calls keep their old serialized form (and profile hashes).
        assert!(!sentiment().canonical_json().contains("calls"));
        let json = p.canonical_json();
        let back: Program = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, p);
    }

    #[test]
    fn a_found_example_that_calls_tools_shows_its_calls_under_fresh_ids() {
        let p = sentiment();
        let call = ToolCall {
            id: "call_0".into(),
            name: "spotify_play".into(),
            arguments: r#"{"artist":"Maroon 5"}"#.into(),
        };
        let found = [
            Solved {
                input: "Play Maroon 5.".into(),
                target: String::new(),
                calls: vec![call.clone(), call.clone()],
            },
            Solved {
                input: "Tell a joke.".into(),
                target: "I cannot call anything for that.".into(),
                calls: Vec::new(),
            },
        ];
        let with = p.with_found(&found);
        let template = p.template.clone().unwrap_or_else(|| unreachable!());
        // Nearest last: the decline first, then the example with calls.
        assert_eq!(with.few_shot.len(), 3);
        assert!(with.few_shot[1].calls.is_empty());
        let shown = &with.few_shot[2];
        assert_eq!(
            shown.user,
            template.user_turn(&Input::parse("Play Maroon 5."), true)
        );
        assert_eq!(shown.assistant, "");
        let ids: Vec<&str> = shown.calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["call_found0_0", "call_found0_1"]);
        assert_eq!(shown.calls[0].arguments, call.arguments);
        let sent = with.messages(vec![ChatMessage::user("Play Adele.")]);
        let answered: Vec<&str> = sent
            .iter()
            .filter_map(|m| m.tool_call_id.as_deref())
            .collect();
        assert_eq!(answered, ids);
    }

    #[test]
    fn programs_round_trip_through_json_and_hash_stably() {
        let mut p = sentiment();
        p.technique = Some(Technique::Cascade(
            crate::technique::Cascade::parse("a>b@confidence:-0.5")
                .unwrap_or_else(|e| panic!("{e}")),
        ));
        p.memory = Some(Retrieval {
            collection: "task:x".into(),
            k: 2,
            budget_tokens: 600,
        });
        p.examples = Some(ExampleSearch {
            collection: "examples:x".into(),
            k: 3,
        });
        let json = p.canonical_json();
        let back: Program = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, p);
        assert_eq!(back.hash(), p.hash());
        assert_ne!(Program::default().hash(), p.hash());
    }
}
