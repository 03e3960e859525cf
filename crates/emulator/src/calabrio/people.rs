//! People: `person/permission/ViewOrg` lists only active persons; inactive ones are found only by
//! `person/{id}` (the directory pitfall of reference/calabrio.md §5).

use super::*;

pub(super) async fn persons(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let inner = admitted!(s, &headers);
    let active: Vec<Value> = inner
        .data
        .persons
        .iter()
        .filter(|p| p.get("active").and_then(Value::as_bool) != Some(false))
        .cloned()
        .collect();
    json(Value::Array(active))
}

pub(super) async fn person(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let inner = admitted!(s, &headers);
    let found = inner.data.persons.iter().find(|p| {
        p.get("personId").map(|v| match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        }) == Some(id.clone())
    });
    match found {
        Some(p) => json(p.clone()),
        None => error(StatusCode::NOT_FOUND, "no such person"),
    }
}
