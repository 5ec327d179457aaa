//! The run-time technique a row runs, decided once: its model spec's (`cascade:A>B@signals`,
//! `plan:P>E`) combined with its strategy's (`map-reduce`) by the prompt program's one rule (a
//! program runs at most one technique; two are refused, as a profile with two is).

use understudy_prompt::technique::{MapReduce, Technique};
use understudy_tasks::strategy::Strategy;
use understudy_tasks::EvalError;

/// The technique of the row (`model`, `strategy`), or why the two cannot be combined.
pub fn for_row(model: &str, strategy: &Strategy) -> Result<Option<Technique>, EvalError> {
    let spec = Technique::from_model_spec(model)
        .map_err(|e| EvalError::Config(format!("model {model:?}: {e}")))?;
    let by_strategy = strategy
        .map_reduce()
        .then(|| Technique::MapReduce(MapReduce::default()));
    Technique::combine(spec, by_strategy)
        .map_err(|e| EvalError::Config(format!("model {model:?} with strategy {strategy}: {e}")))
}

/// Every row's technique checked before any model is called.
pub fn check_rows(models: &[String], strategies: &[Strategy]) -> Result<(), EvalError> {
    for model in models {
        for strategy in strategies {
            for_row(model, strategy)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cascade_row_under_map_reduce_is_refused_not_dropped() {
        let map = Strategy::parse("map-reduce").unwrap_or_else(|e| panic!("{e}"));
        let zero = Strategy::parse("zero-shot").unwrap_or_else(|e| panic!("{e}"));
        let err = for_row("cascade:a>b", &map).unwrap_err().to_string();
        assert!(err.contains("cascade and map-reduce"), "{err}");
        assert!(for_row("plan:a>b", &map).is_err());
        assert!(matches!(
            for_row("cascade:a>b", &zero),
            Ok(Some(Technique::Cascade(_)))
        ));
        assert!(matches!(
            for_row("qwen", &map),
            Ok(Some(Technique::MapReduce(_)))
        ));
        assert_eq!(
            for_row("qwen", &zero).unwrap_or_else(|e| panic!("{e}")),
            None
        );
        assert!(check_rows(&["a".into(), "cascade:a>b".into()], &[zero, map]).is_err());
    }
}
