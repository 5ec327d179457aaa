//! `tune` on a synthetic run where the answers are known: it picks the fastest row that reaches
//! the target with its CI lower bound, calibrates the cascade threshold on the light model's
//! confidence, and the profiles it prints load unchanged as gateway profiles. A reference that
//! does not beat the task's baseline gives no share to choose on, and tune says so. Ten items
//! split 5 and 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use understudy_report::summary::summarise;
use understudy_serve::profile::parse_profiles;
use understudy_store::{Cell, RunInfo};
use understudy_tune::{render_profiles, tune, Target};

fn cell(model: &str, strategy: &str, item: usize, score: f64, ms: f64, logprob: f64) -> Cell {
    Cell {
        model: model.into(),
        strategy: strategy.into(),
        format: "plain".into(),
        task: "toy".into(),
        item_id: format!("i{item}"),
        prompt_json: r#"[{"role":"user","content":"ex q"},{"role":"assistant","content":"ex a"},{"role":"user","content":"q"}]"#.into(),
        answer: "a".into(),
        reasoning: None,
        // Every item has its own gold answer, so no constant answer scores (baseline 1/60).
        parsed: Some(format!("a{item}")),
        gold: format!("a{item}"),
        score,
        format_failure: false,
        ttft_ms: ms,
        total_ms: ms,
        decode_tps: None,
        prompt_tokens: 10,
        completion_tokens: 1,
        cached_prompt_tokens: 0,
        cached: false,
        detail: Some(format!("{{\"mean_logprob\": {logprob}}}")),
        conditions: None,
        program: Some(program(strategy)),
    }
}

/// The program a toy row was sent: a label template, with one example under few-shot.
fn program(strategy: &str) -> String {
    let few_shot = if strategy == "few-shot:1" {
        r#","few_shot":[{"user":"ex q","assistant":"ex a"}]"#
    } else {
        ""
    };
    format!(
        r#"{{"system":"Be exact.{{{{ not a variable }}}}"{few_shot},"template":{{"instruction":"Name it.","format":"plain","answer":{{"kind":"label","labels":["a","b"]}}}},"max_tokens":8}}"#
    )
}

