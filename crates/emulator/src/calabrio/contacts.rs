//! Contacts and their evaluations: the contact search (by start date in the tenant's zone,
//! `evalState=scored`, `searchStats`, pages by `Range: items=a-b` under the server's page cap),
//! and each contact's evaluations (full objects in the list), their detail and comments.

use super::*;

#[derive(Deserialize)]
pub(super) struct SearchParams {
    #[serde(rename = "beginDate")]
    begin: Option<String>,
    #[serde(rename = "endDate")]
    end: Option<String>,
    #[serde(rename = "searchStats")]
    stats: Option<bool>,
    limit: Option<usize>,
    #[serde(rename = "evalState")]
    eval_state: Option<String>,
}

/// A contact holding an evaluation whose state is `SCORED` (what `evalState=scored` finds).
fn scored(c: &DatasetContact) -> bool {
    c.evaluations.iter().any(|e| {
        e.detail
            .pointer("/state/text")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("scored"))
    })
}

pub(super) async fn search(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Query(q): Query<SearchParams>,
) -> Response {
    let mut inner = admitted!(s, &headers);
    let parse = |d: &Option<String>| {
        d.as_deref()
            .map(str::parse::<jiff::civil::Date>)
            .transpose()
    };
    let (Ok(begin), Ok(end)) = (parse(&q.begin), parse(&q.end)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "beginDate/endDate must be YYYY-MM-DD",
        );
    };
    let zone = match inner.settings.time_zone.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(z) => z,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "unknown time zone"),
        },
    };
    let day_of = |c: &Value| {
        c.get("startTime")
            .and_then(Value::as_i64)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| zone.to_datetime(t).date())
    };
    let only_scored = match q.eval_state.as_deref() {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("scored") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "evalState: unknown state"),
    };
    if only_scored {
        inner.stats.evaluated_searches += 1;
    }
    let (start, last) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("items="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .unwrap_or((0, usize::MAX - 1));
    // A page after the day's first that comes back empty (`empty_pages`).
    let empty = q.stats != Some(true) && start > 0 && inner.empty_pages_left > 0;
    if empty {
        inner.empty_pages_left -= 1;
    }
    let mut matching: Vec<&DatasetContact> = inner
        .data
        .contacts
        .iter()
        .filter(|c| !only_scored || scored(c))
        .chain(inner.unevaluated.iter().filter(|_| !only_scored))
        .filter(|c| match day_of(&c.contact) {
            Some(d) => begin.is_none_or(|b| d >= b) && end.is_none_or(|e| d <= e),
            None => false,
        })
        .collect();
    matching.sort_by_key(|c| {
        (
            c.contact
                .get("startTime")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            id_of(&c.contact).unwrap_or_default(),
        )
    });
    if q.stats == Some(true) {
        let n = i64::try_from(matching.len())
            .unwrap_or(i64::MAX)
            .saturating_add(inner.settings.count_offset)
            .max(0);
        return json(match inner.settings.count_as {
            CountAs::Number => serde_json::json!({ "count": n }),
            CountAs::String => serde_json::json!({ "count": n.to_string() }),
            CountAs::Unreadable => serde_json::json!({ "count": format!("about {n}") }),
            CountAs::OtherKey => serde_json::json!({ "total": n }),
        });
    }
    let total = matching.len();
    let cap = q
        .limit
        .unwrap_or(usize::MAX)
        .min(inner.settings.max_page)
        .max(1);
    let end_excl = (last.saturating_add(1))
        .min(start.saturating_add(cap))
        .min(total);
    let page: Vec<Value> = matching
        .get(start.min(total)..end_excl.max(start.min(total)))
        .filter(|_| !empty)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let mut v = c.contact.clone();
            if let (Value::Object(m), Some(first)) = (&mut v, c.evaluations.first()) {
                m.insert(
                    "evaluation".into(),
                    serde_json::json!({
                        "id": first.detail.get("id"),
                        "evaluated": first.detail.get("evaluated"),
                    }),
                );
            }
            v
        })
        .collect();
    inner.stats.pages += 1;
    let mut h = HeaderMap::new();
    if let Ok(v) = format!(
        "items {}-{}/{total}",
        start,
        (start + page.len()).saturating_sub(1)
    )
    .parse()
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    (StatusCode::OK, h, axum::Json(Value::Array(page))).into_response()
}

fn contact_of<'a>(inner: &'a Inner, cid: &str) -> Option<&'a DatasetContact> {
    inner.by_id.get(cid).map(|&i| &inner.data.contacts[i])
}

pub(super) async fn eval_list(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path(cid): Path<String>,
) -> Response {
    let inner = admitted!(s, &headers);
    if inner.settings.forbidden_contacts.contains(&cid) {
        return error(
            StatusCode::FORBIDDEN,
            "the API user may not view this contact's evaluations",
        );
    }
    let full = inner.settings.full_objects;
    let unevaluated = || {
        inner
            .unevaluated
            .iter()
            .any(|c| id_of(&c.contact).as_deref() == Some(cid.as_str()))
    };
    match contact_of(&inner, &cid) {
        Some(c) => json(Value::Array(
            c.evaluations
                .iter()
                .map(|e| {
                    if full {
                        e.detail.clone()
                    } else {
                        serde_json::json!({
                            "id": e.detail.get("id"),
                            "evaluated": e.detail.get("evaluated"),
                            "state": e.detail.get("state"),
                        })
                    }
                })
                .collect(),
        )),
        None if unevaluated() => json(Value::Array(Vec::new())),
        None => error(StatusCode::NOT_FOUND, "no such contact"),
    }
}

fn find_eval<'a>(inner: &'a Inner, cid: &str, eid: &str) -> Option<&'a DatasetEvaluation> {
    contact_of(inner, cid)?
        .evaluations
        .iter()
        .find(|e| id_of(&e.detail).as_deref() == Some(eid))
}

/// Answers with `what` of the evaluation `eid` of contact `cid`, after the session checks.
fn with_eval(
    s: &CalabrioState,
    headers: &HeaderMap,
    cid: &str,
    eid: &str,
    what: impl FnOnce(&DatasetEvaluation) -> Value,
) -> Response {
    let inner = admitted!(s, headers);
    match find_eval(&inner, cid, eid) {
        Some(e) => json(what(e)),
        None => error(StatusCode::NOT_FOUND, "no such evaluation"),
    }
}

pub(super) async fn eval_detail(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path((cid, eid)): Path<(String, String)>,
) -> Response {
    with_eval(&s, &headers, &cid, &eid, |e| e.detail.clone())
}

pub(super) async fn eval_comments(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path((cid, eid)): Path<(String, String)>,
) -> Response {
    if s.lock().settings.missing_comments.contains(&eid) {
        // Counted as a request like any other; the evaluation was deleted during the crawl.
        let _inner = admitted!(s, &headers);
        return error(StatusCode::NOT_FOUND, "no such evaluation");
    }
    with_eval(&s, &headers, &cid, &eid, |e| {
        Value::Array(e.comments.clone())
    })
}
