//! Profiles: named models clients can call that wrap a backend model with a prompt program
//! (`understudy_prompt::Program`: system prompt from a minijinja template with variables,
//! few-shot examples, a task template with its answer contract, chain of thought, thinking,
//! retrieval and one run-time technique) plus a reasoning policy, a JSON requirement and default
//! sampling. Parsed strictly from `[profiles.NAME]`; the program is what eval measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use understudy_core::thinking_switch::ThinkingMode;
use understudy_prompt::technique::{Cascade, MapReduce, PlanExecute, Signal};
pub use understudy_prompt::Example;
use understudy_prompt::{AnswerContract, ExampleSearch, Program, Retrieval, Technique, Template};

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
    memory: Option<Retrieval>,
    /// Few-shot examples found per request: the `k` nearest of a collection of solved examples,
    /// `{ collection, k }`.
    examples: Option<ExampleSearch>,
    /// The client's last user turn is an input: `{ instruction, format, answer = { kind, … } }`
    /// wraps it as eval wraps an item, and the answer is read with the contract.
    template: Option<Template>,
    /// Keep each conversation's turns (by `x-conversation-id` or `user`).
    #[serde(default)]
    conversation: bool,
    /// Tokens of stored history before the oldest turns are summarised.
    history_tokens: Option<usize>,
    /// Tools (an OpenAI tools JSON list) and a tool choice for requests that bring none.
    tools_file: Option<PathBuf>,
    tool_choice: Option<String>,
    /// A JSON Schema answers are held to when the request asks for no format.
    json_schema_file: Option<PathBuf>,
    /// Keep sampled requests and their answers, redacted: `{ rate, redact, patterns, fields }`.
    capture: Option<crate::capture::RawCapture>,
    /// Have a candidate answer sampled requests in the background: `{ model, rate }`.
    #[serde(default)]
    shadow: Option<crate::shadow::RawShadow>,
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
    /// What is sent and how the answer is read: the same program eval measures.
    pub program: Program,
    pub reasoning: ReasoningPolicy,
    pub json: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub log_content: bool,
    /// `Some(budget)`: conversations are kept, summarised past `budget` tokens.
    pub conversation: Option<usize>,
    /// Tools and an answer schema added to requests that bring none (see profile_shape.rs);
    /// left out of the serialized profile when there are none, so fingerprints stay as they were.
    #[serde(skip_serializing_if = "crate::profile_shape::AddedShape::is_empty")]
    pub added: crate::profile_shape::AddedShape,
    /// Traffic capture (see capture.rs); it changes nothing that is sent, so no fingerprint.
    #[serde(skip)]
    pub capture: Option<std::sync::Arc<crate::capture::Capture>>,
    /// Shadow mode (see shadow.rs); it changes nothing that is sent, so no fingerprint.
    #[serde(skip)]
    pub shadow: Option<std::sync::Arc<crate::shadow::Shadow>>,
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
            ServeError::Config(understudy_core::toml_error::describe(
                source,
                &format!("profiles.{name}"),
                &e.path().to_string(),
                e.inner().message(),
            ))
        })?;
        let profile = profile_of(name.clone(), raw, source)?;
        out.insert(name, profile);
    }
    Ok(out)
}

