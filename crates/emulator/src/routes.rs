//! Handlers, one per Genesys operation, answering as reference/genesys-api.md documents: status codes,
//! `ErrorBody` codes, paging, the published-version rule and the per-agent cap.

// Handlers answer with a ready `Response` on every error path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use genesys::models::{
    AnalyticsConversation, AnalyticsParticipant, EntityListing, EntityRef, ErrorBody, Evaluation,
    EvaluationCreateBody, EvaluationForm, PublishForm, ScoringSet, TokenResponse, User,
};
use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

use crate::state::{
    EmulatorState, FixtureConversation, FixtureUser, FormVersion, StoredEvaluation,
};

/// A Genesys-shaped error response.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let correlation = Uuid::new_v4().to_string();
    let message = message.into();
    let body = ErrorBody {
        message: Some(message.clone()),
        code: Some(code.to_owned()),
        status: Some(i32::from(status.as_u16())),
        context_id: Some(correlation.clone()),
        message_with_params: Some(message),
        message_params: Some(serde_json::Map::new()),
        details: Vec::new(),
        errors: Vec::new(),
        limit: None,
    };
    respond(status, body, correlation)
}

fn respond(status: StatusCode, body: ErrorBody, correlation: String) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&correlation) {
        resp.headers_mut().insert("ININ-Correlation-Id", v);
    }
    resp
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "bad.request", message)
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not.found",
        format!("The requested {what} was not found."),
    )
}

/// A 429 as Genesys normalised it in 2021.
pub(crate) fn too_many(retry_after_s: u64, why: &str) -> Response {
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too.many.requests.retry.after",
        format!(
            "Rate limit exceeded the maximum. Retry the request in [{retry_after_s}] seconds ({why})"
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        resp.headers_mut().insert("Retry-After", v);
    }
    resp
}

/// The per-agent cap as Genesys' API description lists it for the create operation: 400
/// `quality.evaluation.create.limit.exceeded.for.agent` with the limit that was hit, and no
/// `Retry-After` (reference/genesys-api.md §6.1).
fn agent_cap_exceeded(agent: &str, cap: u32) -> Response {
    let correlation = Uuid::new_v4().to_string();
    let message = "Evaluation creation limit exceeded for agent".to_owned();
    let body = ErrorBody {
        message: Some(message.clone()),
        code: Some("quality.evaluation.create.limit.exceeded.for.agent".into()),
        status: Some(400),
        context_id: Some(correlation.clone()),
        message_with_params: Some(message),
        message_params: Some(serde_json::Map::from_iter([(
            "agentId".to_owned(),
            json!(agent),
        )])),
        details: Vec::new(),
        errors: Vec::new(),
        limit: Some(genesys::models::ErrorLimit {
            key: Some("evaluations.per.agent.per.day".into()),
            namespace: Some("quality".into()),
            value: Some(i64::from(cap)),
        }),
    };
    respond(StatusCode::BAD_REQUEST, body, correlation)
}

/// A 429 `too.many.requests`, the older code, with no `Retry-After` (none is promised).
fn too_many_without_retry_after() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too.many.requests",
        "Rate limit exceeded the maximum [300] requests within [60] seconds",
    )
}

fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Response> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        bad_request(format!(
            "The request body could not be read at '{}': {}",
            e.path(),
            e.inner()
        ))
    })
}

/// Checks a request body against the official model of its operation. A mismatch answers 400
/// `bad.request` naming the field (unknown fields only when `reject_unknown_fields`); every mismatch
/// is recorded for the tests.
fn check_body(st: &EmulatorState, operation: &str, bytes: &Bytes) -> Result<(), Response> {
    let schemas = crate::schema::schemas();
    let Some(definition) = schemas.operation(operation).and_then(|o| o.request.clone()) else {
        return Ok(());
    };
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return Err(bad_request(format!("The request body is not JSON: {e}"))),
    };
    let Err(violations) = schemas.validate(&definition, crate::schema::Mode::Request, &value)
    else {
        return Ok(());
    };
    if let Ok(mut log) = st.inner.stats.schema_violations.lock() {
        for v in &violations {
            log.push(format!("{operation}: {v}"));
        }
    }
    let blocking: Vec<&crate::schema::Violation> = violations
        .iter()
        .filter(|v| !v.unknown_field || st.inner.settings.reject_unknown_fields)
        .collect();
    for v in violations.iter().filter(|v| v.unknown_field) {
        tracing::warn!(%operation, violation = %v, "Request carries a field the official model does not define.");
    }
    if blocking.is_empty() {
        return Ok(());
    }
    let message = format!(
        "The request body does not match the {definition} model: {}",
        blocking
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut resp = bad_request(message);
    let details: Vec<serde_json::Value> = blocking
        .iter()
        .map(|v| json!({"errorCode": "bad.request", "fieldName": v.path}))
        .collect();
    if let Ok(body) = serde_json::to_vec(&json!({
        "message": format!("The request body does not match the {definition} model: {}", blocking[0]),
        "code": "bad.request",
        "status": 400,
        "contextId": Uuid::new_v4().to_string(),
        "details": details,
        "errors": [],
    })) {
        *resp.body_mut() = axum::body::Body::from(body);
    }
    Err(resp)
}

