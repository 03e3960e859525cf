//! Deleting everything the probe made, then its form; naming whatever is left and how to remove it.

use super::*;

/// Deletes every evaluation the probe made (and any other on the probe form on the conversation),
/// then the form; names whatever is left.
pub(super) async fn cleanup(p: &mut Probe<'_>, published: &EvaluationForm, report: &mut Report) {
    report.created = p.created.len() as u64;
    // Whatever the query shows on the probe form too (a create whose answer was lost). With a
    // lagging query, wait for it once before the sweep.
    if p.lost > 0 {
        sleep(p.client, report.facts.query_lag_s.unwrap_or(5.0) + 1.0).await;
    }
    let mut ids = p.created.clone();
    match p.ours_on_conversation().await {
        Ok(found) => ids.extend(found.into_iter().map(|e| e.id)),
        Err(e) => p
            .notes
            .push(format!("cannot list the conversation's evaluations: {e}")),
    }
    for id in &ids {
        match p.client.delete_evaluation(&p.conversation, id).await {
            Ok(()) => report.deleted += 1,
            Err(GenesysError::Api { status: 404, .. }) => {}
            Err(e) => report.leftovers.push(format!(
                "evaluation {id} on conversation {} could not be deleted ({}): DELETE /api/v2/quality/conversations/{}/evaluations/{id}, or delete it in the conversation's Quality tab",
                p.conversation,
                code_of(&e),
                p.conversation
            )),
        }
    }
    if p.lost > ids.len().saturating_sub(p.created.len()) as u64 {
        report.leftovers.push(format!(
            "{} create(s) whose answer was lost were not found on conversation {}: look there for evaluations on the form '{FORM_NAME}' and delete them",
            p.lost, p.conversation
        ));
    }
    // The form goes once no evaluation uses it (Genesys may need a moment after the deletes).
    let mut last = None;
    for wait in [0.0, 1.0, 2.0, 4.0] {
        sleep(p.client, wait).await;
        match p.client.delete_form(&p.form_id).await {
            Ok(()) | Err(GenesysError::Api { status: 404, .. }) => {
                report.form_deleted = true;
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        report.leftovers.push(format!(
            "the form '{FORM_NAME}' ({}, published version {}) could not be deleted ({}): delete it under Admin > Quality > Evaluation Forms once no evaluation uses it",
            p.form_id,
            published.id.as_deref().unwrap_or("?"),
            code_of(&e)
        ));
    }
    report.cleaned_up = report.leftovers.is_empty();
}
