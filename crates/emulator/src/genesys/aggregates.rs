//! `POST /api/v2/analytics/evaluations/aggregates/query`: what Genesys' evaluation analytics count,
//! written from the official model's documentation (SDK `EvaluationAggregationQuery`) and Genesys'
//! forum answer that evaluations count on their creation date by default — not from the client.
//!
//! - The time dimension: `alternateTimeDimension` = `conversationStart` (the conversation's start),
//!   `evaluationCreatedDate` (the default), `evaluationReleaseDate` (never-released evaluations are
//!   not counted) or `eventTime` (the evaluation's latest change).
//! - Buckets: `granularity` (`PnY`, `PnM`, `PnW`, `PnD`, `PTnH`; none: the whole interval) cut in
//!   `timeZone` from the interval's start; buckets without data are left out.
//! - `filter`: `and`/`or` of dimension predicates and clauses (`matches`, `exists`, `notExists`) on
//!   `userId` (the agent), `evaluatorId`, `formId`, `contextId` (the form's), `evaluationContextId`,
//!   `evaluationId`, `conversationId`, `released`, `rescored`, `mediaType`; `groupBy` on the same.
//! - Metrics: `nEvaluations` (count), `oTotalScore` and `oTotalCriticalScore` (count, sum, min,
//!   max), `nEvaluationsRescored`.
//! - Analytics lag (`Settings::analytics_lag_ms`): a change younger than the lag is not counted yet
//!   (an evaluation shows its previous version, a new one is absent); tests can hold one evaluation
//!   back until they release it. `aggregates_max_interval_days` can refuse long intervals (Genesys
//!   documents no longest one).

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;

/// The dimensions the emulator serves (a subset of the model's enum).
const DIMENSIONS: &[&str] = &[
    "userId",
    "evaluatorId",
    "formId",
    "contextId",
    "evaluationContextId",
    "evaluationId",
    "conversationId",
    "released",
    "rescored",
    "mediaType",
];

/// One evaluation as analytics sees it.
struct Seen {
    evaluation: Evaluation,
    agent: String,
    evaluator: String,
    conversation: String,
    rescored: bool,
}

impl Seen {
    fn value(&self, dimension: &str, now: Timestamp) -> Option<String> {
        let e = &self.evaluation;
        match dimension {
            "userId" => Some(self.agent.clone()),
            "evaluatorId" => Some(self.evaluator.clone()),
            "formId" => e.evaluation_form.as_ref().map(|f| f.id.clone()),
            "contextId" => e
                .evaluation_form
                .as_ref()
                .and_then(|f| f.context_id.clone()),
            "evaluationContextId" | "evaluationId" => Some(e.id.clone()),
            "conversationId" => Some(self.conversation.clone()),
            "released" => Some(
                (e.never_release != Some(true)
                    && e.release_date
                        .as_deref()
                        .and_then(|d| d.parse::<Timestamp>().ok())
                        .is_some_and(|r| r <= now))
                .to_string(),
            ),
            "rescored" => Some(self.rescored.to_string()),
            "mediaType" => Some("voice".into()),
            _ => None,
        }
    }

    fn time(&self, dimension: &str) -> Option<Timestamp> {
        let e = &self.evaluation;
        let d = match dimension {
            "conversationStart" => e.conversation_date.as_deref(),
            "evaluationReleaseDate" if e.never_release == Some(true) => None,
            "evaluationReleaseDate" => e.release_date.as_deref(),
            "eventTime" => e.changed_date.as_deref().or(e.created_date.as_deref()),
            _ => e.created_date.as_deref(),
        };
        d.and_then(|d| d.parse().ok())
    }
}

fn predicate_holds(
    p: &genesys::models::EvaluationAggregateQueryPredicate,
    s: &Seen,
    now: Timestamp,
) -> bool {
    let v = p.dimension.as_deref().and_then(|d| s.value(d, now));
    match p.operator.as_deref().unwrap_or("matches") {
        "exists" => v.is_some(),
        "notExists" => v.is_none(),
        _ => v.is_some() && v.as_deref() == p.value.as_deref(),
    }
}

fn filter_holds(
    f: &genesys::models::EvaluationAggregateQueryFilter,
    s: &Seen,
    now: Timestamp,
) -> bool {
    let mut tests = f
        .predicates
        .iter()
        .map(|p| predicate_holds(p, s, now))
        .chain(f.clauses.iter().map(|c| {
            let mut each = c.predicates.iter().map(|p| predicate_holds(p, s, now));
            if c.kind == "or" {
                each.any(|b| b)
            } else {
                each.all(|b| b)
            }
        }));
    if f.kind == "or" {
        tests.any(|b| b)
    } else {
        tests.all(|b| b)
    }
}

/// A granularity as a span (`P1M`, `P7D`, `PT1H`, …).
fn granularity(text: &str) -> Option<jiff::Span> {
    let span: jiff::Span = text.parse().ok()?;
    (span.get_years() >= 0
        && span.get_months() >= 0
        && span.get_weeks() >= 0
        && span.get_days() >= 0
        && span.get_hours() >= 0
        && !span.is_zero())
    .then_some(span)
}

