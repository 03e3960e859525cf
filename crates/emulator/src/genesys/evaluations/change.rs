//! `PUT` and `DELETE …/conversations/{conversationId}/evaluations/{evaluationId}`: a re-score or a
//! deletion, within Genesys' edit window, recorded in the audit trail.

use super::*;

/// `PUT …/evaluations/{evaluationId}`: the official `Evaluation` model. The form, conversation and
/// agent stay what they are; the answers are judged again on the evaluation's form version; the
/// evaluation becomes a new version with a new `changedDate`.
pub(crate) async fn update_evaluation(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path((conversation_id, evaluation_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let client = admit!(st, headers, client);
    check_body!(st, "put_quality_conversation_evaluation", body);
    if let Some(r) = staged_refusal(&st, "PUT", &evaluation_id) {
        return r;
    }
    let req: Evaluation = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (form_id, agent_id) = {
        let store = st.store();
        let Some(e) = store
            .evaluations
            .iter()
            .find(|e| e.evaluation.id == evaluation_id && e.conversation_id == conversation_id)
        else {
            return error(
                StatusCode::NOT_FOUND,
                "evaluation.not.found",
                format!("Evaluation {evaluation_id} not found"),
            );
        };
        if let Some(why) = past_edit_window(&st, &e.evaluation) {
            return error(
                StatusCode::BAD_REQUEST,
                "quality.evaluation.too.old.to.score",
                format!("Evaluation is too old to score. {why}"),
            );
        }
        (
            e.evaluation
                .evaluation_form
                .as_ref()
                .map(|f| f.id.clone())
                .unwrap_or_default(),
            e.agent_id.clone(),
        )
    };
    if !req.id.is_empty() && req.id != evaluation_id {
        return bad_request(format!(
            "the body's id {} is not evaluation {evaluation_id}",
            req.id
        ));
    }
    if req
        .evaluation_form
        .as_ref()
        .is_some_and(|f| !f.id.is_empty() && f.id != form_id)
    {
        return bad_request("evaluationForm cannot be changed by an update");
    }
    if req.agent.as_ref().is_some_and(|a| a.id != agent_id) {
        return bad_request("agent cannot be changed by an update");
    }
    if let Some(s) = &req.status
        && !STATUSES.contains(&s.as_str())
    {
        return bad_request(format!(
            "status '{s}' is not one of {}",
            STATUSES.join(", ")
        ));
    }
    let evaluator = match &req.evaluator {
        Some(ev) => match st.user(&ev.id) {
            Some(u) if usable(&st, u) && u.quality_evaluator => Some(ev.id.clone()),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "qm.evaluation.create.error.no.evaluator",
                    format!("Evaluator {} cannot evaluate", ev.id),
                );
            }
        },
        None => None,
    };
    let Some(form) = st.store().forms.get(&form_id).map(|v| v.form.clone()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "quality.evaluation.form.doesnt.exist",
            format!("Evaluation form {form_id} does not exist"),
        );
    };
    if let Some(r) = req.answers.as_ref().and_then(|a| comments_too_long(&st, a)) {
        return r;
    }
    let finished = req.status.as_deref() == Some("FINISHED");
    let answers = match &req.answers {
        Some(a) => match crate::scoring::judge_with(st.rules(), &form, a, finished) {
            Ok(a) => Some(a),
            Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, message),
        },
        None => None,
    };
    let now = iso(st.inner.clock.now());
    let mut store = st.store();
    let Some(e) = store
        .evaluations
        .iter_mut()
        .find(|e| e.evaluation.id == evaluation_id)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Evaluation {evaluation_id} not found"),
        );
    };
    e.versions.push(e.evaluation.clone());
    if let Some(a) = answers {
        e.evaluation.answers = Some(a);
    }
    if let Some(s) = req.status {
        e.evaluation.status = Some(s);
    }
    if let Some(ev) = evaluator {
        e.evaluator_id.clone_from(&ev);
        e.evaluation.evaluator = Some(EntityRef {
            id: ev.clone(),
            self_uri: Some(format!("/api/v2/users/{ev}")),
            ..EntityRef::default()
        });
    }
    if req.agent_has_read.is_some() {
        e.evaluation.agent_has_read = req.agent_has_read;
    }
    e.evaluation.changed_date = Some(now);
    st.inner
        .stats
        .evaluations_updated
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = e.evaluation.clone();
    let entry = crate::state::audit_entry(st.inner.clock.now(), "Update", e, Some(&client), None);
    store.audit.push(entry);
    let drop_answer = store.drop_update_answers;
    drop(store);
    if drop_answer || st.roll(st.inner.settings.drop_after_commit_rate) {
        st.inner
            .stats
            .faults_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return dropped_connection();
    }
    Json(out).into_response()
}

pub(crate) async fn delete_evaluation(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path((conversation_id, evaluation_id)): Path<(String, String)>,
) -> Response {
    let client = admit!(st, headers, client);
    if let Some(r) = staged_refusal(&st, "DELETE", &evaluation_id) {
        return r;
    }
    let mut store = st.store();
    let Some(pos) = store
        .evaluations
        .iter()
        .position(|e| e.evaluation.id == evaluation_id && e.conversation_id == conversation_id)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Evaluation {evaluation_id} not found"),
        );
    };
    if let Some(why) = past_edit_window(&st, &store.evaluations[pos].evaluation) {
        // The forum answer says only that an API edit after the window is a 400; no code is
        // published for a deletion.
        return error(StatusCode::BAD_REQUEST, "bad.request", why);
    }
    let removed = store.evaluations.remove(pos);
    let entry = crate::state::audit_entry(
        st.inner.clock.now(),
        "Delete",
        &removed,
        Some(&client),
        None,
    );
    store.audit.push(entry);
    Json(removed.evaluation).into_response()
}
