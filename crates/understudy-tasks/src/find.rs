//! Finding a task by built-in name or by the path of its .toml file, before its data is read.

use std::path::{Path, PathBuf};

use crate::builtin;
use crate::task::TaskDef;
use crate::EvalError;

/// Where a task's data file is, once built-in data is present.
pub enum DataSource {
    Builtin(&'static builtin::DataFile),
    File(PathBuf),
}

/// A task definition before its data is read.
pub struct PendingTask {
    pub def: TaskDef,
    pub source: PathBuf,
    pub data: DataSource,
}

/// Parses a task name or path into its definition, without reading data.
pub fn find_task(name: &str) -> Result<PendingTask, EvalError> {
    let path = Path::new(name);
    let (def, source) = if name.ends_with(".toml") || path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::Task {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read task file: {e}"),
        })?;
        (TaskDef::parse(&text, path)?, path.to_path_buf())
    } else {
        let def = builtin::task(name).ok_or_else(|| EvalError::UnknownTask {
            name: name.to_string(),
            known: builtin::task_names(),
        })??;
        (def, PathBuf::from(format!("<built-in {name}.toml>")))
    };
    let data = match (&def.dataset.builtin, &def.dataset.path) {
        (Some(b), _) => {
            DataSource::Builtin(builtin::data_file(b).ok_or_else(|| EvalError::Task {
                path: source.clone(),
                line: None,
                message: format!(
                "`dataset.builtin` {b:?} is not a built-in dataset ({})",
                builtin::DATA.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
            ),
            })?)
        }
        (None, Some(p)) => {
            let base = source.parent().unwrap_or(Path::new("."));
            DataSource::File(if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            })
        }
        (None, None) => unreachable_dataset(&source)?,
    };
    Ok(PendingTask { def, source, data })
}

fn unreachable_dataset(source: &Path) -> Result<DataSource, EvalError> {
    Err(EvalError::Task {
        path: source.to_path_buf(),
        line: None,
        message: "`dataset` needs `builtin` or `path`".into(),
    })
}