macro_rules! check_body {
    ($st:expr, $op:expr, $bytes:expr) => {
        if let Err(resp) = check_body(&$st, $op, &$bytes) {
            return resp;
        }
    };
}

fn iso(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

// ---------------------------------------------------------------- OAuth

pub(crate) async fn token(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.inner
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "description": description, "error_description": description})),
        )
            .into_response()
    };
    let form: HashMap<String, String> = url_form(&body);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let Some((id, secret)) = basic_auth(&headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client credentials must be sent in a Basic Authorization header",
        );
    };
    let known = st
        .inner
        .fixture
        .oauth_clients
        .iter()
        .any(|c| c.client_id == id && c.client_secret == secret);
    if !known {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client not found",
        );
    }
    let token = Uuid::new_v4().simple().to_string();
    let lifetime = st.inner.settings.token_lifetime_s;
    let expires = st
        .inner
        .clock
        .now()
        .checked_add(SignedDuration::from_secs(
            i64::try_from(lifetime).unwrap_or(i64::MAX),
        ))
        .unwrap_or(Timestamp::MAX);
    st.store().tokens.insert(token.clone(), (id, expires));
    st.inner
        .stats
        .tokens_issued
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Json(TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: lifetime,
    })
    .into_response()
}

fn url_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.replace('+', " ")))
        })
        .collect()
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Authenticates a bearer token and applies the per-client request limit. Returns the client id.
pub(crate) fn admit(st: &EmulatorState, headers: &HeaderMap) -> Result<String, Response> {
    st.inner
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        ));
    };
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .unwrap_or("");
    let now = st.inner.clock.now();
    let mut store = st.store();
    let client = match store.tokens.get(token) {
        Some((client, expires)) if *expires > now => client.clone(),
        _ => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "bad.credentials",
                "Invalid login credentials.",
            ));
        }
    };
    let limit = st.inner.settings.requests_per_minute as usize;
    let window = store.windows.entry(client.clone()).or_default();
    if let Err(wait) = take_slot(window, now, SignedDuration::from_secs(60), limit) {
        st.inner
            .stats
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(too_many(wait, "client.credentials.token.rate.per.minute"));
    }
    Ok(client)
}

/// A sliding window of `limit` events per `span`: takes a slot at `now`, or returns the honest
/// `Retry-After` (seconds until the oldest event leaves the window).
fn take_slot(
    window: &mut std::collections::VecDeque<Timestamp>,
    now: Timestamp,
    span: SignedDuration,
    limit: usize,
) -> Result<(), u64> {
    let start = now.checked_sub(span).unwrap_or(Timestamp::MIN);
    while window.front().is_some_and(|t| *t <= start) {
        window.pop_front();
    }
    if window.len() >= limit {
        let oldest = window.front().copied().unwrap_or(now);
        let free_at = oldest.checked_add(span).unwrap_or(now);
        return Err(u64::try_from(ceil_secs(free_at.duration_since(now))).unwrap_or(1));
    }
    window.push_back(now);
    Ok(())
}

/// Whole seconds, rounded up, at least 1: an honest `Retry-After` never asks to come back early.
fn ceil_secs(d: SignedDuration) -> i64 {
    let ms = d.as_millis().max(0);
    i64::try_from((ms + 999) / 1000).unwrap_or(i64::MAX).max(1)
}

macro_rules! admit {
    ($st:expr, $headers:expr) => {
        if let Err(resp) = admit(&$st, &$headers) {
            return resp;
        }
    };
}

// ---------------------------------------------------------------- users

fn to_user(u: &FixtureUser) -> User {
    User {
        id: u.id.clone(),
        name: Some(u.name.clone()),
        email: u.email.clone(),
        username: u.username.clone(),
        state: Some(u.state.clone()),
        employer_info: u
            .employee_id
            .as_ref()
            .map(|e| genesys::models::EmployerInfo {
                employee_id: Some(e.clone()),
            }),
        version: 1,
        self_uri: Some(format!("/api/v2/users/{}", u.id)),
    }
}

