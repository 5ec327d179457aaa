//! `understudy tune`: from a stored run with a reference model, per task the cheapest row
//! (lowest mean latency) whose share of the reference reaches the target with its CI lower
//! bound, and — where the run measured a light and a heavy model under the same strategy on the
//! same items — the cascade confidence threshold that meets the target at the lowest expected
//! latency. The result is a gateway profile per task, its reasons in TOML comments.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::conditions::LoadSummary;
use crate::metrics;
use crate::stats::{self, Estimate};
use crate::store::Cell;
use crate::summary::Summary;
use crate::EvalError;

/// What tune aims for.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Share of the reference's score, with the CI lower bound (e.g. 0.95).
    pub share: f64,
    /// Rows slower than this (mean ms per item) are not considered.
    pub max_latency_ms: Option<f64>,
}

/// One candidate row on one task.
#[derive(Debug, Clone)]
pub struct Choice {
    pub model: String,
    pub strategy: String,
    pub format: String,
    pub share: Estimate,
    /// The row's own score on the run's items: what the profile should score on new items.
    pub score: Estimate,
    pub latency_ms: Estimate,
    pub meets: bool,
}

/// A calibrated cascade.
#[derive(Debug, Clone)]
pub struct CascadeFit {
    pub light: String,
    pub heavy: String,
    pub strategy: String,
    pub threshold: f64,
    pub escalation: Estimate,
    pub share: Estimate,
    pub latency_ms: Estimate,
}

/// Tune's answer for one task.
#[derive(Debug, Clone)]
pub struct TaskTuning {
    pub task: String,
    pub choice: Choice,
    pub considered: Vec<Choice>,
    pub cascade: Option<CascadeFit>,
    /// Why no cascade could be calibrated, when the run could not offer one.
    pub no_cascade: Option<String>,
}

fn mean_ms(cells: &[&Cell]) -> Estimate {
    stats::bootstrap_mean(&cells.iter().map(|c| c.total_ms).collect::<Vec<_>>())
}

fn by_item<'c>(cells: &[&'c Cell]) -> HashMap<&'c str, &'c Cell> {
    cells.iter().map(|c| (c.item_id.as_str(), *c)).collect()
}

/// Calibrates `confidence:T` for light → heavy on the items both answered.
fn fit_cascade(
    light: &[&Cell],
    heavy: &[&Cell],
    target: Target,
) -> Option<(f64, Estimate, Estimate, Estimate)> {
    let heavy_by = by_item(heavy);
    let mut rows: Vec<(f64, f64, f64, f64, f64)> = Vec::new(); // conf, light s, heavy s, light ms, heavy ms
    for l in light {
        let h = heavy_by.get(l.item_id.as_str())?;
        let conf = metrics::detail(l).and_then(|d| d["mean_logprob"].as_f64())?;
        rows.push((conf, l.score, h.score, l.total_ms, h.total_ms));
    }
    if rows.len() < 5 {
        return None;
    }
    let mut thresholds: Vec<f64> = rows.iter().map(|r| r.0).collect();
    thresholds.push(f64::INFINITY);
    thresholds.sort_by(|a, b| a.total_cmp(b));
    thresholds.dedup();
    let heavy_scores: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let mut best: Option<(f64, Estimate, Estimate, Estimate)> = None;
    for t in thresholds {
        // Escalate when the light answer's mean log-probability is below t.
        let quality: Vec<f64> = rows
            .iter()
            .map(|r| if r.0 < t { r.2 } else { r.1 })
            .collect();
        let latency: Vec<f64> = rows
            .iter()
            .map(|r| if r.0 < t { r.3 + r.4 } else { r.3 })
            .collect();
        let escalated: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.0 < t))).collect();
        let share = stats::share_of_reference(&quality, &heavy_scores);
        let lat = stats::bootstrap_mean(&latency);
        if share.low.is_finite() && share.low >= target.share {
            let better = best.as_ref().is_none_or(|b| lat.value < b.3.value);
            let fits = target.max_latency_ms.is_none_or(|m| lat.value <= m);
            if better && fits {
                best = Some((t, stats::bootstrap_mean(&escalated), share, lat));
            }
        }
    }
    best
}

