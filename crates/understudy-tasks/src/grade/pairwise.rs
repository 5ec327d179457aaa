//! The pairwise judge: a model (the reference itself by default) sees the conversation and two
//! replies, the candidate's and the reference's, under a fixed rubric, and names the better one
//! or a tie. Each pair is judged in both orders; a verdict that changes with the order counts as
//! a tie and is marked a position flip, so that the share of flips (the judge's position
//! inconsistency) can be printed beside the result. A verdict that cannot be read after a retry
//! leaves the item ungraded and counted, never scored.

use std::sync::Arc;

use serde::Serialize;
use understudy_backend::Backend;
use understudy_core::{ChatMessage, Role};
use understudy_store::Store;

use super::judge_call::JudgeModel;
use crate::EvalError;

/// The rubric every comparison is asked under.
pub const RUBRIC: &str = "You are judging two replies written by AI assistants to the same conversation. \
Decide which reply is the better next turn for the user. Judge, in this order: (1) correctness of facts, \
reasoning, calculations and code; (2) whether the reply does what the user asked and follows every \
instruction given in the conversation; (3) helpfulness and clarity. Do not prefer a reply because it is \
longer or more detailed than the request needs, and do not let the order in which the replies are shown \
affect your decision. If both are equally good, or equally bad, it is a tie. Write at most three \
sentences of reasons, then end with your verdict on its own line, exactly one of: [[A]] if reply A is \
better, [[B]] if reply B is better, [[C]] for a tie.";

fn rubric_digest() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(RUBRIC.as_bytes())[..6])
}

/// Most characters of conversation shown to the judge; older turns are cut first.
const MAX_TRANSCRIPT_CHARS: usize = 12_000;

/// Which shown reply the judge preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Preference {
    A,
    B,
    Tie,
}

/// The candidate against the reference, both orders taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Win,
    Tie,
    Loss,
}

impl Outcome {
    /// The item's score: a win 1, a tie ½, a loss 0 (the mean is the win rate, ties halved).
    pub fn score(self) -> f64 {
        match self {
            Outcome::Win => 1.0,
            Outcome::Tie => 0.5,
            Outcome::Loss => 0.0,
        }
    }
}

/// One order's question and what the judge said.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// `candidate_first` or `reference_first`.
    pub order: &'static str,
    pub verdict: Option<Preference>,
    pub attempts: u32,
    pub judgment: String,
}

/// Both orders and the outcome; `outcome` is `None` when either verdict could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub outcome: Option<Outcome>,
    /// The two orders disagreed (counted as a tie).
    pub position_flip: bool,
    pub orders: [Judged; 2],
}

/// The verdict at the end of a judgment: the last `[[A]]`, `[[B]]` or `[[C]]` in it.
pub fn read_verdict(judgment: &str) -> Option<Preference> {
    let marks = [
        ("[[A]]", Preference::A),
        ("[[B]]", Preference::B),
        ("[[C]]", Preference::Tie),
    ];
    marks
        .iter()
        .filter_map(|(mark, p)| judgment.rfind(mark).map(|at| (at, *p)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, p)| p)
}

/// The outcome of the two orders: the same verdict stands; different ones are a tie.
pub fn combine(candidate_first: Preference, reference_first: Preference) -> (Outcome, bool) {
    let first = match candidate_first {
        Preference::A => Outcome::Win,
        Preference::B => Outcome::Loss,
        Preference::Tie => Outcome::Tie,
    };
    let second = match reference_first {
        Preference::A => Outcome::Loss,
        Preference::B => Outcome::Win,
        Preference::Tie => Outcome::Tie,
    };
    if first == second {
        (first, false)
    } else {
        (Outcome::Tie, true)
    }
}

/// The conversation as the judge reads it: one labelled paragraph per turn, calls and tool
/// results included, the oldest turns cut first past the limit.
pub fn transcript(conversation: &[ChatMessage]) -> String {
    let turns: Vec<String> = conversation
        .iter()
        .map(|m| {
            let mut text = format!("{}: {}", label(m.role), m.content.trim());
            for call in &m.tool_calls {
                text.push_str(&format!("\n[calls {}({})]", call.name, call.arguments));
            }
            text
        })
        .collect();
    let mut kept = Vec::new();
    let mut used = 0;
    for turn in turns.iter().rev() {
        if used + turn.len() > MAX_TRANSCRIPT_CHARS && !kept.is_empty() {
            kept.push("[earlier turns left out]".to_string());
            break;
        }
        used += turn.len();
        kept.push(turn.clone());
    }
    kept.reverse();
    kept.join("\n\n")
}

