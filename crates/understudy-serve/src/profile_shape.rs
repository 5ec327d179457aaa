//! A profile's own tools and answer schema, for an application that sends none: `tools_file`
//! (an OpenAI tools JSON list) with `tool_choice`, and `json_schema_file` (a JSON Schema the
//! answer is held to). Read once at start-up, relative to the config file, each schema checked to
//! compile; applied only to requests that bring no tools or no response format of their own.

use std::path::{Path, PathBuf};

use serde_json::Value;
use understudy_core::{ToolChoice, ToolDef, ToolUse};

use crate::error::ServeError;

/// What a profile adds to requests that lack it (part of what the profile's name stands for).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AddedShape {
    pub tools: Option<ToolUse>,
    pub schema: Option<Value>,
}

impl AddedShape {
    pub fn is_empty(&self) -> bool {
        self.tools.is_none() && self.schema.is_none()
    }
}

/// The profile keys this module reads.
pub(crate) struct ShapeKeys<'k> {
    pub tools_file: Option<&'k Path>,
    pub tool_choice: Option<&'k str>,
    pub json_schema_file: Option<&'k Path>,
}

pub(crate) fn load(
    name: &str,
    keys: ShapeKeys<'_>,
    source: &Path,
) -> Result<AddedShape, ServeError> {
    let fail = |key: &str, path: &Path, why: String| {
        ServeError::Config(format!(
            "{}: key `profiles.{name}.{key}` ({}): {why}",
            source.display(),
            path.display()
        ))
    };
    let read = |key: &str, file: &Path| -> Result<(PathBuf, Value), ServeError> {
        let path = relative_to(source, file);
        let text = std::fs::read_to_string(&path).map_err(|e| fail(key, &path, e.to_string()))?;
        let value =
            serde_json::from_str(&text).map_err(|e| fail(key, &path, format!("not JSON: {e}")))?;
        Ok((path, value))
    };
    let tools = match keys.tools_file {
        None if keys.tool_choice.is_some() => {
            return Err(ServeError::Config(format!(
                "{}: key `profiles.{name}.tool_choice`: needs `tools_file`",
                source.display()
            )))
        }
        None => None,
        Some(file) => {
            let (path, value) = read("tools_file", file)?;
            let list = value
                .as_array()
                .ok_or_else(|| fail("tools_file", &path, "must be a JSON list of tools".into()))?;
            let mut defs = Vec::new();
            for (i, tool) in list.iter().enumerate() {
                let def = ToolDef::from_openai(tool)
                    .map_err(|e| fail("tools_file", &path, format!("[{i}] {e}")))?;
                if let Err(e) = jsonschema::validator_for(&def.parameters) {
                    let why = format!("[{i}] parameters: not a JSON Schema that compiles: {e}");
                    return Err(fail("tools_file", &path, why));
                }
                defs.push(def);
            }
            let choice = choice_of(keys.tool_choice, &defs)
                .map_err(|why| fail("tool_choice", &path, why))?;
            Some(ToolUse {
                tools: defs,
                choice,
                parallel: None,
            })
        }
    };
    let schema = match keys.json_schema_file {
        None => None,
        Some(file) => {
            let (path, schema) = read("json_schema_file", file)?;
            if let Err(e) = jsonschema::validator_for(&schema) {
                let why = format!("not a JSON Schema that compiles: {e}");
                return Err(fail("json_schema_file", &path, why));
            }
            Some(schema)
        }
    };
    Ok(AddedShape { tools, schema })
}

/// `auto` (default), `required`, `none`, or the name of one of the tools.
fn choice_of(choice: Option<&str>, tools: &[ToolDef]) -> Result<ToolChoice, String> {
    Ok(match choice {
        None | Some("auto") => ToolChoice::Auto,
        Some("required") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some(name) if tools.iter().any(|t| t.name == name) => ToolChoice::Function(name.into()),
        Some(other) => {
            return Err(format!(
                "must be auto, required, none or one of the tools' names, got {other:?}"
            ))
        }
    })
}

/// A path a profile key names: as given when absolute, else relative to the config file.
pub(crate) fn relative_to(source: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        source.parent().unwrap_or(Path::new(".")).join(file)
    }
}
