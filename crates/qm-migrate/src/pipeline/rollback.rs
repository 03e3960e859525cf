//! `rollback`: deletes what this tool created in Genesys — every evaluation the ledger created
//! (or those sent since a run) and, on request, the forms — and plans each record again with a
//! fresh idempotency key, so a later `load` creates it anew.

use anyhow::{Context, Result};
use genesys::{GenesysClient, GenesysError};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::Ledger;

/// What `rollback` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackSummary {
    /// Evaluations deleted.
    pub deleted: u64,
    /// Already gone from Genesys (404): their items go back to `planned` too.
    pub already_gone: u64,
    /// Created evaluations left alone because they were sent before `--since`.
    pub kept_older: u64,
    /// `--forms`: the form deleted, or why it stays.
    pub form: Option<String>,
}

/// Deletes every evaluation the ledger created (sent by run `since` or later, when given) and
/// re-plans its item; with `forms`, then deletes the Legacy Migration Form.
///
/// # Errors
/// An unknown run, ledger and Genesys errors (a failed delete stops; a re-run resumes).
pub async fn rollback(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    since: Option<i64>,
    forms: bool,
) -> Result<RollbackSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "rollback")?;
    let mut summary = RollbackSummary::default();
    let since_ms = match since {
        None => None,
        Some(run) => {
            let started = ledger.run_started_at(run)?;
            let started = started.with_context(|| {
                format!(
                    "rollback --since {run}: the ledger has no run {run} (status lists the runs)"
                )
            })?;
            let ts: jiff::Timestamp = started
                .parse()
                .with_context(|| format!("run {run} has an unreadable start time {started}"))?;
            Some(ts.as_millisecond())
        }
    };
    let run = ledger.begin_run("rollback")?;
    for (conversation, items) in crate::verify::created_items(ledger)? {
        for item in items {
            if let Some(ms) = since_ms
                && item.sent_at.is_none_or(|s| s < ms)
            {
                summary.kept_older += 1;
                continue;
            }
            let outcome = match client
                .delete_evaluation(&conversation, &item.evaluation_id)
                .await
            {
                Ok(()) => {
                    summary.deleted += 1;
                    "deleted by rollback"
                }
                Err(GenesysError::Api { status: 404, .. }) => {
                    summary.already_gone += 1;
                    "already gone at rollback"
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "cannot delete evaluation {} (conversation {conversation})",
                        item.evaluation_id
                    )));
                }
            };
            ledger.rolled_back(item.record_id, outcome, &item.evaluation_id)?;
        }
    }
    if forms {
        summary.form = Some(rollback_form(cfg, ledger, client, summary.kept_older).await?);
    }
    ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// Deletes the forms this ledger provisioned — the Legacy Migration Form and, in mirror mode, the
/// mirrored forms — with every version, and forgets them, so a later `provision` creates them again.
async fn rollback_form(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    kept: u64,
) -> Result<String> {
    let forms = ledger.form_drafts()?;
    if forms.is_empty() {
        return Ok(format!("form '{}' was never provisioned", cfg.form.name));
    }
    let names = forms
        .iter()
        .map(|(n, _)| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if kept > 0 {
        return Ok(format!(
            "form {names} stays: {kept} evaluations older than --since still use it"
        ));
    }
    let mut said = Vec::new();
    for (name, draft_id) in forms {
        match client.delete_form(&draft_id).await {
            Ok(()) | Err(GenesysError::Api { status: 404, .. }) => {
                ledger.forget_form(&name)?;
                said.push(format!("form '{name}' deleted"));
            }
            Err(e @ GenesysError::Api { status: 409, .. }) => said.push(format!(
                "form '{name}' stays: Genesys refused to delete it ({e})"
            )),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot delete form '{name}'")));
            }
        }
    }
    Ok(said.join("; "))
}
