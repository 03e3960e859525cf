//! The emulator's own controls (limits, faults) and what answers an unknown path.

use super::*;

pub(crate) async fn limits(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
) -> Response {
    admit!(st, headers);
    let s = &st.inner.settings;
    let entities = match namespace.as_str() {
        "quality" => {
            json!([{"key": "evaluations.per.agent.per.day", "namespace": "quality", "value": s.per_agent_daily_cap}])
        }
        "platform.api" => {
            json!([{"key": "client.credentials.token.rate.per.minute", "namespace": "platform.api", "value": s.requests_per_minute}])
        }
        other => return not_found(&format!("limits namespace {other}")),
    };
    Json(json!({ "entities": entities })).into_response()
}

/// Faults on every API request: latency, 429 storms, 503s (before anything is done).
pub(crate) async fn faults(
    State(st): State<EmulatorState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let latency = st.latency();
    if latency > 0 {
        st.clock()
            .shared()
            .sleep(std::time::Duration::from_millis(latency))
            .await;
    }
    // An outage: every route (the token endpoint too) answers 503 until it ends.
    let outage_until = st.store().outage_until;
    if outage_until.is_some_and(|t| st.inner.clock.now() < t)
        && !req.uri().path().starts_with("/emulator/")
    {
        st.inner
            .stats
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        st.inner
            .stats
            .outage_answers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            "The service is temporarily unavailable (injected outage)",
        );
    }
    if req.uri().path().starts_with("/api/v2/") {
        let throttled_until = st.store().throttled_until;
        if throttled_until.is_some_and(|t| st.inner.clock.now() < t) {
            st.inner
                .stats
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            st.inner
                .stats
                .throttled_without_retry_after
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many_without_retry_after();
        }
        if st.roll(st.inner.settings.storm_rate) {
            st.inner
                .stats
                .faults_storm
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            st.inner
                .stats
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many(
                st.inner.settings.storm_retry_after_s.max(1),
                "injected 429 storm",
            );
        }
        if st.roll(st.inner.settings.error_rate) {
            st.inner
                .stats
                .faults_5xx
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service.unavailable",
                "The service is temporarily unavailable (injected fault)",
            );
        }
    }
    next.run(req).await
}

/// A 200 whose body never arrives: the connection drops after the work was committed.
pub(super) fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped after commit (injected fault)",
        ))
    });
    let mut resp = Response::new(axum::body::Body::from_stream(stream));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) async fn fallback(State(st): State<EmulatorState>) -> Response {
    st.inner
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    not_found("resource (this emulator does not serve this path)")
}
