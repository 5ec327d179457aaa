//! Long inputs (map-reduce): when a request would not fit the model's context, the longest
//! message is split into token-sized chunks with overlap (text-splitter, sized by the model's own
//! tokenizer), each chunk is turned into notes with the request restated, the notes are combined
//! (recursively while they are still too long), and the final call sees the system prompt first
//! and intact, the notes in order, and the user's request restated at the end — the report's
//! remedy for instructions dropped in long contexts.

use std::future::Future;

use serde::Serialize;
use text_splitter::{ChunkConfig, ChunkSizer, TextSplitter};
use understudy_backend::{BackendError, TokenCounter};
use understudy_core::{ChatMessage, ChatResponse, Role, ValidChatRequest};

use crate::{Called, Meter};

/// Budgets, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// The model's context window.
    pub context: usize,
    /// Tokens each note may take.
    pub note_tokens: usize,
    /// Overlap between neighbouring chunks.
    pub overlap: usize,
}

impl Budget {
    pub fn new(context: usize) -> Self {
        Self {
            context,
            note_tokens: (context / 8).clamp(48, 256),
            overlap: (context / 32).clamp(8, 64),
        }
    }
}

/// What map-reduce did (for logs and cell details).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    #[serde(skip)]
    pub response: ChatResponse,
    /// False when the request fit and went straight to the model.
    pub applied: bool,
    /// Chunks per level (the first level splits the input, later ones the notes).
    pub chunks: Vec<usize>,
    pub input_tokens: usize,
    pub cached: bool,
}

struct Sizer(TokenCounter);

impl ChunkSizer for Sizer {
    fn size(&self, chunk: &str) -> usize {
        (self.0)(chunk)
    }
}

/// Splits a message into (instructions before, the long body, instructions after): short
/// paragraphs at either end are the request, the rest is the material.
fn split_message(text: &str) -> (String, String, String) {
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let short = |p: &&&str| p.chars().count() < 400;
    let head_n = paragraphs.iter().take_while(short).count();
    if head_n == paragraphs.len() {
        return (String::new(), text.to_string(), String::new());
    }
    let tail_n = paragraphs[head_n..].iter().rev().take_while(short).count();
    let body_end = paragraphs.len() - tail_n;
    (
        paragraphs[..head_n].join("\n\n"),
        paragraphs[head_n..body_end].join("\n\n"),
        paragraphs[body_end..].join("\n\n"),
    )
}

/// Lowercase words of three or more letters.
fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// Whether at least half of a note's words occur in the part it was taken from: the notes are
/// asked to be copied, so a note that is mostly new words was invented.
fn grounded(note: &str, chunk: &str) -> bool {
    let words = content_words(note);
    if words.is_empty() {
        return false;
    }
    let source: std::collections::HashSet<String> = content_words(chunk).into_iter().collect();
    let present = words.iter().filter(|w| source.contains(*w)).count();
    present * 2 >= words.len()
}

/// Words too common to tie a sentence to a request.
const STOP: &[&str] = &[
    "what", "which", "where", "when", "whom", "whose", "that", "this", "with", "from", "about",
    "there", "their", "text", "question", "answer", "word", "words", "sentence", "please", "does",
    "have", "into", "your", "they", "them", "then", "than", "were", "been", "will", "would",
];

