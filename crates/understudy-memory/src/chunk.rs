//! Token-aware chunking (text-splitter, sized by the embedder's own tokenizer, with overlap) and
//! reading the files `memory add` accepts: text, Markdown, and JSONL (a `text` field per line).

use std::path::{Path, PathBuf};

use text_splitter::{ChunkConfig, ChunkSizer, TextSplitter};

use crate::{Embedder, MemoryError};

struct Sizer<'e>(&'e dyn Embedder);

impl ChunkSizer for Sizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        self.0.count_tokens(chunk)
    }
}

/// Splits `text` into chunks of at most `max_tokens` (by the embedder's count) with `overlap`.
pub fn chunk(
    text: &str,
    embedder: &dyn Embedder,
    max_tokens: usize,
    overlap: usize,
) -> Result<Vec<String>, MemoryError> {
    let sizer = Sizer(embedder);
    let config = ChunkConfig::new(max_tokens)
        .with_sizer(&sizer)
        .with_overlap(overlap.min(max_tokens / 2))
        .map_err(|e| MemoryError::Model(format!("chunking: {e}")))?;
    Ok(TextSplitter::new(config)
        .chunks(text)
        .map(str::to_string)
        .filter(|c| !c.trim().is_empty())
        .collect())
}

/// A document to add: where it came from and its text.
pub struct Document {
    pub source: String,
    pub text: String,
}

/// Files under `path` (recursively for a directory) with a readable extension.
pub fn collect_files(path: &Path) -> Result<Vec<PathBuf>, MemoryError> {
    let bad = |message: String| MemoryError::Input {
        path: path.to_path_buf(),
        message,
    };
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(bad("no such file or directory".into()));
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| bad(e.to_string()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("txt" | "md" | "markdown" | "jsonl" | "rst")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one file into documents: a JSONL file gives one per line (its `text` field; `id` or the
/// line number names it), anything else one document.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, MemoryError> {
    let text = std::fs::read_to_string(path).map_err(|e| MemoryError::Input {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    let source = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
        return Ok(vec![Document { source, text }]);
    }
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| MemoryError::Input {
            path: path.to_path_buf(),
            message: format!("line {}: {message}", i + 1),
        };
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let body = row["text"]
            .as_str()
            .ok_or_else(|| bad("needs a string field `text`".into()))?;
        let id = row["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("L{}", i + 1));
        docs.push(Document {
            source: format!("{source}#{id}"),
            text: body.to_string(),
        });
    }
    Ok(docs)
}
