//! `rollback`: deletes what this tool created in Genesys — every evaluation the ledger created
//! (or those sent since a run) and, on request, the forms — and plans each record again with a
//! fresh idempotency key, so a later `load` creates it anew.
//!
//! It deletes what it can: an evaluation past Genesys' edit window (which refuses deletions 90
//! days after creation) is not sent a deletion, and one Genesys refuses for itself alone (a 4xx)
//! is listed with the reason; both stay `created`, and the command exits 1 naming them. Only what
//! every deletion would meet stops it (a 401 after one new token, a 403, an outage), and a stop
//! (Ctrl-C, an outage) loses nothing: a re-run goes on where it stopped.

use anyhow::{Context, Result};
use genesys::error::ItemFailure;
use genesys::{GenesysClient, GenesysError};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::Ledger;
use crate::pipeline::edit_window;

/// An evaluation rollback could not delete, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NotDeleted {
    /// The record, by its Calabrio identity.
    pub record: String,
    /// The Genesys evaluation (it stays `created` in the ledger).
    pub evaluation_id: String,
    /// Why.
    pub reason: String,
}

/// What `rollback` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackSummary {
    /// Evaluations deleted.
    pub deleted: u64,
    /// Already gone from Genesys (404): their items go back to `planned` too.
    pub already_gone: u64,
    /// Created evaluations left alone because they were sent before `--since`.
    pub kept_older: u64,
    /// Evaluations not deleted (past Genesys' edit window, or refused for themselves alone):
    /// they stay `created`.
    pub not_deleted: Vec<NotDeleted>,
    /// `--dry-run`: evaluations a rollback would delete now.
    pub would_delete: u64,
    /// Nothing was deleted: what a rollback would do.
    pub dry_run: bool,
    /// Stopped by a signal before the end (a re-run goes on).
    pub interrupted: bool,
    /// `--forms`: the form deleted, or why it stays.
    pub form: Option<String>,
}

/// Options of `rollback`.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Only evaluations sent by this run or later.
    pub since: Option<i64>,
    /// Then delete the forms.
    pub forms: bool,
    /// Delete nothing; say what would be deleted and what cannot be.
    pub dry_run: bool,
}

/// Deletes every evaluation the ledger created (sent by run `since` or later, when given) and
/// re-plans its item; with `forms`, then deletes the Legacy Migration Form.
///
/// # Errors
/// As [`rollback_with`].
pub async fn rollback(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    since: Option<i64>,
    forms: bool,
) -> Result<RollbackSummary> {
    let opts = RollbackOptions {
        since,
        forms,
        dry_run: false,
    };
    rollback_with(cfg, ledger, client, &opts).await
}

/// [`rollback`] with every option.
///
/// # Errors
/// An unknown run, ledger errors, and what every deletion would meet (credentials, permissions,
/// an outage: a re-run resumes).
pub async fn rollback_with(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    opts: &RollbackOptions,
) -> Result<RollbackSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "rollback")?;
    let mut summary = RollbackSummary {
        dry_run: opts.dry_run,
        ..RollbackSummary::default()
    };
    let since_ms = match opts.since {
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
    let run = (!opts.dry_run)
        .then(|| ledger.begin_run("rollback"))
        .transpose()?;
    'all: for (conversation, items) in crate::verify::created_items(ledger)? {
        for item in items {
            if crate::interrupt::requested() {
                summary.interrupted = true;
                break 'all;
            }
            if let Some(ms) = since_ms
                && item.sent_at.is_none_or(|s| s < ms)
            {
                summary.kept_older += 1;
                continue;
            }
            let now = client.clock().now_unix_ms();
            if let Some(why) = edit_window::past(
                cfg,
                now,
                item.genesys_created.as_deref(),
                item.sent_at,
                item.edit_window_closed.as_deref(),
            ) {
                summary.not_deleted.push(NotDeleted {
                    record: item.name.clone(),
                    evaluation_id: item.evaluation_id.clone(),
                    reason: format!("{why}: Genesys refuses to delete it; it stays"),
                });
                continue;
            }
            if opts.dry_run {
                summary.would_delete += 1;
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
                Err(e) => match e.item_failure() {
                    ItemFailure::Gone => {
                        summary.already_gone += 1;
                        "already gone at rollback"
                    }
                    ItemFailure::ThisItem => {
                        summary.not_deleted.push(refused(cfg, ledger, &item, &e)?);
                        continue;
                    }
                    ItemFailure::StopRun | ItemFailure::Outage => {
                        if let Some(run) = run {
                            ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
                        }
                        return Err(anyhow::Error::new(e).context(format!(
                            "cannot delete evaluation {} (conversation {conversation}); {} deleted before this",
                            item.evaluation_id, summary.deleted
                        )));
                    }
                },
            };
            ledger.rolled_back(item.record_id, outcome, &item.evaluation_id)?;
        }
    }
    if opts.forms && !opts.dry_run && !summary.interrupted {
        let kept = summary.kept_older + summary.not_deleted.len() as u64;
        summary.form = Some(rollback_form(cfg, ledger, client, kept).await?);
    }
    if let Some(run) = run {
        ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    }
    Ok(summary)
}

/// Genesys refused to delete `item` for itself alone: a 400 is taken as its edit window (Genesys
/// publishes no code for it, and remembers it), anything else listed with Genesys' answer.
fn refused(
    cfg: &Config,
    ledger: &Ledger,
    item: &crate::ledger::CreatedItem,
    e: &GenesysError,
) -> Result<NotDeleted> {
    let reason = if e.status() == Some(400) {
        let why = edit_window::reason(
            cfg,
            edit_window::start(item.genesys_created.as_deref(), item.sent_at),
        );
        ledger.close_edit_window(
            item.record_id,
            &format!("{why}: Genesys refused to delete it ({e})"),
        )?;
        format!("{why}: Genesys refused to delete it ({e}); it stays")
    } else {
        format!("Genesys refused to delete it ({e}); it stays")
    };
    Ok(NotDeleted {
        record: item.name.clone(),
        evaluation_id: item.evaluation_id.clone(),
        reason,
    })
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
            "form {names} stays: {kept} evaluations older than --since or not deleted still use it"
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
