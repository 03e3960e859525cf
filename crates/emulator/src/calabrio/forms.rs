//! Evaluation forms: `GET /api/rest/recording/evalform`.

use super::*;

pub(super) async fn forms(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    json(Value::Array(inner.data.forms.clone()))
}
