//! Whether an answer's tool calls are usable: every call-shaped output parsed, each call names an
//! offered function with arguments that are a JSON object valid against its schema, and a call
//! was made when the request required one. The cascade's `format` signal escalates on any of
//! these, as it does on an answer its validator rejects.

use serde_json::Value;
use understudy_core::{ChatResponse, ToolChoice, ToolUse};

/// What is wrong with `response`'s calls under `tools`; `None` when nothing is (or no tools
/// were offered).
pub fn call_problem(tools: &ToolUse, response: &ChatResponse) -> Option<String> {
    if tools.is_empty() {
        return None;
    }
    if response.unparsed_tool_calls > 0 {
        return Some(format!(
            "{} call-shaped output(s) did not parse",
            response.unparsed_tool_calls
        ));
    }
    for call in &response.tool_calls {
        let Some(def) = tools.find(&call.name) else {
            return Some(format!("calls {:?}, which is not offered", call.name));
        };
        let arguments = match serde_json::from_str::<Value>(&call.arguments) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Some(format!("{}: arguments are not a JSON object", call.name)),
        };
        if let Ok(schema) = jsonschema::validator_for(&def.parameters) {
            if let Some(error) = schema.iter_errors(&arguments).next() {
                return Some(format!(
                    "{}: arguments do not fit the schema ({error})",
                    call.name
                ));
            }
        }
    }
    let required = matches!(tools.choice, ToolChoice::Required | ToolChoice::Function(_));
    if required && response.tool_calls.is_empty() {
        return Some("no call, though the request requires one".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{FinishReason, Timing, ToolCall, ToolDef, Usage};

    fn answer(calls: &[(&str, &str)], unparsed: u32) -> ChatResponse {
        ChatResponse {
            model: "m".into(),
            answer: String::new(),
            reasoning: None,
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
            timing: Timing::default(),
            confidence: None,
            token_logprobs: Vec::new(),
            tool_calls: calls
                .iter()
                .map(|(name, args)| ToolCall {
                    id: "c".into(),
                    name: name.to_string(),
                    arguments: args.to_string(),
                })
                .collect(),
            unparsed_tool_calls: unparsed,
        }
    }

    #[test]
    fn calls_that_do_not_fit_are_named() {
        let tools = ToolUse {
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: None,
                parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            }],
            choice: ToolChoice::Required,
            parallel: None,
        };
        assert_eq!(
            call_problem(
                &tools,
                &answer(&[("get_weather", r#"{"city":"Paris"}"#)], 0)
            ),
            None
        );
        let problem =
            |calls: &[(&str, &str)], unparsed| call_problem(&tools, &answer(calls, unparsed));
        assert!(
            problem(&[("get_weather", r#"{"city":5}"#)], 0).is_some_and(|p| p.contains("schema"))
        );
        assert!(problem(&[("get_weather", "[]")], 0).is_some_and(|p| p.contains("JSON object")));
        assert!(problem(&[("get_time", "{}")], 0).is_some_and(|p| p.contains("not offered")));
        assert!(problem(&[], 1).is_some_and(|p| p.contains("did not parse")));
        assert!(problem(&[], 0).is_some_and(|p| p.contains("requires")));
        assert_eq!(call_problem(&ToolUse::default(), &answer(&[], 3)), None);
    }

    #[tokio::test]
    async fn a_cascade_escalates_a_call_that_does_not_fit_and_keeps_one_that_does() {
        use understudy_core::{ChatMessage, ChatRequest};
        let tools = ToolUse {
            tools: vec![ToolDef {
                name: "get_weather".into(),
                description: None,
                parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            }],
            ..ToolUse::default()
        };
        let request = ChatRequest {
            tools,
            ..ChatRequest::new("x", vec![ChatMessage::user("Weather in Paris?")])
        }
        .validate()
        .unwrap_or_else(|e| panic!("{e}"));
        let cascade = crate::cascade::Cascade::parse("cascade:light>heavy@format")
            .unwrap_or_else(|e| panic!("{e}"));
        let run = |light_args: &'static str| {
            let caller = move |r: understudy_core::ValidChatRequest| async move {
                let args = if r.model == "light" {
                    light_args
                } else {
                    r#"{"city":"Paris"}"#
                };
                Ok((answer(&[("get_weather", args)], 0), false))
            };
            let (cascade, request) = (cascade.clone(), request.clone());
            async move { crate::cascade::run(&cascade, caller, &request, &|_| true).await }
        };
        let bad = run(r#"{"town":"Paris"}"#)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad.answered_by, "heavy");
        assert_eq!(bad.steps[0].fired, vec!["format".to_string()]);
        let good = run(r#"{"city":"Lyon"}"#)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(good.answered_by, "light");
    }
}
