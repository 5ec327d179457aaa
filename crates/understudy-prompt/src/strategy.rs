//! Prompt strategies: `zero-shot`, `few-shot:K`, `knn-shot:K`, `cot`, `role`, `minimal`, `thinking:on|off|auto`,
//! `map-reduce`, `memory:K`, combinable with `+` — how eval builds each item's prompt program.

use std::fmt;

use understudy_core::thinking_switch::ThinkingMode;

use crate::PromptError;

/// The report's best practices as a system prompt: role and tone, decomposition, format,
/// constraints, and saying so when unsure. Users override it with `role_prompt`.
pub const DEFAULT_ROLE_PROMPT: &str = "You are a meticulous expert assistant. Read the task and the input carefully. \
Break the problem into the facts that matter before deciding. Follow the requested answer format exactly and \
add nothing else. Use only the information given plus well-established knowledge. If you are unsure, still give \
your single best answer in the requested format.";

/// The `minimal` strategy's system prompt: no role detail, steps, constraints or format.
pub const MINIMAL_PROMPT: &str = "You are a helpful assistant.";

/// One composable piece of a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    ZeroShot,
    FewShot(usize),
    /// The K examples of the task's pool whose inputs are nearest the item's (by embedding).
    KnnShot(usize),
    Cot,
    Role,
    Thinking(ThinkingMode),
    /// Inputs over the model's context go through map-reduce (instead of being cut).
    MapReduce,
    /// The K passages of the task's documents nearest the question go into the system prompt.
    Memory(usize),
    /// A one-line system prompt (the baseline `role`'s detailed prompt is compared against).
    Minimal,
    /// The item's input alone, unwrapped: for measuring a served profile, which applies its own
    /// program (`eval --models openai/PROFILE --strategies raw`).
    Raw,
}

/// Every strategy spelling [`Strategy::parse`] accepts, for help texts and error messages (one
/// list, checked against the parser by a test).
pub const SPELLINGS: &str = "zero-shot, few-shot:K (K = 1..16), knn-shot:K (K = 1..16), cot, role, minimal, thinking:on|off|auto, map-reduce, memory:K (K = 1..16), raw";

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
                Component::KnnShot(k) => format!("knn-shot:{k}"),
                Component::Cot => "cot".to_string(),
                Component::Role => "role".to_string(),
                Component::MapReduce => "map-reduce".to_string(),
                Component::Memory(k) => format!("memory:{k}"),
                Component::Minimal => "minimal".to_string(),
                Component::Raw => "raw".to_string(),
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
    pub fn parse(name: &str) -> Result<Self, PromptError> {
        let unknown = || PromptError::UnknownStrategy {
            name: name.to_string(),
            spellings: SPELLINGS,
        };
        let mut components = Vec::new();
        for part in name.split('+') {
            let part = part.trim();
            let component = match part {
                "zero-shot" | "zeroshot" => Component::ZeroShot,
                "cot" => Component::Cot,
                "role" => Component::Role,
                "minimal" => Component::Minimal,
                "raw" => Component::Raw,
                "map-reduce" => Component::MapReduce,
                "thinking:on" => Component::Thinking(ThinkingMode::On),
                "thinking:off" => Component::Thinking(ThinkingMode::Off),
                "thinking:auto" => Component::Thinking(ThinkingMode::Auto),
                _ => {
                    let counted = |prefix: &'static str| -> Option<Result<usize, PromptError>> {
                        let k = part.strip_prefix(prefix)?;
                        Some(match k.parse::<usize>() {
                            Ok(k) if (1..=MAX_COUNT).contains(&k) => Ok(k),
                            _ => Err(PromptError::BadCount {
                                name: name.to_string(),
                                prefix,
                                max: MAX_COUNT,
                                got: k.to_string(),
                            }),
                        })
                    };
                    if let Some(k) = counted("few-shot:") {
                        Component::FewShot(k?)
                    } else if let Some(k) = counted("knn-shot:") {
                        Component::KnnShot(k?)
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
        // `raw` sends the input as it is: nothing else can be added to it.
        if components.is_empty() || (components.contains(&Component::Raw) && components.len() > 1) {
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
    /// Examples to find per item by embedding, under `knn-shot:K`.
    pub fn knn_shot(&self) -> Option<usize> {
        self.components.iter().find_map(|c| match c {
            Component::KnnShot(k) => Some(*k),
            _ => None,
        })
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
    /// Whether this strategy sends the input alone (to a served profile).
    pub fn raw(&self) -> bool {
        self.components.contains(&Component::Raw)
    }

    /// Whether this strategy asks for the one-line `minimal` system prompt.
    pub fn minimal(&self) -> bool {
        self.components.contains(&Component::Minimal)
    }
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
            "knn-shot",
            "memory",
            "thinking",
            "raw",
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
            "knn-shot:4",
            "role+few-shot:1+knn-shot:2",
            "raw",
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
            "knn-shot:17",
            "knn-shot",
            "cot+cot",
            "raw+cot",
            "",
            "magic",
        ] {
            assert!(Strategy::parse(bad).is_err(), "{bad}");
        }
    }
}
