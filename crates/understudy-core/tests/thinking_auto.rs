//! `thinking = "auto"` measured on a labelled set (tests/fixtures/thinking_auto.jsonl: 50
//! multi-step requests, 50 lookups, classifications and rewrites, some with traps such as
//! "decode", "zip code" or numbers inside a translation). Prints precision and recall of "think";
//! fails if either drops below the documented floor. The set was written to exercise the rule
//! documented in README, so it measures that the rule does what it says, not how it generalises.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use understudy_core::thinking_switch::looks_hard;
use understudy_core::{ChatMessage, ChatRequest};

#[test]
fn auto_precision_and_recall_on_the_labelled_set() {
    let text = include_str!("fixtures/thinking_auto.jsonl");
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let prompt = row["prompt"].as_str().unwrap();
        let hard = row["multi_step"].as_bool().unwrap();
        let said = looks_hard(&ChatRequest::new(
            "m".to_string(),
            vec![ChatMessage::user(prompt)],
        ));
        match (said, hard) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
        if said != hard {
            wrong.push(format!(
                "  {} {prompt}",
                if hard { "missed:" } else { "thought:" }
            ));
        }
    }
    let precision = f64::from(tp) / f64::from(tp + fp).max(1.0);
    let recall = f64::from(tp) / f64::from(tp + fn_).max(1.0);
    println!(
        "thinking=auto on {} labelled prompts: precision {precision:.2} ({tp}/{}), recall {recall:.2} ({tp}/{}), {tn} easy left alone\n{}",
        tp + fp + fn_ + tn,
        tp + fp,
        tp + fn_,
        wrong.join("\n")
    );
    assert_eq!(tp + fp + fn_ + tn, 100);
    assert!(precision >= 0.9, "precision {precision:.2}");
    assert!(recall >= 0.8, "recall {recall:.2}");
}
