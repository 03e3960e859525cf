//! `rollback`: deletes what this tool created.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::app::*;
use crate::config::Credentials;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    yes: bool,
    since: Option<i64>,
    forms: bool,
) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    if !yes {
        anyhow::bail!(
            "rollback deletes every evaluation this ledger created in Genesys; run it again with --yes"
        );
    }
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let client = client_for(&cfg, Credentials::from_env()?)?;
    let r = crate::pipeline::rollback::rollback(&cfg, &ledger, &client, since, forms).await?;
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    Ok(Outcome {
        code: 0,
        human: format!(
            "rollback: {} evaluations deleted, {} already gone{}; their items are planned again (the history keeps the deletions){}",
            r.deleted,
            r.already_gone,
            if since.is_some() {
                format!(", {} older ones kept", r.kept_older)
            } else {
                String::new()
            },
            r.form
                .as_ref()
                .map(|f| format!("\n{f}"))
                .unwrap_or_else(|| "\nthe form stays (--forms deletes it)".into())
        ),
        json: json!({"command": "rollback", "records": records, "dispositions": dispositions, "rollback": r}),
    })
}
