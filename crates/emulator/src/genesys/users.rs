//! Users: list, get, search (`/api/v2/users`).

use super::*;

pub(super) fn to_user(u: &FixtureUser) -> User {
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

pub(crate) async fn list_users(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = page!(q);
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
