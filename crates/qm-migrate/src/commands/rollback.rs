//! `rollback`: deletes what this tool created (or, `--dry-run`, says what it would delete and what
//! falls outside Genesys' edit window).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::config::Credentials;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    yes: bool,
    since: Option<i64>,
    forms: bool,
    dry_run: bool,
) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    if !yes && !dry_run {
        anyhow::bail!(
            "rollback deletes every evaluation this ledger created in Genesys; run it again with --yes (or --dry-run to see what it would do)"
        );
    }
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let client = client_for(&cfg, Credentials::from_env()?)?;
    let opts = crate::pipeline::rollback::RollbackOptions {
        since,
        forms,
        dry_run,
    };
    let r = crate::pipeline::rollback::rollback_with(&cfg, &ledger, &client, &opts).await?;
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    let mut human = if dry_run {
        format!(
            "rollback --dry-run: {} evaluations would be deleted{}; nothing was deleted",
            r.would_delete,
            if since.is_some() {
                format!(", {} older ones kept", r.kept_older)
            } else {
                String::new()
            }
        )
    } else {
        format!(
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
        )
    };
    if !r.not_deleted.is_empty() {
        human.push_str(&format!(
            "\n{} evaluations {} not be deleted and stay `created` in the ledger:",
            r.not_deleted.len(),
            if dry_run { "would" } else { "could" }
        ));
        for n in &r.not_deleted {
            human.push_str(&format!(
                "\n  {} (Genesys evaluation {}): {}",
                n.record, n.evaluation_id, n.reason
            ));
        }
    }
    if r.interrupted {
        human.push_str("\nstopped by a signal: run `qm-migrate rollback --yes` again to go on");
    }
    Ok(Outcome {
        code: u8::from(!r.not_deleted.is_empty() || r.interrupted),
        human,
        json: json!({"command": "rollback", "records": records, "dispositions": dispositions, "rollback": r}),
    })
}