#[test]
fn tune_picks_calibrates_and_emits_loadable_profiles() {
    let mut cells = Vec::new();
    // 240 items, about 120 per half: a perfect share's 95% lower bound clears 0.95 only from
    // about 75 items on (Tang's score interval), so smaller halves could not meet the target.
    for i in 0..240 {
        // The heavy model is always right and slow; the light one is right when it is confident.
        let confident = i % 3 != 0;
        cells.push(cell("heavy", "zero-shot", i, 1.0, 1000.0, -0.05));
        cells.push(cell(
            "light",
            "zero-shot",
            i,
            if confident { 1.0 } else { 0.0 },
            200.0,
            if confident { -0.1 } else { -1.5 },
        ));
        cells.push(cell(
            "light",
            "few-shot:1",
            i,
            if confident { 1.0 } else { 0.0 },
            250.0,
            -0.2,
        ));
    }
    let run = RunInfo {
        id: 7,
        plan_key: "k".into(),
        created_at: "now".into(),
        finished_at: None,
        status: "finished".into(),
        plan_json: r#"{"reference": "heavy", "strategies": ["zero-shot", "few-shot:1"], "formats": ["plain"]}"#.into(),
        cells: cells.len() as i64,
    };
    let summary = summarise(run, &cells);
    let target = Target {
        share: 0.95,
        max_latency_ms: None,
    };
    let tunings = tune(&summary, &cells, target).unwrap();
    assert!(tunings.refused.is_empty(), "{:?}", tunings.refused);
    let t = &tunings.tunings[0];
    // Light alone reaches only two thirds of the reference: the heavy row is chosen …
    assert_eq!(t.choice.model, "heavy");
    // … and a cascade escalating the unconfident third keeps the quality at a lower latency.
    let fit = &t.cascade.as_ref().expect("a calibrated cascade").fit;
    assert!(
        fit.threshold > -1.5 && fit.threshold <= -0.1,
        "{}",
        fit.threshold
    );
    // Calibrated on one half, measured on the other: each escalates its own unconfident items.
    let (cal, held) = t.halves;
    assert_eq!(cal + held, 240);
    assert!((cal as i64 - 120).abs() <= 25, "{cal} / {held}");
    for (half, outcome) in [
        ("calibration", &fit.calibration),
        ("held out", &fit.held_out),
    ] {
        assert_eq!(outcome.share.value, 1.0, "{half}");
        assert!(outcome.latency_ms.value < 700.0, "{half}");
        assert!(
            (outcome.escalation.value - 1.0 / 3.0).abs() < 0.15,
            "{half}"
        );
    }
    // The prediction comes from the items tune did not choose on.
    assert_eq!(t.choice.predicted_score.n, held);

    let text = render_profiles(&tunings, &cells, target, 7);
    let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let profiles = parse_profiles(
        table["profiles"].as_table().unwrap().clone(),
        Path::new("tuned.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let toy = &profiles["toy"];
    let cascade = toy.cascade().expect("the cascade is in the profile");
    assert_eq!(cascade.models, vec!["light", "heavy"]);
    // Exactly the simulated cascade: one confidence signal at the calibrated threshold, on the
    // light row's own program (its system prompt, template and limits; no examples).
    assert_eq!(
        toy.program.technique,
        Some(understudy_prompt::Technique::Cascade(
            understudy_prompt::technique::Cascade {
                models: vec!["light".into(), "heavy".into()],
                signals: vec![understudy_prompt::technique::Signal::Confidence {
                    min_mean_logprob: fit.threshold
                }],
            }
        ))
    );
    let light: understudy_prompt::Program = serde_json::from_str(&program("zero-shot")).unwrap();
    assert_eq!(toy.program.system, light.system, "{text}");
    assert_eq!(toy.program.template, light.template);
    assert_eq!(toy.program.max_tokens, Some(8));
    assert!(toy.program.few_shot.is_empty());
    assert!(text.contains("Predicted score"), "{text}");
    // The profile serves the cascade, so its prediction is the cascade's held-out score.
    assert!(
        text.contains(&format!(
            "Served: this cascade (faster than the chosen row on the calibration items). Predicted score on new items: {}",
            understudy_report::stats::mean_interval(&vec![1.0; held]).percent_with_n()
        )),
        "{text}"
    );
    // Impossible targets say so instead of pretending.
    let strict = Target {
        share: 1.5,
        max_latency_ms: None,
    };
    let text = render_profiles(&tune(&summary, &cells, strict).unwrap(), &cells, strict, 7);
    assert!(text.contains("No candidate meets the target"), "{text}");
    assert!(!text.contains("under load"), "{text}");

    // The light rows timed beside other work: tune says its "fastest" may be contention.
    let loaded: Vec<Cell> = cells
        .into_iter()
        .map(|mut c| {
            c.conditions = Some(understudy_eval::conditions::Conditions {
                other_cores: if c.model == "light" { 1.5 } else { 0.0 },
                cores: 2,
                load1: 2.0,
                in_flight: 1,
                threads: Some(2),
                local: true,
                batched: None,
            });
            c
        })
        .collect();
    let text = render_profiles(
        &tune(&summary, &loaded, target).unwrap(),
        &loaded,
        target,
        7,
    );
    assert!(
        text.contains("# WARNING: latency was measured under load"),
        "{text}"
    );
    assert!(
        text.contains("light zero-shot plain") && text.contains("(latency measured under load)"),
        "{text}"
    );
    assert!(toml::from_str::<toml::Table>(&text).is_ok(), "{text}");
}

#[test]
fn tune_refuses_a_task_whose_reference_does_not_beat_the_baseline() {
    // Balanced binary labels; every model answers "positive" for every item.
    let mut cells = Vec::new();
    for i in 0..40 {
        let gold = if i % 2 == 0 { "positive" } else { "negative" };
        for model in ["heavy", "light"] {
            let mut c = cell(model, "zero-shot", i, 0.0, 100.0, -0.1);
            c.gold = gold.into();
            c.parsed = Some("positive".into());
            c.score = f64::from(u8::from(gold == "positive"));
            cells.push(c);
        }
    }
    let run = RunInfo {
        id: 8,
        plan_key: "k".into(),
        created_at: "now".into(),
        finished_at: None,
        status: "finished".into(),
        plan_json: r#"{"reference": "heavy", "strategies": ["zero-shot"], "formats": ["plain"], "tasks": [{"name": "toy", "answer": {"kind": "label", "labels": ["negative", "positive"]}}]}"#.into(),
        cells: cells.len() as i64,
    };
    let summary = summarise(run, &cells);
    let light = &summary
        .rows
        .iter()
        .find(|r| r.model == "light")
        .unwrap()
        .tasks[0];
    assert!(light.share_of_reference.is_none(), "{light:?}");
    assert!(light.share_not_meaningful.is_some());
    let target = Target {
        share: 0.95,
        max_latency_ms: None,
    };
    let tuned = tune(&summary, &cells, target).unwrap();
    assert!(tuned.tunings.is_empty());
    assert_eq!(tuned.refused.len(), 1);
    let reason = &tuned.refused[0].reason;
    assert!(
        reason.contains("not meaningful") && reason.contains("NOT above the"),
        "{reason}"
    );
    let text = render_profiles(&tuned, &cells, target, 8);
    assert!(text.contains("# Task toy: not tuned:"), "{text}");
    assert!(!text.contains("[profiles."), "{text}");
}

#[test]
fn ten_items_are_split_five_and_five_and_tuned() {
    // Ten items whose id hashes once put 9 of them in one half (and tune refused the task).
    let mut cells = Vec::new();
    for i in 0..10 {
        cells.push(cell("heavy", "zero-shot", i, 1.0, 1000.0, -0.05));
        cells.push(cell("light", "zero-shot", i, 1.0, 200.0, -0.1));
    }
    let run = RunInfo {
        id: 9,
        plan_key: "k".into(),
        created_at: "now".into(),
        finished_at: None,
        status: "finished".into(),
        plan_json: r#"{"reference": "heavy", "strategies": ["zero-shot"], "formats": ["plain"]}"#
            .into(),
        cells: cells.len() as i64,
    };
    let summary = summarise(run, &cells);
    let target = Target {
        share: 0.5,
        max_latency_ms: None,
    };
    let tuned = tune(&summary, &cells, target).unwrap();
    assert!(tuned.refused.is_empty(), "{:?}", tuned.refused);
    assert_eq!(tuned.tunings[0].halves, (5, 5));
}
