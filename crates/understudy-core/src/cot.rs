//! Chain of thought: the one instruction text (for the `cot` strategy, a profile's `cot = "on"`
//! and the thinking switch's fallback), and the one splitter that reads the answer after the
//! last final-answer marker (any case) — used by eval's scoring, the gateway's unary answers
//! and, through [`StreamSplitter`], its streamed ones.

/// The line a chain-of-thought answer must end with; the text before it is reasoning.
pub const MARKER: &str = "Final answer:";

/// Tokens allowed for chain-of-thought reasoning.
pub const MAX_TOKENS: u32 = 320;

/// The step-by-step instruction. `what` says what the answer is ("only the final number"); a
/// prompt without an answer contract leaves it out.
pub fn instruction(what: Option<&str>) -> String {
    match what {
        Some(what) => format!(
            "Think step by step, then write the final line as \"{MARKER} <answer>\" where <answer> is {what}."
        ),
        None => format!("Think step by step, then write the final line as \"{MARKER} <answer>\"."),
    }
}

/// Where the last marker starts, matching ASCII case-insensitively (the marker is ASCII, so
/// byte offsets stay those of `text`).
fn last_marker(text: &str) -> Option<usize> {
    let needle = MARKER.as_bytes();
    let bytes = text.as_bytes();
    if bytes.len() < needle.len() {
        return None;
    }
    (0..=bytes.len() - needle.len())
        .rev()
        .find(|&at| bytes[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

/// Splits a chain-of-thought answer at the last final-answer marker into (reasoning, answer),
/// both trimmed; without a marker the whole text is the answer.
pub fn split(text: &str) -> (Option<String>, String) {
    match last_marker(text) {
        Some(at) => (
            Some(text[..at].trim().to_string()).filter(|r| !r.is_empty()),
            text[at + MARKER.len()..].trim().to_string(),
        ),
        None => (None, text.trim().to_string()),
    }
}

/// The answer part of a chain-of-thought text (see [`split`]), borrowed.
pub fn answer(text: &str) -> &str {
    match last_marker(text) {
        Some(at) => text[at + MARKER.len()..].trim(),
        None => text.trim(),
    }
}

/// A piece of a streamed chain-of-thought answer, routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Reasoning(String),
    Answer(String),
}

/// Splits a streamed text the way [`split`] splits the whole of it: reasoning is sent as it
/// comes, and what follows a marker is held back until the stream ends (a later marker would
/// turn it into reasoning), so the streamed answer equals the unary one.
#[derive(Debug, Default)]
pub struct StreamSplitter {
    /// Everything received.
    all: String,
    /// How much of `all` went out as reasoning.
    sent: usize,
}

impl StreamSplitter {
    /// Takes the next text delta; returns the reasoning now known to be reasoning.
    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        self.all.push_str(text);
        // Reasoning is everything before the last marker seen; when there is none, everything
        // except a tail that could be the start of one.
        let safe = match last_marker(&self.all) {
            Some(at) => at,
            None => {
                let keep = (1..MARKER.len())
                    .rev()
                    .find(|&n| {
                        self.all.len() >= n
                            && self.all.is_char_boundary(self.all.len() - n)
                            && MARKER.as_bytes()[..n]
                                .eq_ignore_ascii_case(&self.all.as_bytes()[self.all.len() - n..])
                    })
                    .unwrap_or(0);
                self.all.len() - keep
            }
        };
        self.reasoning_up_to(safe)
    }

    fn reasoning_up_to(&mut self, end: usize) -> Vec<Piece> {
        if end <= self.sent {
            return Vec::new();
        }
        let piece = self.all[self.sent..end].to_string();
        self.sent = end;
        vec![Piece::Reasoning(piece)]
    }

    /// The stream ended: the rest of the reasoning, then the answer. Without a marker the whole
    /// text is the answer, as in [`split`] (what went out as reasoning on the way was a guess
    /// the stream could not take back).
    pub fn finish(&mut self) -> (Vec<Piece>, String) {
        match last_marker(&self.all) {
            Some(at) => {
                let mut pieces = self.reasoning_up_to(at);
                let answer = self.all[at + MARKER.len()..].trim().to_string();
                if !answer.is_empty() {
                    pieces.push(Piece::Answer(answer.clone()));
                }
                (pieces, answer)
            }
            None => {
                let answer = self.all.trim().to_string();
                (vec![Piece::Answer(answer.clone())], answer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_follows_the_last_marker_in_any_case() {
        assert_eq!(
            split("2+2 is 4.\nFinal answer: 4"),
            (Some("2+2 is 4.".into()), "4".into())
        );
        assert_eq!(
            split("so\nfinal answer: 4"),
            (Some("so".into()), "4".into())
        );
        assert_eq!(
            split("Final answer: 3? no.\nFINAL ANSWER: 4"),
            (Some("Final answer: 3? no.".into()), "4".into())
        );
        assert_eq!(split("just 4"), (None, "just 4".into()));
        assert_eq!(answer("İ think\nfinal answer: 5"), "5");
    }

    fn streamed(chunks: &[&str]) -> (String, String) {
        let mut s = StreamSplitter::default();
        let mut reasoning = String::new();
        let mut answer = String::new();
        let mut take = |pieces: Vec<Piece>| {
            for p in pieces {
                match p {
                    Piece::Reasoning(t) => reasoning.push_str(&t),
                    Piece::Answer(t) => answer.push_str(&t),
                }
            }
        };
        for c in chunks {
            take(s.push(c));
        }
        let (pieces, whole) = s.finish();
        take(pieces);
        assert_eq!(answer, whole);
        (reasoning, answer)
    }

    #[test]
    fn streaming_splits_as_the_whole_text_splits() {
        for text in [
            "2+2 is 4.\nFinal answer: 4",
            "so\nfinal answer: 4",
            "Final answer: 3? no.\nFINAL ANSWER: 4",
            "just 4",
            "Final answer:",
            "ends with Final ans",
            "é Final answer: ü",
        ] {
            let (reasoning, answer) = split(text);
            // Every way of cutting the text into two or three chunks streams to the same split.
            let cuts: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for &a in &cuts {
                for &b in cuts.iter().filter(|&&b| b >= a) {
                    let (r, ans) = streamed(&[&text[..a], &text[a..b], &text[b..]]);
                    assert_eq!(ans, answer, "{text:?} cut at {a},{b}");
                    if reasoning.is_some() {
                        assert_eq!(r.trim(), reasoning.as_deref().unwrap_or(""), "{text:?}");
                    }
                }
            }
        }
    }
}
