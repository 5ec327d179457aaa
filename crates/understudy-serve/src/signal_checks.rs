//! Start-up checks that each cascade signal can work on the backend behind it. `confidence:T`
//! needs token log-probabilities from every model whose answer it judges; a model that returns
//! none would make every request escalate, silently. One short probe per such model finds out.

use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest};
use understudy_techniques::cascade::Signal;

use crate::error::ServeError;
use crate::profile::Profile;

/// Refuses a profile whose `confidence:T` signal cannot work: a model it judges (every cascade
/// model but the last) returns no log-probabilities to a one-token probe.
pub async fn check_cascade_signals<'p>(
    backend: &dyn Backend,
    profiles: impl IntoIterator<Item = &'p Profile>,
) -> Result<(), ServeError> {
    for profile in profiles {
        let Some(cascade) = profile.cascade() else {
            continue;
        };
        let Some(signal) = cascade
            .signals
            .iter()
            .find(|s| matches!(s, Signal::Confidence { .. }))
        else {
            continue;
        };
        let judged = &cascade.models[..cascade.models.len().saturating_sub(1)];
        for model in judged {
            let probe = ChatRequest {
                logprobs: true,
                max_tokens: Some(1),
                temperature: Some(0.0),
                ..ChatRequest::new(model.clone(), vec![ChatMessage::user("Say OK.")])
            }
            .validate()
            .map_err(|e| ServeError::Config(format!("profiles.{}: {e}", profile.name)))?;
            let answer = backend.chat(probe).await.map_err(|e| {
                ServeError::Config(format!(
                    "profiles.{}.cascade: probing {model} for `{}`: {e}",
                    profile.name,
                    signal.name()
                ))
            })?;
            if answer.confidence.is_none() {
                return Err(ServeError::Config(format!(
                    "profiles.{}.cascade: the `{}` signal needs token log-probabilities, and {model} returned none to a probe (its server does not return `logprobs`); every request would escalate. Use self_check or agreement:K, or serve {model} from a backend that returns them (the embedded engine, llama.cpp's server, vLLM)",
                    profile.name,
                    signal.name()
                )));
            }
        }
    }
    Ok(())
}
