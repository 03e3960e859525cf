//! The OAuth client-credentials token (`POST /oauth/token`).

use super::*;

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

pub(super) fn url_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.replace('+', " ")))
        })
        .collect()
}

pub(super) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}
