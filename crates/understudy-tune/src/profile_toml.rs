//! Tune's result as gateway profiles (TOML, reasons in comments), each written from the prompt
//! program its row's cells were sent — system prompt, few-shot turns, task template, CoT,
//! thinking, retrieval, technique — so the served profile sends what eval measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use understudy_prompt::technique::{Cascade, MapReduce, PlanExecute, Signal};
use understudy_prompt::{Program, Technique};

use super::{CascadeFit, Target, TaskTuning, Tuned};
use understudy_eval::conditions::LoadSummary;
use understudy_report::stats::Estimate;
use understudy_store::Cell;

fn pct(e: &Estimate) -> String {
    e.percent_with_n()
}

fn ms(e: &Estimate) -> String {
    format!("{:.0} ms [{:.0}–{:.0}]", e.value, e.low, e.high)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn inline<T: serde::Serialize>(value: &T) -> String {
    toml::Value::try_from(value)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The program most of a row's cells were sent (items in the few-shot pool get other examples):
/// the one tune serves for the row.
pub fn program_of(
    cells: &[Cell],
    task: &str,
    model: &str,
    strategy: &str,
    format: &str,
) -> Option<Program> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in cells.iter().filter(|c| {
        c.task == task && c.model == model && c.strategy == strategy && c.format == format
    }) {
        if let Some(p) = c.program.as_deref() {
            *counts.entry(p).or_default() += 1;
        }
    }
    let (json, _) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    serde_json::from_str(json).ok()
}

/// A system prompt as a profile's `system`, which the gateway renders as a minijinja template.
fn system_template(text: &str) -> String {
    if ["{{", "{%", "{#"].iter().any(|m| text.contains(m)) {
        format!("{{% raw %}}{text}{{% endraw %}}")
    } else {
        text.to_string()
    }
}

/// Writes `[profiles.NAME]` for `program` on `model`.
fn write_profile(out: &mut String, name: &str, model: &str, program: &Program) {
    let _ = writeln!(out, "[profiles.{name}]");
    let _ = writeln!(out, "model = {}", toml_string(model));
    if let Some(system) = &program.system {
        let _ = writeln!(out, "system = {}", toml_string(&system_template(system)));
    }
    if let Some(template) = &program.template {
        let _ = writeln!(out, "template = {}", inline(template));
    }
    if program.cot {
        let _ = writeln!(out, "cot = \"on\"");
    }
    if let Some(mode) = program.thinking {
        let _ = writeln!(out, "thinking = {}", inline(&mode));
    }
    if let Some(memory) = &program.memory {
        let _ = writeln!(out, "memory = {}", inline(memory));
    }
    if let Some(examples) = &program.examples {
        let _ = writeln!(out, "examples = {}", inline(examples));
    }
    match &program.technique {
        Some(Technique::Cascade(Cascade { models, signals })) => {
            let _ = writeln!(
                out,
                "cascade = {{ models = {}, signals = {} }}",
                inline(models),
                inline(signals)
            );
        }
        Some(Technique::PlanExecute(PlanExecute {
            planner,
            executor,
            max_steps,
        })) => {
            let _ = writeln!(
                out,
                "plan_execute = {{ planner = {}, executor = {}, max_steps = {max_steps} }}",
                toml_string(planner),
                toml_string(executor)
            );
        }
        Some(Technique::MapReduce(MapReduce { context_tokens })) => {
            let _ = writeln!(out, "long_input = \"map_reduce\"");
            if let Some(n) = context_tokens {
                let _ = writeln!(out, "context_tokens = {n}");
            }
        }
        None => {}
    }
    if let Some(n) = program.max_tokens {
        let _ = writeln!(out, "max_tokens = {n}");
    }
    // Eval answers at temperature 0 (one sample per item).
    let _ = writeln!(out, "temperature = 0.0");
    for example in &program.few_shot {
        let _ = writeln!(
            out,
            "[[profiles.{name}.few_shot]]\nuser = {}\nassistant = {}",
            toml_string(&example.user),
            toml_string(&example.assistant)
        );
        // A tool-call example's calls: without them the served example would be an empty turn.
        if !example.calls.is_empty() {
            let _ = writeln!(out, "calls = {}", inline(&example.calls));
        }
    }
}

/// `[profiles.NAME]` serving the row (`model`, `strategy`, `format`) of `task` as it was
/// measured; `None` when the row's cells carry no stored program.
pub fn row_profile(
    cells: &[Cell],
    task: &str,
    (model, strategy, format): (&str, &str, &str),
    name: &str,
) -> Option<String> {
    let program = program_of(cells, task, model, strategy, format)?;
    let mut out = String::new();
    write_profile(&mut out, name, &profile_model(model, &program), &program);
    Some(out)
}

/// The model a profile names for `program` measured as `row_model`.
fn profile_model(row_model: &str, program: &Program) -> String {
    match &program.technique {
        Some(Technique::Cascade(c)) => c.models.first().cloned().unwrap_or_default(),
        Some(Technique::PlanExecute(p)) => p.executor.clone(),
        _ => row_model.to_string(),
    }
}

fn describe_cascade(out: &mut String, t: &TaskTuning, f: &CascadeFit) {
    let (cal, held) = (&f.fit.calibration, &f.fit.held_out);
    let _ = writeln!(
        out,
        "# Cascade {} → {} ({} {}), calibrated on the {} calibration items: escalate when the light answer's mean token log-probability is below {}.\n#   calibration: escalation {}, share of reference {}, mean latency {}.\n#   held out ({} items tune did not choose on): score {}, escalation {}, share of reference {}, mean latency {} (heavy alone: {}).",
        f.light,
        f.heavy,
        f.strategy,
        f.format,
        t.halves.0,
        f.fit.threshold,
        pct(&cal.escalation),
        pct(&cal.share),
        ms(&cal.latency_ms),
        t.halves.1,
        pct(&held.score),
        pct(&held.escalation),
        pct(&held.share),
        ms(&held.latency_ms),
        t.considered
            .iter()
            .find(|k| k.model == f.heavy && k.strategy == f.strategy && k.format == f.format)
            .map(|k| ms(&k.latency_ms))
            .unwrap_or_else(|| "-".into())
    );
}

/// The profiles as TOML, with the reasons in comments.
pub fn render_profiles(tuned: &Tuned, cells: &[Cell], target: Target, run: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# understudy tune: run {run}, target {:.0}% of the reference with the 95% CI lower bound{}",
        target.share * 100.0,
        target
            .max_latency_ms
            .map(|m| format!(", mean latency ≤ {m:.0} ms"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "# Rows and thresholds are chosen on a calibration half of each task's items; the\n# predictions are measured on the other half. Load with `understudy serve --config this-file.toml`.\n"
    );
    let loaded = LoadSummary::of(cells.iter().filter_map(|c| c.conditions.as_ref()));
    if loaded.flagged() {
        let _ = writeln!(
            out,
            "# WARNING: latency was measured under load ({}): \"fastest\" below may reflect\n\
             # what else ran on the machine, not the setup. Rerun the eval with --quiet-machine.\n",
            loaded.describe()
        );
    }
    for r in &tuned.refused {
        let _ = writeln!(out, "# Task {}: not tuned: {}.\n", r.task, r.reason);
    }
    if let Some(j) = &tuned.joint {
        let _ = writeln!(
            out,
            "# Chosen jointly (--jointly) over {}: one row for all, {} {} {} — {}.\n",
            j.tasks.join(", "),
            j.model,
            j.strategy,
            j.format,
            if j.meets_all {
                "the fastest (mean latency over the tasks) that meets the target on every task"
            } else {
                "no row meets the target on every task; the highest worst-task lower bound"
            }
        );
    }
    for t in &tuned.tunings {
        describe_choice(&mut out, t, cells, tuned.joint.is_some());
        let program = served_program(&mut out, t, cells);
        let name = t
            .task
            .replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-', "-");
        match program {
            Some((row_model, program)) => write_profile(
                &mut out,
                &name,
                &profile_model(&row_model, &program),
                &program,
            ),
            None => {
                let _ = writeln!(
                    out,
                    "# Not written: run {run} predates stored prompt programs, so the profile cannot be written as measured. Re-run the same `understudy eval` (answers come from the cache) and tune the new run."
                );
            }
        }
        out.push('\n');
    }
    out
}

/// Whether a row's latency was measured under load on a task.
fn under_load(cells: &[Cell], model: &str, strategy: &str, format: &str, task: &str) -> bool {
    LoadSummary::of(
        cells
            .iter()
            .filter(|c| {
                c.model == model && c.strategy == strategy && c.format == format && c.task == task
            })
            .filter_map(|c| c.conditions.as_ref()),
    )
    .flagged()
}

/// The candidates tune weighed for a task, the one it chose and its held-out prediction.
fn describe_choice(out: &mut String, t: &TaskTuning, cells: &[Cell], joint: bool) {
    let c = &t.choice;
    let _ = writeln!(
        out,
        "# Task {}: candidates on the {} calibration items (share of reference, mean latency):",
        t.task, t.halves.0
    );
    for k in &t.considered {
        let _ = writeln!(
            out,
            "#   {} {} {}: {}, {}{}{}",
            k.model,
            k.strategy,
            k.format,
            pct(&k.share),
            ms(&k.latency_ms),
            if under_load(cells, &k.model, &k.strategy, &k.format, &t.task) {
                " (latency measured under load)"
            } else {
                ""
            },
            if k.meets { " — meets the target" } else { "" }
        );
    }
    if joint {
        let _ = writeln!(
            out,
            "# Chosen: the joint row, {} {} {} ({} here{}).",
            c.model,
            c.strategy,
            c.format,
            pct(&c.share),
            if c.meets {
                ", meets the target"
            } else {
                ", misses the target on this task"
            }
        );
    } else if c.meets {
        let _ = writeln!(
            out,
            "# Chosen: the fastest that meets the target: {} {} {}.",
            c.model, c.strategy, c.format
        );
    } else {
        let _ = writeln!(
            out,
            "# No candidate meets the target; chosen: the highest lower bound, {} {} {} ({}).",
            c.model,
            c.strategy,
            c.format,
            pct(&c.share)
        );
    }
    let _ = writeln!(
        out,
        "# Predicted score on new items of this task: {} (the chosen row on the {} held-out items tune did not choose on; share of reference there {}).",
        pct(&c.predicted_score),
        t.halves.1,
        pct(&c.predicted_share)
    );
    if let Some(why) = &t.no_cascade {
        let _ = writeln!(out, "# {why}");
    }
}

/// The program the profile serves, with the model its row ran: the cascade when it is faster
/// than the chosen row on the calibration items (or the row misses the target), else the row.
fn served_program(out: &mut String, t: &TaskTuning, cells: &[Cell]) -> Option<(String, Program)> {
    let c = &t.choice;
    let mut served_cascade = None;
    if let Some(f) = &t.cascade {
        describe_cascade(out, t, f);
        if f.fit.calibration.latency_ms.value < c.latency_ms.value || !c.meets {
            let _ = writeln!(
                out,
                "# Served: this cascade (faster than the chosen row on the calibration items). Predicted score on new items: {} (the cascade on the held-out items).",
                pct(&f.fit.held_out.score)
            );
            served_cascade = Some(f);
        } else {
            let _ = writeln!(out, "# (not used: the chosen row alone is faster)");
        }
    }
    match served_cascade {
        Some(f) => program_of(cells, &t.task, &f.light, &f.strategy, &f.format).map(|mut p| {
            p.technique = Some(Technique::Cascade(Cascade {
                models: vec![f.light.clone(), f.heavy.clone()],
                signals: vec![Signal::Confidence {
                    min_mean_logprob: f.fit.threshold,
                }],
            }));
            (f.light.clone(), p)
        }),
        None => program_of(cells, &t.task, &c.model, &c.strategy, &c.format)
            .map(|p| (c.model.clone(), p)),
    }
}
