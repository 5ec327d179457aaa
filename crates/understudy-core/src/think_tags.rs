//! Splits streamed text into answer and reasoning at `<think>`/`</think>` tags, even when a tag is
//! cut across chunks. Backends whose models inline their reasoning use it; nothing else belongs here.

use crate::stream::Delta;

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Streaming splitter of `<think>…</think>` blocks.
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    in_think: bool,
    pending: String,
}

impl ThinkSplitter {
    /// A splitter for a stream that begins inside a reasoning block (the prompt already opened it).
    pub fn starting_in_thought() -> Self {
        Self {
            in_think: true,
            pending: String::new(),
        }
    }

    /// Feeds a chunk; returns the deltas that are certain so far.
    pub fn push(&mut self, chunk: &str) -> Vec<Delta> {
        self.pending.push_str(chunk);
        let mut out = Vec::new();
        loop {
            let tag = if self.in_think { CLOSE } else { OPEN };
            if let Some(at) = self.pending.find(tag) {
                let before: String = self.pending[..at].to_string();
                self.emit(&mut out, before);
                self.pending.drain(..at + tag.len());
                self.in_think = !self.in_think;
                continue;
            }
            // Keep back the longest suffix that could still become the tag.
            let keep = partial_suffix_len(&self.pending, tag);
            let cut = self.pending.len() - keep;
            let ready: String = self.pending[..cut].to_string();
            self.pending.drain(..cut);
            self.emit(&mut out, ready);
            return out;
        }
    }

    /// Flushes whatever is held back at the end of the stream.
    pub fn finish(&mut self) -> Vec<Delta> {
        let rest = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        self.emit(&mut out, rest);
        out
    }

    fn emit(&self, out: &mut Vec<Delta>, text: String) {
        if text.is_empty() {
            return;
        }
        out.push(if self.in_think {
            Delta::Reasoning(text)
        } else {
            Delta::Answer(text)
        });
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_suffix_len(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            text.len() >= n
                && text.is_char_boundary(text.len() - n)
                && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str], splitter: ThinkSplitter) -> (String, String) {
        let mut s = splitter;
        let mut deltas: Vec<Delta> = chunks.iter().flat_map(|c| s.push(c)).collect();
        deltas.extend(s.finish());
        let mut answer = String::new();
        let mut reasoning = String::new();
        for d in deltas {
            match d {
                Delta::Answer(t) => answer.push_str(&t),
                Delta::Reasoning(t) => reasoning.push_str(&t),
                Delta::ToolCall(_) | Delta::Logprobs(_) => {}
            }
        }
        (answer, reasoning)
    }

    #[test]
    fn splits_tags_cut_across_chunks() {
        let (a, r) = run(
            &["<th", "ink>2+2", " is 4</th", "ink>The answer", " is 4."],
            ThinkSplitter::default(),
        );
        assert_eq!(r, "2+2 is 4");
        assert_eq!(a, "The answer is 4.");
    }

    #[test]
    fn plain_text_passes_through_including_lone_angle_brackets() {
        let (a, r) = run(&["a < b and <", "b> c <t"], ThinkSplitter::default());
        assert_eq!(a, "a < b and <b> c <t");
        assert_eq!(r, "");
    }

    #[test]
    fn stream_may_begin_inside_a_thought() {
        let (a, r) = run(&["hmm</think>ok"], ThinkSplitter::starting_in_thought());
        assert_eq!((a.as_str(), r.as_str()), ("ok", "hmm"));
    }

    #[test]
    fn multibyte_text_near_a_partial_tag_is_safe() {
        let (a, _) = run(&["привет<", "/думай>"], ThinkSplitter::default());
        assert_eq!(a, "привет</думай>");
    }
}
