//! The splitter applied to a backend's event stream: answer text passes through as soon as it
//! cannot be a call; at the end the held tail becomes text and tool-call events, the finish
//! reason becomes `tool_calls` when there are calls, and the unparsed count rides on the end.

use futures::StreamExt;
use understudy_core::stream::{Delta, StreamEnd};
use understudy_core::{FinishReason, StreamEvent, ToolCallDelta, ToolUse};

use super::split::CallSplitter;
use crate::EventStream;

/// `events` with the calls for `tools` read out of its answer text; `opening` is text the prompt
/// already opened the answer with (a forced call), read as the answer's start.
pub fn split_calls(events: EventStream, tools: ToolUse, opening: Option<String>) -> EventStream {
    let mut splitter = Some(match opening {
        Some(text) => CallSplitter::after_opening(tools, &text),
        None => CallSplitter::new(tools),
    });
    Box::pin(events.flat_map(move |event| {
        let out: Vec<_> = match event {
            Ok(StreamEvent::Delta(Delta::Answer(text))) => match splitter.as_mut() {
                Some(s) => {
                    let now = s.push(&text);
                    if now.is_empty() {
                        Vec::new()
                    } else {
                        vec![Ok(StreamEvent::Delta(Delta::Answer(now)))]
                    }
                }
                None => vec![Ok(StreamEvent::Delta(Delta::Answer(text)))],
            },
            Ok(StreamEvent::End(end)) => match splitter.take() {
                Some(s) => closing(s, end),
                None => vec![Ok(StreamEvent::End(end))],
            },
            other => vec![other],
        };
        futures::stream::iter(out)
    }))
}

fn closing(
    splitter: CallSplitter,
    mut end: StreamEnd,
) -> Vec<Result<StreamEvent, crate::BackendError>> {
    let tail = splitter.finish();
    let mut out = Vec::new();
    if !tail.content.is_empty() {
        out.push(Ok(StreamEvent::Delta(Delta::Answer(tail.content))));
    }
    for (i, call) in tail.calls.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        out.push(Ok(StreamEvent::Delta(Delta::ToolCall(
            ToolCallDelta::whole(index, call),
        ))));
    }
    if !tail.calls.is_empty() && end.finish_reason == FinishReason::Stop {
        end.finish_reason = FinishReason::ToolCalls;
    }
    end.unparsed_tool_calls += tail.unparsed;
    out.push(Ok(StreamEvent::End(end)));
    out
}
