//! `POST /v1/embeddings` in OpenAI's shape, with the gateway's embedder. Only the embedder's own
//! name is answered (any other name gets the chat API's 404, never vectors labelled with a name
//! they did not come from); `encoding_format: "base64"` returns little-endian float32 bytes in
//! base64 as OpenAI does; `dimensions` keeps the first N components and renormalises them to
//! unit length, as OpenAI's shortenable models do. Token-id input is refused by name.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::Value;

use crate::error::ApiError;
use crate::responses::{EmbeddingEntry, EmbeddingList, EmbeddingUsage};
use crate::AppState;

#[derive(serde::Deserialize)]
struct EmbeddingRequest {
    model: String,
    input: Value,
    encoding_format: Option<String>,
    dimensions: Option<Value>,
    #[allow(dead_code)]
    user: Option<String>,
}

/// The texts of `input`: a string or a list of strings, each non-empty.
fn texts(input: Value) -> Result<Vec<String>, ApiError> {
    let bad = |message: &str| ApiError::invalid(message.to_string(), Some("input".into()));
    let items = match input {
        Value::String(s) => vec![Value::String(s)],
        Value::Array(items) => items,
        _ => return Err(bad("input: expected a string or a list of strings")),
    };
    if items.iter().any(|v| v.is_number() || v.is_array()) {
        return Err(bad(
            "input: token ids are not accepted here; send the text as a string or a list of strings",
        ));
    }
    let texts: Vec<String> = items
        .into_iter()
        .map(|v| match v {
            Value::String(s) if !s.is_empty() => Ok(s),
            _ => Err(bad(
                "`input` must be a non-empty string or list of non-empty strings",
            )),
        })
        .collect::<Result<_, _>>()?;
    if texts.is_empty() {
        return Err(bad(
            "`input` must be a non-empty string or list of non-empty strings",
        ));
    }
    Ok(texts)
}

/// `dimensions`, checked against the embedder's `dim`.
fn dimensions(value: Option<Value>, dim: usize) -> Result<Option<usize>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
        Some(n) if (1..=dim).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(
            format!("dimensions: expected a whole number from 1 to {dim} (this model's size), got {value}"),
            Some("dimensions".into()),
        )),
    }
}

/// The first `n` components, scaled back to unit length.
fn shortened(mut v: Vec<f32>, n: usize) -> Vec<f32> {
    v.truncate(n);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn encoded(v: Vec<f32>, base64: bool) -> Value {
    if base64 {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        serde_json::json!(v)
    }
}

pub(crate) async fn embed(
    state: Arc<AppState>,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = crate::body_read::read(headers, body, state.body_limit, state.body_idle).await?;
    let request: EmbeddingRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid(
            format!(
                "expected {{\"model\": string, \"input\": string or list of strings}}: {}",
                crate::wire_words::without_position(&e.to_string())
            ),
            None,
        )
    })?;
    let inputs = texts(request.input)?;
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("encoding_format: expected \"float\" or \"base64\", got {other:?}"),
                Some("encoding_format".into()),
            ))
        }
    };
    let Some(memory) = &state.memory else {
        return Err(ApiError::not_found(format!(
            "model {:?}: this gateway has no embedding model configured",
            request.model
        )));
    };
    let embedder = memory.embedder().await?;
    if request.model != embedder.name() {
        return Err(ApiError::not_found(format!(
            "model {:?} is not served for embeddings here; this gateway embeds with {:?}",
            request.model,
            embedder.name()
        )));
    }
    let keep = dimensions(request.dimensions, embedder.dim())?;
    let tokens: usize = inputs.iter().map(|t| embedder.count_tokens(t)).sum();
    let vectors = memory.embed(inputs).await?;
    let data: Vec<EmbeddingEntry> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let v = match keep {
                Some(n) => shortened(v, n),
                None => v,
            };
            EmbeddingEntry {
                object: "embedding",
                index: i,
                embedding: encoded(v, base64),
            }
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list",
        data,
        model: embedder.name().to_string(),
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_vectors_are_unit_length_and_base64_is_float32_le() {
        let v = shortened(vec![3.0, 4.0, 12.0], 2);
        assert_eq!(v, vec![0.6, 0.8]);
        let Value::String(b) = encoded(vec![1.0, -2.0], true) else {
            panic!("not a string")
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_default();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
        assert!(texts(serde_json::json!([[1, 2, 3]]))
            .unwrap_err()
            .message
            .contains("token ids"));
        assert!(dimensions(Some(serde_json::json!(0)), 64).is_err());
        assert_eq!(
            dimensions(Some(serde_json::json!(8)), 64).ok(),
            Some(Some(8))
        );
    }
}
