//! Integrations, for the External Metrics source (`/api/v2/integrations`).

use super::*;

pub(crate) async fn list_integrations(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = page!(q);
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
pub(super) fn update_integration(
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