fn page_params(
    q: &HashMap<String, String>,
    default_size: usize,
) -> Result<(usize, usize), Response> {
    let size = match q.get("pageSize") {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| bad_request(format!("pageSize '{s}' is not a number from 1 to 500")))?,
        None => default_size,
    };
    let number = match q.get("pageNumber") {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_request(format!("pageNumber '{s}' is not a number from 1")))?,
        None => 1,
    };
    Ok((size, number))
}

fn paginate<T: Clone>(
    all: &[T],
    size: usize,
    number: usize,
    base: &str,
    extra: &str,
) -> EntityListing<T> {
    let total = all.len();
    let page_count = total.div_ceil(size).max(1);
    let start = (number - 1).saturating_mul(size).min(total);
    let end = (start + size).min(total);
    let uri = |n: usize| format!("{base}?pageSize={size}&pageNumber={n}{extra}");
    EntityListing {
        entities: all[start..end].to_vec(),
        page_size: i32::try_from(size).ok(),
        page_number: i32::try_from(number).ok(),
        total: i64::try_from(total).ok(),
        page_count: i32::try_from(page_count).ok(),
        first_uri: Some(uri(1)),
        next_uri: (number < page_count).then(|| uri(number + 1)),
        previous_uri: (number > 1).then(|| uri(number - 1)),
        last_uri: Some(uri(page_count)),
        self_uri: Some(uri(number)),
    }
}

pub(crate) async fn list_users(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let state = q.get("state").map(String::as_str).unwrap_or("active");
    if !["active", "inactive", "deleted", "any"].contains(&state) {
        return bad_request(format!(
            "state '{state}' is not one of active, inactive, deleted, any"
        ));
    }
    let ids: Option<Vec<&str>> = q.get("id").map(|s| s.split(',').collect());
    let users: Vec<User> = st
        .inner
        .fixture
        .users
        .iter()
        .filter(|u| state == "any" || u.state == state)
        .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.id.as_str())))
        .map(to_user)
        .collect();
    Json(paginate(
        &users,
        size,
        number,
        "/api/v2/users",
        &format!("&state={state}"),
    ))
    .into_response()
}

pub(crate) async fn get_user(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    match st.user(&id) {
        Some(u) => Json(to_user(u)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "general.resource.not.found",
            format!("User {id} not found"),
        ),
    }
}

pub(crate) async fn search_users(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_users_search", body);
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SearchRequest {
        #[serde(default)]
        query: Vec<Criterion>,
        #[serde(default)]
        page_size: Option<usize>,
    }
    #[derive(serde::Deserialize)]
    struct Criterion {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        fields: Vec<String>,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        values: Vec<String>,
    }
    let req: SearchRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let users: Vec<User> = st
        .inner
        .fixture
        .users
        .iter()
        .filter(|u| u.state == "active")
        .filter(|u| {
            req.query.iter().all(|c| {
                let mut wanted: Vec<String> = c.values.iter().map(|v| v.to_lowercase()).collect();
                if let Some(v) = &c.value {
                    wanted.push(v.to_lowercase());
                }
                c.fields.iter().any(|f| {
                    let have = match f.as_str() {
                        "email" => u.email.clone(),
                        "username" => u.username.clone(),
                        "name" => Some(u.name.clone()),
                        "id" => Some(u.id.clone()),
                        _ => None,
                    }
                    .map(|h| h.to_lowercase());
                    have.is_some_and(|h| match c.kind.as_str() {
                        "EXACT" => wanted.contains(&h),
                        _ => wanted.iter().any(|w| h.contains(w.as_str())),
                    })
                })
            })
        })
        .map(to_user)
        .collect();
    let size = req.page_size.unwrap_or(25);
    Json(json!({
        "total": users.len(),
        "pageCount": users.len().div_ceil(size.max(1)).max(1),
        "pageSize": size,
        "pageNumber": 1,
        "types": ["users"],
        "results": users.into_iter().take(size).collect::<Vec<_>>(),
    }))
    .into_response()
}

// ---------------------------------------------------------------- forms

fn assign_ids(form: &mut EvaluationForm, fresh_context: bool) {
    let new = || Some(Uuid::new_v4().to_string());
    form.id = new();
    if fresh_context || form.context_id.is_none() {
        form.context_id = new();
    }
    for g in &mut form.question_groups {
        g.id = new();
        if fresh_context || g.context_id.is_none() {
            g.context_id = new();
        }
        for q in &mut g.questions {
            q.id = new();
            if fresh_context || q.context_id.is_none() {
                q.context_id = new();
            }
            for o in &mut q.answer_options {
                o.id = new();
                if fresh_context || o.context_id.is_none() {
                    o.context_id = new();
                }
            }
        }
    }
}

/// A form request body, parsed and checked against Genesys' form rules.
fn form_body(body: &Bytes) -> Result<EvaluationForm, Response> {
    let form: EvaluationForm = parse_json(body)?;
    validate_form(&form)?;
    Ok(form)
}

