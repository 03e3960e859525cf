//! Sessions: `POST /api/rest/authorize` (the object body, or with `legacy_login` only the older
//! array body, which sets a CSRF token too) and `DELETE /api/rest/authorize`.

use super::*;

pub(super) async fn authorize(State(s): State<CalabrioState>, body: axum::body::Bytes) -> Response {
    let mut inner = s.lock();
    inner.stats.requests += 1;
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let (creds, legacy) = match &value {
        Value::Object(_) if inner.settings.legacy_login => {
            return error(StatusCode::BAD_REQUEST, "expected an array body");
        }
        Value::Object(_) => (value.clone(), false),
        Value::Array(items) if items.len() == 1 => (items[0].clone(), true),
        _ => return error(StatusCode::BAD_REQUEST, "expected a login object"),
    };
    let user = creds
        .get("userId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let password = creds
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !inner
        .data
        .api_users
        .iter()
        .any(|u| u.user_id == user && u.password == password)
    {
        return error(StatusCode::UNAUTHORIZED, "invalid credentials");
    }
    let n = inner.next_session;
    inner.next_session += 1;
    let sid = format!("hz-{n:08}-{}", inner.rng.random_range(100_000..999_999u32));
    let csrf = legacy.then(|| format!("csrf-{}", inner.rng.random_range(100_000..999_999u32)));
    inner.sessions.insert(
        sid.clone(),
        Session {
            used: 0,
            csrf: csrf.clone(),
        },
    );
    inner.stats.logins += 1;
    let mut headers = HeaderMap::new();
    if let Ok(v) = format!("hazelcast.sessionId={sid}; Path=/; HttpOnly").parse() {
        headers.append(header::SET_COOKIE, v);
    }
    if let Some(t) = &csrf
        && let Ok(v) = format!("CSRFTOKEN={t}; Path=/").parse()
    {
        headers.append(header::SET_COOKIE, v);
    }
    let body = if legacy {
        serde_json::json!([{"id": "recording", "sessionId": sid}])
    } else {
        serde_json::json!({"sessionId": sid})
    };
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

pub(super) async fn logout(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    inner.stats.requests += 1;
    if let Some(sid) = cookie(&headers, "hazelcast.sessionId") {
        inner.sessions.remove(&sid);
    }
    StatusCode::OK.into_response()
}
