//! A `kind = "structured"` answer: a JSON object scored field by field against the gold object,
//! and checked against a JSON Schema when the task names one (read at load, relative to the
//! task file, and kept in the definition so that a changed schema is a changed task).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a structured answer is checked.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StructuredSpec {
    /// A JSON Schema file, relative to the task file; an answer that breaks it scores 0.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// Relative tolerance for numbers (of the gold value, at least 1 in absolute terms).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// The schema's content, read at load (not written in the TOML).
    #[serde(default, skip_deserializing)]
    pub schema_json: Option<Value>,
}

fn default_tolerance() -> f64 {
    1e-6
}

impl StructuredSpec {
    /// Reads and compiles the schema named by `schema` (relative to `task_file`); the message
    /// names the key and the file.
    pub fn load_schema(&mut self, task_file: &Path) -> Result<(), String> {
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(format!(
                "`answer.tolerance` is {}; give a relative tolerance of 0 or more",
                self.tolerance
            ));
        }
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let path = task_file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(schema);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("`answer.schema`: cannot read {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("`answer.schema`: {} is not JSON: {e}", path.display()))?;
        jsonschema::validator_for(&value).map_err(|e| {
            format!(
                "`answer.schema`: {} is not a usable JSON Schema: {e}",
                path.display()
            )
        })?;
        self.schema_json = Some(value);
        Ok(())
    }

    /// Why `value` breaks the schema (at most `limit` reasons, each with where); empty when it
    /// keeps it or there is no schema.
    pub fn schema_errors(&self, value: &Value, limit: usize) -> Vec<String> {
        let Some(schema) = &self.schema_json else {
            return Vec::new();
        };
        match jsonschema::validator_for(schema) {
            Ok(validator) => validator
                .iter_errors(value)
                .take(limit)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let at = if at.is_empty() { "/".into() } else { at };
                    format!("{at}: {e}")
                })
                .collect(),
            Err(e) => vec![format!("the schema does not compile: {e}")],
        }
    }
}