fn validate_form(form: &EvaluationForm) -> Result<(), Response> {
    let invalid = |m: String| error(StatusCode::BAD_REQUEST, "evaluation.form.invalid", m);
    if form.name.trim().is_empty() || form.name.chars().count() > 250 {
        return Err(invalid("Form name must have 1 to 250 characters".into()));
    }
    if form.question_groups.is_empty() {
        return Err(invalid("A form needs at least one question group".into()));
    }
    let questions: usize = form.question_groups.iter().map(|g| g.questions.len()).sum();
    if questions > 200 {
        return Err(invalid(format!(
            "A form may hold 200 questions, this one has {questions}"
        )));
    }
    for g in &form.question_groups {
        if g.name.trim().is_empty() || g.name.chars().count() > 250 {
            return Err(invalid(
                "Question group names must have 1 to 250 characters".into(),
            ));
        }
        if !(g.weight.is_finite() && g.weight >= 0.0) {
            return Err(invalid(format!(
                "Question group '{}' has an invalid weight",
                g.name
            )));
        }
        if g.questions.is_empty() {
            return Err(invalid(format!(
                "Question group '{}' has no questions",
                g.name
            )));
        }
        for q in &g.questions {
            if q.text.trim().is_empty() || q.text.chars().count() > 500 {
                return Err(invalid(
                    "Question text must have 1 to 500 characters".into(),
                ));
            }
            let choice = matches!(
                q.kind.as_str(),
                "multipleChoiceQuestion" | "multipleSelectQuestion"
            );
            if !choice
                && !matches!(
                    q.kind.as_str(),
                    "freeTextQuestion" | "npsQuestion" | "readOnlyTextBlockQuestion"
                )
            {
                return Err(invalid(format!("Question type '{}' is not valid", q.kind)));
            }
            if choice && q.answer_options.is_empty() {
                return Err(invalid(format!(
                    "Question '{}' has no answer options",
                    q.text
                )));
            }
        }
    }
    Ok(())
}

fn form_response(v: &FormVersion) -> EvaluationForm {
    let mut f = v.form.clone();
    f.published = Some(v.published);
    f.weight_mode = Some("SCALED".into());
    f.self_uri = Some(format!(
        "/api/v2/quality/forms/evaluations/{}",
        f.id.clone().unwrap_or_default()
    ));
    f
}

pub(crate) async fn create_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_forms_evaluations", body);
    let mut form = match form_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    assign_ids(&mut form, true);
    form.modified_date = Some(iso(st.inner.clock.now()));
    let mut store = st.store();
    store.form_seq += 1;
    let version = FormVersion {
        form,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&version);
    store
        .forms
        .insert(version.form.id.clone().unwrap_or_default(), version);
    Json(resp).into_response()
}

pub(crate) async fn list_forms(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let store = st.store();
    // One entry per form (context): its newest version, shown unpublished and without groups, as the
    // real list endpoint does.
    let mut latest: HashMap<String, &FormVersion> = HashMap::new();
    for v in store.forms.values() {
        let ctx = v.form.context_id.clone().unwrap_or_default();
        if latest.get(&ctx).is_none_or(|cur| cur.seq < v.seq) {
            latest.insert(ctx, v);
        }
    }
    let mut forms: Vec<(u64, EvaluationForm)> = latest
        .values()
        .filter(|v| {
            q.get("name")
                .is_none_or(|n| v.form.name.contains(n.as_str()))
        })
        .map(|v| {
            let mut f = form_response(v);
            f.published = Some(false);
            f.question_groups.clear();
            (v.seq, f)
        })
        .collect();
    forms.sort_by_key(|(seq, _)| *seq);
    let forms: Vec<EvaluationForm> = forms.into_iter().map(|(_, f)| f).collect();
    Json(paginate(
        &forms,
        size,
        number,
        "/api/v2/quality/forms/evaluations",
        "",
    ))
    .into_response()
}

pub(crate) async fn get_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    match st.store().forms.get(&id) {
        Some(v) => Json(form_response(v)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        ),
    }
}

/// `PUT /api/v2/quality/forms/evaluations/{id}`: replaces the structure of an unpublished version
/// (the draft that follows each publish); publishing it then makes a new published version of the
/// same form (same context id). A published version cannot be edited.
pub(crate) async fn put_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "put_quality_forms_evaluation", body);
    let mut form = match form_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut store = st.store();
    let Some(v) = store.forms.get(&id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    if v.published {
        return bad_request(format!(
            "Form version {id} is published and cannot be edited; update its newest unpublished version"
        ));
    }
    assign_ids(&mut form, true);
    form.id = Some(id.clone());
    form.context_id.clone_from(&v.form.context_id);
    form.modified_date = Some(iso(st.inner.clock.now()));
    store.form_seq += 1;
    let version = FormVersion {
        form,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&version);
    store.forms.insert(id, version);
    Json(resp).into_response()
}

