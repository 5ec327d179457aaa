//! Canary: a served name that splits traffic between profiles by weight
//! (`[serve.canary.support] arms = { local = 10, reference = 90 }`). A request to the canary is
//! answered by one arm, chosen by a hash of its conversation key (the client's
//! `x-conversation-id` or `user`, else its system prompt and first user turn), so every turn of
//! a conversation — or every request of one user key — goes to the same arm. Arms are placed on
//! [0, 1) in a fixed order, so raising one arm's weight moves only conversations from the arms
//! after it. Weights can be moved while gateways run (`understudy canary NAME arm=W …` writes
//! them to the store; every gateway on it reads them within seconds). Each request is counted
//! per arm (`understudy_canary_total`), measured under the arm's label, and logged with the
//! canary's name as the model and the arm as the profile.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use understudy_store::RequestLog;

use crate::profile::Profile;

/// How often gateways read moved weights from the store.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// A canary as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    /// Profile name → weight (any non-negative integers; only their ratio counts).
    pub arms: BTreeMap<String, u32>,
}

/// The configured canaries and their weights as last moved.
#[derive(Debug, Default)]
pub struct Canaries {
    configured: BTreeMap<String, Vec<(String, u32)>>,
    moved: RwLock<BTreeMap<String, Vec<(String, u32)>>>,
}

/// Weights as `{arm: weight}` JSON, checked against the canary's arms.
pub fn parse_weights(json: &str, arms: &[(String, u32)]) -> Result<Vec<(String, u32)>, String> {
    let moved: BTreeMap<String, u32> =
        serde_json::from_str(json).map_err(|e| format!("weights are not {{arm: weight}}: {e}"))?;
    if let Some(unknown) = moved.keys().find(|k| !arms.iter().any(|(a, _)| a == *k)) {
        return Err(format!("{unknown:?} is not an arm of this canary"));
    }
    let weights: Vec<(String, u32)> = arms
        .iter()
        .map(|(arm, _)| (arm.clone(), moved.get(arm).copied().unwrap_or(0)))
        .collect();
    if weights.iter().all(|(_, w)| *w == 0) {
        return Err("at least one arm needs a weight above 0".into());
    }
    Ok(weights)
}

/// The arm `key` goes to under `weights` (`None` when every weight is 0).
pub fn arm_for<'w>(key: &str, weights: &'w [(String, u32)]) -> Option<&'w str> {
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let digest = Sha256::digest(format!("canary:{key}").as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let point = u64::from_be_bytes(head) as f64 / u64::MAX as f64 * total as f64;
    let mut upto = 0.0;
    for (arm, weight) in weights {
        upto += f64::from(*weight);
        if point < upto {
            return Some(arm);
        }
    }
    weights
        .iter()
        .rev()
        .find(|(_, w)| *w > 0)
        .map(|(a, _)| a.as_str())
}

impl Canaries {
    /// The canaries of `[serve.canary]`; every arm must be a profile, and a canary's name may
    /// not be one.
    pub fn new(
        raw: &BTreeMap<String, RawCanary>,
        profiles: &BTreeMap<String, Profile>,
    ) -> Result<Self, String> {
        let mut configured = BTreeMap::new();
        for (name, canary) in raw {
            let key = format!("serve.canary.{name}");
            if profiles.contains_key(name) {
                return Err(format!("`{key}`: {name:?} is already a profile's name"));
            }
            if let Some(arm) = canary.arms.keys().find(|a| !profiles.contains_key(*a)) {
                return Err(format!("`{key}.arms`: {arm:?} is not a profile"));
            }
            let arms: Vec<(String, u32)> = canary.arms.clone().into_iter().collect();
            if arms.iter().all(|(_, w)| *w == 0) {
                return Err(format!(
                    "`{key}.arms`: at least one arm needs a weight above 0"
                ));
            }
            configured.insert(name.clone(), arms);
        }
        Ok(Self {
            configured,
            moved: RwLock::default(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.configured.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.configured.keys()
    }

    /// The canary's configured arms and weights.
    pub fn configured(&self, name: &str) -> Option<&[(String, u32)]> {
        self.configured.get(name).map(Vec::as_slice)
    }

    /// The arm canary `name` sends conversation `key` to (`None`: `name` is no canary).
    pub fn route(&self, name: &str, key: &str) -> Option<String> {
        let configured = self.configured.get(name)?;
        let moved = self.moved.read().ok();
        let weights = moved
            .as_ref()
            .and_then(|m| m.get(name))
            .unwrap_or(configured);
        arm_for(key, weights).map(str::to_string)
    }

    /// Reads the weights moved in `log`'s store every [`POLL_EVERY`], for as long as the
    /// gateway runs; weights that do not fit a canary are left out with a warning.
    pub fn poll(self: Arc<Self>, log: Arc<dyn RequestLog>) {
        tokio::spawn(async move {
            loop {
                match log.canary_weights().await {
                    Ok(rows) => self.take_moved(&rows),
                    Err(e) => tracing::warn!("canary weights not read: {e}"),
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        });
    }

    fn take_moved(&self, rows: &[(String, String)]) {
        let mut moved = BTreeMap::new();
        for (name, json) in rows {
            let Some(arms) = self.configured.get(name) else {
                continue;
            };
            match parse_weights(json, arms) {
                Ok(weights) => {
                    moved.insert(name.clone(), weights);
                }
                Err(e) => tracing::warn!("canary {name}: stored weights ignored: {e}"),
            }
        }
        if let Ok(mut kept) = self.moved.write() {
            *kept = moved;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(a, w)| (a.to_string(), *w)).collect()
    }

    #[test]
    fn arms_get_their_share_and_a_raised_weight_moves_only_later_arms() {
        let ten = weights(&[("local", 10), ("reference", 90)]);
        let keys: Vec<String> = (0..4000).map(|i| format!("c{i}")).collect();
        let local = keys
            .iter()
            .filter(|k| arm_for(k, &ten) == Some("local"))
            .count();
        assert!((320..480).contains(&local), "{local}");
        let twenty = weights(&[("local", 20), ("reference", 80)]);
        for k in &keys {
            if arm_for(k, &ten) == Some("local") {
                assert_eq!(arm_for(k, &twenty), Some("local"), "{k} moved away");
            }
        }
        assert_eq!(arm_for("c1", &weights(&[("a", 0), ("b", 0)])), None);
    }

    #[test]
    fn moved_weights_are_checked_against_the_arms() {
        let arms = weights(&[("local", 10), ("reference", 90)]);
        assert_eq!(
            parse_weights(r#"{"local": 50}"#, &arms),
            Ok(weights(&[("local", 50), ("reference", 0)]))
        );
        assert!(parse_weights(r#"{"other": 5}"#, &arms)
            .unwrap_err()
            .contains("not an arm"));
        assert!(parse_weights(r#"{"local": 0}"#, &arms).is_err());
        assert!(parse_weights("[1]", &arms).is_err());
    }
}
