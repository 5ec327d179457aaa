//! Retrieved passages into a prompt: the best ones within a token budget, numbered with their
//! source so answers can cite them, appended to the system prompt after its own text (which
//! stays first and unchanged). The gateway and the retrieval-QA eval share this layout.

use understudy_core::{ChatMessage, Role};

use understudy_prompt::{PassageTrace, RetrievalTrace};

use crate::Hit;

/// The leading hits that fit in `budget_tokens` (always at least one when there are any).
pub fn within_budget<'a>(
    hits: &'a [Hit],
    budget_tokens: usize,
    count_tokens: &dyn Fn(&Hit) -> usize,
) -> &'a [Hit] {
    let mut used = 0;
    for (i, hit) in hits.iter().enumerate() {
        used += count_tokens(hit);
        if used > budget_tokens && i > 0 {
            return &hits[..i];
        }
    }
    hits
}

/// The passages as one block of text, `[n] (source#position) text` per line.
pub fn passages_block(collection: &str, hits: &[Hit]) -> String {
    let lines: Vec<String> = hits
        .iter()
        .enumerate()
        .map(|(i, hit)| {
            format!(
                "[{}] ({}#{}) {}",
                i + 1,
                hit.source,
                hit.position,
                hit.text.trim()
            )
        })
        .collect();
    format!(
        "Relevant passages from {collection} (cite them by their [number] when you use them):\n{}",
        lines.join("\n")
    )
}

/// The trace record of the passages put into a prompt (eval's cell detail and the gateway's
/// request log share it).
pub fn trace(collection: &str, hits: &[Hit]) -> RetrievalTrace {
    RetrievalTrace {
        collection: collection.to_string(),
        passages: hits
            .iter()
            .map(|h| PassageTrace {
                id: h.id.clone(),
                source: h.source.clone(),
                position: h.position,
                score: h.score,
            })
            .collect(),
    }
}

/// Appends `block` to the first system message, or puts a system message first.
pub fn put_in_system(messages: &mut Vec<ChatMessage>, block: String) {
    match messages.iter_mut().find(|m| m.role == Role::System) {
        Some(system) => system.content = format!("{}\n\n{block}", system.content),
        None => messages.insert(0, ChatMessage::system(block)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(text: &str) -> Hit {
        Hit {
            id: text.into(),
            source: "doc".into(),
            position: 0,
            score: 1.0,
            text: text.into(),
        }
    }

    #[test]
    fn budget_keeps_leading_hits_and_at_least_one() {
        let hits = vec![hit("a b c"), hit("d e"), hit("f")];
        let words = |h: &Hit| h.text.split_whitespace().count();
        assert_eq!(within_budget(&hits, 5, &words).len(), 2);
        assert_eq!(within_budget(&hits, 6, &words).len(), 3);
        assert_eq!(within_budget(&hits, 1, &words).len(), 1);
        assert!(within_budget(&[], 1, &words).is_empty());
    }

    #[test]
    fn system_prompt_stays_first_and_intact() {
        let mut messages = vec![ChatMessage::system("Be brief."), ChatMessage::user("q")];
        put_in_system(&mut messages, passages_block("hb", &[hit("fact")]));
        assert!(messages[0]
            .content
            .starts_with("Be brief.\n\nRelevant passages from hb"));
        assert!(messages[0].content.ends_with("[1] (doc#0) fact"));
        let mut bare = vec![ChatMessage::user("q")];
        put_in_system(&mut bare, "block".into());
        assert_eq!(bare[0].role, Role::System);
        assert_eq!(bare.len(), 2);
    }
}
