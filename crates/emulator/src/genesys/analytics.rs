//! Conversation details: by id, several ids, and the details query (`/api/v2/analytics/…`).

use super::*;

pub(super) fn to_analytics(c: &FixtureConversation) -> AnalyticsConversation {
    AnalyticsConversation {
        conversation_id: c.conversation_id.clone(),
        conversation_start: Some(iso(c.start)),
        conversation_end: Some(iso(c.end)),
        participants: c
            .participants
            .iter()
            .enumerate()
            .map(|(i, p)| AnalyticsParticipant {
                participant_id: Some(format!("{}-p{i}", c.conversation_id)),
                purpose: Some(p.purpose.clone()),
                user_id: p.user_id.clone(),
            })
            .collect(),
    }
}

/// `POST /api/v2/analytics/conversations/details/query`: conversations that started on a day the
/// interval touches (as the official model describes `interval`), with the segment filters applied
/// to participants (`userId`, `purpose`; `matches`, `exists`, `notExists`; filters and-ed, predicates
/// by the filter's `and`/`or`), ordered and paged (at most 100 a page). Filters must name a `userId`
/// (the index the emulator keeps), or be absent (the org's conversations, e.g. its first one);
/// others answer 400, so a client relying on one is noticed. `max_detail_query_days` can refuse long
/// intervals.
pub(crate) async fn conversation_details_query(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_analytics_conversations_details_query", body);
    let q: genesys::models::ConversationQuery = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => return bad_request(format!("Unable to parse the query: {e}")),
    };
    let Some((a, b)) = q.interval.split_once('/') else {
        return bad_request("interval must be start/end (ISO 8601)");
    };
    let (Ok(start), Ok(end)) = (a.parse::<Timestamp>(), b.parse::<Timestamp>()) else {
        return bad_request(format!(
            "interval '{}' is not two ISO 8601 instants",
            q.interval
        ));
    };
    if end <= start {
        return bad_request("interval end must be after its start");
    }
    let paging = q.paging.unwrap_or(genesys::models::PagingSpec {
        page_size: 25,
        page_number: 1,
    });
    if !(1..=100).contains(&paging.page_size) || paging.page_number < 1 {
        return bad_request("paging: pageSize must be 1..100 and pageNumber at least 1");
    }
    let max_days = st.inner.settings.max_detail_query_days;
    if max_days > 0 && end.duration_since(start) > SignedDuration::from_hours(24 * max_days) {
        return bad_request(format!(
            "interval '{}' is longer than {max_days} days",
            q.interval
        ));
    }
    let user = q
        .segment_filters
        .iter()
        .flat_map(|f| &f.predicates)
        .find(|p| p.dimension.as_deref() == Some("userId"))
        .and_then(|p| p.value.clone());
    if user.is_none() && !q.segment_filters.is_empty() {
        return bad_request("the emulator serves detail queries filtered by userId, or unfiltered");
    }
    st.inner
        .stats
        .detail_queries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((start, end, user.clone()));
    let day = |t: Timestamp| jiff::tz::TimeZone::UTC.to_datetime(t).date();
    let (first_day, last_day) = (day(start), day(end));
    let matches = |c: &FixtureConversation| -> bool {
        q.segment_filters.iter().all(|f| {
            let test = |p: &genesys::models::SegmentDetailQueryPredicate| {
                let op = p.operator.as_deref().unwrap_or("matches");
                c.participants.iter().any(|part| {
                    let v = match p.dimension.as_deref() {
                        Some("userId") => part.user_id.as_deref(),
                        Some("purpose") => Some(part.purpose.as_str()),
                        _ => None,
                    };
                    match op {
                        "exists" => v.is_some(),
                        "notExists" => v.is_none(),
                        _ => v.is_some() && v == p.value.as_deref(),
                    }
                })
            };
            if f.kind == "or" {
                f.predicates.iter().any(test)
            } else {
                f.predicates.iter().all(test)
            }
        })
    };
    // Filtered by a user: that user's conversations (an index); unfiltered: the org's.
    let candidates: Vec<&FixtureConversation> = match &user {
        Some(u) => st.conversations_of(u),
        None => {
            let mut all: Vec<&FixtureConversation> = st.fixture().conversations.iter().collect();
            all.sort_by_key(|c| c.start);
            all
        }
    };
    let mut found: Vec<&FixtureConversation> = candidates
        .into_iter()
        .filter(|c| (first_day..=last_day).contains(&day(c.start)))
        .filter(|c| matches(c))
        .collect();
    if q.order.as_deref() == Some("desc") {
        found.reverse();
    }
    let total = found.len();
    let size = paging.page_size as usize;
    let from = (paging.page_number as usize - 1).saturating_mul(size);
    let page: Vec<AnalyticsConversation> = found
        .iter()
        .skip(from)
        .take(size)
        .map(|c| to_analytics(c))
        .collect();
    if page.is_empty() {
        return Json(json!({ "totalHits": total })).into_response();
    }
    Json(json!({ "conversations": page, "totalHits": total })).into_response()
}

pub(crate) async fn conversation_details_multi(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let Some(ids) = q.get("id") else {
        return bad_request("id is required");
    };
    let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
    if ids.len() > 100 {
        return bad_request(format!("At most 100 ids per request, got {}", ids.len()));
    }
    let conversations: Vec<AnalyticsConversation> = ids
        .iter()
        .filter_map(|id| st.conversation(id))
        .map(to_analytics)
        .collect();
    Json(json!({ "conversations": conversations })).into_response()
}

pub(crate) async fn conversation_details(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    match st.conversation(&id) {
        Some(c) => Json(to_analytics(c)).into_response(),
        None => not_found(&format!("conversation {id}")),
    }
}
