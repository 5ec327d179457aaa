//! The response cache's key: a model's identity and everything in a request that shapes the answer.

use sha2::{Digest, Sha256};
use understudy_core::ValidChatRequest;

/// The response-cache key for `request` to the model with `identity`.
pub fn cache_key(identity: &str, request: &ValidChatRequest) -> String {
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update(b"\x1f");
    // Everything that shapes the answer except the model's name (the identity covers the weights).
    let mut shape = serde_json::json!({
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
    // Tools shape the answer too; a request without them keeps the key it always had.
    if !request.tools.is_empty() {
        shape["tools"] = serde_json::json!(request.tools);
    }
    // So does asking for token log-probabilities (a cached answer without them must not do).
    if let Some(n) = request.top_logprobs {
        shape["top_logprobs"] = n.into();
    }
    h.update(shape.to_string().as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use understudy_core::{ChatMessage, ChatRequest, ToolDef};

    #[test]
    fn tools_change_the_key_and_a_request_without_them_keeps_its_old_key() {
        let plain = ChatRequest::new("m", vec![ChatMessage::user("q")])
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut offered = plain.clone();
        offered.tools.tools.push(ToolDef {
            name: "f".into(),
            description: None,
            parameters: serde_json::json!({"type": "object"}),
        });
        assert_ne!(cache_key("id", &plain), cache_key("id", &offered));
        // The key as it was computed before requests carried tools.
        let mut h = Sha256::new();
        h.update(b"id\x1f");
        let before = serde_json::json!({
            "messages": plain.messages, "max_tokens": plain.max_tokens,
            "temperature": plain.temperature, "top_p": plain.top_p, "seed": plain.seed,
            "stop": plain.stop, "response_format": plain.response_format,
            "thinking": plain.thinking, "reasoning_effort": plain.reasoning_effort,
            "logprobs": plain.logprobs,
        });
        h.update(before.to_string().as_bytes());
        assert_eq!(cache_key("id", &plain), hex::encode(h.finalize()));
    }
}
