//! `understudy study`: each of the report's claims as a preset experiment (a TOML file the user
//! can print, copy and edit) that runs through the normal runner and store, plus a page written
//! for that claim's question, which concludes only as far as its statistics allow.

pub mod analysis;
pub mod cells_file;
pub mod estimate;
pub mod page;
pub mod retention;
pub mod write;

use std::path::Path;

use serde::Deserialize;

use understudy_eval::plan::EvalSection;
use understudy_tasks::EvalError;

/// The studies, one per claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyKind {
    SizeLadder,
    Strategies,
    FormatSensitivity,
    SystemPromptRetention,
    PromptDetail,
    ReferenceGap,
}

impl StudyKind {
    pub const ALL: [StudyKind; 6] = [
        Self::SizeLadder,
        Self::Strategies,
        Self::FormatSensitivity,
        Self::SystemPromptRetention,
        Self::PromptDetail,
        Self::ReferenceGap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SizeLadder => "size-ladder",
            Self::Strategies => "strategies",
            Self::FormatSensitivity => "format-sensitivity",
            Self::SystemPromptRetention => "system-prompt-retention",
            Self::PromptDetail => "prompt-detail",
            Self::ReferenceGap => "reference-gap",
        }
    }

    pub fn parse(name: &str) -> Result<Self, EvalError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                EvalError::Config(format!(
                    "unknown study {name:?}: use one of {}",
                    Self::ALL.map(|k| k.name()).join(", ")
                ))
            })
    }

    /// The report's claim this study tests.
    pub fn claim(self) -> &'static str {
        match self {
            Self::SizeLadder => "Bigger models score higher and answer slower.",
            Self::Strategies => "Few-shot gives the best mean F1 on classification; chain-of-thought is 2-5x slower and often lowers accuracy on simple classification.",
            Self::FormatSensitivity => "Smaller models are more sensitive to prompt format than bigger ones.",
            Self::SystemPromptRetention => "Past a context length, models stop following the system prompt.",
            Self::PromptDetail => "A detailed system prompt helps small models more than big ones.",
            Self::ReferenceGap => "With good prompting the gap to a GPT-4-class reference shrinks to a few percent.",
        }
    }

    /// The preset experiment, as the TOML a user can print and edit.
    pub fn preset(self) -> &'static str {
        match self {
            Self::SizeLadder => include_str!("presets/size-ladder.toml"),
            Self::Strategies => include_str!("presets/strategies.toml"),
            Self::FormatSensitivity => include_str!("presets/format-sensitivity.toml"),
            Self::SystemPromptRetention => include_str!("presets/system-prompt-retention.toml"),
            Self::PromptDetail => include_str!("presets/prompt-detail.toml"),
            Self::ReferenceGap => include_str!("presets/reference-gap.toml"),
        }
    }
}

/// `[study]`: which study the file is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudySection {
    name: String,
}

/// A study file as written: `[study]`, `[eval]` and, for retention, `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudyFile {
    study: StudySection,
    eval: toml::Table,
    #[serde(default)]
    retention: Option<retention::RetentionSpec>,
}

/// A parsed study file.
#[derive(Debug, Clone)]
pub struct StudyFile {
    pub kind: StudyKind,
    pub eval: EvalSection,
    pub retention: retention::RetentionSpec,
}

impl StudyFile {
    /// Parses a study file; errors name the file, line and key.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EvalError> {
        let raw: RawStudyFile = understudy_tasks::task::parse_toml(text, path)?;
        let kind = StudyKind::parse(&raw.study.name).map_err(|e| EvalError::Task {
            path: path.to_path_buf(),
            line: None,
            message: format!("key `study.name`: {e}"),
        })?;
        let retention = raw.retention.unwrap_or_default();
        retention.check().map_err(|m| EvalError::Task {
            path: path.to_path_buf(),
            line: None,
            message: format!("key `retention`: {m}"),
        })?;
        Ok(Self {
            kind,
            eval: EvalSection::parse(raw.eval, path)?,
            retention,
        })
    }

    /// The preset of `kind`, parsed.
    pub fn preset(kind: StudyKind) -> Result<Self, EvalError> {
        Self::parse(
            kind.preset(),
            Path::new(&format!("<preset {}.toml>", kind.name())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_as_its_own_study() {
        for kind in StudyKind::ALL {
            let file = StudyFile::preset(kind).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
            assert_eq!(file.kind, kind);
            assert!(file.eval.models.is_some(), "{}", kind.name());
        }
        assert!(StudyKind::parse("vibes").is_err());
    }

    #[test]
    fn a_bad_key_is_named() {
        let text = "[study]\nname = \"strategies\"\n\n[eval]\nmodels = [\"a\"]\nlimitt = 3\n";
        let err = StudyFile::parse(text, Path::new("s.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("s.toml") && err.contains("limitt"), "{err}");
    }
}
