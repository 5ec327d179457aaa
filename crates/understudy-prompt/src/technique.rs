//! The run-time technique a program runs, as typed values: the cascade (its models and escalation
//! signals), planner/executor, and map-reduce over long inputs; how eval's model specs
//! (`cascade:A>B@signals`, `plan:P>E`) write them; and the one rule for combining them (a program
//! runs at most one). Running them is `understudy-techniques`' `run`, shared by eval and serve.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix that marks a cascade in an eval model name.
pub const CASCADE_PREFIX: &str = "cascade:";
/// Prefix that marks a planner/executor pair in an eval model name.
pub const PLAN_PREFIX: &str = "plan:";
/// Steps a planner may write when the spec does not say.
pub const DEFAULT_MAX_STEPS: usize = 4;

/// A run-time technique: how the answer is produced beyond one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Technique {
    /// Light model first; escalate along `models` when a signal fires.
    Cascade(Cascade),
    /// One model plans, another executes the steps.
    PlanExecute(PlanExecute),
    /// Inputs over the context window are chunked, noted and combined.
    MapReduce(MapReduce),
}

/// One escalation signal of a cascade; written as `format`, `confidence:T`, `self_check` or
/// `agreement:K` (in model specs, profiles and stored programs alike).
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// The program's contract (or a JSON profile's parse) reads no answer.
    Format,
    /// The answer's mean token log-probability is under the threshold.
    Confidence { min_mean_logprob: f64 },
    /// The same model, asked whether its answer is correct, does not say yes.
    SelfCheck,
    /// Fewer than half of K sampled answers agree with the greedy one.
    Agreement { samples: usize },
}

/// Models from cheapest to strongest, and the signals that escalate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cascade {
    pub models: Vec<String>,
    pub signals: Vec<Signal>,
}

/// Who plans, who executes, and how many steps the plan may have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanExecute {
    pub planner: String,
    pub executor: String,
    pub max_steps: usize,
}

/// Map-reduce over long inputs: plan for `context_tokens`, else the model's own window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapReduce {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u32>,
}

impl Signal {
    /// Parses `format`, `confidence:-0.4`, `self_check` (or `self-check`), `agreement:3`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, arg) = match text.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (text, None),
        };
        match (name, arg) {
            ("format", None) => Ok(Signal::Format),
            ("self_check" | "self-check" | "selfcheck", None) => Ok(Signal::SelfCheck),
            ("confidence", Some(t)) => t
                .parse::<f64>()
                .ok()
                .filter(|t| *t <= 0.0)
                .map(|min_mean_logprob| Signal::Confidence { min_mean_logprob })
                .ok_or_else(|| format!("`confidence:{t}`: the threshold is a log-probability ≤ 0, e.g. confidence:-0.5")),
            ("agreement", Some(k)) => k
                .parse::<usize>()
                .ok()
                .filter(|k| (2..=16).contains(k))
                .map(|samples| Signal::Agreement { samples })
                .ok_or_else(|| format!("`agreement:{k}`: the number of samples is 2 to 16")),
            _ => Err(format!(
                "unknown cascade signal {text:?}: use format, confidence:T, self_check or agreement:K"
            )),
        }
    }

    /// The signal as written in a profile or model spec.
    pub fn name(&self) -> String {
        match self {
            Signal::Format => "format".into(),
            Signal::Confidence { min_mean_logprob } => format!("confidence:{min_mean_logprob}"),
            Signal::SelfCheck => "self_check".into(),
            Signal::Agreement { samples } => format!("agreement:{samples}"),
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Signal::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Cascade {
    /// Parses `cascade:A>B[@s+s]` (the prefix is optional here); signals default to `format`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let body = spec.strip_prefix(CASCADE_PREFIX).unwrap_or(spec);
        let (models, signals) = match body.split_once('@') {
            Some((m, s)) => (m, Some(s)),
            None => (body, None),
        };
        let models: Vec<String> = models
            .split('>')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        let signals = match signals {
            Some(s) => s
                .split('+')
                .map(Signal::parse)
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![Signal::Format],
        };
        Self::new(models, signals)
    }

    /// Checks a cascade built from parts (profiles).
    pub fn new(models: Vec<String>, signals: Vec<Signal>) -> Result<Self, String> {
        if models.len() < 2 {
            return Err("a cascade needs at least two models, cheapest first (A>B)".into());
        }
        if signals.is_empty() {
            return Err("a cascade needs at least one signal".into());
        }
        Ok(Self { models, signals })
    }

    /// Whether a signal needs the answer's token log-probabilities.
    pub fn wants_logprobs(&self) -> bool {
        self.signals
            .iter()
            .any(|s| matches!(s, Signal::Confidence { .. }))
    }
}

impl PlanExecute {
    /// Parses `plan:PLANNER>EXECUTOR` (the prefix is optional here).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let body = spec.strip_prefix(PLAN_PREFIX).unwrap_or(spec);
        match body.split_once('>') {
            Some((p, e)) if !p.trim().is_empty() && !e.trim().is_empty() => Ok(Self {
                planner: p.trim().to_string(),
                executor: e.trim().to_string(),
                max_steps: DEFAULT_MAX_STEPS,
            }),
            _ => Err(format!(
                "{spec:?}: write plan:PLANNER>EXECUTOR (the same model twice is fine)"
            )),
        }
    }
}