/// A task tune will not choose on, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub task: String,
    pub reason: String,
}

/// Tune's answer for a run: the tasks it tuned and those it refused.
#[derive(Debug, Clone, Default)]
pub struct Tuned {
    pub tunings: Vec<TaskTuning>,
    pub refused: Vec<Refusal>,
}

/// Why a share of the reference cannot choose a profile for `task`: the reference itself is
/// not significantly above the task's baseline (chance or majority class).
fn refusal(summary: &Summary, task: &str) -> Option<Refusal> {
    let reference = summary.rows.iter().find(|r| r.is_reference)?;
    let score = reference.tasks.iter().find(|t| t.task == task)?;
    let b = score.baseline.as_ref().filter(|b| !b.test.above)?;
    Some(Refusal {
        task: task.to_string(),
        reason: format!(
            "the share of the reference is {}; tune chooses on that share, so it will not choose a profile for this task. Use a reference that beats the baseline, or more items",
            crate::summary::not_meaningful(&reference.model, score.accuracy.value, b)
        ),
    })
}

/// Tunes every task of a run.
pub fn tune(summary: &Summary, cells: &[Cell], target: Target) -> Result<Tuned, EvalError> {
    let Some(reference) = summary.reference.clone() else {
        return Err(EvalError::Config(
            "tune needs a run with a reference model (eval --reference MODEL)".into(),
        ));
    };
    let mut tasks: Vec<String> = Vec::new();
    for r in &summary.rows {
        for t in &r.tasks {
            if !tasks.contains(&t.task) {
                tasks.push(t.task.clone());
            }
        }
    }
    let mut out = Tuned::default();
    for task in tasks {
        if let Some(refused) = refusal(summary, &task) {
            out.refused.push(refused);
            continue;
        }
        let mut considered = Vec::new();
        for row in &summary.rows {
            let Some(t) = row.tasks.iter().find(|t| t.task == task) else {
                continue;
            };
            let these: Vec<&Cell> = cells
                .iter()
                .filter(|c| {
                    c.model == row.model
                        && c.strategy == row.strategy
                        && c.format == row.format
                        && c.task == task
                })
                .collect();
            let share = if row.is_reference {
                Estimate {
                    value: 1.0,
                    low: 1.0,
                    high: 1.0,
                    n: these.len(),
                }
            } else {
                match &t.share_of_reference {
                    Some(s) => *s,
                    None => continue,
                }
            };
            let latency_ms = mean_ms(&these);
            let meets = share.low >= target.share
                && target.max_latency_ms.is_none_or(|m| latency_ms.value <= m);
            considered.push(Choice {
                model: row.model.clone(),
                strategy: row.strategy.clone(),
                format: row.format.clone(),
                share,
                score: t.accuracy,
                latency_ms,
                meets,
            });
        }
        let choice = considered
            .iter()
            .filter(|c| c.meets)
            .min_by(|a, b| a.latency_ms.value.total_cmp(&b.latency_ms.value))
            .or_else(|| {
                considered
                    .iter()
                    .max_by(|a, b| a.share.low.total_cmp(&b.share.low))
            })
            .cloned();
        let Some(choice) = choice else { continue };
        // Cascades: every plain model under the reference's strategy/format, escalating to the
        // reference model.
        let heavy: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.model == reference && c.task == task)
            .collect();
        let mut cascade: Option<CascadeFit> = None;
        let mut without_confidence = 0;
        let mut light_rows: BTreeMap<(String, String), Vec<&Cell>> = BTreeMap::new();
        for c in cells
            .iter()
            .filter(|c| c.task == task && c.model != reference && !c.model.starts_with("cascade:"))
        {
            light_rows
                .entry((c.model.clone(), c.strategy.clone()))
                .or_default()
                .push(c);
        }
        for ((light, strategy), light_cells) in light_rows {
            if light_cells.iter().any(|c| {
                metrics::detail(c)
                    .and_then(|d| d["mean_logprob"].as_f64())
                    .is_none()
            }) {
                without_confidence += 1;
            }
            let heavy_same: Vec<&Cell> = heavy
                .iter()
                .copied()
                .filter(|c| c.strategy == strategy || heavy.iter().all(|h| h.strategy != strategy))
                .collect();
            if let Some((threshold, escalation, share, latency_ms)) =
                fit_cascade(&light_cells, &heavy_same, target)
            {
                if cascade
                    .as_ref()
                    .is_none_or(|c| latency_ms.value < c.latency_ms.value)
                {
                    cascade = Some(CascadeFit {
                        light: light.clone(),
                        heavy: reference.clone(),
                        strategy: strategy.clone(),
                        threshold,
                        escalation,
                        share,
                        latency_ms,
                    });
                }
            }
        }
        let no_cascade = (cascade.is_none() && !heavy.is_empty() && without_confidence > 0).then(|| {
            "no cascade calibrated: the run recorded no answer confidences (run eval with --confidence to calibrate one)".to_string()
        });
        out.tunings.push(TaskTuning {
            task,
            choice,
            considered,
            cascade,
            no_cascade,
        });
    }
    Ok(out)
}

