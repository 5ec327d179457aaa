//! The `fields` layout: input and output as named fields between `[[ ## name ## ]]` markers,
//! the structure and the instruction stated once in the system prompt (the layout DSPy's chat
//! adapter uses), and the one reader that takes the answer field back out of a reply.

/// The marker in front of the input field.
pub const QUESTION: &str = "[[ ## question ## ]]";
/// The marker in front of the reasoning field (chain of thought only).
pub const REASONING: &str = "[[ ## reasoning ## ]]";
/// The marker in front of the answer field.
pub const ANSWER: &str = "[[ ## answer ## ]]";
/// The marker that ends a reply.
pub const COMPLETED: &str = "[[ ## completed ## ]]";

/// Tokens the markers add to a reply (answer, optional reasoning, completed), allowed on top of
/// the task's answer budget.
pub const REPLY_TOKENS: u32 = 32;

/// The system text: the fields in and out, their layout, and the instruction as the objective.
pub fn system(instruction: &str, cot: bool) -> String {
    let outputs = if cot {
        "1. `reasoning`: the steps that lead to the answer\n2. `answer`"
    } else {
        "1. `answer`"
    };
    let reasoning = if cot {
        format!("{REASONING}\n{{reasoning}}\n\n")
    } else {
        String::new()
    };
    format!(
        "Input fields:\n1. `question`\nOutput fields:\n{outputs}\n\nEvery exchange is laid out like this, with each value in place of its braces:\n\n{QUESTION}\n{{question}}\n\n{reasoning}{ANSWER}\n{{answer}}\n\n{COMPLETED}\n\nYour objective: {}",
        instruction.trim()
    )
}

/// The user turn for one input: the input field, then which output fields to write (DSPy's
/// own sentence) and what the answer must be. Worded as "Reply with the output fields:
/// `[[ ## answer ## ]]` holding …", qwen2.5-coder-0.5b wrote the answer marker and stopped on
/// 38 of 48 mmlu validation items; with DSPy's sentence and the answer's description after it,
/// on 4.
pub fn user_turn(input_text: &str, what: &str, cot: bool) -> String {
    let first = if cot {
        format!("`{REASONING}` (think step by step), then the field `{ANSWER}`")
    } else {
        format!("`{ANSWER}`")
    };
    format!(
        "{QUESTION}\n{input_text}\n\nRespond with the corresponding output fields, starting with the field {first}, and then ending with the marker for `{COMPLETED}`. The answer field holds {what}."
    )
}

/// The assistant turn of a worked example: the reasoning field under chain of thought (when
/// there is reasoning to show), the answer field, the end marker.
pub fn example_answer(target: &str, reasoning: Option<&str>, cot: bool) -> String {
    match reasoning.map(str::trim).filter(|r| cot && !r.is_empty()) {
        Some(r) => format!("{REASONING}\n{r}\n\n{ANSWER}\n{target}\n\n{COMPLETED}"),
        None => format!("{ANSWER}\n{target}\n\n{COMPLETED}"),
    }
}

/// Reads a reply: (reasoning, answer text). The answer is what follows the last answer marker,
/// up to the end marker; the reasoning is what comes before it, its own marker dropped. A reply
/// without an answer marker is all answer (up to an end marker), so the contract still reads
/// an answer written without the layout.
pub fn split(text: &str) -> (Option<String>, String) {
    let until_end = |t: &str| {
        t.split(COMPLETED)
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    match text.rfind(ANSWER) {
        Some(at) => {
            let before = text[..at].trim();
            let before = before.strip_prefix(REASONING).unwrap_or(before).trim();
            (
                Some(before.to_string()).filter(|r| !r.is_empty()),
                until_end(&text[at + ANSWER.len()..]),
            )
        }
        None => (None, until_end(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_read_from_its_answer_field() {
        assert_eq!(
            split("[[ ## answer ## ]]\nB\n\n[[ ## completed ## ]]\nextra"),
            (None, "B".to_string())
        );
        assert_eq!(
            split("[[ ## reasoning ## ]]\nIt is two.\n\n[[ ## answer ## ]]\n2"),
            (Some("It is two.".to_string()), "2".to_string())
        );
        assert_eq!(split("C"), (None, "C".to_string()));
    }

    #[test]
    fn a_worked_example_reads_back_as_written() {
        let shown = example_answer("7", Some("3 + 4."), true);
        assert_eq!(split(&shown), (Some("3 + 4.".to_string()), "7".to_string()));
        assert_eq!(
            example_answer("7", Some("3 + 4."), false),
            "[[ ## answer ## ]]\n7\n\n[[ ## completed ## ]]"
        );
    }

    #[test]
    fn the_system_text_names_the_reasoning_field_only_under_cot() {
        assert!(system("Add.", true).contains(REASONING));
        assert!(!system("Add.", false).contains(REASONING));
        assert!(system("Add.", false).ends_with("Your objective: Add."));
        assert!(user_turn("1+1", "only the final number", false)
            .starts_with("[[ ## question ## ]]\n1+1"));
    }
}
