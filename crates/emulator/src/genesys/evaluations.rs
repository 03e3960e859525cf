//! Evaluations: create, get, update, delete, query, and the scoring dry run
//! (`/api/v2/quality/conversations/{id}/evaluations`, `/api/v2/quality/evaluations/…`).

use super::*;

pub(super) const STATUSES: [&str; 5] =
    ["PENDING", "INPROGRESS", "FINISHED", "INREVIEW", "RETRACTED"];

pub(super) fn usable(st: &EmulatorState, u: &FixtureUser) -> bool {
    u.state == "active" || st.inner.settings.accept_inactive_users
}

/// Genesys' published comment limits (help pages: 4000 characters of overall and agent comments,
/// 2000 of private comments and of each answer's comments, for evaluations created since
/// 2024-02-19), counted as a Java string's `length()`: UTF-16 code units. The first comment over
/// its limit answers 400 `invalid.value`, naming the field.
fn comments_too_long(st: &EmulatorState, answers: &ScoringSet) -> Option<Response> {
    let s = &st.inner.settings;
    let over = |field: &str, text: Option<&String>, limit: usize| -> Option<Response> {
        let n = text.map_or(0, |t| t.encode_utf16().count());
        (limit > 0 && n > limit).then(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid.value",
                format!("{field} is {n} characters long; the maximum is {limit}"),
            )
        })
    };
    over(
        "answers.comments",
        answers.comments.as_ref(),
        s.comment_limit,
    )
    .or_else(|| {
        over(
            "answers.agentComments",
            answers.agent_comments.as_ref(),
            s.comment_limit,
        )
    })
    .or_else(|| {
        over(
            "answers.privateComments",
            answers.private_comments.as_ref(),
            s.answer_comment_limit,
        )
    })
    .or_else(|| {
        answers
            .question_group_scores
            .iter()
            .flat_map(|g| &g.question_scores)
            .find_map(|q| {
                over(
                    &format!("comments of question {}", q.question_id),
                    q.comments.as_ref(),
                    s.answer_comment_limit,
                )
            })
    })
}

/// A refusal a test staged for `method` on evaluation `id`.
fn staged_refusal(st: &EmulatorState, method: &str, id: &str) -> Option<Response> {
    st.refusal(method, id).map(|(status, code)| {
        error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &code,
            format!("{method} of evaluation {id} refused (staged)"),
        )
    })
}

/// Whether evaluation `e` is past Genesys' edit window (re-scores and deletions refused), on the
/// emulator's clock.
fn past_edit_window(st: &EmulatorState, e: &Evaluation) -> Option<String> {
    let days = st.inner.settings.edit_window_days;
    if days == 0 {
        return None;
    }
    let created: Timestamp = e.created_date.as_deref()?.parse().ok()?;
    let closes = created
        .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
        .ok()?;
    (st.inner.clock.now() >= closes).then(|| {
        format!(
            "Evaluation {} was created {}: evaluations cannot be signed-off, re-scored or deleted after {days} days of creation",
            e.id,
            e.created_date.as_deref().unwrap_or("")
        )
    })
}

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

pub(super) fn has_agent(c: &FixtureConversation, user_id: &str) -> bool {
    c.participants
        .iter()
        .any(|p| p.purpose == "agent" && p.user_id.as_deref() == Some(user_id))
}

pub(crate) async fn get_evaluation(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path((conversation_id, evaluation_id)): Path<(String, String)>,
) -> Response {
    admit!(st, headers);
    if let Some(r) = staged_refusal(&st, "GET", &evaluation_id) {
        return r;
    }
    let store = st.store();
    match store
        .evaluations
        .iter()
        .find(|e| e.evaluation.id == evaluation_id && e.conversation_id == conversation_id)
    {
        Some(e) => Json(e.evaluation.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Evaluation {evaluation_id} not found"),
        ),
    }
}

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

pub(crate) async fn query_evaluations(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let max = st.inner.settings.max_query_page_size.max(1);
    if let Some(n) = q.get("pageSize").and_then(|s| s.parse::<usize>().ok())
        && n > max
    {
        // No documented maximum; Genesys answers a page too big to send with this.
        return error(
            StatusCode::BAD_REQUEST,
            "response.entity.too.large",
            format!("The response is too large (pageSize {n}). Reduce pageSize."),
        );
    }
    let (size, number) = page!(q);
    let conversation = q.get("conversationId");
    let agent = q.get("agentUserId");
    let evaluator = q.get("evaluatorUserId");
    let assignee = q.get("assigneeUserId");
    if conversation.is_none() && agent.is_none() && evaluator.is_none() && assignee.is_none() {
        return bad_request(
            "One of conversationId, agentUserId, evaluatorUserId or assigneeUserId is required",
        );
    }
    let expand = q.get("expandAnswerTotalScores").map(String::as_str) == Some("true");
    let agent_alone = agent.is_some() && conversation.is_none() && evaluator.is_none();
    let visible_before = st
        .inner
        .clock
        .now()
        .checked_sub(SignedDuration::from_millis(
            i64::try_from(st.inner.settings.query_lag_ms).unwrap_or(i64::MAX),
        ))
        .unwrap_or(Timestamp::MIN);
    let context = q.get("formContextId");
    let deleted_users = q.get("includeDeletedUsers").map(String::as_str) == Some("true");
    let deleted = |id: &str| st.user(id).is_some_and(|u| u.state == "deleted");
    let paged = conversation.is_none();
    let store = st.store();
    let found: Vec<Evaluation> = store
        .evaluations
        .iter()
        .filter(|e| {
            context.is_none_or(|c| {
                e.evaluation
                    .evaluation_form
                    .as_ref()
                    .and_then(|f| f.context_id.as_ref())
                    == Some(c)
            })
        })
        // Without includeDeletedUsers, an evaluation of a deleted agent or evaluator is not shown.
        .filter(|e| deleted_users || !(deleted(&e.agent_id) || deleted(&e.evaluator_id)))
        // A stale index (tests): hidden from queries by agent or evaluator, not by conversation.
        .filter(|e| !(paged && store.hidden_from_pages.contains(&e.evaluation.id)))
        // The query is not fresh: a new evaluation shows only after the lag.
        .filter(|e| {
            st.inner.settings.query_lag_ms == 0 || e.stored_at.is_none_or(|t| t <= visible_before)
        })
        .filter(|e| conversation.is_none_or(|c| &e.conversation_id == c))
        .filter(|e| agent.is_none_or(|a| &e.agent_id == a))
        .filter(|e| evaluator.is_none_or(|a| &e.evaluator_id == a))
        .filter(|e| assignee.is_none_or(|a| &e.evaluator_id == a))
        .filter(|e| !(agent_alone && e.evaluation.never_release == Some(true)))
        .map(|e| {
            let mut ev = e.evaluation.clone();
            if !expand {
                ev.answers = None;
            }
            ev
        })
        .collect();
    Json(paginate(
        &found,
        size,
        number,
        "/api/v2/quality/evaluations/query",
        "",
    ))
    .into_response()
}

pub(crate) async fn scoring(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_evaluations_scoring", body);
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DryRun {
        evaluation_form: EvaluationForm,
        answers: ScoringSet,
    }
    let req: DryRun = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match crate::scoring::judge_with(st.rules(), &req.evaluation_form, &req.answers, false) {
        Ok(s) => Json(s).into_response(),
        Err((code, message)) => error(StatusCode::BAD_REQUEST, code, message),
    }
}
