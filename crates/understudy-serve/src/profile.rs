//! Profiles: named models clients can call that wrap a backend model with a system prompt
//! (minijinja template with variables), few-shot examples, a chain-of-thought policy, a reasoning
//! policy, a JSON requirement and default sampling. Parsed strictly from `[profiles.NAME]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use understudy_core::thinking::{cot_instruction, ThinkingMode};
use understudy_core::{ChatMessage, ChatRequest, ResponseFormat, Role};
use understudy_techniques::cascade::{Cascade, Signal};
use understudy_techniques::plan_execute::PlanExecute;

use crate::memory::RetrievalSpec;

use crate::error::ServeError;

/// Chain-of-thought policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CotPolicy {
    #[default]
    Off,
    On,
}

/// What happens to reasoning text (from `<think>`, `reasoning_content` or chain-of-thought).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningPolicy {
    /// Returned apart from the answer as `reasoning_content`.
    #[default]
    Return,
    /// Dropped.
    Strip,
}

/// One few-shot example.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub user: String,
    pub assistant: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    model: String,
    system: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    few_shot: Vec<Example>,
    few_shot_file: Option<PathBuf>,
    #[serde(default)]
    cot: CotPolicy,
    #[serde(default)]
    reasoning: ReasoningPolicy,
    #[serde(default)]
    json: bool,
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<u32>,
    /// `on`, `off` or `auto` (true/false accepted).
    thinking: Option<ThinkingSetting>,
    /// Keep prompt and answer text in the request log.
    #[serde(default)]
    log_content: bool,
    /// Light model first, escalate on signals: `{ models = [...], signals = [...] }`.
    cascade: Option<RawCascade>,
    /// `"map_reduce"`: inputs too long for the context are chunked, noted and combined.
    long_input: Option<LongInput>,
    /// The context window map-reduce plans for (default: the backend's).
    context_tokens: Option<u32>,
    /// One model plans, another executes the steps: `{ planner, executor, max_steps }`.
    plan_execute: Option<RawPlanExecute>,
    /// Retrieval from a memory collection: `{ collection, k, budget_tokens }`.
    memory: Option<RetrievalSpec>,
    /// Keep each conversation's turns (by `x-conversation-id` or `user`).
    #[serde(default)]
    conversation: bool,
    /// Tokens of stored history before the oldest turns are summarised.
    history_tokens: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlanExecute {
    planner: Option<String>,
    executor: Option<String>,
    max_steps: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LongInput {
    MapReduce,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCascade {
    models: Vec<String>,
    /// Default: `["format"]` for a JSON profile; other profiles must name theirs.
    signals: Option<Vec<String>>,
}

/// A resolved profile (serialised only for its fingerprint).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    pub name: String,
    pub model: String,
    pub system: Option<String>,
    pub few_shot: Vec<Example>,
    pub cot: CotPolicy,
    pub reasoning: ReasoningPolicy,
    pub json: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_tokens: Option<u32>,
    /// The thinking switch for requests that do not set their own.
    pub thinking: Option<ThinkingMode>,
    pub log_content: bool,
    /// When set, requests run through this cascade instead of `model` alone.
    pub cascade: Option<Cascade>,
    /// Map-reduce over long inputs: `Some(None)` plans for the backend's context window,
    /// `Some(Some(n))` for `n` tokens.
    pub long_input: Option<Option<u32>>,
    /// Planner / executor (models default to the profile's).
    pub plan_execute: Option<PlanExecute>,
    /// Passages from a memory collection put into the system prompt.
    pub memory: Option<RetrievalSpec>,
    /// `Some(budget)`: conversations are kept, summarised past `budget` tokens.
    pub conversation: Option<usize>,
}

/// `thinking = "on" | "off" | "auto"`, or a boolean.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum ThinkingSetting {
    Flag(bool),
    Mode(ThinkingMode),
}

impl ThinkingSetting {
    fn mode(self) -> ThinkingMode {
        match self {
            ThinkingSetting::Flag(true) => ThinkingMode::On,
            ThinkingSetting::Flag(false) => ThinkingMode::Off,
            ThinkingSetting::Mode(m) => m,
        }
    }
}