impl Technique {
    /// The technique an eval model name spells (`cascade:…`, `plan:…`), or `None` for a plain
    /// model name.
    pub fn from_model_spec(model: &str) -> Result<Option<Self>, String> {
        if model.starts_with(CASCADE_PREFIX) {
            Cascade::parse(model).map(|c| Some(Self::Cascade(c)))
        } else if model.starts_with(PLAN_PREFIX) {
            PlanExecute::parse(model).map(|p| Some(Self::PlanExecute(p)))
        } else {
            Ok(None)
        }
    }

    /// Every model the technique calls besides the one it runs for (none for map-reduce).
    pub fn models(&self) -> Vec<String> {
        match self {
            Self::Cascade(c) => c.models.clone(),
            Self::PlanExecute(p) => vec![p.planner.clone(), p.executor.clone()],
            Self::MapReduce(_) => Vec::new(),
        }
    }

    /// The technique's name as profiles and strategies write it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cascade(_) => "cascade",
            Self::PlanExecute(_) => "plan_execute",
            Self::MapReduce(_) => "map-reduce",
        }
    }

    /// The one rule for combining techniques, used by eval (a model spec with a strategy) and
    /// serve (a profile's keys) alike: a program runs at most one; two are refused, naming both.
    pub fn combine(first: Option<Self>, second: Option<Self>) -> Result<Option<Self>, String> {
        match (first, second) {
            (Some(a), Some(b)) => Err(format!(
                "{} and {} are both run-time techniques and a program runs one; measure or serve them separately",
                a.name(),
                b.name()
            )),
            (a, b) => Ok(a.or(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_programs_keep_their_shape() {
        let cascade = Technique::from_model_spec("cascade:a>b@format+confidence:-0.3")
            .unwrap()
            .unwrap();
        let json = serde_json::to_value(&cascade).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "cascade", "models": ["a", "b"], "signals": ["format", "confidence:-0.3"]})
        );
        assert_eq!(serde_json::from_value::<Technique>(json).unwrap(), cascade);
        let plan = Technique::from_model_spec("plan:p>e").unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&plan).unwrap(),
            serde_json::json!({"kind": "plan_execute", "planner": "p", "executor": "e", "max_steps": 4})
        );
        let map = Technique::MapReduce(MapReduce::default());
        assert_eq!(
            serde_json::to_value(&map).unwrap(),
            serde_json::json!({"kind": "map_reduce"})
        );
        assert!(serde_json::from_value::<Technique>(
            serde_json::json!({"kind": "map_reduce", "context": 5})
        )
        .is_err());
        assert!(serde_json::from_value::<Technique>(
            serde_json::json!({"kind": "cascade", "models": ["a", "b"], "signals": ["loud"]})
        )
        .is_err());
    }

    #[test]
    fn specs_parse_once_and_bad_ones_say_why() {
        assert_eq!(Technique::from_model_spec("qwen").unwrap(), None);
        assert!(Technique::from_model_spec("cascade:a").is_err());
        assert!(Technique::from_model_spec("plan:a").is_err());
        let cascade = Technique::from_model_spec("cascade:a>b").unwrap().unwrap();
        assert_eq!(cascade.models(), ["a", "b"]);
    }

    #[test]
    fn a_program_runs_one_technique() {
        let cascade = Technique::from_model_spec("cascade:a>b").unwrap();
        let map = Some(Technique::MapReduce(MapReduce::default()));
        let both = Technique::combine(cascade.clone(), map.clone()).unwrap_err();
        assert!(both.contains("cascade and map-reduce"), "{both}");
        assert_eq!(Technique::combine(None, map.clone()).unwrap(), map);
        assert_eq!(Technique::combine(cascade.clone(), None).unwrap(), cascade);
        assert_eq!(Technique::combine(None, None).unwrap(), None);
    }
}
