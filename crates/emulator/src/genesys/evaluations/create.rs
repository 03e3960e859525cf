//! `POST /api/v2/quality/conversations/{conversationId}/evaluations`: the create, judged as Genesys
//! judges it (people, conversation, form, answers, limits, the per-agent cap, idempotency).

use super::*;

pub(crate) async fn create_evaluation(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    body: Bytes,
) -> Response {
    let client = admit!(st, headers, client);
    check_body!(st, "post_quality_conversation_evaluations", body);
    let key = match headers.get("Idempotency-Key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if Uuid::try_parse(k).is_ok() => Some(k.to_owned()),
        Some(_) => return bad_request("Idempotency-Key must be a UUID"),
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    if let Some(k) = &key
        && st.store().idempotency.contains_key(k)
    {
        st.inner
            .stats
            .repeated_keys
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(k) = key.as_ref().filter(|k| st.replays(k)) {
        let store = st.store();
        if let Some((stored_body, evaluation_id)) = store.idempotency.get(k) {
            // A key whose evaluation was deleted since is spent: the create goes ahead.
            if let Some(e) = store
                .evaluations
                .iter()
                .find(|e| &e.evaluation.id == evaluation_id)
            {
                if *stored_body != body_text {
                    return bad_request(
                        "Idempotency-Key was already used with a different request body",
                    );
                }
                st.inner
                    .stats
                    .idempotent_replays
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Json(e.evaluation.clone()).into_response();
            }
        }
    }
    let req: EvaluationCreateBody = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(conversation) = st.conversation(&conversation_id).cloned() else {
        return not_found(&format!("conversation {conversation_id}"));
    };
    for (field, value) in [
        ("evaluationForm.id", &req.evaluation_form.id),
        ("agent.id", &req.agent.id),
        ("evaluator.id", &req.evaluator.id),
    ] {
        if value.trim().is_empty() {
            return bad_request(format!("{field} must be included"));
        }
    }
    if let Some(s) = &req.status
        && !STATUSES.contains(&s.as_str())
    {
        return bad_request(format!(
            "status '{s}' is not one of {}",
            STATUSES.join(", ")
        ));
    }
    if req.never_release == Some(true) && req.release_date.is_some() {
        return bad_request("neverRelease cannot be set true if releaseDate is also set");
    }
    if let Some(d) = &req.release_date {
        let Ok(when) = d.parse::<Timestamp>() else {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid.date",
                format!("releaseDate '{d}' is not a date (yyyy-MM-ddTHH:mm:ss.SSSZ)"),
            );
        };
        let minute_ago = st
            .inner
            .clock
            .now()
            .checked_sub(SignedDuration::from_secs(60))
            .unwrap_or(Timestamp::MIN);
        if st.inner.settings.reject_past_release_date && when < minute_ago {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid.date",
                format!("releaseDate '{d}' is in the past"),
            );
        }
    }
    let form = {
        let store = st.store();
        match store.forms.get(&req.evaluation_form.id) {
            Some(v) if v.published => v.form.clone(),
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "quality.evaluation.form.not.published",
                    format!(
                        "Evaluation form {} is not a published form version",
                        req.evaluation_form.id
                    ),
                );
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "quality.evaluation.form.doesnt.exist",
                    format!("Evaluation form {} does not exist", req.evaluation_form.id),
                );
            }
        }
    };
    match st.user(&req.agent.id) {
        Some(u) if usable(&st, u) => {}
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "quality.evaluation.agent.doesnt.exist",
                format!("Agent {} does not exist or is not active", req.agent.id),
            );
        }
    }
    if !has_agent(&conversation, &req.agent.id) {
        return error(
            StatusCode::BAD_REQUEST,
            "qm.evaluation.create.error.no.agent",
            format!(
                "User {} is not an agent participant of conversation {conversation_id}",
                req.agent.id
            ),
        );
    }
    match st.user(&req.evaluator.id) {
        Some(u) if usable(&st, u) && u.quality_evaluator => {}
        Some(u) if usable(&st, u) => {
            return error(
                StatusCode::BAD_REQUEST,
                "quality.evaluation.evaluator.not.quality.evaluator",
                format!("User {} is not a quality evaluator", req.evaluator.id),
            );
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "qm.evaluation.create.error.no.evaluator",
                format!(
                    "Evaluator {} does not exist or is not active",
                    req.evaluator.id
                ),
            );
        }
    }
    if st.inner.settings.one_evaluation_per_conversation
        && st
            .store()
            .evaluations
            .iter()
            .any(|e| e.conversation_id == conversation_id)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "quality.evaluation.already.exists",
            format!("An evaluation for this conversation already exists ({conversation_id})"),
        );
    }
    if let Some(r) = comments_too_long(&st, &req.answers) {
        return r;
    }
    let finished = req.status.as_deref() == Some("FINISHED");
    let answers = match crate::scoring::judge_with(st.rules(), &form, &req.answers, finished) {
        Ok(a) => a,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, message),
    };
    if st.roll(st.inner.settings.in_progress_rate) {
        st.inner
            .stats
            .in_progress_answers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return error(
            StatusCode::CONFLICT,
            "quality.evaluation.already.in.progress",
            "An automated evaluation is already in progress for this conversation.",
        );
    }
    let now = st.inner.clock.now();
    let mut store = st.store();
    // A concurrent create with the same key may have won the race while we validated.
    if let Some(k) = key.as_ref().filter(|k| st.replays_in(&store, k))
        && let Some((_, id)) = store.idempotency.get(k)
        && let Some(e) = store.evaluations.iter().find(|e| &e.evaluation.id == id)
    {
        return Json(e.evaluation.clone()).into_response();
    }
    let cap = st.inner.settings.per_agent_daily_cap;
    let creates = store.agent_creates.entry(req.agent.id.clone()).or_default();
    if let Err(wait) = take_slot(creates, now, SignedDuration::from_hours(24), cap as usize) {
        st.inner
            .stats
            .cap_answers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if st.inner.settings.cap_as_429 {
            st.inner
                .stats
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many(wait, "quality evaluations.per.agent.per.day");
        }
        return agent_cap_exceeded(&req.agent.id, cap);
    }
    let id = Uuid::new_v4().to_string();
    let stamp = iso(now);
    let evaluation = Evaluation {
        id: id.clone(),
        conversation: Some(EntityRef {
            id: conversation_id.clone(),
            self_uri: Some(format!("/api/v2/conversations/{conversation_id}")),
            ..EntityRef::default()
        }),
        evaluation_form: Some(EntityRef {
            id: form.id.clone().unwrap_or_default(),
            name: Some(form.name.clone()),
            context_id: form.context_id.clone(),
            self_uri: Some(format!(
                "/api/v2/quality/forms/evaluations/{}",
                form.id.clone().unwrap_or_default()
            )),
        }),
        evaluator: Some(EntityRef {
            id: req.evaluator.id.clone(),
            self_uri: Some(format!("/api/v2/users/{}", req.evaluator.id)),
            ..EntityRef::default()
        }),
        agent: Some(EntityRef {
            id: req.agent.id.clone(),
            self_uri: Some(format!("/api/v2/users/{}", req.agent.id)),
            ..EntityRef::default()
        }),
        status: Some(if finished && !st.inner.settings.finished_on_create {
            "INPROGRESS".into()
        } else {
            req.status.clone().unwrap_or_else(|| "PENDING".into())
        }),
        answers: Some(answers),
        agent_has_read: Some(req.agent_has_read.unwrap_or(false)),
        release_date: req.release_date.clone(),
        never_release: Some(req.never_release.unwrap_or(false)),
        created_date: Some(stamp.clone()),
        assigned_date: Some(stamp.clone()),
        changed_date: Some(stamp.clone()),
        submitted_date: (finished && st.inner.settings.finished_on_create).then(|| stamp.clone()),
        conversation_date: Some(iso(conversation.start)),
        self_uri: Some(format!(
            "/api/v2/quality/conversations/{conversation_id}/evaluations/{id}"
        )),
    };
    let stored = StoredEvaluation {
        stored_at: Some(now),
        conversation_id,
        agent_id: req.agent.id.clone(),
        evaluator_id: req.evaluator.id.clone(),
        evaluation: evaluation.clone(),
        versions: Vec::new(),
    };
    let entry = crate::state::audit_entry(now, "Create", &stored, Some(&client), None);
    store.audit.push(entry);
    store.evaluations.push(stored);
    if let Some(k) = key {
        store.idempotency_at.insert(k.clone(), now);
        store.idempotency.insert(k, (body_text, id.clone()));
    }
    st.inner
        .stats
        .evaluations_created
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    drop(store);
    if st.roll(st.inner.settings.drop_after_commit_rate) {
        st.inner
            .stats
            .faults_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return dropped_connection();
    }
    if st.roll(st.inner.settings.undecodable_create_rate) {
        st.inner
            .stats
            .undecodable_answers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = if st.inner.settings.undecodable_without_id {
            "{\"i".to_owned()
        } else {
            json!({"id": id, "answers": "not an object", "status": 3}).to_string()
        };
        return (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response();
    }
    Json(evaluation).into_response()
}
