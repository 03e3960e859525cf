//! The quality audit trail (`POST /api/v2/quality/conversations/audits/query`, then
//! `GET …/audits/query/{transactionId}` for its state and `…/{transactionId}/results` for its pages,
//! official SDK models `QMAuditQueryRequest`, `QualityAuditQueryExecutionStatusResponse`,
//! `QualityAuditQueryExecutionResultsResponse`, `QualityAuditLogMessage`): every create, update and
//! delete of an evaluation, by the OAuth client that sent it or the person who made it in the UI.
//!
//! The query is asynchronous: `Queued`, then `Running`, then `Succeeded` once
//! `Settings::audit_query_delay_ms` of the emulator's clock has passed. Filters (and-ed): `UserId`,
//! `ClientId`, `Action`, `EntityType`, `EntityId`, `ConversationId`, `ServiceName`; the interval
//! bounds `eventDate`; `sort` by `Timestamp` ascending (default) or descending. Results come in pages
//! with a `cursor` to the next one.

use super::*;
use crate::state::{AuditEntry, AuditQuery};

fn status_body(id: &str, q: &AuditQuery, state: &str) -> serde_json::Value {
    json!({
        "id": id,
        "state": state,
        "dateStart": iso(q.made_at),
        "interval": q.request.get("interval").cloned().unwrap_or(serde_json::Value::Null),
        "filters": q.request.get("filters").cloned().unwrap_or_else(|| json!([])),
        "sort": q.request.get("sort").cloned().unwrap_or_else(|| json!([])),
    })
}

fn state_of(st: &EmulatorState, q: &AuditQuery) -> &'static str {
    let elapsed = st.inner.clock.now().duration_since(q.made_at);
    let delay = SignedDuration::from_millis(
        i64::try_from(st.inner.settings.audit_query_delay_ms).unwrap_or(i64::MAX),
    );
    if elapsed >= delay {
        "Succeeded"
    } else if elapsed >= delay / 2 {
        "Running"
    } else {
        "Queued"
    }
}

pub(crate) async fn audit_query(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_conversations_audits_query", body);
    let request: serde_json::Value = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let interval = request
        .get("interval")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let Some((a, b)) = interval.split_once('/') else {
        return bad_request("interval must be start/end (ISO 8601)");
    };
    if a.parse::<Timestamp>().is_err() || b.parse::<Timestamp>().is_err() {
        return bad_request(format!(
            "interval '{interval}' is not two ISO 8601 instants"
        ));
    }
    let id = Uuid::new_v4().to_string();
    let q = AuditQuery {
        request,
        made_at: st.inner.clock.now(),
    };
    let out = status_body(&id, &q, "Queued");
    st.store().audit_queries.insert(id, q);
    Json(out).into_response()
}

pub(crate) async fn audit_query_status(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    let Some(q) = st.store().audit_queries.get(&id).cloned() else {
        return not_found(&format!("audit query {id}"));
    };
    let state = state_of(&st, &q);
    Json(status_body(&id, &q, state)).into_response()
}

fn holds(entry: &AuditEntry, filters: &[serde_json::Value]) -> bool {
    filters.iter().all(|f| {
        let value = f.get("value").and_then(|v| v.as_str()).unwrap_or("");
        match f.get("property").and_then(|v| v.as_str()).unwrap_or("") {
            "UserId" => entry.user_id.as_deref() == Some(value),
            "ClientId" => entry.client_id.as_deref() == Some(value),
            "Action" => entry.action == value,
            "EntityType" => value == "Evaluation",
            "EntityId" => entry.evaluation_id == value,
            "ConversationId" => entry.conversation_id == value,
            "ServiceName" => value == "QualityService",
            _ => true,
        }
    })
}

fn message(e: &AuditEntry) -> serde_json::Value {
    let mut m = json!({
        "id": e.id,
        "serviceName": "QualityService",
        "level": if e.user_id.is_some() { "User" } else { "System" },
        "status": "Success",
        "eventDate": iso(e.at),
        "action": e.action,
        "entityType": "Evaluation",
        "entity": {"id": e.evaluation_id,
                   "selfUri": format!("/api/v2/quality/conversations/{}/evaluations/{}", e.conversation_id, e.evaluation_id)},
        "context": {"conversationId": e.conversation_id, "formId": e.form_id},
    });
    if let Some(u) = &e.user_id {
        m["user"] = json!({"id": u, "selfUri": format!("/api/v2/users/{u}")});
    }
    if let Some(c) = &e.client_id {
        m["client"] = json!({"id": c, "selfUri": format!("/api/v2/oauth/clients/{c}")});
    }
    m
}

pub(crate) async fn audit_query_results(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let Some(q) = st.store().audit_queries.get(&id).cloned() else {
        return not_found(&format!("audit query {id}"));
    };
    if state_of(&st, &q) != "Succeeded" {
        return bad_request(format!("audit query {id} has not succeeded yet"));
    }
    let interval = q.request["interval"].as_str().unwrap_or("");
    let (a, b) = interval.split_once('/').unwrap_or(("", ""));
    let (start, end) = (
        a.parse::<Timestamp>().unwrap_or(Timestamp::MIN),
        b.parse::<Timestamp>().unwrap_or(Timestamp::MAX),
    );
    let filters = q.request["filters"].as_array().cloned().unwrap_or_default();
    let descending = q.request["sort"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(|s| s["sortOrder"].as_str())
        == Some("descending");
    let mut found: Vec<AuditEntry> = st
        .store()
        .audit
        .iter()
        .filter(|e| start <= e.at && e.at < end && holds(e, &filters))
        .cloned()
        .collect();
    found.sort_by_key(|e| e.at);
    if descending {
        found.reverse();
    }
    let size = params
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 500);
    let from = params
        .get("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<serde_json::Value> = found.iter().skip(from).take(size).map(message).collect();
    let mut out = json!({"id": id, "pageSize": size, "entities": page});
    if from + size < found.len() {
        out["cursor"] = json!((from + size).to_string());
    }
    Json(out).into_response()
}
