//! One question to a judge model, answered from the response cache when it can be: greedy
//! first, and once more sampled when the verdict cannot be read. Both judges (the MT-Bench
//! rating and the pairwise comparison with the reference) ask through here.

use understudy_backend::Backend;
use understudy_core::{ChatMessage, ChatRequest, ChatResponse};
use understudy_store::Store;

use crate::EvalError;

/// The judge model a question goes to.
pub struct JudgeModel<'j> {
    pub backend: &'j dyn Backend,
    pub model: &'j str,
    /// What the model name points at (part of the cache key).
    pub identity: &'j str,
}

/// Checks that judge `model` answers and learns what it points at (part of the cache key and
/// of a run's resume key).
pub async fn identity_of(backend: &dyn Backend, model: &str) -> Result<String, EvalError> {
    let err = |source| EvalError::Model {
        model: model.to_string(),
        source,
    };
    backend.check_model(model).await.map_err(err)?;
    backend.model_identity(model).await.map_err(err)
}

/// The verdict read from the judge's answer, how many tries it took, and the last answer.
pub struct Asked<T> {
    pub verdict: Option<T>,
    pub attempts: u32,
    pub judgment: String,
}

impl JudgeModel<'_> {
    /// Asks `system` + `user` and reads the verdict with `read`; two tries at most.
    pub async fn ask<T>(
        &self,
        store: &Store,
        system: &str,
        user: &str,
        read: impl Fn(&str) -> Option<T>,
    ) -> Result<Asked<T>, EvalError> {
        let mut judgment = String::new();
        for attempt in 1..=2u32 {
            let request = ChatRequest {
                max_tokens: Some(512),
                // The first try is greedy (FastChat's setting); the retry samples.
                temperature: Some(if attempt == 1 { 0.0 } else { 0.7 }),
                seed: Some(u64::from(attempt)),
                ..ChatRequest::new(
                    self.model.to_string(),
                    vec![ChatMessage::system(system), ChatMessage::user(user)],
                )
            }
            .validate()
            .map_err(|e| EvalError::Config(format!("judge request: {e}")))?;
            let key = understudy_store::cache_key(self.identity, &request);
            let cached = store
                .cache
                .cache_get(&key)
                .await?
                .and_then(|json| serde_json::from_str::<ChatResponse>(&json).ok());
            let response =
                match cached {
                    Some(r) => r,
                    None => {
                        let r = self.backend.chat(request).await.map_err(|source| {
                            EvalError::Model {
                                model: self.model.to_string(),
                                source,
                            }
                        })?;
                        if let Ok(json) = serde_json::to_string(&r) {
                            store.cache.cache_put(&key, &json).await?;
                        }
                        r
                    }
                };
            judgment = response.answer;
            if let Some(verdict) = read(&judgment) {
                return Ok(Asked {
                    verdict: Some(verdict),
                    attempts: attempt,
                    judgment,
                });
            }
        }
        Ok(Asked {
            verdict: None,
            attempts: 2,
            judgment,
        })
    }
}
