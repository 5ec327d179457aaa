//! Splits a streamed answer into text that can go out at once and a tail that may be a tool call,
//! held until the answer ends and then read by [`find_calls`]. Text goes out as soon as it cannot
//! be the start of a call: an answer that opens with JSON, a fence or a call marker is held whole;
//! later, a `<tool_call>` tag or a fence holds the rest. The unary path feeds the whole answer in
//! one piece, so streamed and unary answers are split the same way.

use serde_json::Value;
use understudy_core::tools::new_call_id;
use understudy_core::{ToolCall, ToolUse};

use super::parse::{find_calls, PREFIX_MARKERS};

/// Where a call may begin at the start of an answer.
const START_OPENERS: [&str; 6] = [
    "<tool_call>",
    "{",
    "[",
    "```",
    PREFIX_MARKERS[0],
    PREFIX_MARKERS[1],
];
/// Where a call may begin later in an answer.
const MID_OPENERS: [&str; 2] = ["<tool_call>", "```"];

/// The end of a split answer: the held text that is not a call, the calls, and the unparsed count.
#[derive(Debug, Default, PartialEq)]
pub struct Tail {
    pub content: String,
    pub calls: Vec<ToolCall>,
    pub unparsed: u32,
}

/// Splits one answer for one request's tools.
pub struct CallSplitter {
    tools: ToolUse,
    text: String,
    /// Bytes of `text` already given out.
    emitted: usize,
    /// Where the held tail starts, once a call may have begun.
    held_from: Option<usize>,
    /// Whether the answer's start has been seen to be plain text.
    started_plain: bool,
}

impl CallSplitter {
    pub fn new(tools: ToolUse) -> Self {
        Self {
            tools,
            text: String::new(),
            emitted: 0,
            held_from: None,
            started_plain: false,
        }
    }

    /// A splitter for an answer the prompt opened with `opening` (a forced call): held from the
    /// start, the opening read as its first text.
    pub fn after_opening(tools: ToolUse, opening: &str) -> Self {
        Self {
            text: opening.to_string(),
            held_from: Some(0),
            ..Self::new(tools)
        }
    }

    /// Takes the next piece; returns the text that can go out now (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        self.text.push_str(piece);
        if self.held_from.is_some() {
            return String::new();
        }
        if !self.started_plain {
            let start = self.text.trim_start();
            if start.is_empty() {
                return String::new();
            }
            if START_OPENERS.iter().any(|o| start.starts_with(o)) {
                self.held_from = Some(0);
                return String::new();
            }
            if START_OPENERS.iter().any(|o| o.starts_with(start)) {
                return String::new();
            }
            self.started_plain = true;
        }
        let unsent = &self.text[self.emitted..];
        let cut = match MID_OPENERS.iter().filter_map(|o| unsent.find(o)).min() {
            Some(at) => {
                self.held_from = Some(self.emitted + at);
                at
            }
            None => unsent.len() - partial_opener_len(unsent),
        };
        let out = unsent[..cut].to_string();
        self.emitted += cut;
        out
    }

    /// The answer has ended: what was held, read for calls.
    pub fn finish(self) -> Tail {
        let held = &self.text[self.emitted..];
        if held.is_empty() {
            return Tail::default();
        }
        let found = find_calls(held, &self.tools);
        let mut calls: Vec<ToolCall> = found
            .calls
            .into_iter()
            .map(|(name, args)| ToolCall {
                id: new_call_id(),
                name,
                arguments: Value::Object(args).to_string(),
            })
            .collect();
        if self.tools.parallel == Some(false) {
            calls.truncate(1);
        }
        // Text before a call keeps its spacing; a call-free held tail is given back untouched.
        let content = if calls.is_empty() && found.unparsed == 0 {
            held.to_string()
        } else if self.emitted == 0 {
            found.content
        } else {
            let kept = found.content;
            if kept.is_empty() {
                kept
            } else {
                format!("\n{kept}")
            }
        };
        Tail {
            content,
            calls,
            unparsed: found.unparsed,
        }
    }
}

/// How many bytes at the end of `text` could be the start of a mid-answer opener.
fn partial_opener_len(text: &str) -> usize {
    MID_OPENERS
        .iter()
        .flat_map(|o| (1..o.len()).map(move |k| &o[..k]))
        .filter(|p| text.ends_with(p))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::ToolDef;

    fn tools() -> ToolUse {
        ToolUse {
            tools: vec![ToolDef {
                name: "add".into(),
                description: None,
                parameters: serde_json::json!({"type": "object"}),
            }],
            ..ToolUse::default()
        }
    }

    fn split(pieces: &[&str]) -> (String, Tail) {
        let mut s = CallSplitter::new(tools());
        let mut out = String::new();
        for p in pieces {
            out.push_str(&s.push(p));
        }
        (out, s.finish())
    }

    #[test]
    fn plain_text_streams_at_once_and_is_untouched() {
        let mut s = CallSplitter::new(tools());
        assert_eq!(s.push("The "), "The ");
        assert_eq!(s.push("answer is 4 <"), "answer is 4 ");
        assert_eq!(s.push("3 and more."), "<3 and more.");
        assert_eq!(s.finish(), Tail::default());
    }

    #[test]
    fn a_call_in_pieces_is_held_and_read_at_the_end() {
        let (out, tail) = split(&[
            "<tool",
            "_call>\n{\"name\": \"add\",",
            " \"arguments\": {\"a\": 1}}\n</tool_call>",
        ]);
        assert_eq!(out, "");
        assert_eq!(tail.calls.len(), 1);
        assert_eq!(tail.calls[0].arguments, "{\"a\":1}");
        assert!(tail.calls[0].id.starts_with("call_"));
        let (out, tail) = split(&[
            "Sure. ",
            "<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call>",
        ]);
        assert_eq!((out.as_str(), tail.content.as_str()), ("Sure. ", ""));
        assert_eq!(tail.calls.len(), 1);
    }

    #[test]
    fn unary_and_streamed_answers_split_alike() {
        let text = "{\"name\": \"add\", \"arguments\": {\"a\": 2}}";
        let (whole_out, whole) = split(&[text]);
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let (stream_out, streamed) = split(&refs);
        assert_eq!(whole_out, stream_out);
        assert_eq!(whole.calls[0].arguments, streamed.calls[0].arguments);
    }

    #[test]
    fn held_json_that_is_not_a_call_is_given_back_whole() {
        let (out, tail) = split(&["{\"answer\": ", "4}"]);
        assert_eq!(out, "");
        assert_eq!(tail.content, "{\"answer\": 4}");
        assert!(tail.calls.is_empty() && tail.unparsed == 0);
    }
}
