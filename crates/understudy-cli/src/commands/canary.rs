//! `understudy canary NAME [ARM=WEIGHT …]`: show a canary's weights, or move them — written to
//! the store, where every gateway on it reads them within seconds.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use understudy_serve::canary::{parse_weights, POLL_EVERY};

use crate::cli::canary::CanaryArgs;
use crate::{output, setup};

pub async fn run(config_path: Option<&Path>, args: CanaryArgs) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let section = setup::serve_section(&config)?;
    let Some(raw) = section.canary.get(&args.name) else {
        let known: Vec<&String> = section.canary.keys().collect();
        bail!(
            "no canary {:?} in the configuration ([serve.canary.NAME]; configured: {})",
            args.name,
            if known.is_empty() {
                "none".to_string()
            } else {
                format!("{known:?}")
            }
        );
    };
    let arms: Vec<(String, u32)> = raw.arms.clone().into_iter().collect();
    let location =
        setup::store_location(args.store.db.as_deref(), &config, section.log_db.as_deref());
    let store = understudy_store::Store::open(&location).await?;
    if args.weights.is_empty() {
        let moved = store.log.canary_weights().await?;
        let stored = moved.iter().find(|(n, _)| *n == args.name);
        let (weights, from) = match stored {
            Some((_, json)) => (parse_weights(json, &arms).map_err(|e| anyhow!(e))?, "moved"),
            None => (arms, "as configured"),
        };
        output::data_line(&format!("{} ({from}): {}", args.name, shares(&weights)));
        return Ok(());
    }
    let mut set = BTreeMap::new();
    for pair in &args.weights {
        let (arm, weight) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("{pair:?}: write ARM=WEIGHT"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| anyhow!("{pair:?}: the weight must be a whole number of 0 or more"))?;
        set.insert(arm.trim().to_string(), weight);
    }
    let json = serde_json::to_string(&set)?;
    let weights = parse_weights(&json, &arms).map_err(|e| anyhow!("canary {}: {e}", args.name))?;
    store.log.set_canary_weights(&args.name, &json).await?;
    output::data_line(&format!("{}: {}", args.name, shares(&weights)));
    output::note(&format!(
        "written to {}; gateways on this store follow within {} s",
        store.location(),
        POLL_EVERY.as_secs()
    ));
    Ok(())
}

/// `local 20% · reference 80%`.
fn shares(weights: &[(String, u32)]) -> String {
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    weights
        .iter()
        .map(|(arm, w)| {
            format!(
                "{arm} {:.0}%",
                f64::from(*w) * 100.0 / f64::from(total.max(1))
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}