pub(crate) async fn delete_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    let mut store = st.store();
    let Some(v) = store.forms.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    // A form goes with all its versions (Terraform deletes a published form this way), unless an
    // evaluation uses one of them.
    let ctx = v.form.context_id.clone();
    let versions: std::collections::HashSet<String> = store
        .forms
        .iter()
        .filter(|(_, o)| o.form.context_id == ctx)
        .map(|(k, _)| k.clone())
        .collect();
    if store.evaluations.iter().any(|e| {
        e.evaluation
            .evaluation_form
            .as_ref()
            .is_some_and(|f| versions.contains(&f.id))
    }) {
        return error(
            StatusCode::CONFLICT,
            "evaluation.cannot.be.deleted",
            "An evaluation form in use by evaluations cannot be deleted",
        );
    }
    store.forms.retain(|_, o| o.form.context_id != ctx);
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn publish_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_publishedforms_evaluations", body);
    let req: PublishForm = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !req.published {
        return bad_request("Unpublishing is not supported by this emulator");
    }
    let mut store = st.store();
    let Some(draft) = store.forms.get(&req.id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {} not found", req.id),
        );
    };
    if draft.published {
        return bad_request(format!("Form version {} is already published", req.id));
    }
    let now = iso(st.inner.clock.now());
    // Publishing makes a new published version (new ids, same context ids) and, as Terraform
    // observes, answers with a new draft: clients must re-read the published version.
    let mut published = draft.form.clone();
    assign_ids(&mut published, false);
    published.modified_date = Some(now.clone());
    let mut next_draft = draft.form.clone();
    assign_ids(&mut next_draft, false);
    next_draft.modified_date = Some(now);
    store.form_seq += 1;
    let p = FormVersion {
        form: published,
        published: true,
        seq: store.form_seq,
    };
    store.form_seq += 1;
    let d = FormVersion {
        form: next_draft,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&d);
    store.forms.insert(p.form.id.clone().unwrap_or_default(), p);
    store.forms.insert(d.form.id.clone().unwrap_or_default(), d);
    if store.publishes_to_drop > 0 {
        store.publishes_to_drop -= 1;
        st.inner
            .stats
            .publishes_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return dropped_connection();
    }
    Json(resp).into_response()
}

fn latest_published<'a>(
    forms: &'a HashMap<String, FormVersion>,
    context: &Option<String>,
) -> Option<&'a FormVersion> {
    forms
        .values()
        .filter(|v| v.published && &v.form.context_id == context)
        .max_by_key(|v| v.seq)
}

pub(crate) async fn get_published_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    let store = st.store();
    let Some(any) = store.forms.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    match latest_published(&store.forms, &any.form.context_id) {
        Some(v) => Json(form_response(v)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} has no published version"),
        ),
    }
}

pub(crate) async fn list_published_forms(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let store = st.store();
    let mut versions: Vec<&FormVersion> = store
        .forms
        .values()
        .filter(|v| v.published)
        .filter(|v| {
            q.get("name")
                .is_none_or(|n| v.form.name.contains(n.as_str()))
        })
        .collect();
    versions.sort_by_key(|v| v.seq);
    let forms: Vec<EvaluationForm> = versions.into_iter().map(form_response).collect();
    Json(paginate(
        &forms,
        size,
        number,
        "/api/v2/quality/publishedforms/evaluations",
        "",
    ))
    .into_response()
}

// ---------------------------------------------------------------- evaluations

const STATUSES: [&str; 5] = ["PENDING", "INPROGRESS", "FINISHED", "INREVIEW", "RETRACTED"];

fn usable(st: &EmulatorState, u: &FixtureUser) -> bool {
    u.state == "active" || st.inner.settings.accept_inactive_users
}

