//! `understudy.toml`: the typed configuration tree. Parsed strictly (unknown keys are errors that
//! name the key path, file and line), then resolved into [`Config`], which has no placeholders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config_backends::{backend_from_env, resolve_backend, Invalid, RawBackend};
pub use crate::config_backends::{
    HttpBackendConfig, HttpProtocol, ANTHROPIC_BASE_URL, DEFAULT_HTTP_TIMEOUT_SECS,
};

/// The file looked for in the working directory when no `--config` is given.
pub const CONFIG_FILE_NAME: &str = "understudy.toml";
/// The model used when neither the command line nor the config names one.
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-0.5b";
/// The reference model used when none is named.
pub const DEFAULT_REFERENCE: &str = "qwen2.5-coder-1.5b";
/// Name of the backend created from `OPENAI_BASE_URL` when the config declares none by that name.
pub const ENV_BACKEND_NAME: &str = "openai";

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{line}: {place}: {message}", line = line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        /// The key (or table) the error is at, in words: "key `defaults.threads`".
        place: String,
        message: String,
    },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    backends: RawBackends,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
    /// The `[eval]` table: checked strictly by the eval crate, which owns its keys.
    eval: Option<toml::Table>,
    /// The `[serve]` table and `[profiles.*]`: checked strictly by the serve crate.
    serve: Option<toml::Table>,
    profiles: Option<toml::Table>,
    #[serde(default)]
    store: RawStore,
}

/// `[store]`: where runs, the request log, conversations and memory live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    /// A SQLite file (a path or `sqlite:PATH`) or `postgres://…`.
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    model: Option<String>,
    reference: Option<String>,
    threads: Option<u32>,
    context_length: Option<u32>,
    max_loaded_models: Option<usize>,
    prefix_cache: Option<bool>,
}

/// `[backends]`: the embedded backend's table under its own name, HTTP servers under theirs.
#[derive(Debug, Default)]
struct RawBackends {
    embedded: Option<RawEmbedded>,
    servers: BTreeMap<String, RawBackend>,
}

/// By hand rather than `#[serde(flatten)]`, which would hide the key path (`backends.vllm.x`)
/// from error messages.
impl<'de> Deserialize<'de> for RawBackends {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tables;
        impl<'de> serde::de::Visitor<'de> for Tables {
            type Value = RawBackends;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of backends")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawBackends, A::Error> {
                let mut backends = RawBackends::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "embedded" {
                        backends.embedded = Some(map.next_value()?);
                    } else {
                        let backend = map.next_value()?;
                        backends.servers.insert(name, backend);
                    }
                }
                Ok(backends)
            }
        }
        deserializer.deserialize_map(Tables)
    }
}

/// `[backends.embedded]`: settings of the in-process llama.cpp engine.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbedded {
    /// Requests each model runs at once (parallel sequences, continuous batching).
    parallel: Option<u32>,
    /// Decode the parallel sequences' next tokens in one batch (faster where decoding is
    /// memory-bound; answers may differ from a one-at-a-time run in float rounding).
    batch_decode: Option<bool>,
    /// Hold tool calls to the offered functions' schemas with a grammar (default on).
    tool_call_grammar: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: Option<PathBuf>,
    chat_template: Option<String>,
    context_length: Option<u32>,
    parallel: Option<u32>,
    backend: Option<String>,
    model: Option<String>,
    /// Dollars per million prompt / completion tokens (see `price.rs`).
    price_in: Option<f64>,
    price_out: Option<f64>,
}

impl RawModel {
    /// A table that only sets a price for a model declared elsewhere (or built in).
    fn only_prices(&self) -> bool {
        self.path.is_none()
            && self.backend.is_none()
            && self.model.is_none()
            && self.chat_template.is_none()
            && self.context_length.is_none()
            && self.parallel.is_none()
    }
}

