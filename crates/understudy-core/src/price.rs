//! What a model's tokens cost: `price_in` and `price_out` under `[models.NAME]`, in dollars per
//! million tokens, for hosted references (and for local models where the user sets a price).

use serde::Serialize;

/// Dollars per million prompt and completion tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    /// The cost in dollars of `prompt` and `completion` tokens.
    pub fn dollars(&self, prompt: u64, completion: u64) -> f64 {
        (prompt as f64 * self.input_per_million + completion as f64 * self.output_per_million) / 1e6
    }
}

/// The price a `[models.NAME]` table gives, if any; `Err((key, message))` names the bad key.
pub fn from_table(
    name: &str,
    price_in: Option<f64>,
    price_out: Option<f64>,
) -> Result<Option<Price>, (String, String)> {
    let key = |field: &str| format!("models.{name}.{field}");
    let check = |field: &str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err((
                key(field),
                format!("must be a price in dollars per million tokens, 0 or more (got {value})"),
            ))
        }
    };
    match (price_in, price_out) {
        (None, None) => Ok(None),
        (Some(i), Some(o)) => Ok(Some(Price {
            input_per_million: check("price_in", i)?,
            output_per_million: check("price_out", o)?,
        })),
        (Some(_), None) => Err((
            key("price_out"),
            "missing: give both price_in and price_out (dollars per million tokens)".into(),
        )),
        (None, Some(_)) => Err((
            key("price_in"),
            "missing: give both price_in and price_out (dollars per million tokens)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_needs_both_halves_and_no_negative() {
        assert_eq!(from_table("m", None, None).unwrap(), None);
        let p = from_table("m", Some(2.5), Some(10.0)).unwrap().unwrap();
        assert!((p.dollars(1_000_000, 100_000) - 3.5).abs() < 1e-12);
        assert_eq!(
            from_table("m", Some(1.0), None).unwrap_err().0,
            "models.m.price_out"
        );
        assert_eq!(
            from_table("m", Some(-1.0), Some(1.0)).unwrap_err().0,
            "models.m.price_in"
        );
    }

    #[test]
    fn prices_attach_to_declared_and_built_in_models() {
        let text = "[backends.api]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\n\n[models.gpt]\nbackend = \"api\"\nmodel = \"gpt-4o\"\nprice_in = 2.5\nprice_out = 10\n\n[models.\"qwen2.5-coder-1.5b\"]\nprice_in = 0.1\nprice_out = 0.2\n";
        let c =
            crate::config::Config::parse(text, std::path::Path::new("u.toml"), &|_| None).unwrap();
        assert!(matches!(
            c.models["gpt"],
            crate::config::ModelTarget::Remote { .. }
        ));
        assert_eq!(c.prices["gpt"].output_per_million, 10.0);
        // A price alone does not redeclare a built-in model.
        assert!(!c.models.contains_key("qwen2.5-coder-1.5b"));
        assert_eq!(c.prices["qwen2.5-coder-1.5b"].input_per_million, 0.1);
        let err = crate::config::Config::parse(
            "[models.x]\nprice_in = 1.0\n",
            std::path::Path::new("u.toml"),
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("models.x.price_out"), "{err}");
    }
}
