//! Evaluation forms: `GET /api/rest/recording/evalform` lists the current forms (not the retired
//! ones, `retired_forms`); `GET /api/rest/recording/evalform/{id}` serves any form by id.

use super::*;

pub(super) async fn forms(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let inner = admitted!(s, &headers);
    let retired = &inner.settings.retired_forms;
    json(Value::Array(
        inner
            .data
            .forms
            .iter()
            .filter(|f| id_of(f).is_none_or(|id| !retired.contains(&id)))
            .cloned()
            .collect(),
    ))
}

pub(super) async fn form(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let inner = admitted!(s, &headers);
    match inner
        .data
        .forms
        .iter()
        .find(|f| id_of(f).as_deref() == Some(id.as_str()))
    {
        Some(f) => json(f.clone()),
        None => error(StatusCode::NOT_FOUND, "no such form"),
    }
}