/// Parses `[profiles]` from the config file at `source` (paths are relative to it).
pub fn parse_profiles(
    table: toml::Table,
    source: &Path,
) -> Result<BTreeMap<String, Profile>, ServeError> {
    let mut out = BTreeMap::new();
    for (name, value) in table {
        let raw: RawProfile = serde_path_to_error::deserialize(value).map_err(|e| {
            ServeError::Config(format!(
                "{}: key `profiles.{name}.{}`: {}",
                source.display(),
                e.path(),
                e.inner()
            ))
        })?;
        let mut few_shot = raw.few_shot;
        if let Some(file) = raw.few_shot_file {
            let path = if file.is_absolute() {
                file
            } else {
                source.parent().unwrap_or(Path::new(".")).join(file)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ServeError::Config(format!(
                    "profiles.{name}.few_shot_file {}: {e}",
                    path.display()
                ))
            })?;
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let example: Example = serde_json::from_str(line).map_err(|e| {
                    ServeError::Config(format!(
                        "{}:{}: expected {{\"user\": …, \"assistant\": …}}: {e}",
                        path.display(),
                        i + 1
                    ))
                })?;
                few_shot.push(example);
            }
        }
        let system = match raw.system {
            Some(template) => {
                let mut env = minijinja::Environment::new();
                env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
                let rendered = env
                    .render_str(&template, &raw.vars)
                    .map_err(|e| ServeError::Config(format!("profiles.{name}.system: {e}")))?;
                Some(rendered)
            }
            None => None,
        };
        let cascade = match raw.cascade {
            Some(c) => {
                let signals = cascade_signals(&name, c.signals, raw.json)?;
                let signals = signals
                    .iter()
                    .map(|s| Signal::parse(s))
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|signals| Cascade::new(c.models, signals))
                    .map_err(|e| ServeError::Config(format!("profiles.{name}.cascade: {e}")))?;
                Some(signals)
            }
            None => None,
        };
        let plan_execute = match raw.plan_execute {
            Some(p) => {
                let max_steps = p.max_steps.unwrap_or(4);
                if !(1..=10).contains(&max_steps) {
                    return Err(ServeError::Config(format!(
                        "profiles.{name}.plan_execute.max_steps must be 1 to 10, got {max_steps}"
                    )));
                }
                Some(PlanExecute {
                    planner: p.planner.unwrap_or_else(|| raw.model.clone()),
                    executor: p.executor.unwrap_or_else(|| raw.model.clone()),
                    max_steps,
                })
            }
            None => None,
        };
        out.insert(
            name.clone(),
            Profile {
                name,
                model: raw.model,
                system,
                few_shot,
                cot: raw.cot,
                reasoning: raw.reasoning,
                json: raw.json,
                temperature: raw.temperature,
                top_p: raw.top_p,
                max_tokens: raw.max_tokens,
                thinking: raw.thinking.map(ThinkingSetting::mode),
                log_content: raw.log_content,
                cascade,
                long_input: raw
                    .long_input
                    .map(|LongInput::MapReduce| raw.context_tokens),
                plan_execute,
                memory: raw.memory,
                conversation: raw.conversation.then(|| raw.history_tokens.unwrap_or(1500)),
            },
        );
    }
    Ok(out)
}

impl Profile {
    /// Every model this profile calls: its own, the cascade's, the planner and executor.
    pub fn models(&self) -> Vec<String> {
        let mut models = vec![self.model.clone()];
        if let Some(cascade) = &self.cascade {
            models.extend(cascade.models.iter().cloned());
        }
        if let Some(plan) = &self.plan_execute {
            models.push(plan.planner.clone());
            models.push(plan.executor.clone());
        }
        models.sort();
        models.dedup();
        models
    }

    /// A profile that changes nothing (used to carry per-request policies).
    pub fn passthrough(model: &str) -> Self {
        Self {
            name: model.to_string(),
            model: model.to_string(),
            system: None,
            few_shot: Vec::new(),
            cot: CotPolicy::Off,
            reasoning: ReasoningPolicy::Return,
            json: false,
            temperature: None,
            top_p: None,
            max_tokens: None,
            thinking: None,
            log_content: false,
            cascade: None,
            long_input: None,
            plan_execute: None,
            memory: None,
            conversation: None,
        }
    }

