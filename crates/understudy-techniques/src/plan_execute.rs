//! Planner / executor: one model writes a short numbered plan, another (or the same) carries out
//! the steps one by one with the results so far in view, and a final call composes the answer.
//! Intermediate steps are returned for the log, never to the client.
//!
//! The spec (`PlanExecute`) is the prompt program's; eval model names write it
//! `plan:PLANNER>EXECUTOR` (the same model twice is fine).

use std::future::Future;

use serde::Serialize;
use understudy_backend::BackendError;
use understudy_core::{ChatMessage, Role, ValidChatRequest};

pub use understudy_prompt::technique::PlanExecute;

use crate::{Called, Meter};

/// One executed step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub step: String,
    pub result: String,
}

/// The final answer and the intermediate work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    #[serde(skip)]
    pub response: understudy_core::ChatResponse,
    pub plan: Vec<String>,
    pub steps: Vec<Step>,
    pub cached: bool,
}

/// Numbered lines (`1.`, `2)`, `Step 3:`) of a plan, at most `max`.
pub fn parse_plan(text: &str, max: usize) -> Vec<String> {
    let mut steps = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches(['*', '-', '#']).trim();
        let rest = line
            .strip_prefix("Step")
            .or_else(|| line.strip_prefix("step"))
            .unwrap_or(line)
            .trim_start();
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let after = rest[digits..].trim_start_matches(['.', ')', ':']).trim();
        if !after.is_empty() {
            steps.push(after.to_string());
        }
        if steps.len() == max {
            break;
        }
    }
    steps
}

fn ask(request: &ValidChatRequest, model: &str, text: String, max_tokens: u32) -> ValidChatRequest {
    let mut r = request.clone();
    r.model = model.to_string();
    r.max_tokens = max_tokens;
    if let Some(last) = r.messages.iter_mut().rev().find(|m| m.role == Role::User) {
        last.content = text;
    } else {
        r.messages.push(ChatMessage::user(text));
    }
    r
}

/// Plans, executes and composes.
pub async fn run<F, Fut>(
    pe: &PlanExecute,
    caller: F,
    request: &ValidChatRequest,
) -> Result<Outcome, BackendError>
where
    F: Fn(ValidChatRequest) -> Fut,
    Fut: Future<Output = Called>,
{
    let original = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_default();
    let mut meter = Meter::default();
    let (plan_reply, cached) = caller(ask(
        request,
        &pe.planner,
        planning_prompt(&original, pe.max_steps),
        160,
    ))
    .await?;
    meter.add(&plan_reply, cached);
    let mut plan = parse_plan(&plan_reply.answer, pe.max_steps);
    if plan.is_empty() {
        plan.push("Answer the request.".into());
    }
    let mut steps: Vec<Step> = Vec::new();
    for (i, step) in plan.iter().enumerate() {
        let (reply, cached) = caller(ask(
            request,
            &pe.executor,
            step_prompt(&original, &plan, &steps, i),
            request.max_tokens.min(256),
        ))
        .await?;
        meter.add(&reply, cached);
        tracing::debug!(step = i + 1, "plan step: {step} => {}", reply.answer.trim());
        steps.push(Step {
            step: step.clone(),
            result: reply.answer.trim().to_string(),
        });
    }
    let (answer, cached) = caller(ask(
        request,
        &pe.executor,
        final_prompt(&original, &steps),
        request.max_tokens,
    ))
    .await?;
    meter.add(&answer, cached);
    Ok(Outcome {
        response: meter.settle(answer),
        plan,
        steps,
        cached: meter.all_cached,
    })
}

fn planning_prompt(original: &str, max_steps: usize) -> String {
    format!(
        "{original}\n\nDo not answer yet. Write a short numbered plan of at most {max_steps} steps for answering the request above, one step per line, and nothing else."
    )
}

/// Step `i` of the plan, with the results of the steps before it.
fn step_prompt(original: &str, plan: &[String], steps: &[Step], i: usize) -> String {
    let numbered: Vec<String> = plan
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect();
    let done: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(k, s)| format!("Result of step {}: {}", k + 1, s.result))
        .collect();
    format!(
        "{original}\n\nPlan:\n{}\n\n{}Carry out step {}: {}\nReply with the result of this step only.",
        numbered.join("\n"),
        if done.is_empty() { String::new() } else { format!("{}\n\n", done.join("\n")) },
        i + 1,
        plan[i]
    )
}

/// The final call: the work done, and the request answered from it.
fn final_prompt(original: &str, steps: &[Step]) -> String {
    let work: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(k, s)| format!("{}. {}\n   Result: {}", k + 1, s.step, s.result))
        .collect();
    format!(
        "{original}\n\nWork done so far:\n{}\n\nUsing this work, write the final answer to the request above.",
        work.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_backend::fake::{CountingBackend, FakeBackend};
    use understudy_core::ChatRequest;

    #[test]
    fn plans_parse_from_numbered_lines() {
        let text = "Here is the plan:\n1. Read the numbers.\n2) Add them.\nStep 3: Check.\n- 4. Report\n5. Extra";
        assert_eq!(
            parse_plan(text, 4),
            vec!["Read the numbers.", "Add them.", "Check.", "Report"]
        );
        assert!(parse_plan("no numbers here", 4).is_empty());
        assert!(PlanExecute::parse("plan:a>b").is_ok() && PlanExecute::parse("plan:a").is_err());
    }

    #[tokio::test]
    async fn plan_steps_then_compose() {
        let backend = CountingBackend::new(FakeBackend::new());
        // The fake answers on one line, so the plan has one step.
        let pe = PlanExecute::parse("plan:label:1. Add the numbers.>label:done")
            .unwrap_or_else(|e| panic!("{e}"));
        let request = ChatRequest::new("x", vec![ChatMessage::user("What is 2+3?")])
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        let out = run(&pe, crate::direct(&backend), &request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.plan, vec!["Add the numbers."]);
        assert_eq!(out.steps.len(), 1);
        assert_eq!(out.response.answer, "done");
        // plan + 1 step + compose
        assert_eq!(backend.calls(), 3);
    }
}