/// Where a named model lives.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelTarget {
    /// A GGUF file run in-process.
    Gguf {
        path: PathBuf,
        chat_template: Option<String>,
        context_length: Option<u32>,
        /// Requests run at once (overrides `[backends.embedded] parallel`).
        parallel: Option<u32>,
    },
    /// A model served by a configured HTTP backend.
    Remote { backend: String, model: String },
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub default_model: String,
    pub reference_model: String,
    /// Threads for embedded inference; `None` means all cores.
    pub threads: Option<u32>,
    /// Context window for embedded models; `None` means the backend's default.
    pub context_length: Option<u32>,
    /// Most embedded models loaded at once; `None` means the backend's default.
    pub max_loaded_models: Option<usize>,
    /// Embedded models reuse the KV cache of a shared prompt prefix (default on).
    pub prefix_cache: bool,
    /// Requests each embedded model runs at once; `None`: the backend's default.
    pub parallel: Option<u32>,
    /// Embedded models decode parallel sequences in one batch (default off: exact answers).
    pub batch_decode: bool,
    /// Embedded models hold tool calls to each function's schema with a grammar (default on).
    pub tool_call_grammar: bool,
    pub backends: BTreeMap<String, HttpBackendConfig>,
    pub models: BTreeMap<String, ModelTarget>,
    /// `price_in` / `price_out` of `[models.NAME]` tables: what each model's tokens cost.
    pub prices: BTreeMap<String, crate::price::Price>,
    /// `[store] url`: the store every command uses unless `--db` names another.
    pub store_url: Option<String>,
    /// The raw `[eval]` table, if the file has one.
    pub eval: Option<toml::Table>,
    /// The raw `[serve]` table, if any.
    pub serve: Option<toml::Table>,
    /// The raw `[profiles]` table, if any.
    pub profiles: Option<toml::Table>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: None,
            default_model: DEFAULT_MODEL.to_string(),
            reference_model: DEFAULT_REFERENCE.to_string(),
            threads: None,
            context_length: None,
            max_loaded_models: None,
            prefix_cache: true,
            parallel: None,
            batch_decode: false,
            tool_call_grammar: true,
            backends: BTreeMap::new(),
            models: BTreeMap::new(),
            prices: BTreeMap::new(),
            store_url: None,
            eval: None,
            serve: None,
            profiles: None,
        }
    }
}

impl Config {
    /// Reads and resolves `path`; `env` looks up environment variables.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, env)
    }

    /// The configuration when no file exists: defaults plus the environment.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        resolve(RawConfig::default(), Path::new("<environment>"), env, None)
    }

    /// Parses config text that came from `path` (used in messages).
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let deserializer = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let key = err.path().to_string();
            let inner = err.into_inner();
            let line = inner
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                place: crate::toml_error::place("", &key),
                message: crate::toml_error::in_words(inner.message()),
            }
        })?;
        resolve(raw, path, env, Some(path.to_path_buf()))
    }
}

fn resolve(
    raw: RawConfig,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    source: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        key,
        message,
    };
    let mut backends = BTreeMap::new();
    let embedded = raw.backends.embedded.unwrap_or_default();
    let parallel = embedded.parallel;
    for (name, backend) in raw.backends.servers {
        let config = resolve_backend(&name, backend, env).map_err(|(k, m)| invalid(k, m))?;
        backends.insert(name, config);
    }
    if !backends.contains_key(ENV_BACKEND_NAME) {
        if let Some(from_env) = backend_from_env(env) {
            backends.insert(ENV_BACKEND_NAME.to_string(), from_env);
        }
    }
    let mut models = BTreeMap::new();
    let mut prices = BTreeMap::new();
    for (name, model) in raw.models {
        if let Some(price) = crate::price::from_table(&name, model.price_in, model.price_out)
            .map_err(|(k, m)| invalid(k, m))?
        {
            prices.insert(name.clone(), price);
        }
        if model.only_prices() {
            continue;
        }
        let target = resolve_model(&name, model, &backends).map_err(|(k, m)| invalid(k, m))?;
        models.insert(name, target);
    }
    for (key, zero) in [
        ("defaults.threads", raw.defaults.threads == Some(0)),
        (
            "defaults.max_loaded_models",
            raw.defaults.max_loaded_models == Some(0),
        ),
        ("backends.embedded.parallel", parallel == Some(0)),
    ] {
        if zero {
            return Err(invalid(key.into(), "must be at least 1".into()));
        }
    }
    Ok(Config {
        source,
        default_model: raw.defaults.model.unwrap_or_else(|| DEFAULT_MODEL.into()),
        reference_model: raw
            .defaults
            .reference
            .unwrap_or_else(|| DEFAULT_REFERENCE.into()),
        threads: raw.defaults.threads,
        context_length: raw.defaults.context_length,
        max_loaded_models: raw.defaults.max_loaded_models,
        prefix_cache: raw.defaults.prefix_cache.unwrap_or(true),
        parallel,
        batch_decode: embedded.batch_decode.unwrap_or(false),
        tool_call_grammar: embedded.tool_call_grammar.unwrap_or(true),
        backends,
        models,
        prices,
        store_url: raw.store.url,
        eval: raw.eval,
        serve: raw.serve,
        profiles: raw.profiles,
    })
}

