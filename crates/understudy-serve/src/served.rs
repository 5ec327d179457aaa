//! What the gateway's operator configured it to serve, as far as metrics labels are concerned:
//! profiles, named models, and the HTTP backends reachable as `backend/<model>`. A client chooses
//! the `model` string, so every label comes from this fixed set: a name the operator did not
//! configure is counted under one bucket, and the label set cannot grow with client input.

use std::collections::BTreeSet;

/// The label for every model name nobody configured.
pub const OTHER_LABEL: &str = "other";

/// The names the gateway labels metrics with.
#[derive(Debug, Clone, Default)]
pub struct ServedModels {
    names: BTreeSet<String>,
    /// HTTP backends: `remote/<anything>` counts as `remote/*` (the server, not the client,
    /// decides which of its models exist).
    prefixes: BTreeSet<String>,
}

impl ServedModels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds named models or profiles.
    pub fn with_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds an HTTP backend reachable as `backend/<model>`.
    pub fn with_prefix(mut self, backend: impl Into<String>) -> Self {
        self.prefixes.insert(backend.into());
        self
    }

    /// The metrics label for a client's `model`.
    pub fn label(&self, model: &str) -> String {
        if self.names.contains(model) {
            return model.to_string();
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if !rest.is_empty() && self.prefixes.contains(prefix) {
                return format!("{prefix}/*");
            }
        }
        OTHER_LABEL.to_string()
    }

    /// The configured names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_names_get_their_own_label() {
        let served = ServedModels::new()
            .with_names(["support", "qwen2.5-coder-0.5b"])
            .with_prefix("remote");
        assert_eq!(served.label("support"), "support");
        assert_eq!(served.label("qwen2.5-coder-0.5b"), "qwen2.5-coder-0.5b");
        assert_eq!(served.label("remote/gpt-4o"), "remote/*");
        assert_eq!(served.label("remote/anything-else"), "remote/*");
        assert_eq!(served.label("remote/"), OTHER_LABEL);
        assert_eq!(served.label("/etc/shadow"), OTHER_LABEL);
        assert_eq!(served.label("elsewhere/x"), OTHER_LABEL);
        assert_eq!(served.label(""), OTHER_LABEL);
    }
}
