//! Roles and permissions: each OAuth client has one role, `qm-migrate (<client id>)`, granting the
//! fixture's `permissions` (or every permission qm-migrate uses). Every API route needs one of the
//! permissions `genesys::permissions::OPERATIONS` lists for it; a request the role does not grant answers 403
//! `missing.permissions` naming it, as Genesys does. The client's role and its permission policies
//! can be read back through `GET /api/v2/oauth/clients/{id}` and
//! `GET /api/v2/authorization/roles/{id}` (shapes of the official `OAuthClient.roleDivisions` and
//! `DomainOrganizationRole.permissionPolicies`), which need `oauth:client:view` and
//! `authorization:role:view` themselves.

use axum::Json;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::genesys::{admit, error};
use crate::state::EmulatorState;

/// Every permission a client without a `permissions` list holds: every one the operations table
/// (`genesys::permissions::OPERATIONS`) names.
pub static ALL: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(genesys::permissions::all);

/// What a route needs: any one of these, from the same table `preflight` checks roles against.
fn needed(method: &Method, route: &str) -> &'static [&'static str] {
    genesys::permissions::needed(method.as_str(), route)
}

fn held(st: &EmulatorState, client_id: &str) -> Vec<String> {
    st.inner
        .fixture
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
        .and_then(|c| c.permissions.clone())
        .unwrap_or_else(|| ALL.iter().map(|p| (*p).to_owned()).collect())
}

fn role_id(client_id: &str) -> String {
    format!("role-{client_id}")
}

/// The client a bearer token belongs to (no rate slot taken: `admit` in the handler does that).
fn client_of(st: &EmulatorState, headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?;
    st.store().tokens.get(token).map(|(c, _)| c.clone())
}

/// Route layer: 403 `missing.permissions` when the client's role grants none of what the route
/// needs. Unknown or expired tokens pass through to the handler's own 401.
pub(crate) async fn authorize(
    State(st): State<EmulatorState>,
    matched: Option<MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let need = needed(req.method(), route);
    if !need.is_empty()
        && let Some(client) = client_of(&st, req.headers())
    {
        let have = held(&st, &client);
        if !need.iter().any(|n| genesys::permissions::grants(&have, n)) {
            return error(
                StatusCode::FORBIDDEN,
                "missing.permissions",
                format!(
                    "Unable to perform the requested action. You are missing the following permission(s): [{}]",
                    need.join(", ")
                ),
            );
        }
    }
    next.run(req).await
}

/// `GET /api/v2/oauth/clients/{id}`.
pub(crate) async fn oauth_client(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admit(&st, &headers) {
        return r;
    }
    if !st
        .inner
        .fixture
        .oauth_clients
        .iter()
        .any(|c| c.client_id == id)
    {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("OAuth client {id} not found"),
        );
    }
    Json(json!({
        "id": id,
        "name": format!("qm-migrate ({id})"),
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": role_id(&id), "divisionId": "*"}],
        "state": "active",
    }))
    .into_response()
}

/// `GET /api/v2/authorization/roles/{id}`.
pub(crate) async fn role(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admit(&st, &headers) {
        return r;
    }
    let Some(client) = st
        .inner
        .fixture
        .oauth_clients
        .iter()
        .find(|c| role_id(&c.client_id) == id)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("role {id} not found"),
        );
    };
    // One policy per domain and entity, with its actions.
    let mut policies: std::collections::BTreeMap<(String, String), Vec<String>> =
        std::collections::BTreeMap::new();
    for p in held(&st, &client.client_id) {
        let mut parts = p.splitn(3, ':');
        let (Some(d), Some(e), Some(a)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        policies
            .entry((d.to_owned(), e.to_owned()))
            .or_default()
            .push(a.to_owned());
    }
    Json(json!({
        "id": id,
        "name": format!("qm-migrate ({})", client.client_id),
        "permissionPolicies": policies.into_iter().map(|((d, e), a)| json!({
            "domain": d, "entityName": e, "actionSet": a, "allowConditions": false,
        })).collect::<Vec<_>>(),
    }))
    .into_response()
}