pub(crate) async fn create_evaluation(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
    body: Bytes,
) -> Response {
    admit!(st, headers);
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
    store.evaluations.push(StoredEvaluation {
        stored_at: Some(now),
        conversation_id,
        agent_id: req.agent.id.clone(),
        evaluator_id: req.evaluator.id.clone(),
        evaluation: evaluation.clone(),
        versions: Vec::new(),
    });
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

fn has_agent(c: &FixtureConversation, user_id: &str) -> bool {
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
    admit!(st, headers);
    check_body!(st, "put_quality_conversation_evaluation", body);
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
    admit!(st, headers);
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
    let removed = store.evaluations.remove(pos);
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
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
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

// ---------------------------------------------------------------- analytics, limits

fn to_analytics(c: &FixtureConversation) -> AnalyticsConversation {
    AnalyticsConversation {
        conversation_id: c.conversation_id.clone(),
        conversation_start: Some(iso(c.start)),
        conversation_end: Some(iso(c.end)),
        participants: c
            .participants
            .iter()
            .enumerate()
            .map(|(i, p)| AnalyticsParticipant {
                participant_id: Some(format!("{}-p{i}", c.conversation_id)),
                purpose: Some(p.purpose.clone()),
                user_id: p.user_id.clone(),
            })
            .collect(),
    }
}

/// `POST /api/v2/analytics/conversations/details/query`: conversations that started on a day the
/// interval touches (as the official model describes `interval`), with the segment filters applied
/// to participants (`userId`, `purpose`; `matches`, `exists`, `notExists`; filters and-ed, predicates
/// by the filter's `and`/`or`), ordered and paged (at most 100 a page). Only filters naming a
/// `userId` are served (the index the emulator keeps); others answer 400, so a client relying on one
/// is noticed.
pub(crate) async fn conversation_details_query(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_analytics_conversations_details_query", body);
    let q: genesys::models::ConversationQuery = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => return bad_request(format!("Unable to parse the query: {e}")),
    };
    let Some((a, b)) = q.interval.split_once('/') else {
        return bad_request("interval must be start/end (ISO 8601)");
    };
    let (Ok(start), Ok(end)) = (a.parse::<Timestamp>(), b.parse::<Timestamp>()) else {
        return bad_request(format!(
            "interval '{}' is not two ISO 8601 instants",
            q.interval
        ));
    };
    if end <= start {
        return bad_request("interval end must be after its start");
    }
    let paging = q.paging.unwrap_or(genesys::models::PagingSpec {
        page_size: 25,
        page_number: 1,
    });
    if !(1..=100).contains(&paging.page_size) || paging.page_number < 1 {
        return bad_request("paging: pageSize must be 1..100 and pageNumber at least 1");
    }
    let user = q
        .segment_filters
        .iter()
        .flat_map(|f| &f.predicates)
        .find(|p| p.dimension.as_deref() == Some("userId"))
        .and_then(|p| p.value.clone());
    let Some(user) = user else {
        return bad_request("the emulator serves detail queries filtered by userId only");
    };
    let day = |t: Timestamp| jiff::tz::TimeZone::UTC.to_datetime(t).date();
    let (first_day, last_day) = (day(start), day(end));
    let matches = |c: &FixtureConversation| -> bool {
        q.segment_filters.iter().all(|f| {
            let test = |p: &genesys::models::SegmentDetailQueryPredicate| {
                let op = p.operator.as_deref().unwrap_or("matches");
                c.participants.iter().any(|part| {
                    let v = match p.dimension.as_deref() {
                        Some("userId") => part.user_id.as_deref(),
                        Some("purpose") => Some(part.purpose.as_str()),
                        _ => None,
                    };
                    match op {
                        "exists" => v.is_some(),
                        "notExists" => v.is_none(),
                        _ => v.is_some() && v == p.value.as_deref(),
                    }
                })
            };
            if f.kind == "or" {
                f.predicates.iter().any(test)
            } else {
                f.predicates.iter().all(test)
            }
        })
    };
    let mut found: Vec<&FixtureConversation> = st
        .conversations_of(&user)
        .into_iter()
        .filter(|c| (first_day..=last_day).contains(&day(c.start)))
        .filter(|c| matches(c))
        .collect();
    if q.order.as_deref() == Some("desc") {
        found.reverse();
    }
    let total = found.len();
    let size = paging.page_size as usize;
    let from = (paging.page_number as usize - 1).saturating_mul(size);
    let page: Vec<AnalyticsConversation> = found
        .iter()
        .skip(from)
        .take(size)
        .map(|c| to_analytics(c))
        .collect();
    if page.is_empty() {
        return Json(json!({ "totalHits": total })).into_response();
    }
    Json(json!({ "conversations": page, "totalHits": total })).into_response()
}

pub(crate) async fn conversation_details_multi(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let Some(ids) = q.get("id") else {
        return bad_request("id is required");
    };
    let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
    if ids.len() > 100 {
        return bad_request(format!("At most 100 ids per request, got {}", ids.len()));
    }
    let conversations: Vec<AnalyticsConversation> = ids
        .iter()
        .filter_map(|id| st.conversation(id))
        .map(to_analytics)
        .collect();
    Json(json!({ "conversations": conversations })).into_response()
}

pub(crate) async fn conversation_details(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    match st.conversation(&id) {
        Some(c) => Json(to_analytics(c)).into_response(),
        None => not_found(&format!("conversation {id}")),
    }
}

// ---------------------------------------------------------------- integrations (client apps)

pub(crate) async fn list_integrations(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all: Vec<serde_json::Value> = st
        .store()
        .integrations
        .iter()
        .map(|i| {
            let mut v = i.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("config");
            }
            v
        })
        .collect();
    Json(paginate(&all, size, number, "/api/v2/integrations", "")).into_response()
}

