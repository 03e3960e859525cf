//! `init`: writes the commented configuration template.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf, force: bool) -> Result<Outcome> {
    if config_path.exists() && !force {
        anyhow::bail!(
            "{} exists; use --force to overwrite it",
            config_path.display()
        );
    }
    fsutil::write_private(&config_path, config::TEMPLATE.as_bytes())?;
    Ok(Outcome {
        json: json!({"command": "init", "config": config_path}),
        human: format!("wrote {}", config_path.display()),
        code: 0,
    })
}
