//! A `kind = "command"` answer: the user's own grader, a program run from the task file's folder
//! in the sandbox, reading one JSON object per answer and printing a verdict (see
//! docs/guide/graders.md for the protocol).

use serde::{Deserialize, Serialize};

/// How a task's own grader is run.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The program and its arguments, run from the task file's folder (mounted read-only).
    pub command: Vec<String>,
    /// Seconds allowed per answer.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
    /// Memory (address space) allowed, in MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// The grader keeps running and answers one JSON line per request (so it loads its data once).
    #[serde(default)]
    pub long_lived: bool,
    /// Seconds a long-lived grader has to start, on top of the first answer's `timeout_s`.
    #[serde(default = "default_start_timeout_s")]
    pub start_timeout_s: f64,
    /// Files in the task folder the grader reads (a database, a word list): with the files the
    /// command names, their hashes are the grader's identity, so changing one regrades.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// What the answer should look like, in words, for the prompt.
    #[serde(default)]
    pub format: Option<String>,
}

fn default_timeout_s() -> f64 {
    10.0
}

fn default_memory_mb() -> u64 {
    1024
}

fn default_start_timeout_s() -> f64 {
    30.0
}

impl CommandSpec {
    /// Checks what can be checked without running anything; the message names the key.
    pub fn check(&self) -> Result<(), String> {
        if self.command.is_empty() || self.command[0].trim().is_empty() {
            return Err(
                "`answer.command` needs the program to run, e.g. [\"python3\", \"grade.py\"]"
                    .into(),
            );
        }
        for (key, value) in [
            ("timeout_s", self.timeout_s),
            ("start_timeout_s", self.start_timeout_s),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 3600.0) {
                return Err(format!(
                    "`answer.{key}` is {value}; give seconds above 0 and at most 3600"
                ));
            }
        }
        if self.memory_mb < 16 {
            return Err(format!(
                "`answer.memory_mb` is {}; a grader needs at least 16",
                self.memory_mb
            ));
        }
        for (i, input) in self.inputs.iter().enumerate() {
            let path = std::path::Path::new(input);
            if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
                return Err(format!(
                    "`answer.inputs[{i}]` is {input:?}; name a file inside the task folder"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> Result<CommandSpec, String> {
        let spec: CommandSpec = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        spec.check().map(|()| spec)
    }

    #[test]
    fn defaults_and_checks() {
        let s = spec("command = [\"python3\", \"g.py\"]").unwrap();
        assert_eq!(
            (s.timeout_s, s.memory_mb, s.long_lived),
            (10.0, 1024, false)
        );
        for (bad, says) in [
            ("command = []", "`answer.command`"),
            ("command = [\"x\"]\ntimeout_s = 0", "`answer.timeout_s`"),
            ("command = [\"x\"]\nmemory_mb = 1", "`answer.memory_mb`"),
            (
                "command = [\"x\"]\ninputs = [\"../db\"]",
                "`answer.inputs[0]`",
            ),
            ("command = [\"x\"]\ntimeout = 3", "unknown field `timeout`"),
        ] {
            let err = spec(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