fn label(role: Role) -> &'static str {
    match role {
        Role::System => "System",
        Role::User => "User",
        Role::Assistant => "Assistant",
        Role::Tool => "Tool result",
    }
}

/// The judge model comparisons are asked of.
pub struct PairwiseJudge {
    pub backend: Arc<dyn Backend>,
    pub model: String,
    identity: String,
}

impl PairwiseJudge {
    /// Checks the judge model answers and learns what it points at.
    pub async fn load(backend: Arc<dyn Backend>, model: &str) -> Result<Self, EvalError> {
        let identity = super::judge_call::identity_of(backend.as_ref(), model).await?;
        Ok(Self {
            backend,
            model: model.to_string(),
            identity,
        })
    }

    /// The judge's name, what it points at and the rubric (part of a run's resume key).
    pub fn identity(&self) -> String {
        format!(
            "pairwise:{}={}:{}",
            self.model,
            self.identity,
            rubric_digest()
        )
    }

    /// Compares `candidate` with `reference` as replies to `conversation`, in both orders.
    pub async fn compare(
        &self,
        store: &Store,
        conversation: &[ChatMessage],
        candidate: &str,
        reference: &str,
    ) -> Result<Compared, EvalError> {
        let shown = transcript(conversation);
        let judge = JudgeModel {
            backend: self.backend.as_ref(),
            model: &self.model,
            identity: &self.identity,
        };
        let mut orders = Vec::with_capacity(2);
        for (order, a, b) in [
            ("candidate_first", candidate, reference),
            ("reference_first", reference, candidate),
        ] {
            let user = format!(
                "<conversation>\n{shown}\n</conversation>\n\n<reply_a>\n{}\n</reply_a>\n\n<reply_b>\n{}\n</reply_b>",
                a.trim(),
                b.trim()
            );
            let asked = judge.ask(store, RUBRIC, &user, read_verdict).await?;
            orders.push(Judged {
                order,
                verdict: asked.verdict,
                attempts: asked.attempts,
                judgment: asked.judgment,
            });
        }
        let (outcome, position_flip) = match (orders[0].verdict, orders[1].verdict) {
            (Some(first), Some(second)) => {
                let (o, flip) = combine(first, second);
                (Some(o), flip)
            }
            _ => (None, false),
        };
        let [first, second]: [Judged; 2] = orders
            .try_into()
            .unwrap_or_else(|_| unreachable!("two orders are asked"));
        Ok(Compared {
            outcome,
            position_flip,
            orders: [first, second],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_verdict_mark_counts() {
        assert_eq!(read_verdict("A is wrong.\n[[B]]"), Some(Preference::B));
        assert_eq!(
            read_verdict("Not [[A]]; final: [[C]]"),
            Some(Preference::Tie)
        );
        assert_eq!(read_verdict("Reply A is better."), None);
        assert_eq!(read_verdict("[A]"), None);
    }

    #[test]
    fn orders_that_disagree_are_a_tie_and_a_flip() {
        use Preference::*;
        assert_eq!(combine(A, B), (Outcome::Win, false));
        assert_eq!(combine(B, A), (Outcome::Loss, false));
        assert_eq!(combine(Tie, Tie), (Outcome::Tie, false));
        // The judge preferred whichever came first: position bias, not a preference.
        assert_eq!(combine(A, A), (Outcome::Tie, true));
        assert_eq!(combine(A, Tie), (Outcome::Tie, true));
    }

    #[test]
    fn long_conversations_lose_their_oldest_turns_first() {
        let long = "x".repeat(MAX_TRANSCRIPT_CHARS);
        let shown = transcript(&[
            ChatMessage::user(long.clone()),
            ChatMessage::assistant("ok"),
            ChatMessage::user("last question"),
        ]);
        assert!(shown.starts_with("[earlier turns left out]"), "{shown:.80}");
        assert!(shown.ends_with("User: last question"));
    }
}
