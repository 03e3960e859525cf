//! External Metrics: definitions and data (`/api/v2/employeeperformance/externalmetrics/…`).

use super::*;

pub(crate) async fn list_metric_definitions(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = page!(q);
    let defs = st.store().metric_definitions.clone();
    Json(paginate(
        &defs,
        size,
        number,
        "/api/v2/employeeperformance/externalmetrics/definitions",
        "",
    ))
    .into_response()
}

pub(crate) async fn create_metric_definition(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    let mut def: genesys::models::ExternalMetricDefinition = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("Unable to parse the definition: {e}")),
    };
    if !["Percent", "Number", "Seconds", "Currency"].contains(&def.unit.as_str()) {
        return bad_request(format!(
            "unit '{}' (Percent, Number, Seconds, Currency)",
            def.unit
        ));
    }
    if !(0..=5).contains(&def.precision) {
        return bad_request("precision must be 0 to 5");
    }
    if !["HigherIsBetter", "LowerIsBetter", "TargetArea"]
        .contains(&def.default_objective_type.as_str())
    {
        return bad_request("defaultObjectiveType (HigherIsBetter, LowerIsBetter, TargetArea)");
    }
    let mut store = st.store();
    if store.metric_definitions.iter().any(|d| d.name == def.name) {
        return error(
            StatusCode::CONFLICT,
            "duplicate.name",
            format!("A metric definition named '{}' already exists", def.name),
        );
    }
    def.id = Some(Uuid::new_v4().to_string());
    store.metric_definitions.push(def.clone());
    Json(def).into_response()
}

/// `POST …/externalmetrics/data`: at most 100 items; each needs exactly one of `userId`/`userEmail`,
/// a known user and metric, and a `dateOccurred` from 7 days back to 30 days ahead of today (the
/// window reference/genesys-api.md §2.4 reports, on the emulator's clock). Items that fail are
/// returned in `unprocessedEntities` with a code — the response is still 200.
pub(crate) async fn write_metric_data(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    let req: genesys::models::ExternalMetricDataWriteRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("Unable to parse the data: {e}")),
    };
    if req.items.len() > 100 {
        return bad_request(format!(
            "At most 100 items per request, got {}",
            req.items.len()
        ));
    }
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(st.inner.clock.now())
        .date();
    let (Ok(lo), Ok(hi)) = (
        today.checked_sub(jiff::Span::new().days(7)),
        today.checked_add(jiff::Span::new().days(30)),
    ) else {
        return bad_request("clock out of range");
    };
    let mut processed = Vec::new();
    let mut unprocessed = Vec::new();
    let mut store = st.store();
    for item in req.items {
        let fail = |code: &str, message: String| genesys::models::ExternalMetricDataUnprocessed {
            item: item.clone(),
            code: Some(code.into()),
            message: Some(message),
        };
        let user = match (&item.user_id, &item.user_email) {
            (Some(id), None) => st.user(id).map(|u| u.id.clone()),
            (None, Some(email)) => st
                .inner
                .fixture
                .users
                .iter()
                .find(|u| {
                    u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .map(|u| u.id.clone()),
            _ => {
                unprocessed.push(fail(
                    "invalid.user",
                    "exactly one of userId and userEmail".into(),
                ));
                continue;
            }
        };
        let Some(user) = user else {
            unprocessed.push(fail("user.not.found", "no such user".into()));
            continue;
        };
        if !store
            .metric_definitions
            .iter()
            .any(|d| d.id.as_deref() == Some(item.metric_id.as_str()))
        {
            unprocessed.push(fail(
                "metric.not.found",
                format!("no metric {}", item.metric_id),
            ));
            continue;
        }
        let Ok(date) = item.date_occurred.parse::<jiff::civil::Date>() else {
            unprocessed.push(fail(
                "invalid.date",
                format!("dateOccurred '{}' is not yyyy-MM-dd", item.date_occurred),
            ));
            continue;
        };
        if date < lo || date > hi {
            unprocessed.push(fail(
                "date.out.of.range",
                format!("dateOccurred {date} is outside {lo} … {hi}"),
            ));
            continue;
        }
        let key = (user, item.metric_id.clone(), date.to_string());
        let count = item.count.unwrap_or(1);
        match (item.value, item.kind.as_deref().unwrap_or("Total")) {
            (None, _) => {
                store.metric_data.remove(&key);
            }
            (Some(v), "Cumulative") => {
                let e = store.metric_data.entry(key).or_insert((0.0, 0));
                e.0 += v;
                e.1 += count;
            }
            (Some(v), _) => {
                if count == 0 {
                    store.metric_data.remove(&key);
                } else {
                    store.metric_data.insert(key, (v, count));
                }
            }
        }
        processed.push(item);
    }
    Json(json!({ "processedEntities": processed, "unprocessedEntities": unprocessed }))
        .into_response()
}

/// Emulator-only read-back of every metric data point, for tests and rehearsals.
pub(crate) async fn read_metric_data(State(st): State<EmulatorState>) -> Response {
    let points: Vec<serde_json::Value> = st
        .metric_points()
        .into_iter()
        .map(|(u, m, d, v, c)| json!({"userId": u, "metricId": m, "dateOccurred": d, "value": v, "count": c}))
        .collect();
    Json(json!({ "entities": points })).into_response()
}
