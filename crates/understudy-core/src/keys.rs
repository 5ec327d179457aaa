//! API keys compared in constant time, one check for the gateway and the web UI.

use subtle::ConstantTimeEq;

/// True when `presented` equals one of `keys`, checking every key without an early exit.
pub fn key_matches(keys: &[String], presented: &str) -> bool {
    keys.iter().fold(false, |found, key| {
        let same_len = key.len() == presented.len();
        let equal = same_len && bool::from(key.as_bytes().ct_eq(presented.as_bytes()));
        found | equal
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_equal_key_matches() {
        let keys = vec!["sk-one".to_string(), "sk-two".to_string()];
        assert!(key_matches(&keys, "sk-two"));
        assert!(!key_matches(&keys, "sk-tw"));
        assert!(!key_matches(&keys, ""));
        assert!(!key_matches(&[], "sk-one"));
    }
}
