//! Evaluations: create, get, update, delete, query, and the scoring dry run
//! (`/api/v2/quality/conversations/{id}/evaluations`, `/api/v2/quality/evaluations/…`).
//!
//! The create in `create`, the update and the deletion in `change`; the reads (get, query, the
//! scoring dry run) and what they share here.

mod change;
mod create;

pub(crate) use change::*;
pub(crate) use create::*;

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