/// One `[models.NAME]` table: a local GGUF, or a model served by a declared backend.
fn resolve_model(
    name: &str,
    model: RawModel,
    backends: &BTreeMap<String, HttpBackendConfig>,
) -> Result<ModelTarget, Invalid> {
    let key = format!("models.{name}");
    match model {
        RawModel {
            path: Some(gguf),
            backend: None,
            model: None,
            chat_template,
            context_length,
            parallel,
            ..
        } => match parallel {
            Some(0) => Err((format!("{key}.parallel"), "must be at least 1".into())),
            _ => Ok(ModelTarget::Gguf {
                path: gguf,
                chat_template,
                context_length,
                parallel,
            }),
        },
        RawModel {
            path: None,
            backend: Some(backend),
            model: Some(id),
            chat_template: None,
            context_length: None,
            parallel: None,
            ..
        } => {
            if !backends.contains_key(&backend) {
                return Err((
                    format!("{key}.backend"),
                    format!("no backend named {backend:?} is declared under [backends]"),
                ));
            }
            Ok(ModelTarget::Remote { backend, model: id })
        }
        _ => Err((
            key,
            "declare either `path` (a local GGUF, optionally with `chat_template`, \
             `context_length` and `parallel`) or `backend` and `model` (a served model)"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn full_config_resolves() {
        let text = r#"
[defaults]
model = "big"
threads = 2

[backends.vllm]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
api_key = "k"

[models.big]
backend = "vllm"
model = "Qwen/Qwen2.5-72B-Instruct"

[models.mine]
path = "/m/x.gguf"
chat_template = "chatml"
"#;
        let c = Config::parse(text, Path::new("u.toml"), &no_env).unwrap();
        assert_eq!(c.default_model, "big");
        assert_eq!(c.backends["vllm"].api_key.as_deref(), Some("k"));
        assert!(matches!(c.models["big"], ModelTarget::Remote { .. }));
        assert!(matches!(c.models["mine"], ModelTarget::Gguf { .. }));
    }

    #[test]
    fn parallel_sequences_are_set_for_the_embedded_backend_and_per_model() {
        let text = "[backends.embedded]\nparallel = 2\n\n[backends.vllm]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\n\n[models.mine]\npath = \"/m/x.gguf\"\nparallel = 3\n";
        let c = Config::parse(text, Path::new("u.toml"), &no_env).unwrap();
        assert_eq!(c.parallel, Some(2));
        assert!(c.backends.contains_key("vllm"));
        assert!(matches!(
            c.models["mine"],
            ModelTarget::Gguf {
                parallel: Some(3),
                ..
            }
        ));
        for (text, key) in [
            (
                "[backends.embedded]\nparallel = 0\n",
                "backends.embedded.parallel",
            ),
            (
                "[models.m]\npath = \"/x.gguf\"\nparallel = 0\n",
                "models.m.parallel",
            ),
            ("[backends.embedded]\nparalel = 2\n", "paralel"),
        ] {
            let err = Config::parse(text, Path::new("u.toml"), &no_env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_store_url_is_read_and_its_table_checked() {
        let c = Config::parse(
            "[store]\nurl = \"postgres://u@h/d\"\n",
            Path::new("u.toml"),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.store_url.as_deref(), Some("postgres://u@h/d"));
        let err = Config::parse("[store]\nuri = \"x\"\n", Path::new("u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("uri"), "{err}");
    }

    #[test]
    fn unknown_key_names_path_file_and_line() {
        let text = "[defaults]\nmodel = \"x\"\n\n[backends.vllm]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\ntimeout = 3\n";
        let err = Config::parse(text, Path::new("conf/u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        // Inside a tagged table the span is the table header (line 4); the field is named.
        assert!(err.starts_with("conf/u.toml:4:"), "{err}");
        assert!(err.contains("backends.vllm"), "{err}");
        assert!(err.contains("timeout"), "{err}");
    }

    #[test]
    fn unknown_backend_kind_is_an_error() {
        let text = "[backends.x]\nkind = \"grpc\"\nbase_url = \"http://h\"\n";
        let err = Config::parse(text, Path::new("u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.x"), "{err}");
    }

    #[test]
    fn model_pointing_at_missing_backend_is_named() {
        let text = "[models.m]\nbackend = \"nope\"\nmodel = \"x\"\n";
        let err = Config::parse(text, Path::new("u.toml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("models.m.backend"), "{err}");
    }

    #[test]
    fn environment_adds_an_openai_backend() {
        let env = |k: &str| match k {
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1".to_string()),
            "OPENAI_API_KEY" => Some("sk".to_string()),
            _ => None,
        };
        let c = Config::from_env(&env).unwrap();
        assert_eq!(c.backends[ENV_BACKEND_NAME].api_key.as_deref(), Some("sk"));
    }
}
