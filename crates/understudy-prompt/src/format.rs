//! How the same instruction content is laid out: `plain`, `markdown`, `json`, `yaml` or
//! `fields` (named fields between markers, see [`crate::fields`]).

use serde::{Deserialize, Serialize};

use crate::PromptError;

/// How the same instruction content is laid out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Plain,
    Markdown,
    Json,
    Yaml,
    /// Input and answer as named fields between `[[ ## name ## ]]` markers, the instruction in
    /// the system prompt.
    Fields,
}

impl Format {
    pub fn parse(name: &str) -> Result<Self, PromptError> {
        match name.trim() {
            "plain" => Ok(Self::Plain),
            "markdown" | "md" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            "yaml" => Ok(Self::Yaml),
            "fields" => Ok(Self::Fields),
            other => Err(PromptError::UnknownFormat {
                name: other.to_string(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Markdown => "markdown",
            Self::Json => "json",
            Self::Yaml => "yaml",
            Self::Fields => "fields",
        }
    }
}
