//! The sync pass: evaluations whose Calabrio record changed are read, then updated in place (or
//! listed when edited in Genesys); records gone from the source are withdrawn or flagged.

#[allow(clippy::wildcard_imports)]
use super::*;

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
            let current = match self
                .client
                .get_evaluation(&due.conversation_id, &due.evaluation_id)
                .await
            {
                Ok(e) => e,
                Err(GenesysError::Api { status: 404, .. }) => {
                    if due.sync_state == "withdraw" {
                        self.withdrawn(
                            &due,
                            "gone from the source; already absent from Genesys",
                            summary,
                        )?;
                    } else {
                        self.ledger.set_sync(id,
                            Some("edited"),
                            Some(
                                "deleted in Genesys by someone else: the Calabrio change is not applied",
                            ),
                        )?;
                        summary.edited_in_genesys += 1;
                    }
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot read evaluation {} to sync it", due.evaluation_id)
                    });
                }
            };
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
                    Ok(()) | Err(GenesysError::Api { status: 404, .. }) => {
                        self.withdrawn(
                            &due,
                            &format!("deleted from Genesys on {today}: gone from the source"),
                            summary,
                        )?;
                    }
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot delete evaluation {}", due.evaluation_id)
                        });
                    }
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
                }
                Err(e) => {
                    self.ledger.set_sync(
                        id,
                        Some("flagged"),
                        Some(&format!("the update was refused by Genesys: {e}")),
                    )?;
                }
            }
        }
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