fn pct(e: &Estimate) -> String {
    format!(
        "{:.1}% [{:.1}–{:.1}] n={}",
        e.value * 100.0,
        e.low * 100.0,
        e.high * 100.0,
        e.n
    )
}

fn ms(e: &Estimate) -> String {
    format!("{:.0} ms [{:.0}–{:.0}]", e.value, e.low, e.high)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Few-shot examples and the system prompt as the run sent them (from a stored prompt).
fn prompt_parts(cells: &[Cell], t: &TaskTuning) -> (Option<String>, Vec<(String, String)>) {
    let Some(cell) = cells
        .iter()
        .find(|c| c.task == t.task && c.model == t.choice.model && c.strategy == t.choice.strategy)
    else {
        return (None, Vec::new());
    };
    let messages: Vec<serde_json::Value> =
        serde_json::from_str(&cell.prompt_json).unwrap_or_default();
    let text = |m: &serde_json::Value| m["content"].as_str().unwrap_or("").to_string();
    let system = messages.iter().find(|m| m["role"] == "system").map(text);
    let turns: Vec<&serde_json::Value> =
        messages.iter().filter(|m| m["role"] != "system").collect();
    let mut examples = Vec::new();
    // Everything before the last user turn is few-shot pairs.
    for pair in turns[..turns.len().saturating_sub(1)].chunks(2) {
        if let [u, a] = pair {
            examples.push((text(u), text(a)));
        }
    }
    (system, examples)
}

/// The profiles as TOML, with the reasons in comments.
pub fn render_profiles(tuned: &Tuned, cells: &[Cell], target: Target, run: i64) -> String {
    let tunings = &tuned.tunings;
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
        "# Load with `understudy serve --config this-file.toml`.\n"
    );
    let under_load = |model: &str, strategy: &str, format: &str, task: &str| {
        LoadSummary::of(
            cells
                .iter()
                .filter(|c| {
                    c.model == model
                        && c.strategy == strategy
                        && c.format == format
                        && c.task == task
                })
                .filter_map(|c| c.conditions.as_ref()),
        )
        .flagged()
    };
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
    for t in tunings {
        let c = &t.choice;
        let name = t
            .task
            .replace(|ch: char| !ch.is_ascii_alphanumeric() && ch != '-', "-");
        let _ = writeln!(
            out,
            "# Task {}: candidates (share of reference, mean latency):",
            t.task
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
                if under_load(&k.model, &k.strategy, &k.format, &t.task) {
                    " (latency measured under load)"
                } else {
                    ""
                },
                if k.meets { " — meets the target" } else { "" }
            );
        }
        if c.meets {
            let _ = writeln!(
                out,
                "# Chosen: the fastest that meets the target: {} {}.",
                c.model, c.strategy
            );
        } else {
            let _ = writeln!(
                out,
                "# No candidate meets the target; chosen: the highest lower bound, {} {} ({}).",
                c.model,
                c.strategy,
                pct(&c.share)
            );
        }
        let _ = writeln!(
            out,
            "# Predicted score on new items of this task: {} (the chosen row's score in run {run}).",
            pct(&c.score)
        );
        let (system, examples) = prompt_parts(cells, t);
        let _ = writeln!(out, "[profiles.{name}]");
        let measured_cascade = understudy_techniques::cascade::Cascade::parse(&c.model)
            .ok()
            .filter(|_| c.model.starts_with(understudy_techniques::cascade::PREFIX));
        match &measured_cascade {
            Some(m) => {
                let _ = writeln!(out, "model = {}", toml_string(&m.models[0]));
                let models: Vec<String> = m.models.iter().map(|x| toml_string(x)).collect();
                // The gateway's `format` signal checks JSON, which these profiles are not; eval's
                // checks that a label, letter or number can be read. It cannot be served as measured.
                let measured: Vec<&str> = c
                    .model
                    .split_once('@')
                    .map(|(_, s)| s.split('+').collect())
                    .unwrap_or_else(|| vec!["format"]);
                let signals: Vec<String> = measured
                    .iter()
                    .filter(|s| **s != "format")
                    .map(|s| toml_string(s))
                    .collect();
                if signals.len() < measured.len() {
                    let _ = writeln!(
                        out,
                        "# The measured cascade also escalated on `format` (an answer with no readable label, letter or number); the gateway checks `format` only for JSON profiles, so the served cascade escalates less often than measured."
                    );
                }
                if signals.is_empty() {
                    let _ = writeln!(
                        out,
                        "# Not served as a cascade: `format` was its only signal. Measure a cascade with self_check, agreement:K or confidence:T to serve one."
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "cascade = {{ models = [{}], signals = [{}] }}",
                        models.join(", "),
                        signals.join(", ")
                    );
                }
            }
            None => {
                let _ = writeln!(out, "model = {}", toml_string(&c.model));
            }
        }
        if c.strategy.contains("role") {
            if let Some(s) = &system {
                let _ = writeln!(out, "system = {}", toml_string(s));
            }
        }
        if c.strategy.contains("cot") {
            let _ = writeln!(out, "cot = \"on\"");
        }
        for mode in ["on", "off", "auto"] {
            if c.strategy.contains(&format!("thinking:{mode}")) {
                let _ = writeln!(out, "thinking = \"{mode}\"");
            }
        }
        if c.strategy.contains("map-reduce") {
            let _ = writeln!(out, "long_input = \"map_reduce\"");
        }
        if let Some(why) = &t.no_cascade {
            let _ = writeln!(out, "# {why}");
        }
        if let Some(f) = &t.cascade {
            let _ = writeln!(
                out,
                "# Cascade calibrated on the same items ({} {}): escalate when the light answer's mean token log-probability is below {:.3}.\n#   expected escalation {}, share of reference {}, mean latency {} (heavy alone: {}).",
                f.light,
                f.strategy,
                f.threshold,
                pct(&f.escalation),
                pct(&f.share),
                ms(&f.latency_ms),
                t.considered
                    .iter()
                    .find(|k| k.model == f.heavy)
                    .map(|k| ms(&k.latency_ms))
                    .unwrap_or_else(|| "-".into())
            );
            if measured_cascade.is_none() && (f.latency_ms.value < c.latency_ms.value || !c.meets) {
                let _ = writeln!(
                    out,
                    "cascade = {{ models = [{}, {}], signals = [\"confidence:{:.3}\"] }}",
                    toml_string(&f.light),
                    toml_string(&f.heavy),
                    f.threshold.min(0.0)
                );
            } else {
                let _ = writeln!(out, "# (not used: the chosen row alone is faster)");
            }
        }
        for (u, a) in &examples {
            let _ = writeln!(
                out,
                "[[profiles.{name}.few_shot]]\nuser = {}\nassistant = {}",
                toml_string(u),
                toml_string(a)
            );
        }
        out.push('\n');
    }
    out
}
