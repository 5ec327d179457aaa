//! The teacher's reflective rewrite (GEPA-style): it reads the instruction the local model was
//! given, the task's own instruction, and a minibatch of inputs the local model got wrong — its
//! answer, the correct answer, and the teacher's own reasoning where the teacher got it right —
//! and writes a new instruction. The rewrite is read from between `<prompt>` tags.

use understudy_core::ChatMessage;

use crate::measure::Answer;

/// Longest instruction kept from a rewrite (a longer reply is not an instruction).
pub const MAX_INSTRUCTION_CHARS: usize = 4000;

const SYSTEM: &str = "You improve the system prompt of a small language model so that it answers a task correctly. \
You are shown the system prompt it had, the task, and inputs it answered wrong together with the correct answers. \
Work out what the model misunderstood or lacked, then write a better system prompt: state the task, the knowledge or \
step-by-step strategy that leads to the correct answers, the mistakes to avoid, and the exact answer format. \
Write general guidance that helps on new inputs of the same task. Never copy these inputs, their options or their answers into \
the prompt, and do not answer them: the prompt is used on other inputs.";

/// `text` trimmed, cut to `chars` characters with an ellipsis when longer.
pub(crate) fn clip(text: &str, chars: usize) -> String {
    let t = text.trim();
    if t.chars().count() <= chars {
        t.to_string()
    } else {
        format!("{}…", t.chars().take(chars).collect::<String>())
    }
}

/// The messages asking the teacher for a new instruction. `failures` are the local model's
/// wrong answers; `teacher` the teacher's own answers to the same items, where it was right.
pub fn rewrite_request(
    current: Option<&str>,
    task_instruction: &str,
    failures: &[Answer],
    teacher: &[Answer],
) -> Vec<ChatMessage> {
    let mut user = format!(
        "The system prompt the model had:\n<prompt>\n{}\n</prompt>\n\nThe task, as given to the model with each input:\n{}\n\n",
        current.unwrap_or("(none)"),
        task_instruction.trim()
    );
    for (i, f) in failures.iter().enumerate() {
        user.push_str(&format!(
            "### Input {}\n{}\n\nThe model answered:\n{}\n\nThe correct answer: {}\n",
            i + 1,
            clip(&understudy_tasks::strategy::input(&f.item).text(), 1500),
            clip(&f.answer, 600),
            f.item.target
        ));
        if let Some(t) = teacher
            .iter()
            .find(|t| t.item.id == f.item.id && t.score >= 1.0)
        {
            user.push_str(&format!(
                "A stronger model reasoned correctly:\n{}\n",
                clip(t.reasoning.as_deref().unwrap_or(&t.answer), 800)
            ));
        }
        user.push('\n');
    }
    user.push_str("Reply with the new system prompt only, between <prompt> and </prompt>.");
    vec![ChatMessage::system(SYSTEM), ChatMessage::user(user)]
}

/// The instruction in the teacher's reply: the text between the last `<prompt>` and the
/// `</prompt>` after it (or the end), trimmed; `None` when that is empty or too long.
pub fn read_rewrite(reply: &str) -> Option<String> {
    let start = reply.rfind("<prompt>").map(|i| i + "<prompt>".len());
    let body = match start {
        Some(s) => {
            let rest = &reply[s..];
            rest.find("</prompt>").map_or(rest, |e| &rest[..e])
        }
        None => reply,
    };
    let body = body.trim();
    (!body.is_empty() && body.chars().count() <= MAX_INSTRUCTION_CHARS && body != "(none)")
        .then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rewrite_is_read_between_the_tags() {
        assert_eq!(
            read_rewrite("Thinking...\n<prompt>\nBe careful.\n</prompt>\nDone").as_deref(),
            Some("Be careful.")
        );
        assert_eq!(
            read_rewrite("<prompt> Unclosed").as_deref(),
            Some("Unclosed")
        );
        assert_eq!(
            read_rewrite("No tags at all").as_deref(),
            Some("No tags at all")
        );
        assert_eq!(read_rewrite("<prompt>\n</prompt>"), None);
        assert_eq!(read_rewrite(&"x".repeat(MAX_INSTRUCTION_CHARS + 1)), None);
    }
}
