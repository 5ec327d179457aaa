//! What a served name stands for, as a short hash clients can key caches on (OpenAI's
//! `system_fingerprint`): for a profile, its resolved settings and the identity of every model it
//! calls; for a plain model, that model's identity (weights file hash, upstream URL and name).
//! Re-tune a profile, or point a name at other weights, and the fingerprint changes.

use sha2::{Digest, Sha256};
use understudy_backend::Backend;

use crate::profile::Profile;

/// The fingerprint of `model` (a profile's name or a backend model) as this gateway serves it,
/// and whether every model identity resolved (one that did not is not worth keeping).
pub async fn fingerprint(
    backend: &dyn Backend,
    profile: Option<&Profile>,
    model: &str,
) -> (String, bool) {
    let mut resolved = true;
    let mut h = Sha256::new();
    let called: Vec<String> = match profile {
        Some(profile) => {
            // serde_json writes the fields in declaration order and maps sorted: canonical.
            h.update(serde_json::to_string(profile).unwrap_or_default());
            h.update(b"\x1f");
            profile.models()
        }
        None => vec![model.to_string()],
    };
    for name in called {
        let identity = backend.model_identity(&name).await.unwrap_or_else(|_| {
            resolved = false;
            format!("unresolved:{name}")
        });
        h.update(identity.as_bytes());
        h.update(b"\x1f");
    }
    (format!("fp_{}", hex::encode(&h.finalize()[..8])), resolved)
}
