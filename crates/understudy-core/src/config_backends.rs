//! `[backends.NAME]` tables: HTTP servers speaking OpenAI's chat completions or Anthropic's
//! Messages API, their URL, key (inline or from a variable), timeout and revision label, and the
//! backend `OPENAI_BASE_URL` names when the file declares none.

use serde::Deserialize;

use crate::thinking_switch::ThinkingControl;

/// A bad key and what is wrong with it.
pub(crate) type Invalid = (String, String);

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum RawBackend {
    /// An OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama, OpenAI…).
    Openai(RawHttp),
    /// Anthropic's Messages API (Claude, or any server speaking it).
    Anthropic(RawHttp),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    /// Required for `openai`; `anthropic` defaults to [`ANTHROPIC_BASE_URL`].
    base_url: Option<String>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    timeout_secs: Option<u64>,
    /// How the server's models switch reasoning (default `template_flag`: vLLM/SGLang's
    /// `chat_template_kwargs.enable_thinking`). Not for `anthropic`, whose switch is its own.
    thinking_control: Option<ThinkingControl>,
    /// A label for what this server serves now (e.g. a deployment or weights version); part
    /// of every response-cache key and resume key for its models. Change it when the server
    /// starts serving something else under the same names.
    revision: Option<String>,
}

/// Where an `anthropic` backend sends requests unless its `base_url` says otherwise.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com/v1";

/// Which API an HTTP backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// OpenAI's chat completions.
    #[default]
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

/// An HTTP server: OpenAI-compatible, or Anthropic's Messages API.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpBackendConfig {
    pub protocol: HttpProtocol,
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout_secs: u64,
    pub thinking_control: ThinkingControl,
    /// See `[backends.X] revision`.
    pub revision: Option<String>,
}

/// Default per-request timeout for HTTP backends: long enough for slow CPU generation.
pub const DEFAULT_HTTP_TIMEOUT_SECS: u64 = 600;

/// The OpenAI-compatible backend `OPENAI_BASE_URL` (and `OPENAI_API_KEY`) describe, if set.
pub(crate) fn backend_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<HttpBackendConfig> {
    let base_url = env("OPENAI_BASE_URL").filter(|u| !u.is_empty())?;
    Some(HttpBackendConfig {
        protocol: HttpProtocol::OpenAi,
        base_url,
        api_key: env("OPENAI_API_KEY").filter(|k| !k.is_empty()),
        timeout_secs: DEFAULT_HTTP_TIMEOUT_SECS,
        thinking_control: ThinkingControl::TemplateFlag,
        revision: None,
    })
}

/// One `[backends.NAME]` table: an http(s) URL, and the key given inline or by variable.
pub(crate) fn resolve_backend(
    name: &str,
    backend: RawBackend,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HttpBackendConfig, Invalid> {
    let (protocol, raw) = match backend {
        RawBackend::Openai(raw) => (HttpProtocol::OpenAi, raw),
        RawBackend::Anthropic(raw) => (HttpProtocol::Anthropic, raw),
    };
    let RawHttp {
        base_url,
        api_key,
        api_key_env,
        timeout_secs,
        thinking_control,
        revision,
    } = raw;
    let base_url = match (protocol, base_url) {
        (_, Some(url)) => url,
        (HttpProtocol::Anthropic, None) => ANTHROPIC_BASE_URL.to_string(),
        (HttpProtocol::OpenAi, None) => {
            return Err((
                format!("backends.{name}.base_url"),
                "is required: the server's API root, e.g. \"http://localhost:8000/v1\"".into(),
            ))
        }
    };
    if protocol == HttpProtocol::Anthropic && thinking_control.is_some() {
        return Err((
            format!("backends.{name}.thinking_control"),
            "anthropic backends switch thinking with the Messages API's own `thinking` field; remove this key".into(),
        ));
    }
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err((
            format!("backends.{name}.base_url"),
            format!("{base_url:?} is not an http(s) URL"),
        ));
    }
    let api_key = match (api_key, api_key_env) {
        (Some(_), Some(_)) => {
            return Err((
                format!("backends.{name}"),
                "give `api_key` or `api_key_env`, not both".into(),
            ))
        }
        (Some(key), None) => Some(key),
        (None, Some(var)) => Some(env(&var).ok_or_else(|| {
            (
                format!("backends.{name}.api_key_env"),
                format!("environment variable {var} is not set"),
            )
        })?),
        (None, None) => None,
    };
    Ok(HttpBackendConfig {
        protocol,
        base_url,
        api_key,
        timeout_secs: timeout_secs.unwrap_or(DEFAULT_HTTP_TIMEOUT_SECS),
        thinking_control: thinking_control.unwrap_or(ThinkingControl::TemplateFlag),
        revision,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn an_anthropic_backend_defaults_to_anthropics_api_and_refuses_a_thinking_control() {
        let text = "[backends.claude]\nkind = \"anthropic\"\napi_key = \"sk-ant\"\n";
        let config = Config::parse(text, Path::new("u.toml"), &no_env).unwrap();
        let claude = &config.backends["claude"];
        assert_eq!(claude.protocol, HttpProtocol::Anthropic);
        assert_eq!(claude.base_url, ANTHROPIC_BASE_URL);
        let text = "[backends.claude]\nkind = \"anthropic\"\nthinking_control = \"no_think_tag\"\n";
        let err = Config::parse(text, Path::new("u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.claude.thinking_control"), "{err}");
        let text = "[backends.vllm]\nkind = \"openai\"\n";
        let err = Config::parse(text, Path::new("u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.vllm.base_url"), "{err}");
    }
}