/// Sentences of `chunk` that share at least two distinctive words with the request, copied
/// verbatim: extraction that does not depend on the model following instructions.
fn excerpts(chunk: &str, ask: &str) -> Vec<String> {
    let keys: std::collections::HashSet<String> = content_words(ask)
        .into_iter()
        .filter(|w| w.chars().count() >= 4 && !STOP.contains(&w.as_str()))
        .collect();
    if keys.len() < 2 {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for sentence in chunk.split_inclusive(['.', '!', '?']) {
        let words: std::collections::HashSet<String> =
            content_words(sentence).into_iter().collect();
        let shared = keys.iter().filter(|k| words.contains(*k)).count();
        let sentence = sentence.trim();
        if shared >= 2 && !out.iter().any(|s| s == sentence) {
            out.push(sentence.to_string());
        }
    }
    out
}

fn total_tokens(count: &TokenCounter, messages: &[ChatMessage]) -> usize {
    // A few tokens per message for the chat template's markers.
    messages.iter().map(|m| count(&m.content) + 8).sum()
}

/// Answers `request`, through map-reduce when it does not fit `budget.context`.
pub async fn run<F, Fut>(
    budget: &Budget,
    caller: F,
    request: &ValidChatRequest,
    count: &TokenCounter,
) -> Result<Outcome, BackendError>
where
    F: Fn(ValidChatRequest) -> Fut,
    Fut: Future<Output = Called>,
{
    let input_tokens = total_tokens(count, &request.messages);
    let answer_room = request.max_tokens as usize;
    if input_tokens + answer_room <= budget.context {
        let (response, cached) = caller(request.clone()).await?;
        return Ok(Outcome {
            response,
            applied: false,
            chunks: Vec::new(),
            input_tokens,
            cached,
        });
    }
    let long_at = longest_message(request)?;
    let (head, mut body, tail) = split_message(&request.messages[long_at].content);
    let ask = the_ask(request, long_at, &head, &tail);
    let mapper = Mapper {
        request,
        system: request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .cloned()
            .collect(),
        ask: &ask,
        note_tokens: budget.note_tokens,
    };
    let fixed = total_tokens(count, &mapper.system) + count(&ask) + 96;
    let chunk_tokens = budget
        .context
        .saturating_sub(fixed + budget.note_tokens)
        .max(32);
    let mut meter = Meter::default();
    let mut levels = Vec::new();
    let sizer = Sizer(count.clone());
    let config = ChunkConfig::new(chunk_tokens)
        .with_sizer(&sizer)
        .with_overlap(budget.overlap.min(chunk_tokens / 2))
        .map_err(|e| BackendError::InvalidRequest(format!("chunking: {e}")))?;
    let splitter = TextSplitter::new(config);
    // Map, and reduce again while the notes are still too long for the final call.
    let others = total_tokens(count, &request.messages) - count(&request.messages[long_at].content);
    let final_room = budget
        .context
        .saturating_sub(others + count(&ask) + answer_room + 64);
    loop {
        let chunks: Vec<String> = splitter.chunks(&body).map(str::to_string).collect();
        levels.push(chunks.len());
        body = mapper.notes(&caller, &chunks, &mut meter).await?;
        if count(&body) <= final_room || levels.len() >= 4 || chunks.len() <= 1 {
            break;
        }
    }
    let last = final_request(request, long_at, (&head, &body, &tail), &ask);
    let (response, cached) = caller(last).await?;
    meter.add(&response, cached);
    let response = meter.settle(response);
    Ok(Outcome {
        response,
        applied: true,
        chunks: levels,
        input_tokens,
        cached: meter.all_cached,
    })
}

/// The longest non-system message: it holds the material.
fn longest_message(request: &ValidChatRequest) -> Result<usize, BackendError> {
    request
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role != Role::System)
        .max_by_key(|(_, m)| m.content.len())
        .map(|(i, _)| i)
        .ok_or_else(|| BackendError::InvalidRequest("nothing to split".into()))
}

/// The request as the user put it: the long message's own instructions, else the last user
/// turn (when the long message is not the last).
fn the_ask(request: &ValidChatRequest, long_at: usize, head: &str, tail: &str) -> String {
    let ask = [head, tail]
        .iter()
        .filter(|t| !t.trim().is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n\n");
    if !ask.is_empty() {
        return ask;
    }
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .filter(|_| long_at + 1 != request.messages.len())
        .map(|last| last.content.clone())
        .unwrap_or_default()
}

/// The map step: one call per chunk, each turning its part into notes for the request.
struct Mapper<'a> {
    request: &'a ValidChatRequest,
    system: Vec<ChatMessage>,
    ask: &'a str,
    note_tokens: usize,
}

impl Mapper<'_> {
    /// The notes of every chunk, in order, as the next level's text.
    async fn notes<F, Fut>(
        &self,
        caller: &F,
        chunks: &[String],
        meter: &mut Meter,
    ) -> Result<String, BackendError>
    where
        F: Fn(ValidChatRequest) -> Fut,
        Fut: Future<Output = Called>,
    {
        let mut notes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut messages = self.system.clone();
            messages.push(ChatMessage::user(format!(
                "Part {} of {} of a longer text:\n---\n{chunk}\n---\n\nRequest about the whole text: \"{}\"\n\nDo not answer the request yet. Copy, word for word, only the sentences of this part that are needed for it. If none are, write only: nothing relevant.",
                i + 1,
                chunks.len(),
                if self.ask.is_empty() { "summarise it" } else { self.ask },
            )));
            let mut map = self.request.clone();
            map.messages = messages;
            map.max_tokens = self.note_tokens as u32;
            let (response, cached) = caller(map).await?;
            meter.add(&response, cached);
            let note = response.answer.trim();
            tracing::debug!(part = i + 1, of = chunks.len(), "map-reduce note: {note}");
            // Parts with nothing for the request are dropped, so the combine step sees less; so
            // are notes whose words are mostly not in the part (a small model making things up)
            // and notes already taken from an earlier part.
            let mut kept: Vec<String> = excerpts(chunk, self.ask);
            if !note.is_empty()
                && !note.to_lowercase().contains("nothing relevant")
                && grounded(note, chunk)
                && !seen.contains(note)
            {
                seen.insert(note.to_string());
                kept.insert(0, note.to_string());
            }
            if !kept.is_empty() {
                notes.push(format!("Notes from part {}: {}", i + 1, kept.join(" ")));
            }
        }
        if notes.is_empty() {
            notes.push("(no part of the text had anything for the request)".into());
        }
        Ok(notes.join("\n\n"))
    }
}

