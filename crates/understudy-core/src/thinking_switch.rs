//! The thinking switch: what a profile or request asks for (`on`, `off`, `auto`), how each model
//! is switched (its [`ThinkingControl`]), and the rewrite of a request that applies one to the
//! other. `auto` decides per request from a cheap difficulty signal before any reasoning token is
//! spent. Pure functions over requests; backends report their control, callers apply it.

use serde::{Deserialize, Serialize};

use crate::message::Role;
use crate::request::ChatRequest;

use crate::cot;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingMode {
    On,
    Off,
    /// Think only when the request looks hard (see [`looks_hard`]).
    Auto,
}

impl ThinkingMode {
    /// Parses `on`, `off` or `auto`, and OpenAI's `reasoning_effort` values (`minimal`/`none` →
    /// off, `low`/`medium`/`high` → on).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "low" | "medium" | "high" => Some(Self::On),
            "off" | "false" | "none" | "minimal" => Some(Self::Off),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }
}

/// How a model's reasoning is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingControl {
    /// The chat template's `enable_thinking` flag (Qwen3-style templates; vLLM/SGLang's
    /// `chat_template_kwargs`): carried as `ChatRequest::thinking`.
    TemplateFlag,
    /// Qwen3's soft switch: `/think` or `/no_think` appended to the last user turn.
    NoThinkTag,
    /// OpenAI-style servers: `reasoning_effort` (`high` for on, `minimal` for off).
    ReasoningEffort,
    /// Models without a native mode: on adds a step-by-step instruction and the answer is read
    /// after the final-answer marker; off changes nothing.
    #[default]
    CotInstruction,
}

/// What applying the switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Switched {
    /// Thinking was turned on for this request.
    pub on: bool,
    /// The answer must be split at the final-answer marker (the CoT fallback is in use).
    pub split_cot: bool,
    /// `auto` decided (and whether the request looked hard).
    pub auto: bool,
}

fn last_user(request: &mut ChatRequest) -> Option<&mut String> {
    request
        .messages
        .iter_mut()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| &mut m.content)
}

/// Rewrites `request` so the model thinks (or not) as `mode` asks, the way `control` says; when
/// thinking turns on, an explicit `max_tokens` below [`cot::MAX_TOKENS`] is raised to it. Eval
/// and the gateway both switch through here, so a served profile allows what eval measured.
pub fn apply(request: &mut ChatRequest, mode: ThinkingMode, control: ThinkingControl) -> Switched {
    let auto = mode == ThinkingMode::Auto;
    let on = match mode {
        ThinkingMode::On => true,
        ThinkingMode::Off => false,
        ThinkingMode::Auto => looks_hard(request),
    };
    let mut split_cot = false;
    if on {
        // Thinking needs room: an explicit budget is raised to the chain-of-thought one (a
        // request without one keeps the server's default).
        if let Some(budget) = request.max_tokens.as_mut() {
            *budget = (*budget).max(cot::MAX_TOKENS);
        }
    }
    match control {
        ThinkingControl::TemplateFlag => request.thinking = Some(on),
        ThinkingControl::NoThinkTag => {
            if let Some(text) = last_user(request) {
                text.push_str(if on { " /think" } else { " /no_think" });
            }
        }
        ThinkingControl::ReasoningEffort => {
            request.reasoning_effort = Some(if on { "high" } else { "minimal" }.to_string());
        }
        ThinkingControl::CotInstruction => {
            if on {
                if let Some(text) = last_user(request) {
                    text.push_str("\n\n");
                    text.push_str(&cot::instruction(None));
                    split_cot = true;
                }
            }
        }
    }
    Switched {
        on,
        split_cot,
        auto,
    }
}

pub use crate::difficulty::looks_hard;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ChatMessage;

    fn request(text: &str) -> ChatRequest {
        ChatRequest::new("m", vec![ChatMessage::user(text)])
    }

    #[test]
    fn thinking_on_raises_an_explicit_budget_only() {
        let mut r = ChatRequest {
            max_tokens: Some(16),
            ..request("q")
        };
        apply(&mut r, ThinkingMode::On, ThinkingControl::TemplateFlag);
        assert_eq!(r.max_tokens, Some(cot::MAX_TOKENS));
        let mut r = ChatRequest {
            max_tokens: Some(16),
            ..request("q")
        };
        apply(&mut r, ThinkingMode::Off, ThinkingControl::TemplateFlag);
        assert_eq!(r.max_tokens, Some(16));
        let mut r = request("q");
        apply(&mut r, ThinkingMode::On, ThinkingControl::TemplateFlag);
        assert_eq!(r.max_tokens, None);
    }

    #[test]
    fn each_control_rewrites_the_request_its_own_way() {
        let mut r = request("q");
        let s = apply(&mut r, ThinkingMode::Off, ThinkingControl::TemplateFlag);
        assert_eq!(r.thinking, Some(false));
        assert!(!s.on && !s.split_cot);

        let mut r = request("q");
        apply(&mut r, ThinkingMode::Off, ThinkingControl::NoThinkTag);
        assert_eq!(r.messages[0].content, "q /no_think");

        let mut r = request("q");
        apply(&mut r, ThinkingMode::On, ThinkingControl::ReasoningEffort);
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(r.thinking, None);

        let mut r = request("q");
        let s = apply(&mut r, ThinkingMode::On, ThinkingControl::CotInstruction);
        assert!(s.split_cot && r.messages[0].content.contains(cot::MARKER));
        let mut r = request("q");
        apply(&mut r, ThinkingMode::Off, ThinkingControl::CotInstruction);
        assert_eq!(r, request("q"));
    }

    #[test]
    fn auto_thinks_on_multi_step_requests_only() {
        for hard in [
            "A shop sells 12 apples at 3 dollars and 7 pears at 2 dollars. How much in total?",
            "Write a function that returns the nth prime and explain why it is correct.",
        ] {
            assert!(looks_hard(&request(hard)), "{hard}");
        }
        for easy in [
            "What is the capital of France?",
            "Classify the sentiment of this review: I loved it.",
            "Say hello.",
        ] {
            assert!(!looks_hard(&request(easy)), "{easy}");
        }
        let mut r = request("What is the capital of France?");
        let s = apply(&mut r, ThinkingMode::Auto, ThinkingControl::TemplateFlag);
        assert!(s.auto && !s.on && r.thinking == Some(false));
        assert_eq!(ThinkingMode::parse("minimal"), Some(ThinkingMode::Off));
        assert_eq!(ThinkingMode::parse("HIGH"), Some(ThinkingMode::On));
        assert_eq!(ThinkingMode::parse("maybe"), None);
    }
}