/// One profile from its validated table.
fn profile_of(name: String, mut raw: RawProfile, source: &Path) -> Result<Profile, ServeError> {
    let few_shot = few_shot_examples(
        &name,
        std::mem::take(&mut raw.few_shot),
        raw.few_shot_file.as_deref(),
        source,
    )?;
    let system = match &raw.system {
        Some(template) => Some(crate::system_template::render(
            source, &name, template, &raw.vars,
        )?),
        None => None,
    };
    let technique = technique_of(&name, &raw)?;
    let keys = crate::profile_shape::ShapeKeys {
        tools_file: raw.tools_file.as_deref(),
        tool_choice: raw.tool_choice.as_deref(),
        json_schema_file: raw.json_schema_file.as_deref(),
    };
    let added = crate::profile_shape::load(&name, keys, source)?;
    if let Some(examples) = &raw.examples {
        let max = understudy_prompt::strategy::MAX_COUNT;
        if !(1..=max).contains(&examples.k) {
            return Err(ServeError::Config(format!(
                "{}: key `profiles.{name}.examples.k`: {} examples asked for; give 1 to {max}",
                source.display(),
                examples.k
            )));
        }
    }
    let capture = match &raw.capture {
        Some(spec) => Some(std::sync::Arc::new(
            crate::capture::Capture::new(spec).map_err(|e| {
                ServeError::Config(format!(
                    "{}: key `profiles.{name}.capture`: {e}",
                    source.display()
                ))
            })?,
        )),
        None => None,
    };
    let shadow = match &raw.shadow {
        Some(spec) => Some(std::sync::Arc::new(
            crate::shadow::Shadow::new(spec, capture.as_ref().map(|c| c.redactor())).map_err(
                |e| {
                    ServeError::Config(format!(
                        "{}: key `profiles.{name}.shadow`: {e}",
                        source.display()
                    ))
                },
            )?,
        )),
        None => None,
    };
    let program = Program {
        system,
        few_shot,
        template: raw.template,
        cot: raw.cot == CotPolicy::On,
        thinking: raw.thinking.map(ThinkingSetting::mode),
        memory: raw.memory,
        examples: raw.examples,
        technique,
        max_tokens: raw.max_tokens,
    };
    Ok(Profile {
        name,
        model: raw.model,
        program,
        reasoning: raw.reasoning,
        json: raw.json,
        temperature: raw.temperature,
        top_p: raw.top_p,
        log_content: raw.log_content,
        conversation: raw.conversation.then(|| raw.history_tokens.unwrap_or(1500)),
        added,
        capture,
        shadow,
    })
}

/// The inline examples, then those of `few_shot_file` (JSONL, relative to the config file).
fn few_shot_examples(
    name: &str,
    mut few_shot: Vec<Example>,
    file: Option<&Path>,
    source: &Path,
) -> Result<Vec<Example>, ServeError> {
    let Some(file) = file else {
        return Ok(few_shot);
    };
    let path = crate::profile_shape::relative_to(source, file);
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
    Ok(few_shot)
}

/// The profile's one run-time technique (cascade, plan_execute or long_input), if any.
fn technique_of(name: &str, raw: &RawProfile) -> Result<Option<Technique>, ServeError> {
    let mut techniques = Vec::new();
    if let Some(c) = &raw.cascade {
        let checks_format = raw.json
            || raw
                .template
                .as_ref()
                .is_some_and(|t| !matches!(t.answer, AnswerContract::Free { .. }));
        let signals = cascade_signals(name, c.signals.clone(), checks_format)?;
        let cascade = signals
            .iter()
            .map(|s| Signal::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|signals| Cascade::new(c.models.clone(), signals))
            .map_err(|e| ServeError::Config(format!("profiles.{name}.cascade: {e}")))?;
        techniques.push(Technique::Cascade(cascade));
    }
    if let Some(p) = &raw.plan_execute {
        let max_steps = p.max_steps.unwrap_or(4);
        if !(1..=10).contains(&max_steps) {
            return Err(ServeError::Config(format!(
                "profiles.{name}.plan_execute.max_steps must be 1 to 10, got {max_steps}"
            )));
        }
        techniques.push(Technique::PlanExecute(PlanExecute {
            planner: p.planner.clone().unwrap_or_else(|| raw.model.clone()),
            executor: p.executor.clone().unwrap_or_else(|| raw.model.clone()),
            max_steps,
        }));
    }
    if let Some(LongInput::MapReduce) = raw.long_input {
        techniques.push(Technique::MapReduce(MapReduce {
            context_tokens: raw.context_tokens,
        }));
    }
    // The one rule for combining techniques (eval refuses a cascade row under map-reduce with it).
    techniques
        .into_iter()
        .try_fold(None, |one, next| Technique::combine(one, Some(next)))
        .map_err(|e| {
            ServeError::Config(format!(
                "profiles.{name}: {e} (`cascade`, `plan_execute` and `long_input` each set one; make a profile per technique)"
            ))
        })
}

