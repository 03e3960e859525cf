//! Evaluation forms: `GET /api/rest/recording/evalform`.

use super::*;

pub(super) async fn forms(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let inner = admitted!(s, &headers);
    json(Value::Array(inner.data.forms.clone()))
}
