//! Solved examples as a vector collection (dynamic few-shot): each chunk holds one example — its
//! id, the input as a client sends it, the answer it should get (text, or the calls it makes) —
//! as JSON, under the vector of its input. Eval's `knn-shot:K` and a profile's `examples = { collection, k }` store and find them
//! with this code, so both put the same examples into the same prompt.

use serde::{Deserialize, Serialize};
use understudy_core::ToolCall;
use understudy_prompt::{ExampleTrace, ExamplesTrace, Solved};

use crate::embed::embed_batched;
use crate::{Embedder, Hit, MemoryError, VectorStore};

/// One solved example as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredExample {
    pub id: String,
    /// The input as a client sends it (`Input::text`: the question, then `A. …` option lines).
    pub input: String,
    pub target: String,
    /// The calls the answer makes (tool-call examples; `target` is then their text, if any).
    /// Left out of the JSON when there are none, so collections stored before it read alike.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ToolCall>,
}

/// An example found for an input, with its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub example: StoredExample,
    pub score: f32,
}

fn stored(collection: &str) -> impl Fn(understudy_store::StoreError) -> MemoryError + '_ {
    move |source| MemoryError::Store {
        collection: collection.to_string(),
        source,
    }
}

/// Stores `examples` as the document `source` of `collection` (replacing what it held), each
/// under the vector of its input. Returns how many were embedded: none when the stored document
/// already holds the same examples under the same embedder.
pub async fn put_examples(
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
    collection: &str,
    source: &str,
    examples: &[StoredExample],
) -> Result<usize, MemoryError> {
    let chunks: Vec<String> = examples
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect();
    let same_embedder = store
        .collection_embedder(collection)
        .await
        .map_err(stored(collection))?
        .as_deref()
        == Some(embedder.name());
    if same_embedder
        && store
            .chunk_texts(collection, source)
            .await
            .map_err(stored(collection))?
            == chunks
    {
        return Ok(0);
    }
    let inputs: Vec<String> = examples.iter().map(|e| e.input.clone()).collect();
    let vectors = embed_batched(embedder, &inputs)?;
    store
        .put_document(collection, embedder.name(), source, &chunks, &vectors)
        .await
        .map_err(stored(collection))?;
    Ok(examples.len())
}

/// The `k` examples of `collection` nearest `vector` (the embedding of `input`), best first. An
/// example whose input is `input` itself is skipped: an example never answers its own question.
pub async fn nearest(
    store: &dyn VectorStore,
    collection: &str,
    vector: &[f32],
    input: &str,
    k: usize,
) -> Result<Vec<Found>, MemoryError> {
    let hits = store
        .search(collection, vector, k + 1)
        .await
        .map_err(stored(collection))?;
    pick(collection, &hits, input, k)
}

/// The examples among `hits`, without `input`'s own, the first `k`.
fn pick(collection: &str, hits: &[Hit], input: &str, k: usize) -> Result<Vec<Found>, MemoryError> {
    let mut found = Vec::with_capacity(k);
    for hit in hits {
        let example: StoredExample =
            serde_json::from_str(&hit.text).map_err(|_| MemoryError::NotAnExample {
                collection: collection.to_string(),
                id: hit.id.clone(),
            })?;
        if example.input.trim() == input.trim() {
            continue;
        }
        found.push(Found {
            example,
            score: hit.score,
        });
        if found.len() == k {
            break;
        }
    }
    Ok(found)
}

/// What the prompt program renders (see `Program::with_found`).
pub fn solved(found: &[Found]) -> Vec<Solved> {
    found
        .iter()
        .map(|f| Solved {
            input: f.example.input.clone(),
            target: f.example.target.clone(),
            calls: f.example.calls.clone(),
        })
        .collect()
}

/// The trace record of the examples put into a prompt (eval's cell detail and the gateway's
/// request log share it).
pub fn trace(collection: &str, found: &[Found]) -> ExamplesTrace {
    ExamplesTrace {
        collection: collection.to_string(),
        examples: found
            .iter()
            .map(|f| ExampleTrace {
                id: f.example.id.clone(),
                score: f.score,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WordHashEmbedder;
    use understudy_store::Store;

    fn example(id: &str, input: &str, target: &str) -> StoredExample {
        StoredExample {
            id: id.into(),
            input: input.into(),
            target: target.into(),
            calls: Vec::new(),
        }
    }

    #[tokio::test]
    async fn nearest_examples_come_back_best_first_without_the_input_itself() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open_path(&dir.path().join("s.db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let embedder = WordHashEmbedder { dim: 256 };
        let mut calling = example("e3", "the cat chased a mouse", "");
        calling.calls = vec![ToolCall {
            id: "call_0".into(),
            name: "chase".into(),
            arguments: r#"{"prey":"mouse"}"#.into(),
        }];
        let examples = [
            example("e1", "the cat sat on the mat", "cat"),
            example("e2", "a dog barked at the mailman", "dog"),
            calling,
        ];
        let vectors = store.vectors.as_ref();
        for embedded_now in [3, 0] {
            let n = put_examples(vectors, &embedder, "ex", "t", &examples)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(n, embedded_now);
        }
        let input = "the cat sat on the mat";
        let vector = embedder
            .embed(&[input.to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        let found = nearest(store.vectors.as_ref(), "ex", &vector[0], input, 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = found.iter().map(|f| f.example.id.as_str()).collect();
        assert_eq!(ids, ["e3", "e2"]);
        assert!(found[0].score >= found[1].score);
        assert_eq!(trace("ex", &found).examples[0].id, "e3");
        assert_eq!(solved(&found)[1].target, "dog");
        // An example's calls come back as stored; one without calls stores no `calls` key.
        assert_eq!(solved(&found)[0].calls, examples[2].calls);
        let texts = vectors
            .chunk_texts("ex", "t")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!texts[0].contains("calls") && texts[2].contains("\"calls\""));
    }

    #[tokio::test]
    async fn a_passage_collection_is_refused_by_chunk_id() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open_path(&dir.path().join("s.db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let embedder = WordHashEmbedder { dim: 64 };
        let text = vec!["plain passage".to_string()];
        let vectors = embedder.embed(&text).unwrap_or_else(|e| panic!("{e}"));
        store
            .vectors
            .put_document("docs", embedder.name(), "a.txt", &text, &vectors)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let err = nearest(store.vectors.as_ref(), "docs", &vectors[0], "q", 1)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("\"docs\"") && err.contains("not a solved example"),
            "{err}"
        );
    }
}