impl Profile {
    /// Every model this profile calls: its own, the cascade's, the planner and executor (not
    /// its shadow candidate, which answers no client).
    pub fn models(&self) -> Vec<String> {
        let mut models = vec![self.model.clone()];
        models.extend(self.program.technique.iter().flat_map(Technique::models));
        models.sort();
        models.dedup();
        models
    }

    /// The cascade requests run through instead of `model` alone (checked when loaded).
    pub fn cascade(&self) -> Option<&Cascade> {
        match &self.program.technique {
            Some(Technique::Cascade(cascade)) => Some(cascade),
            _ => None,
        }
    }
}

/// A cascade's signals, refusing the one that cannot work: `format` checks that a JSON profile's
/// answer parses or that a template's label, choice or number contract reads an answer; on any
/// other profile it would only check that the answer is not empty and escalate almost nothing,
/// silently.
fn cascade_signals(
    name: &str,
    signals: Option<Vec<String>>,
    checks_format: bool,
) -> Result<Vec<String>, ServeError> {
    let alternatives = "use self_check, agreement:K or confidence:T, set `json = true`, or give a `template` whose answer is a label, choice or number";
    let signals = match signals {
        Some(signals) => signals,
        None if checks_format => vec!["format".to_string()],
        None => {
            return Err(ServeError::Config(format!(
                "profiles.{name}.cascade: name its `signals`: the default, `format`, only works for a JSON profile or a template with a label, choice or number answer ({alternatives})"
            )))
        }
    };
    if !checks_format && signals.iter().any(|s| s.trim() == "format") {
        return Err(ServeError::Config(format!(
            "profiles.{name}.cascade: the `format` signal checks that a JSON answer parses or that a template's contract reads an answer, and this profile is not `json = true` and has no such template: it would escalate only empty answers ({alternatives})"
        )));
    }
    Ok(signals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::cot::MARKER as FINAL_ANSWER_MARKER;
    use understudy_core::{ChatMessage, ChatRequest};

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
        let req = crate::turn::Turn::new(Some(bot.clone())).apply(ChatRequest::new(
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
    fn a_profile_with_two_techniques_is_refused_by_the_programs_one_rule() {
        let err = profiles(
            "[profiles.both]\nmodel = \"m\"\njson = true\ncascade = { models = [\"a\", \"b\"] }\nlong_input = \"map_reduce\"\n",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        // The same words eval uses for a cascade row under the map-reduce strategy.
        assert!(
            err.contains("profiles.both") && err.contains("cascade and map-reduce"),
            "{err}"
        );
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

    #[test]
    fn found_examples_are_configured_with_a_bounded_k() {
        let ok = profiles(
            "[profiles.bot]\nmodel = \"m\"\nexamples = { collection = \"examples:t\", k = 3 }\n",
        )
        .unwrap();
        assert_eq!(
            ok["bot"].program.examples,
            Some(ExampleSearch {
                collection: "examples:t".into(),
                k: 3
            })
        );
        for (k, needle) in [("0", "examples.k"), ("17", "give 1 to 16")] {
            let err = profiles(&format!(
                "[profiles.bot]\nmodel = \"m\"\nexamples = {{ collection = \"c\", k = {k} }}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(needle) && err.contains("u.toml"), "{err}");
        }
        let err = profiles("[profiles.bot]\nmodel = \"m\"\nexamples = { colection = \"c\" }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("profiles.bot.examples"), "{err}");
    }
}
