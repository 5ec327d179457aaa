//! A short, stable digest of a JSON value: what the resume key and the retrieval digest are made of.

use sha2::{Digest, Sha256};

/// Twelve bytes of SHA-256 over the value's JSON (object keys sorted: serde_json's map is a
/// BTreeMap), as hex.
pub fn digest(value: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(value.to_string());
    hex::encode(&h.finalize()[..12])
}
