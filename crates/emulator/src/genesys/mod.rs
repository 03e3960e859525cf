//! The Genesys Cloud API, one file per area: `auth` (OAuth), `users`, `forms`, `evaluations/` (the
//! create, the changes, the reads), `analytics`, `aggregates`, `audits`, `gamification`,
//! `integrations`, `metrics`, and `faults` (the emulator's own controls). Each handler
//! answers as reference/genesys-api.md documents: status codes, `ErrorBody` codes, paging, the
//! published-version rule and the per-agent cap. This file holds what they share: error bodies,
//! admission (token and request rate), schema checks of request bodies, paging — and the router.

// Handlers answer with a ready `Response` on every error path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Router;
use axum::routing::{get, post};

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
    // The OAuth client's id, for the audit trail of a write.
    ($st:expr, $headers:expr, client) => {
        match admit(&$st, &$headers) {
            Ok(client) => client,
            Err(resp) => return resp,
        }
    };
}

/// The paging parameters of a list request (`pageSize` default 25, `pageNumber` from 1), or the
/// 400 that names the bad one.
macro_rules! page {
    ($q:expr) => {
        match page_params(&$q, 25) {
            Ok(p) => p,
            Err(resp) => return resp,
        }
    };
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

// The areas come after the macros above (`admit!`, `check_body!`), which they use.
mod aggregates;
mod analytics;
mod audits;
mod auth;
mod evaluations;
mod faults;
mod forms;
mod gamification;
mod integrations;
mod metrics;
mod users;

use self::{
    aggregates::*, analytics::*, audits::*, auth::*, evaluations::*, faults::*, forms::*,
    gamification::*, integrations::*, metrics::*, users::*,
};

/// Every route of the emulated Genesys API.
pub(crate) fn router(state: EmulatorState) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/users/search", post(search_users))
        .route("/api/v2/users/{id}", get(get_user))
        .route(
            "/api/v2/quality/forms/evaluations",
            post(create_form).get(list_forms),
        )
        .route(
            "/api/v2/quality/forms/evaluations/{id}",
            get(get_form).delete(delete_form).put(put_form),
        )
        .route(
            "/api/v2/quality/publishedforms/evaluations",
            post(publish_form).get(list_published_forms),
        )
        .route(
            "/api/v2/quality/publishedforms/evaluations/{id}",
            get(get_published_form),
        )
        .route(
            "/api/v2/quality/conversations/{cid}/evaluations",
            post(create_evaluation),
        )
        .route(
            "/api/v2/quality/conversations/{cid}/evaluations/{eid}",
            get(get_evaluation)
                .put(update_evaluation)
                .delete(delete_evaluation),
        )
        .route("/api/v2/quality/evaluations/query", get(query_evaluations))
        .route(
            "/api/v2/quality/conversations/audits/query",
            post(audit_query),
        )
        .route(
            "/api/v2/quality/conversations/audits/query/{id}",
            get(audit_query_status),
        )
        .route(
            "/api/v2/quality/conversations/audits/query/{id}/results",
            get(audit_query_results),
        )
        .route("/api/v2/quality/evaluations/scoring", post(scoring))
        .route(
            "/api/v2/analytics/conversations/details",
            get(conversation_details_multi),
        )
        .route(
            "/api/v2/analytics/conversations/details/query",
            post(conversation_details_query),
        )
        .route(
            "/api/v2/analytics/conversations/{id}/details",
            get(conversation_details),
        )
        .route(
            "/api/v2/analytics/evaluations/aggregates/query",
            post(evaluation_aggregates),
        )
        .route("/api/v2/gamification/profiles", get(gamification_profiles))
        .route(
            "/api/v2/gamification/profiles/{id}/metrics",
            get(gamification_profile_metrics),
        )
        .route(
            "/api/v2/gamification/metricdefinitions",
            get(gamification_metric_definitions),
        )
        .route("/api/v2/organizations/limits/namespaces/{ns}", get(limits))
        .route(
            "/api/v2/employeeperformance/externalmetrics/definitions",
            post(create_metric_definition).get(list_metric_definitions),
        )
        .route(
            "/api/v2/employeeperformance/externalmetrics/data",
            post(write_metric_data),
        )
        .route("/emulator/externalmetrics/data", get(read_metric_data))
        .route(
            "/api/v2/integrations",
            get(list_integrations).post(create_integration),
        )
        .route(
            "/api/v2/integrations/{id}",
            axum::routing::patch(patch_integration),
        )
        .route(
            "/api/v2/integrations/{id}/config/current",
            axum::routing::put(put_integration_config),
        )
        .route(
            "/api/v2/oauth/clients/{id}",
            get(crate::permissions::oauth_client),
        )
        .route(
            "/api/v2/authorization/roles/{id}",
            get(crate::permissions::role),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::permissions::authorize,
        ))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults))
        .with_state(state)
}
