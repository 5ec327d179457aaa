//! `understudy shadow PROFILE`: the profile's shadow pairs judged (text answers by the pairwise
//! judge in both orders, calls matched exactly), and the report with its verdict.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};
use serde_json::Value;
use understudy_backend::Backend;
use understudy_core::ChatMessage;
use understudy_report::shadow::{report, Pair};
use understudy_store::ShadowRow;
use understudy_tasks::grade::PairwiseJudge;

use crate::cli::shadow::ShadowArgs;
use crate::output;
use crate::setup::{self, EmbeddedOverrides};

pub async fn run(config_path: Option<&Path>, args: ShadowArgs) -> Result<()> {
    if !(0.0..0.5).contains(&args.margin) {
        bail!(
            "--margin {} must be a share from 0 to below 0.5",
            args.margin
        );
    }
    let config = setup::load_config(config_path)?;
    let section = setup::serve_section(&config)?;
    let location =
        setup::store_location(args.store.db.as_deref(), &config, section.log_db.as_deref());
    let store = setup::open_existing(&location, "start `understudy serve` first").await?;
    let since = understudy_core::since::since_bound(&args.since)
        .map_err(|e| anyhow::anyhow!("--since {e}"))?;
    let rows = store.log.shadows(&args.profile, &since).await?;
    let Some(first) = rows.first() else {
        bail!(
            "no shadow pairs for profile {} since {since}: is `shadow` set on the profile, and has it had traffic?",
            args.profile
        );
    };
    let judge_model = args
        .judge
        .clone()
        .unwrap_or_else(|| first.reference_model.clone());
    // Judge calls go one at a time: one sequence per embedded model is enough.
    let overrides = EmbeddedOverrides {
        default_parallel: Some(1),
        ..EmbeddedOverrides::default()
    };
    let router = setup::build_router(&config, &overrides)?;
    let backend: Arc<dyn Backend> = Arc::new(router);
    let judge = PairwiseJudge::load(backend, &judge_model).await?;
    let mut pairs = Vec::with_capacity(rows.len());
    let mut failed = 0;
    for row in &rows {
        failed += usize::from(row.candidate.is_none());
        pairs.push(judged(&store, &judge, row).await?);
    }
    let r = report(&pairs, args.margin);
    output::data_line(&format!(
        "profile {} since {since}: {} shadow pairs, {} (candidate) against {} (reference); {failed} candidate failures counted as losses; {} without a verdict, left out",
        args.profile,
        rows.len(),
        first.candidate_model,
        first.reference_model,
        r.unjudged
    ));
    print_report(&r, &judge_model);
    Ok(())
}

/// The report's lines after the first.
fn print_report(r: &understudy_report::shadow::ShadowReport, judge_model: &str) {
    output::data_line(&format!(
        "  judge {judge_model}, each text pair in both orders; calls matched exactly"
    ));
    let pct = |e: &understudy_report::stats::Estimate| {
        format!(
            "{:.0}% [{:.0}–{:.0}]",
            e.value * 100.0,
            e.low * 100.0,
            e.high * 100.0
        )
    };
    output::data_line(&format!(
        "  wins {} · ties {} · losses {} (n = {})",
        pct(&r.wins),
        pct(&r.ties),
        pct(&r.losses),
        r.judged
    ));
    output::data_line(&format!(
        "  position flips (counted as ties): {}",
        pct(&r.flips)
    ));
    output::data_line(&format!(
        "  win rate, ties half: {:.3} [{:.3}, {:.3}] ({})",
        r.win_rate.value, r.win_rate.low, r.win_rate.high, r.win_rate.method
    ));
    let [(rp50, rp95), (cp50, cp95)] = r.latency;
    output::data_line(&format!(
        "  latency p50 / p95: reference {rp50:.0} / {rp95:.0} ms · candidate {cp50:.0} / {cp95:.0} ms"
    ));
    let tokens = |t: Option<f64>| t.map_or("-".into(), |t| format!("{t:.0}"));
    output::data_line(&format!(
        "  answer tokens (mean): reference {} · candidate {}",
        tokens(r.tokens[0]),
        tokens(r.tokens[1])
    ));
    output::data_line(&format!("  verdict: {}", r.verdict));
    output::note(
        "jobs dropped because the shadow queue was full are counted on the gateway's /metrics (understudy_shadow_total{outcome=\"dropped\"}), not stored",
    );
}

/// One pair judged: calls compared exactly (the same calls: a tie; else a loss), text by the
/// judge; a candidate that failed loses.
async fn judged(
    store: &understudy_store::Store,
    judge: &PairwiseJudge,
    row: &ShadowRow,
) -> Result<Pair> {
    let pair = |score: Option<f64>, flip: bool| Pair {
        score,
        position_flip: flip,
        reference_ms: row.reference_ms,
        candidate_ms: row.candidate_ms,
        reference_tokens: row.reference_tokens,
        candidate_tokens: row.candidate_tokens,
    };
    let Some(candidate) = &row.candidate else {
        return Ok(pair(Some(0.0), false));
    };
    let answer = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let (reference, candidate) = (answer(&row.reference), answer(candidate));
    let calls = |a: &Value| -> Vec<(String, Value)> {
        let mut calls: Vec<(String, Value)> = a["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let args = c["arguments"].as_str().unwrap_or("{}");
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    serde_json::from_str(args).unwrap_or(Value::Null),
                )
            })
            .collect();
        calls.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.to_string().cmp(&y.1.to_string())));
        calls
    };
    let (ref_calls, cand_calls) = (calls(&reference), calls(&candidate));
    if !ref_calls.is_empty() || !cand_calls.is_empty() {
        let same = ref_calls == cand_calls;
        return Ok(pair(Some(if same { 0.5 } else { 0.0 }), false));
    }
    let messages: Vec<ChatMessage> =
        serde_json::from_value(answer(&row.request)["messages"].clone()).unwrap_or_default();
    let text = |a: &Value| a["content"].as_str().unwrap_or_default().to_string();
    let compared = judge
        .compare(store, &messages, &text(&candidate), &text(&reference))
        .await?;
    Ok(pair(
        compared.outcome.map(|o| o.score()),
        compared.position_flip,
    ))
}
