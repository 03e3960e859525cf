//! The sync pass: evaluations whose Calabrio record changed are read, then updated in place (or
//! listed when edited in Genesys); records gone from the source are withdrawn or flagged.
//!
//! One evaluation's problem is that evaluation's: a change or withdrawal past Genesys' edit window
//! is listed, not sent; a 4xx about one evaluation (its read, update or deletion) flags it with
//! Genesys' code and message and the pass goes on. Only what every request would meet stops the
//! run: a 401 after one new token, a 403, and an outage (5xx or no answer after the retries), which
//! `load` waits out with `--follow` or stops on cleanly.

use genesys::error::ItemFailure;

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::ledger::SyncDue;
use crate::pipeline::edit_window;

/// Genesys' code for a re-score refused as past the edit window (the API description lists it
/// for `PUT` of an evaluation).
const TOO_OLD: &str = "quality.evaluation.too.old.to.score";

/// What the sync was asked to do, in words.
fn action(due: &SyncDue) -> &'static str {
    if due.sync_state == "withdraw" {
        "gone from the source"
    } else {
        "changed in Calabrio"
    }
}

impl Ctx<'_> {
    /// The sync actions `plan` decided: an evaluation whose record changed takes the new answers
    /// (`PUT`, the official `Evaluation` model, the rest of the evaluation as Genesys holds it); one
    /// whose record left the source is deleted. Before either, the evaluation is read: one changed
    /// in Genesys since our last write (another `changedDate`) is `edited` and left alone. An
    /// update whose answer was lost stays `updating` and is resolved by reading it back (its
    /// private comment names the record content it carries), so it is applied once.
    pub(super) async fn sync(&self, summary: &mut LoadSummary) -> Result<()> {
        let today = ts_from_ms(self.now_ms()).strftime("%Y-%m-%d").to_string();
        for due in self.ledger.sync_due()? {
            if self.stopped() {
                break;
            }
            let id = due.record_id;
            let closed = edit_window::past(
                self.cfg,
                self.now_ms(),
                due.genesys_created.as_deref(),
                due.sent_at,
                due.edit_window_closed.as_deref(),
            );
            // Past the window nothing is sent; an update whose answer was lost is still read back
            // (it may have been applied before the window closed).
            if let Some(why) = &closed
                && due.sync_state != "updating"
            {
                self.past_window(&due, why, None, summary)?;
                continue;
            }
            let current = match self
                .client
                .get_evaluation(&due.conversation_id, &due.evaluation_id)
                .await
            {
                Ok(e) => e,
                Err(e) => match e.item_failure() {
                    ItemFailure::Gone => {
                        if due.sync_state == "withdraw" {
                            self.withdrawn(
                                &due,
                                "gone from the source; already absent from Genesys",
                                summary,
                            )?;
                        } else {
                            self.ledger.set_sync(
                                id,
                                Some("edited"),
                                Some(
                                    "deleted in Genesys by someone else: the Calabrio change is not applied",
                                ),
                            )?;
                            summary.edited_in_genesys += 1;
                        }
                        continue;
                    }
                    ItemFailure::ThisItem => {
                        self.refused(&due, "read", &e, summary)?;
                        continue;
                    }
                    ItemFailure::StopRun | ItemFailure::Outage => {
                        return Err(e).with_context(|| {
                            format!("cannot read evaluation {} to sync it", due.evaluation_id)
                        });
                    }
                },
            };
            // The window's start as Genesys gives it.
            self.ledger
                .set_genesys_created(id, current.created_date.as_deref())?;
            let plan = self
                .ledger
                .plan(id)?
                .with_context(|| format!("load item {id} has no plan"))?;
            let content = plan.record_hash.clone().unwrap_or_default();
            let tag = format!("synced={}", content.get(..16).unwrap_or(&content));
            let carries = current
                .answers
                .as_ref()
                .and_then(|a| a.private_comments.as_deref())
                .is_some_and(|c| c.contains(&tag));
            if due.sync_state == "updating" && carries {
                self.ledger.mark_updated(
                    id,
                    current.changed_date.as_deref(),
                    current.answers.as_ref().and_then(|a| a.total_score),
                    &format!(
                        "updated from Calabrio on {today} (its answer was lost; found applied)"
                    ),
                )?;
                summary.updated_now += 1;
                continue;
            }
            let closed = closed.or_else(|| {
                edit_window::past(
                    self.cfg,
                    self.now_ms(),
                    current.created_date.as_deref(),
                    due.sent_at,
                    None,
                )
            });
            if let Some(why) = &closed {
                self.past_window(&due, why, None, summary)?;
                continue;
            }
            if due.genesys_changed.is_some() && current.changed_date != due.genesys_changed {
                self.ledger.set_sync(id,
                    Some("edited"),
                    Some(&format!(
                        "edited in Genesys on {}: not overwritten; the Calabrio change is listed for a person to reconcile",
                        current.changed_date.as_deref().unwrap_or("an unknown date")
                    )),
                )?;
                summary.edited_in_genesys += 1;
                continue;
            }
            if due.sync_state == "withdraw" {
                match self
                    .client
                    .delete_evaluation(&due.conversation_id, &due.evaluation_id)
                    .await
                {
                    Ok(()) => {
                        self.ledger.log_write(
                            due.record_id,
                            &due.evaluation_id,
                            "Delete",
                            "gone from the source",
                        )?;
                        self.withdrawn(
                            &due,
                            &format!("deleted from Genesys on {today}: gone from the source"),
                            summary,
                        )?;
                    }
                    Err(e) => match e.item_failure() {
                        ItemFailure::Gone => self.withdrawn(
                            &due,
                            &format!("deleted from Genesys on {today}: gone from the source"),
                            summary,
                        )?,
                        // Genesys answers a deletion past the window with a 400 (no code is
                        // published for it).
                        ItemFailure::ThisItem if e.status() == Some(400) => {
                            let why = edit_window::reason(
                                self.cfg,
                                edit_window::start(current.created_date.as_deref(), due.sent_at),
                            );
                            self.past_window(&due, &why, Some(&e), summary)?;
                        }
                        ItemFailure::ThisItem => self.refused(&due, "delete", &e, summary)?,
                        ItemFailure::StopRun | ItemFailure::Outage => {
                            return Err(e).with_context(|| {
                                format!("cannot delete evaluation {}", due.evaluation_id)
                            });
                        }
                    },
                }
                continue;
            }
            // The update: the plan's answers on the form the evaluation is on.
            let (form_id, map) = match plan.form_name.as_deref() {
                None => (&self.form_id, &self.map),
                Some(name) => match self.mirrors.get(name) {
                    Some((f, m)) => (f, m),
                    None => {
                        self.ledger.set_sync(
                            id,
                            Some("flagged"),
                            Some(&format!("the mirrored form '{name}' is not provisioned")),
                        )?;
                        continue;
                    }
                },
            };
            let on_form = current.evaluation_form.as_ref().map(|f| f.id.as_str());
            if on_form != Some(form_id.as_str()) {
                self.ledger.set_sync(id,
                    Some("flagged"),
                    Some(
                        "changed in Calabrio, but its evaluation is on another form version than the current one: not updated",
                    ),
                )?;
                continue;
            }
            let mut logical: ScoringSet =
                serde_json::from_str(plan.answers.as_deref().unwrap_or("null"))
                    .with_context(|| format!("plan of record {id} has no answers"))?;
            logical.private_comments = logical
                .private_comments
                .as_deref()
                .map(|m| format!("{}; {tag}", form::marker_with_key(m, &due.idempotency_key)));
            // The plan kept room for this line within Genesys' comment limit.
            let note = format!("Updated from Calabrio on {today}.");
            logical.comments = Some(match logical.comments.as_deref() {
                Some(c) if !c.is_empty() => format!("{c}\n{note}"),
                _ => note.clone(),
            });
            let mut body = current.clone();
            body.answers = Some(form::translate(&logical, map)?);
            body.status = Some(self.cfg.form.status.clone());
            self.ledger.set_sync(id, Some("updating"), None)?;
            match self
                .client
                .update_evaluation(&due.conversation_id, &body)
                .await
            {
                Ok(ev) => {
                    self.ledger.mark_updated(
                        id,
                        ev.changed_date.as_deref(),
                        ev.answers.as_ref().and_then(|a| a.total_score),
                        &format!("updated from Calabrio on {today}"),
                    )?;
                    summary.updated_now += 1;
                }
                Err(e) if e.possibly_sent() => {
                    summary.update_unknown += 1;
                    tracing::warn!(evaluation = %due.evaluation_id, error = %e, "An update's answer was lost; it is read back on the next run.");
                    if e.is_outage() && self.client.in_outage() {
                        return Err(e).with_context(|| {
                            format!("cannot update evaluation {}", due.evaluation_id)
                        });
                    }
                }
                Err(e) if e.code() == Some(TOO_OLD) => {
                    let why = edit_window::reason(
                        self.cfg,
                        edit_window::start(current.created_date.as_deref(), due.sent_at),
                    );
                    self.past_window(&due, &why, Some(&e), summary)?;
                }
                Err(e) => match e.item_failure() {
                    ItemFailure::StopRun => {
                        // Not sent: the update stays to do.
                        self.ledger.set_sync(id, Some("update"), None)?;
                        return Err(e).with_context(|| {
                            format!("cannot update evaluation {}", due.evaluation_id)
                        });
                    }
                    _ => self.refused(&due, "update", &e, summary)?,
                },
            }
        }
        Ok(())
    }

    /// A change or withdrawal of `due`'s evaluation past Genesys' edit window: listed (`flagged`,
    /// with the reason and Genesys' answer when it gave one), not applied, never sent again.
    fn past_window(
        &self,
        due: &SyncDue,
        why: &str,
        answer: Option<&GenesysError>,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        let note = format!(
            "{why}: listed, not applied ({}){}",
            action(due),
            answer.map_or_else(String::new, |e| format!("; Genesys answered: {e}"))
        );
        tracing::warn!(evaluation = %due.evaluation_id, %note, "Past Genesys' edit window.");
        self.ledger.close_edit_window(due.record_id, &note)?;
        summary.past_edit_window += 1;
        Ok(())
    }

    /// Genesys refused to `what` `due`'s evaluation, for that evaluation alone: listed with its
    /// code and message; the pass goes on.
    fn refused(
        &self,
        due: &SyncDue,
        what: &str,
        e: &GenesysError,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        let note = format!(
            "Genesys refused to {what} it ({}): listed, not applied ({}); the run went on",
            e,
            action(due)
        );
        tracing::warn!(evaluation = %due.evaluation_id, %note, "A sync action was refused.");
        self.ledger
            .set_sync(due.record_id, Some("flagged"), Some(&note))?;
        summary.sync_refused += 1;
        Ok(())
    }

    /// The evaluation of `due` is gone from Genesys as its record left the source.
    pub(super) fn withdrawn(
        &self,
        due: &crate::ledger::SyncDue,
        why: &str,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        self.ledger.set_load(
            due.record_id,
            state::WITHDRAWN,
            Some(&due.evaluation_id),
            None,
            None,
            Some(why),
            None,
        )?;
        self.ledger.set_sync(due.record_id, None, None)?;
        summary.withdrawn_now += 1;
        Ok(())
    }
}
