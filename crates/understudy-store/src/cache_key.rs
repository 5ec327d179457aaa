//! The response cache's key: a model's identity and everything in a request that shapes the answer.

use sha2::{Digest, Sha256};
use understudy_core::ValidChatRequest;

/// The response-cache key for `request` to the model with `identity`.
pub fn cache_key(identity: &str, request: &ValidChatRequest) -> String {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update(b"\x1f");
    // Everything that shapes the answer except the model's name (the identity covers the weights).
    let shape = serde_json::json!({
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": request.stop,
        "response_format": request.response_format,
        "thinking": request.thinking,
        "reasoning_effort": request.reasoning_effort,
        "logprobs": request.logprobs,
    });
    h.update(shape.to_string().as_bytes());
    hex::encode(h.finalize())
}
