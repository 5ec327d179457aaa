//! The embedder seam: in-process MiniLM or an OpenAI-compatible `/v1/embeddings` server. Vectors
//! are L2-normalised, so a dot product is the cosine similarity.

use serde::Deserialize;

use crate::MemoryError;

/// Turns texts into unit vectors.
pub trait Embedder: Send + Sync {
    /// Names the model (stored with each collection, so vectors of two models never mix).
    fn name(&self) -> &str;
    fn dim(&self) -> usize;
    /// Tokens in `text` as the embedder counts them (chunk sizes are measured with this).
    fn count_tokens(&self, text: &str) -> usize;
    /// The most tokens one input may have.
    fn max_tokens(&self) -> usize;
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError>;
}

/// Embeds `texts` in batches of 32 (a bounded input per call however many texts there are), in
/// order.
pub fn embed_batched(
    embedder: &dyn Embedder,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, MemoryError> {
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(32) {
        vectors.extend(embedder.embed(batch)?);
    }
    Ok(vectors)
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Hashed bag of words: no model, no download, deterministic. Good enough to find the passage
/// that shares a question's rare words; used by tests and offline smoke runs, never a default.
pub struct WordHashEmbedder {
    pub dim: usize,
}

impl Embedder for WordHashEmbedder {
    fn name(&self) -> &str {
        "word-hash"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
    fn max_tokens(&self) -> usize {
        512
    }
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; self.dim.max(1)];
                for w in t
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 2)
                {
                    let h = w
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                    let n = v.len() as u64;
                    v[(h % n) as usize] += 1.0;
                }
                normalise(&mut v);
                v
            })
            .collect())
    }
}

/// Any OpenAI-compatible embeddings endpoint.
pub struct HttpEmbedder {
    name: String,
    url: String,
    model: String,
    api_key: Option<String>,
    dim: usize,
    http: reqwest::blocking::Client,
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: usize,
}

impl HttpEmbedder {
    /// Connects to `base_url` (ending in `/v1`) and asks once to learn the vector size.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Result<Self, MemoryError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| MemoryError::Model(e.to_string()))?;
        let mut e = Self {
            name: format!("{model}@{}", base_url.trim_end_matches('/')),
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            model: model.to_string(),
            api_key,
            dim: 0,
            http,
        };
        e.dim = e.embed(&["dimension probe".to_string()])?[0].len();
        Ok(e)
    }
}

impl Embedder for HttpEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn count_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }
    fn max_tokens(&self) -> usize {
        512
    }
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        let fail = |message: String| MemoryError::Http {
            url: self.url.clone(),
            message,
        };
        let mut req = self
            .http
            .post(&self.url)
            .json(&serde_json::json!({"model": self.model, "input": texts}));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let body = resp.text().map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!(
                "{status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        let mut reply: Reply =
            serde_json::from_str(&body).map_err(|e| fail(format!("unexpected reply: {e}")))?;
        if reply.data.len() != texts.len() {
            return Err(fail(format!(
                "{} vectors for {} inputs",
                reply.data.len(),
                texts.len()
            )));
        }
        reply.data.sort_by_key(|i| i.index);
        Ok(reply
            .data
            .into_iter()
            .map(|i| {
                let mut v = i.embedding;
                normalise(&mut v);
                v
            })
            .collect())
    }
}
