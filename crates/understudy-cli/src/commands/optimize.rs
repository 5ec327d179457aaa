//! `understudy optimize --task T`: sets up the student, the teacher, the store and the graders
//! as eval does, runs `understudy_optimize`'s search and test-split proof, and writes the page
//! and the profile.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use understudy_eval::plan::EvalSection;
use understudy_optimize::{self as optimize, Bench, Budget, Header, Settings};
use understudy_tasks::strategy::{Format, Strategy, MAX_COUNT};

use crate::cli::gates::GateArgs;
use crate::cli::optimize::OptimizeArgs;
use crate::cli::store::StoreArgs;
use crate::cli::{EmbedderArgs, EvalArgs};
use crate::eval_run::{prepare, Prepared};
use crate::output;
use crate::setup;

/// The eval flags optimize's setup is made of (the rest at eval's defaults).
fn eval_args(args: &OptimizeArgs) -> EvalArgs {
    EvalArgs {
        models: None,
        strategies: None,
        formats: None,
        tasks: None,
        reference: None,
        no_reference: false,
        judge: None,
        offset: None,
        samples: None,
        sample_temperature: None,
        python: "python3".into(),
        limit: Some(args.limit),
        seed: args.seed,
        concurrency: None,
        no_cache: args.no_cache,
        no_prefix_cache: false,
        until_ci: None,
        cold: false,
        claim_lease: 30.0,
        confidence: false,
        threads: args.threads,
        quiet_machine: args.quiet_machine,
        json: false,
        report: false,
        embedder: EmbedderArgs {
            embeddings_url: None,
            embeddings_model: None,
        },
        gates: GateArgs {
            min_share: None,
            junit: None,
        },
        store: StoreArgs {
            db: args.store.db.clone(),
        },
    }
}

fn settings(args: &OptimizeArgs, student: String, teacher: String) -> Result<Settings> {
    if !(0.0..=1.5).contains(&args.target) {
        bail!(
            "--target is a share of the reference score, e.g. 0.95 (got {})",
            args.target
        );
    }
    if args.demos > MAX_COUNT {
        bail!("--demos must be 1..{MAX_COUNT} (got {})", args.demos);
    }
    if student == teacher {
        bail!("--model and --teacher are both {student}: the teacher must be another model");
    }
    let names: Vec<String> = match &args.strategies {
        Some(list) => list.clone(),
        None => optimize::DEFAULT_SEEDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let mut seeds = Vec::new();
    for name in &names {
        let s = Strategy::parse(name).with_context(|| format!("--strategies: {name:?}"))?;
        if s.raw()
            || s.memory().is_some()
            || s.knn_shot().is_some()
            || s.map_reduce()
            || s.thinking().is_some()
        {
            bail!("--strategies: {name}: optimize searches role, few-shot:K, cot and minimal-free prompts; {name} is not one of them");
        }
        seeds.push(s);
    }
    let formats = args
        .formats
        .iter()
        .map(|f| Format::parse(f).with_context(|| format!("--formats: {f:?}")))
        .collect::<Result<Vec<_>>>()?;
    if seeds.first().map(|s| s.to_string()) != Some("zero-shot".into()) {
        bail!("--strategies must start with zero-shot: the first strategy is the baseline the winner is compared with");
    }
    Ok(Settings {
        student,
        teacher,
        budget: Budget {
            calls: args.budget,
            tokens: args.budget_tokens,
        },
        minibatch: args.minibatch,
        demos: args.demos,
        bootstrap_cot: args.bootstrap_cot,
        seeds,
        formats,
    })
}

pub async fn run(config_path: Option<&Path>, args: OptimizeArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let student = args
        .model
        .clone()
        .unwrap_or_else(|| config.default_model.clone());
    let teacher = args
        .teacher
        .clone()
        .unwrap_or_else(|| config.reference_model.clone());
    let settings = settings(&args, student.clone(), teacher.clone())?;
    let section = EvalSection {
        // Both models load (and get their engines' settings) before the first call.
        models: Some(vec![student, teacher.clone()]),
        reference: Some(teacher),
        strategies: Some(vec!["zero-shot".into()]),
        formats: Some(args.formats.clone()),
        tasks: Some(vec![args.task.clone()]),
        limit: Some(args.limit),
        seed: args.seed,
        ..EvalSection::default()
    };
    let eval_args = eval_args(&args);
    let Prepared {
        plan,
        store,
        db,
        backend,
        grader,
        options,
    } = prepare(&config, section, &eval_args, None).await?;
    let bench = Bench {
        backend,
        store: &store,
        options: &options,
        grader: &grader,
        base: &plan,
    };
    let task = bench.task().def.name.clone();
    output::note(&format!(
        "optimize: task {task}, student {}, teacher {}, budget {} calls; store {db}",
        settings.student, settings.teacher, settings.budget.calls
    ));
    let progress = |line: &str| output::note(line);
    let search = optimize::search(&bench, &settings, &progress).await?;
    output::note(&format!(
        "optimize: search done ({}); measuring the winner and the comparison rows on {} test items",
        search.stopped,
        search.split.test.len()
    ));
    let verdict = optimize::prove(&bench, &settings, &search, args.target).await?;
    let profile = write_outputs(&args, &task, &settings, &search, &verdict)?;
    output::data_line(&profile);
    Ok(())
}

/// Writes the page and the profile under `--out` (default optimize/TASK) and prints the test
/// rows; returns the profile.
fn write_outputs(
    args: &OptimizeArgs,
    task: &str,
    settings: &Settings,
    search: &optimize::Search,
    verdict: &optimize::Verdict,
) -> Result<String> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("optimize").join(task));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let command: Vec<String> = std::env::args().collect();
    let header = Header {
        task,
        command: &command.join(" "),
        formats: &args.formats.join(","),
    };
    let page = optimize::render(&header, settings, search, verdict);
    let page_path = out.join("optimize.md");
    std::fs::write(&page_path, &page)
        .with_context(|| format!("writing {}", page_path.display()))?;
    let split_path = out.join("split.jsonl");
    std::fs::write(&split_path, optimize::split_jsonl(search, verdict))
        .with_context(|| format!("writing {}", split_path.display()))?;
    let profile_path = out.join("profile.toml");
    let profile = optimize::profile(verdict, task, &format!("{task}-optimized"))
        .context("the winner's test cells carry no program to write a profile from")?;
    std::fs::write(&profile_path, &profile)
        .with_context(|| format!("writing {}", profile_path.display()))?;
    for row in &verdict.rows {
        output::note(&format!(
            "  test {:>18}: {:5.1}% [{:.1}–{:.1}] n={} ({} {})",
            row.role,
            row.score.value * 100.0,
            row.score.low * 100.0,
            row.score.high * 100.0,
            row.score.n,
            row.model,
            row.candidate.strategy()
        ));
    }
    output::note(&format!(
        "optimize: wrote {} and {}",
        page_path.display(),
        profile_path.display()
    ));
    Ok(profile)
}
