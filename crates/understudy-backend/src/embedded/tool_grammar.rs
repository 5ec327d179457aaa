//! A grammar that holds a tool call to the offered functions and each one's argument schema, for
//! models that write calls in the tagged `<tool_call>` form. Under `tool_choice: auto` it is
//! lazy: free text stays free until the model writes `<tool_call>`, then the call must parse.
//! A forced call (`required` or a named function) opens the answer with `<tool_call>\n` and the
//! grammar holds the rest from the first token. The schemas go through llama.cpp's own
//! JSON-Schema-to-grammar conversion; a schema it cannot convert leaves the call unconstrained
//! (read and counted as before), never refused.

use serde_json::Value;
use understudy_core::{ToolChoice, ToolUse};

use crate::tool_calls::{forced_call_opening, CallForm};

/// Rule names of ours, unlike any llama.cpp derives from a schema's property names.
const CALL_RULE: &str = "us-call";
const TAGGED_RULE: &str = "us-tagged-call";

/// How a request with tools is generated: the text the answer is opened with, and the grammar.
#[derive(Debug, Default, PartialEq)]
pub struct ToolPlan {
    pub opening: Option<String>,
    pub grammar: Option<CallGrammar>,
}

#[derive(Debug, PartialEq)]
pub struct CallGrammar {
    pub gbnf: String,
    /// Off until the model writes this text (`None`: on from the first token).
    pub trigger: Option<&'static str>,
}

/// The plan for `tools` on a model that writes calls in `form`; without `constrain` (the
/// `tool_call_grammar = false` setting) a forced call is still opened, but nothing holds it.
pub fn plan(tools: &ToolUse, form: CallForm, constrain: bool) -> ToolPlan {
    let fallback = || ToolPlan {
        opening: forced_call_opening(tools, form),
        grammar: None,
    };
    if !constrain || !tools.may_call() || form != CallForm::Tagged {
        return fallback();
    }
    let Some(call) = call_rules(tools) else {
        return fallback();
    };
    let more = if tools.parallel == Some(false) {
        String::new()
    } else {
        format!(" (\"\\n\" {TAGGED_RULE})*")
    };
    let tagged = format!("{TAGGED_RULE} ::= \"<tool_call>\\n\" {CALL_RULE} \"\\n</tool_call>\"\n");
    match tools.choice {
        ToolChoice::Auto => ToolPlan {
            opening: None,
            grammar: Some(CallGrammar {
                gbnf: format!("root ::= {TAGGED_RULE}{more}\n{tagged}{call}"),
                trigger: Some("<tool_call>"),
            }),
        },
        _ => ToolPlan {
            opening: Some("<tool_call>\n".into()),
            grammar: Some(CallGrammar {
                gbnf: format!("root ::= {CALL_RULE} \"\\n</tool_call>\"{more}\n{tagged}{call}"),
                trigger: None,
            }),
        },
    }
}

/// `us-call ::= …`: one JSON call object, `{"name": N, "arguments": …}` with N an offered (or
/// the named) function and its arguments valid against that function's schema.
fn call_rules(tools: &ToolUse) -> Option<String> {
    let branches: Vec<String> = tools
        .tools
        .iter()
        .filter(|t| match &tools.choice {
            ToolChoice::Function(name) => &t.name == name,
            _ => true,
        })
        .map(|t| {
            format!(
                r#"{{"type":"object","properties":{{"name":{{"const":{}}},"arguments":{}}},"required":["name","arguments"],"additionalProperties":false}}"#,
                Value::String(t.name.clone()),
                t.parameters
            )
        })
        .collect();
    let schema = match branches.as_slice() {
        [] => return None,
        [one] => one.clone(),
        many => format!(r#"{{"anyOf":[{}]}}"#, many.join(",")),
    };
    let grammar = match llama_cpp_2::json_schema_to_grammar(&schema) {
        Ok(g) => g,
        Err(e) => {
            tracing::debug!(
                "tool schemas not converted to a grammar ({e}); calls are read unconstrained"
            );
            return None;
        }
    };
    let mut renamed = false;
    let lines: Vec<String> = grammar
        .lines()
        .map(|line| match line.strip_prefix("root ::=") {
            Some(rest) if !renamed => {
                renamed = true;
                format!("{CALL_RULE} ::={rest}")
            }
            _ => line.to_string(),
        })
        .collect();
    renamed.then(|| lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::ToolDef;

    fn tools(choice: ToolChoice) -> ToolUse {
        ToolUse {
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: None,
                parameters: serde_json::json!({"type": "object",
                    "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            }],
            choice,
            parallel: None,
        }
    }

    #[test]
    fn auto_is_lazy_and_a_forced_call_is_opened_and_held() {
        let auto = plan(&tools(ToolChoice::Auto), CallForm::Tagged, true);
        let g = auto.grammar.unwrap();
        assert_eq!(g.trigger, Some("<tool_call>"));
        assert!(g.gbnf.starts_with("root ::= us-tagged-call"), "{}", g.gbnf);
        assert!(g.gbnf.contains("us-call ::="), "{}", g.gbnf);
        assert!(g.gbnf.contains("get_weather"), "{}", g.gbnf);
        assert_eq!(auto.opening, None);
        let named = plan(
            &tools(ToolChoice::Function("get_weather".into())),
            CallForm::Tagged,
            true,
        );
        assert_eq!(named.opening.as_deref(), Some("<tool_call>\n"));
        assert_eq!(named.grammar.unwrap().trigger, None);
        // No tools to call, or a form without tags: no grammar.
        assert_eq!(
            plan(&tools(ToolChoice::None), CallForm::Tagged, true),
            ToolPlan::default()
        );
        assert!(plan(&tools(ToolChoice::Auto), CallForm::Bare, true)
            .grammar
            .is_none());
        // Switched off: a forced call is still opened (as without a grammar), nothing holds it.
        let unheld = plan(&tools(ToolChoice::Required), CallForm::Tagged, false);
        assert_eq!(
            unheld.opening,
            forced_call_opening(&tools(ToolChoice::Required), CallForm::Tagged)
        );
        assert!(unheld.grammar.is_none());
    }
}