pub(crate) async fn create_integration(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    let Ok(req) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return bad_request("body is not JSON");
    };
    let (Some(name), Some(kind)) = (req["name"].as_str(), req["integrationType"]["id"].as_str())
    else {
        return bad_request("name and integrationType.id are required");
    };
    if kind != "embedded-client-app" {
        return bad_request(format!(
            "the emulator knows integration type embedded-client-app only, not '{kind}'"
        ));
    }
    let v = json!({
        "id": Uuid::new_v4().to_string(), "name": name,
        "integrationType": {"id": kind}, "intendedState": "DISABLED", "config": null
    });
    st.store().integrations.push(v.clone());
    Json(v).into_response()
}

/// Applies `change` to integration `id` (from a JSON body), answering what `change` returns.
fn update_integration(
    st: &EmulatorState,
    id: &str,
    body: &Bytes,
    change: impl FnOnce(
        &mut serde_json::Value,
        serde_json::Value,
    ) -> Result<serde_json::Value, Response>,
) -> Response {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return bad_request("body is not JSON");
    };
    let mut store = st.store();
    let Some(i) = store.integrations.iter_mut().find(|i| i["id"] == id) else {
        return not_found(&format!("integration {id}"));
    };
    match change(i, value) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn put_integration_config(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    update_integration(&st, &id, &body, |i, config| {
        if config["properties"]["url"]
            .as_str()
            .is_none_or(|u| !u.starts_with("https://"))
        {
            return Err(bad_request("properties.url must be an https:// URL"));
        }
        i["config"] = config.clone();
        Ok(config)
    })
}

pub(crate) async fn patch_integration(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    update_integration(&st, &id, &body, |i, patch| {
        if let Some(state) = patch["intendedState"].as_str() {
            if !["ENABLED", "DISABLED", "DELETED"].contains(&state) {
                return Err(bad_request(format!("intendedState '{state}'")));
            }
            i["intendedState"] = json!(state);
        }
        Ok(i.clone())
    })
}

// ---------------------------------------------------------------- external metrics

pub(crate) async fn list_metric_definitions(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let defs = st.store().metric_definitions.clone();
    Json(paginate(
        &defs,
        size,
        number,
        "/api/v2/employeeperformance/externalmetrics/definitions",
        "",
    ))
    .into_response()
}

pub(crate) async fn create_metric_definition(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    let mut def: genesys::models::ExternalMetricDefinition = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("Unable to parse the definition: {e}")),
    };
    if !["Percent", "Number", "Seconds", "Currency"].contains(&def.unit.as_str()) {
        return bad_request(format!(
            "unit '{}' (Percent, Number, Seconds, Currency)",
            def.unit
        ));
    }
    if !(0..=5).contains(&def.precision) {
        return bad_request("precision must be 0 to 5");
    }
    if !["HigherIsBetter", "LowerIsBetter", "TargetArea"]
        .contains(&def.default_objective_type.as_str())
    {
        return bad_request("defaultObjectiveType (HigherIsBetter, LowerIsBetter, TargetArea)");
    }
    let mut store = st.store();
    if store.metric_definitions.iter().any(|d| d.name == def.name) {
        return error(
            StatusCode::CONFLICT,
            "duplicate.name",
            format!("A metric definition named '{}' already exists", def.name),
        );
    }
    def.id = Some(Uuid::new_v4().to_string());
    store.metric_definitions.push(def.clone());
    Json(def).into_response()
}