    /// Rewrites a client request: the backend model, the system prompt (the profile's first,
    /// then the client's), few-shot turns, the chain-of-thought instruction and defaults for
    /// whatever the client left unset.
    pub fn apply(&self, mut request: ChatRequest) -> ChatRequest {
        request.model = self.model.clone();
        let client_system: Vec<String> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.clone())
            .collect();
        let turns: Vec<ChatMessage> = request
            .messages
            .into_iter()
            .filter(|m| m.role != Role::System)
            .collect();
        let mut system_parts: Vec<String> = self.system.iter().cloned().collect();
        system_parts.extend(client_system);
        let mut messages = Vec::new();
        if !system_parts.is_empty() {
            messages.push(ChatMessage::system(system_parts.join("\n\n")));
        }
        for example in &self.few_shot {
            messages.push(ChatMessage::user(example.user.clone()));
            messages.push(ChatMessage::assistant(example.assistant.clone()));
        }
        messages.extend(turns);
        if self.cot == CotPolicy::On {
            if let Some(last) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
                last.content.push_str(&cot_instruction());
            }
        }
        request.messages = messages;
        request.temperature = request.temperature.or(self.temperature);
        request.top_p = request.top_p.or(self.top_p);
        request.max_tokens = request.max_tokens.or(self.max_tokens);
        if self.json && request.response_format == ResponseFormat::Text {
            request.response_format = ResponseFormat::JsonObject;
        }
        request
    }
}

/// A cascade's signals, refusing the one that cannot work: `format` checks that a JSON profile's
/// answer parses; on any other profile it would only check that the answer is not empty and
/// escalate almost nothing, silently.
fn cascade_signals(
    name: &str,
    signals: Option<Vec<String>>,
    json: bool,
) -> Result<Vec<String>, ServeError> {
    let alternatives = "use self_check, agreement:K or confidence:T, or set `json = true`";
    let signals = match signals {
        Some(signals) => signals,
        None if json => vec!["format".to_string()],
        None => {
            return Err(ServeError::Config(format!(
                "profiles.{name}.cascade: name its `signals`: the default, `format`, only works for a JSON profile ({alternatives})"
            )))
        }
    };
    if !json && signals.iter().any(|s| s.trim() == "format") {
        return Err(ServeError::Config(format!(
            "profiles.{name}.cascade: the `format` signal checks that a JSON answer parses, and this profile is not `json = true`: it would escalate only empty answers ({alternatives})"
        )));
    }
    Ok(signals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::thinking::FINAL_ANSWER_MARKER;

    fn profiles(text: &str) -> Result<BTreeMap<String, Profile>, ServeError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        parse_profiles(
            table["profiles"].as_table().unwrap().clone(),
            Path::new("u.toml"),
        )
    }

    #[test]
    fn profile_wraps_the_request() {
        let p = profiles(
            "[profiles.bot]\nmodel = \"m\"\nsystem = \"You help with {{ product }}.\"\nvars = { product = \"Acme\" }\ncot = \"on\"\ntemperature = 0.3\nfew_shot = [{ user = \"hi\", assistant = \"hello\" }]\n",
        )
        .unwrap();
        let bot = &p["bot"];
        let req = bot.apply(ChatRequest::new(
            "bot",
            vec![ChatMessage::system("Be brief."), ChatMessage::user("q")],
        ));
        assert_eq!(req.model, "m");
        assert_eq!(req.messages[0].content, "You help with Acme.\n\nBe brief.");
        assert_eq!(req.messages[1].content, "hi");
        assert!(
            req.messages[3].content.starts_with("q")
                && req.messages[3].content.contains(FINAL_ANSWER_MARKER)
        );
        assert_eq!(req.temperature, Some(0.3));
    }

    #[test]
    fn unknown_profile_key_is_named() {
        let err = profiles("[profiles.bot]\nmodel = \"m\"\nsytem = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("profiles.bot") && err.contains("sytem"),
            "{err}"
        );
        let err = profiles("[profiles.bot]\nmodel = \"m\"\nsystem = \"{{ missing }}\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("profiles.bot.system"), "{err}");
    }
}
