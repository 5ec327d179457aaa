//! Installing default models by name, with a progress bar (`models install`, and `serve` for what
//! its profiles name).

use anyhow::{bail, Result};
use understudy_models::{catalog, install};

use crate::output;
use crate::progress::TerminalProgress;
use crate::setup;

/// Installs default models by name (`models install`, and `serve` for what its profiles name).
pub async fn install_models(names: &[String]) -> Result<()> {
    let home = setup::home_dir()?;
    let progress = TerminalProgress::default();
    for name in names {
        let Some(model) = catalog::find(name) else {
            let known: Vec<&str> = catalog::known_models().iter().map(|m| m.name).collect();
            bail!(
                "{name:?} is not a default model; installable: {}",
                known.join(", ")
            );
        };
        if install::is_installed(&model, &home) {
            output::note(&format!(
                "{name}: already installed at {}",
                model.path(&home).display()
            ));
            continue;
        }
        let path = install::install(&model, &home, &setup::index_url(), &progress).await?;
        output::note(&format!(
            "{name}: installed at {} (sha256 verified)",
            path.display()
        ));
    }
    Ok(())
}