/// `POST …/externalmetrics/data`: at most 100 items; each needs exactly one of `userId`/`userEmail`,
/// a known user and metric, and a `dateOccurred` from 7 days back to 30 days ahead of today (the
/// window reference/genesys-api.md §2.4 reports, on the emulator's clock). Items that fail are
/// returned in `unprocessedEntities` with a code — the response is still 200.
pub(crate) async fn write_metric_data(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    let req: genesys::models::ExternalMetricDataWriteRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("Unable to parse the data: {e}")),
    };
    if req.items.len() > 100 {
        return bad_request(format!(
            "At most 100 items per request, got {}",
            req.items.len()
        ));
    }
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(st.inner.clock.now())
        .date();
    let (Ok(lo), Ok(hi)) = (
        today.checked_sub(jiff::Span::new().days(7)),
        today.checked_add(jiff::Span::new().days(30)),
    ) else {
        return bad_request("clock out of range");
    };
    let mut processed = Vec::new();
    let mut unprocessed = Vec::new();
    let mut store = st.store();
    for item in req.items {
        let fail = |code: &str, message: String| genesys::models::ExternalMetricDataUnprocessed {
            item: item.clone(),
            code: Some(code.into()),
            message: Some(message),
        };
        let user = match (&item.user_id, &item.user_email) {
            (Some(id), None) => st.user(id).map(|u| u.id.clone()),
            (None, Some(email)) => st
                .inner
                .fixture
                .users
                .iter()
                .find(|u| {
                    u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .map(|u| u.id.clone()),
            _ => {
                unprocessed.push(fail(
                    "invalid.user",
                    "exactly one of userId and userEmail".into(),
                ));
                continue;
            }
        };
        let Some(user) = user else {
            unprocessed.push(fail("user.not.found", "no such user".into()));
            continue;
        };
        if !store
            .metric_definitions
            .iter()
            .any(|d| d.id.as_deref() == Some(item.metric_id.as_str()))
        {
            unprocessed.push(fail(
                "metric.not.found",
                format!("no metric {}", item.metric_id),
            ));
            continue;
        }
        let Ok(date) = item.date_occurred.parse::<jiff::civil::Date>() else {
            unprocessed.push(fail(
                "invalid.date",
                format!("dateOccurred '{}' is not yyyy-MM-dd", item.date_occurred),
            ));
            continue;
        };
        if date < lo || date > hi {
            unprocessed.push(fail(
                "date.out.of.range",
                format!("dateOccurred {date} is outside {lo} … {hi}"),
            ));
            continue;
        }
        let key = (user, item.metric_id.clone(), date.to_string());
        let count = item.count.unwrap_or(1);
        match (item.value, item.kind.as_deref().unwrap_or("Total")) {
            (None, _) => {
                store.metric_data.remove(&key);
            }
            (Some(v), "Cumulative") => {
                let e = store.metric_data.entry(key).or_insert((0.0, 0));
                e.0 += v;
                e.1 += count;
            }
            (Some(v), _) => {
                if count == 0 {
                    store.metric_data.remove(&key);
                } else {
                    store.metric_data.insert(key, (v, count));
                }
            }
        }
        processed.push(item);
    }
    Json(json!({ "processedEntities": processed, "unprocessedEntities": unprocessed }))
        .into_response()
}

/// Emulator-only read-back of every metric data point, for tests and rehearsals.
pub(crate) async fn read_metric_data(State(st): State<EmulatorState>) -> Response {
    let points: Vec<serde_json::Value> = st
        .metric_points()
        .into_iter()
        .map(|(u, m, d, v, c)| json!({"userId": u, "metricId": m, "dateOccurred": d, "value": v, "count": c}))
        .collect();
    Json(json!({ "entities": points })).into_response()
}

pub(crate) async fn limits(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
) -> Response {
    admit!(st, headers);
    let s = &st.inner.settings;
    let entities = match namespace.as_str() {
        "quality" => {
            json!([{"key": "evaluations.per.agent.per.day", "namespace": "quality", "value": s.per_agent_daily_cap}])
        }
        "platform.api" => {
            json!([{"key": "client.credentials.token.rate.per.minute", "namespace": "platform.api", "value": s.requests_per_minute}])
        }
        other => return not_found(&format!("limits namespace {other}")),
    };
    Json(json!({ "entities": entities })).into_response()
}

/// Faults on every API request: latency, 429 storms, 503s (before anything is done).
pub(crate) async fn faults(
    State(st): State<EmulatorState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let latency = st.latency();
    if latency > 0 {
        st.clock()
            .shared()
            .sleep(std::time::Duration::from_millis(latency))
            .await;
    }
    if req.uri().path().starts_with("/api/v2/") {
        let throttled_until = st.store().throttled_until;
        if throttled_until.is_some_and(|t| st.inner.clock.now() < t) {
            st.inner
                .stats
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            st.inner
                .stats
                .throttled_without_retry_after
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many_without_retry_after();
        }
        if st.roll(st.inner.settings.storm_rate) {
            st.inner
                .stats
                .faults_storm
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            st.inner
                .stats
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many(
                st.inner.settings.storm_retry_after_s.max(1),
                "injected 429 storm",
            );
        }
        if st.roll(st.inner.settings.error_rate) {
            st.inner
                .stats
                .faults_5xx
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service.unavailable",
                "The service is temporarily unavailable (injected fault)",
            );
        }
    }
    next.run(req).await
}

/// A 200 whose body never arrives: the connection drops after the work was committed.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped after commit (injected fault)",
        ))
    });
    let mut resp = Response::new(axum::body::Body::from_stream(stream));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) async fn fallback(State(st): State<EmulatorState>) -> Response {
    st.inner
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    not_found("resource (this emulator does not serve this path)")
}
