//! `preflight`: the org's limits and the client's permissions, before anything is written.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::config::Credentials;
use crate::context::*;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    let creds = Credentials::from_env()?;
    let client_id = creds.client_id.clone();
    let client = client_for(&cfg, creds)?;
    let p = preflight::run(&cfg, &client, &client_id).await?;
    Ok(Outcome {
        code: u8::from(!p.runnable()),
        human: preflight::human(&p),
        json: json!({"command": "preflight", "runnable": p.runnable(), "preflight": p}),
    })
}
