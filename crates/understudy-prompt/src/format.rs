//! How the same instruction content is laid out: `plain`, `markdown`, `json` or `yaml`.

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
}

impl Format {
    pub fn parse(name: &str) -> Result<Self, PromptError> {
        match name.trim() {
            "plain" => Ok(Self::Plain),
            "markdown" | "md" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            "yaml" => Ok(Self::Yaml),
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
        }
    }
}