/// The evaluations analytics has processed, as it holds them.
fn processed(st: &EmulatorState) -> Vec<Seen> {
    let now = st.inner.clock.now();
    let lag = SignedDuration::from_millis(
        i64::try_from(st.inner.settings.analytics_lag_ms).unwrap_or(i64::MAX),
    );
    let horizon = now.checked_sub(lag).unwrap_or(Timestamp::MIN);
    let store = st.store();
    store
        .evaluations
        .iter()
        .filter(|e| !store.held_from_analytics.contains(&e.evaluation.id))
        .filter_map(|e| {
            // The newest version analytics has caught up with.
            let changed = |v: &Evaluation| {
                v.changed_date
                    .as_deref()
                    .or(v.created_date.as_deref())
                    .and_then(|d| d.parse::<Timestamp>().ok())
                    .unwrap_or(Timestamp::MIN)
            };
            let versions = e.versions.iter().chain(std::iter::once(&e.evaluation));
            let (index, seen) = versions
                .enumerate()
                .filter(|(_, v)| changed(v) <= horizon)
                .last()?;
            Some(Seen {
                evaluation: seen.clone(),
                agent: e.agent_id.clone(),
                evaluator: e.evaluator_id.clone(),
                conversation: e.conversation_id.clone(),
                rescored: index > 0,
            })
        })
        .collect()
}

pub(crate) async fn evaluation_aggregates(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_analytics_evaluations_aggregates_query", body);
    let q: genesys::models::EvaluationAggregationQuery = match parse_json(&body) {
        Ok(q) => q,
        Err(r) => return r,
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
    let max_days = st.inner.settings.aggregates_max_interval_days;
    if max_days > 0 && end.duration_since(start) > SignedDuration::from_hours(24 * max_days) {
        return bad_request(format!(
            "interval '{}' is longer than {max_days} days",
            q.interval
        ));
    }
    let zone = match q.time_zone.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(z) => match jiff::tz::TimeZone::get(z) {
            Ok(tz) => tz,
            Err(_) => return bad_request(format!("timeZone '{z}' is not an IANA zone")),
        },
    };
    let step = match q.granularity.as_deref() {
        None => None,
        Some(g) => match granularity(g) {
            Some(s) => Some(s),
            None => return bad_request(format!("granularity '{g}' is not an ISO 8601 period")),
        },
    };
    for d in &q.group_by {
        if !DIMENSIONS.contains(&d.as_str()) {
            return bad_request(format!(
                "groupBy '{d}' is not a dimension the emulator serves"
            ));
        }
    }
    for m in &q.metrics {
        if ![
            "nEvaluations",
            "oTotalScore",
            "oTotalCriticalScore",
            "nEvaluationsRescored",
        ]
        .contains(&m.as_str())
        {
            return bad_request(format!("metric '{m}' is not served by the emulator"));
        }
    }
    let dimension = q
        .alternate_time_dimension
        .clone()
        .unwrap_or_else(|| "evaluationCreatedDate".into());
    // The buckets, cut in the zone from the interval's start.
    let mut buckets: Vec<(Timestamp, Timestamp)> = Vec::new();
    match step {
        None => buckets.push((start, end)),
        Some(span) => {
            let mut at = start.to_zoned_datetime(zone.clone());
            while at.timestamp() < end {
                let Ok(next) = at.checked_add(span) else {
                    break;
                };
                buckets.push((at.timestamp(), next.timestamp().min(end)));
                at = next;
                if buckets.len() > 10_000 {
                    return bad_request("too many buckets: use a coarser granularity");
                }
            }
        }
    }
    let now = st.inner.clock.now();
    // (group, bucket) → metric values.
    type Key = (BTreeMap<String, String>, usize);
    let mut cells: BTreeMap<Key, Vec<Seen>> = BTreeMap::new();
    for s in processed(&st) {
        if q.filter.as_ref().is_some_and(|f| !filter_holds(f, &s, now)) {
            continue;
        }
        let Some(t) = s.time(&dimension) else {
            continue;
        };
        let Some(bucket) = buckets.iter().position(|(a, b)| *a <= t && t < *b) else {
            continue;
        };
        let group: BTreeMap<String, String> = q
            .group_by
            .iter()
            .filter_map(|d| Some((d.clone(), s.value(d, now)?)))
            .collect();
        cells.entry((group, bucket)).or_default().push(s);
    }
    let iso = |t: Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let mut results: BTreeMap<BTreeMap<String, String>, Vec<Value>> = BTreeMap::new();
    for ((group, bucket), seen) in cells {
        let stats = |f: &dyn Fn(&Seen) -> Option<f64>| {
            let values: Vec<f64> = seen.iter().filter_map(f).collect();
            if values.is_empty() {
                return json!({"count": 0});
            }
            json!({
                "count": values.len(),
                "sum": values.iter().sum::<f64>(),
                "min": values.iter().copied().fold(f64::INFINITY, f64::min),
                "max": values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        };
        let metrics: Vec<Value> = q
            .metrics
            .iter()
            .map(|m| {
                let s = match m.as_str() {
                    "nEvaluations" => json!({"count": seen.len()}),
                    "nEvaluationsRescored" => {
                        json!({"count": seen.iter().filter(|s| s.rescored).count()})
                    }
                    "oTotalCriticalScore" => {
                        stats(&|s| s.evaluation.answers.as_ref()?.total_critical_score)
                    }
                    _ => stats(&|s| s.evaluation.answers.as_ref()?.total_score),
                };
                json!({"metric": m, "stats": s})
            })
            .collect();
        let (a, b) = buckets[bucket];
        results
            .entry(group)
            .or_default()
            .push(json!({"interval": format!("{}/{}", iso(a), iso(b)), "metrics": metrics}));
    }
    let results: Vec<Value> = results
        .into_iter()
        .map(|(group, data)| json!({"group": group, "data": data}))
        .collect();
    Json(json!({ "results": results })).into_response()
}