/// The final call: the system prompt first and unchanged, the notes, the request restated.
fn final_request(
    request: &ValidChatRequest,
    long_at: usize,
    (head, body, tail): (&str, &str, &str),
    ask: &str,
) -> ValidChatRequest {
    let mut messages = request.messages.clone();
    let restated = if ask.is_empty() {
        String::new()
    } else {
        format!("\n\n{ask}")
    };
    messages[long_at].content = format!(
        "{head}{}The text was too long to read at once; these are notes taken from it, part by part, in order:\n\n{body}{}{restated}",
        if head.is_empty() { "" } else { "\n\n" },
        if tail.is_empty() { String::new() } else { format!("\n\n{tail}") },
    );
    let mut last = request.clone();
    last.messages = messages;
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use understudy_core::ChatRequest;

    #[test]
    fn invented_notes_are_not_grounded() {
        let chunk = "Gulls circled. The lighthouse keeper's cat is called Biscuit. Rain fell.";
        assert!(grounded(
            "The lighthouse keeper's cat is called Biscuit.",
            chunk
        ));
        assert!(grounded("Biscuit", chunk));
        assert!(!grounded(
            "The keeper's dog was named Elwes by a sailor.",
            "Rain fell on the pier."
        ));
        assert!(!grounded("", chunk));
    }

    #[test]
    fn excerpts_are_sentences_sharing_the_requests_words() {
        let chunk =
            "Gulls circled above. The lighthouse keeper's cat is called Biscuit. Rain fell.";
        let ask = "What is the name of the lighthouse keeper's cat?";
        assert_eq!(
            excerpts(chunk, ask),
            vec!["The lighthouse keeper's cat is called Biscuit."]
        );
        assert!(excerpts(chunk, "Summarize the article.").is_empty());
    }

    #[test]
    fn messages_split_into_request_and_material() {
        let long = "x".repeat(600);
        let (head, body, tail) = split_message(&format!(
            "Summarize this.\n\n{long}\n\n{long}\n\nIn one line."
        ));
        assert_eq!(head, "Summarize this.");
        assert_eq!(body.len(), 1202);
        assert_eq!(tail, "In one line.");
        let (head, body, tail) = split_message("short only");
        assert!(head.is_empty() && body == "short only" && tail.is_empty());
    }

    #[tokio::test]
    async fn long_inputs_are_mapped_then_answered_with_the_request_restated() {
        let words: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
        let text = format!(
            "You are terse.\n\n{}\n\nWhat is the first word?",
            words.join(" ")
        );
        let request = ChatRequest {
            max_tokens: Some(32),
            ..ChatRequest::new(
                "m",
                vec![ChatMessage::system("Be kind."), ChatMessage::user(text)],
            )
        }
        .validate()
        .unwrap_or_else(|e| panic!("{e}"));
        let count: TokenCounter = Arc::new(|t: &str| t.split_whitespace().count());
        let seen: Arc<Mutex<Vec<ValidChatRequest>>> = Arc::default();
        let caller = |r: ValidChatRequest| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(r.clone());
                let backend = understudy_backend::fake::FakeBackend::new();
                let mut r = r;
                r.model = "label:w100".into();
                use understudy_backend::Backend;
                Ok((backend.chat(r).await?, false))
            }
        };
        let out = run(&Budget::new(512), caller, &request, &count)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.applied && out.chunks[0] >= 4, "{:?}", out.chunks);
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for r in &seen {
            assert!(
                total_tokens(&count, &r.messages) + r.max_tokens as usize <= 512 + 64,
                "a call over budget"
            );
            assert_eq!(
                r.messages[0].content, "Be kind.",
                "system prompt first and intact"
            );
        }
        let last = seen
            .last()
            .map(|r| r.messages[1].content.clone())
            .unwrap_or_default();
        assert!(
            last.starts_with("You are terse.")
                && last.trim_end().ends_with("What is the first word?"),
            "{last}"
        );
        assert!(last.contains("Notes from part 1"));
        // Fits: one straight call.
        let small = ChatRequest {
            max_tokens: Some(32),
            ..ChatRequest::new("m", vec![ChatMessage::user("hi")])
        }
        .validate()
        .unwrap_or_else(|e| panic!("{e}"));
        let out = run(
            &Budget::new(512),
            |r: ValidChatRequest| async move {
                let backend = understudy_backend::fake::FakeBackend::new();
                use understudy_backend::Backend;
                let mut r = r;
                r.model = "echo".into();
                Ok((backend.chat(r).await?, false))
            },
            &small,
            &count,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.applied);
    }
}
