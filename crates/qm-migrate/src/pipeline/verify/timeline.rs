//! The timeline a supervisor sees, as Genesys' own evaluation analytics count it: per agent and
//! month of the conversation's start, how many of our evaluations and their mean total, against
//! what the ledger expects (the conversation start plan read, the total Genesys answered to our
//! last write).
//!
//! `POST /api/v2/analytics/evaluations/aggregates/query` from the first month (UTC) the ledger
//! expects to the last, bucketed by month (`granularity` `P1M`): `alternateTimeDimension` =
//! `conversationStart`, grouped by `userId`, filtered to every published version of our forms
//! (`formId`), metrics `nEvaluations` and `oTotalScore`. One request for the whole range; Genesys
//! documents no longest interval, so when it refuses the range (a 400) the query is split into one
//! request per month. Analytics may lag behind a fresh load: an agent-month whose newest write is
//! younger than `[verify] analytics_lag_s` is listed as pending, not as a difference.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, Result};
use genesys::GenesysClient;
use genesys::models::{
    EvaluationAggregateQueryFilter, EvaluationAggregateQueryPredicate, EvaluationAggregationQuery,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ledger::CreatedItem as Item;

/// One agent-month where Genesys' analytics and the ledger disagree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimelineDiff {
    /// Genesys user id of the agent.
    pub agent: String,
    /// `YYYY-MM` of the conversations' start (UTC).
    pub month: String,
    /// Evaluations Genesys' analytics count.
    pub genesys_count: u64,
    /// Their mean total.
    pub genesys_mean: Option<f64>,
    /// Evaluations the ledger expects.
    pub expected_count: u64,
    /// Their mean total.
    pub expected_mean: Option<f64>,
    /// The newest write to this agent-month is younger than `[verify] analytics_lag_s`: analytics
    /// may not have processed it yet.
    pub pending: bool,
}

impl TimelineDiff {
    /// In words.
    pub fn line(&self) -> String {
        let mean = |m: Option<f64>| m.map_or("—".into(), |m| format!("{m:.2}"));
        format!(
            "agent {} in {}: Genesys analytics {} evaluations (mean {}), expected {} (mean {}){}",
            self.agent,
            self.month,
            self.genesys_count,
            mean(self.genesys_mean),
            self.expected_count,
            mean(self.expected_mean),
            if self.pending {
                " — pending: written less than [verify] analytics_lag_s ago"
            } else {
                ""
            }
        )
    }
}

/// What the timeline check found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// Months queried.
    pub months: u64,
    /// Agent-months compared.
    pub agent_months: u64,
    /// Agent-months that differ (pending ones included, marked).
    pub differing: Vec<TimelineDiff>,
    /// Requests sent.
    pub requests: u64,
    /// Why the check could not run (the permission `analytics:evaluationAggregate:view`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
}

impl Timeline {
    /// Differences that are not pending.
    pub fn settled_differences(&self) -> usize {
        self.differing.iter().filter(|d| !d.pending).count()
    }
}

/// `YYYY-MM` of an instant, UTC.
fn month_of(t: Timestamp) -> String {
    t.strftime("%Y-%m").to_string()
}

/// The first instant of month `m` (`YYYY-MM`) and of the next one.
fn month_bounds(m: &str) -> Option<(Timestamp, Timestamp)> {
    let first: jiff::civil::Date = format!("{m}-01").parse().ok()?;
    let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
    let utc = |d: jiff::civil::Date| {
        jiff::tz::TimeZone::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()
    };
    Some((utc(first)?, utc(next)?))
}

/// Compares the ledger's `items` with Genesys' evaluation analytics. `held` is what verify read back
/// (its `conversationDate` stands in for a conversation start plan did not record); `form_ids` are
/// every published version of our forms.
///
/// # Errors
/// A failed query (an outage) other than a missing permission.
pub async fn check(
    cfg: &Config,
    client: &GenesysClient,
    items: &[&Item],
    held: &HashMap<String, genesys::models::Evaluation>,
    form_ids: &BTreeSet<String>,
) -> Result<Timeline> {
    let mut out = Timeline::default();
    let now = client.clock().now_unix_ms();
    let lag_ms = i64::try_from(cfg.verify.analytics_lag_s)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    // Expected: (agent, month) → (count, totals, newest write in epoch ms).
    let mut expected: BTreeMap<(String, String), (u64, Vec<f64>, i64)> = BTreeMap::new();
    for item in items {
        let start = item
            .conversation_start
            .as_deref()
            .or_else(|| held.get(&item.evaluation_id)?.conversation_date.as_deref())
            .and_then(|s| s.parse::<Timestamp>().ok());
        let Some(start) = start else { continue };
        let written = [&item.genesys_changed, &item.genesys_created]
            .into_iter()
            .flatten()
            .filter_map(|d| d.parse::<Timestamp>().ok())
            .map(Timestamp::as_millisecond)
            .chain(item.sent_at)
            .max()
            .unwrap_or(0);
        let cell = expected
            .entry((item.agent.clone(), month_of(start)))
            .or_insert((0, Vec::new(), 0));
        cell.0 += 1;
        cell.1.extend(item.genesys_total.or(item.predicted));
        cell.2 = cell.2.max(written);
    }
    let months: BTreeSet<&String> = expected.keys().map(|(_, m)| m).collect();
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok(out);
    };
    let filter = EvaluationAggregateQueryFilter {
        kind: "or".into(),
        predicates: form_ids
            .iter()
            .map(|id| EvaluationAggregateQueryPredicate::matches("formId", id))
            .collect(),
        clauses: Vec::new(),
    };
    // Genesys: (agent, month) → (count, sum, counted totals).
    let mut genesys: BTreeMap<(String, String), (u64, f64, u64)> = BTreeMap::new();
    let before = client.requests_sent();
    let (range_start, _) = month_bounds(first).with_context(|| format!("month {first}"))?;
    let (_, range_end) = month_bounds(last).with_context(|| format!("month {last}"))?;
    let query = |a: Timestamp, b: Timestamp| EvaluationAggregationQuery {
        interval: format!("{a}/{b}"),
        granularity: Some("P1M".into()),
        group_by: vec!["userId".into()],
        filter: Some(filter.clone()),
        metrics: vec!["nEvaluations".into(), "oTotalScore".into()],
        alternate_time_dimension: Some("conversationStart".into()),
        time_zone: Some("UTC".into()),
    };
    // The whole range at once; month by month when Genesys refuses so long an interval.
    let mut ranges = vec![(range_start, range_end)];
    let mut split = false;
    while let Some((a, b)) = ranges.pop() {
        let answer = match client.evaluation_aggregates(&query(a, b)).await {
            Ok(answer) => answer,
            Err(genesys::GenesysError::Api { status: 400, .. }) if !split => {
                split = true;
                let mut month = month_of(a);
                loop {
                    let (ma, mb) =
                        month_bounds(&month).with_context(|| format!("month {month}"))?;
                    ranges.push((ma, mb));
                    if mb >= b {
                        break;
                    }
                    month = month_of(mb);
                }
                ranges.reverse();
                continue;
            }
            Err(genesys::GenesysError::Api {
                status: 403, body, ..
            }) => {
                out.unchecked = Some(format!(
                    "Genesys refused the evaluation aggregates query (403 {}): the OAuth client needs analytics:evaluationAggregate:view",
                    body.code.as_deref().unwrap_or("")
                ));
                return Ok(out);
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot read Genesys' evaluation analytics for {} to {}",
                        month_of(a),
                        month_of(b)
                    )
                });
            }
        };
        for r in answer.results {
            let Some(agent) = r.group.get("userId") else {
                continue;
            };
            for d in r.data {
                let Some(bucket) = d
                    .interval
                    .split_once('/')
                    .and_then(|(s, _)| s.parse::<Timestamp>().ok())
                else {
                    continue;
                };
                let cell = genesys
                    .entry((agent.clone(), month_of(bucket)))
                    .or_insert((0, 0.0, 0));
                for m in d.metrics {
                    match m.metric.as_str() {
                        "nEvaluations" => {
                            cell.0 += u64::try_from(m.stats.count.unwrap_or(0)).unwrap_or(0);
                        }
                        "oTotalScore" => {
                            cell.1 += m.stats.sum.unwrap_or(0.0);
                            cell.2 += u64::try_from(m.stats.count.unwrap_or(0)).unwrap_or(0);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let mut m = (*first).clone();
    loop {
        out.months += 1;
        if &m == *last {
            break;
        }
        let Some((_, next)) = month_bounds(&m) else {
            break;
        };
        m = month_of(next);
    }
    out.requests = client.requests_sent().saturating_sub(before);
    let keys: BTreeSet<&(String, String)> = expected.keys().chain(genesys.keys()).collect();
    for key in keys {
        out.agent_months += 1;
        let (ec, totals, written) = expected.get(key).cloned().unwrap_or((0, Vec::new(), 0));
        let expected_mean =
            (!totals.is_empty()).then(|| totals.iter().sum::<f64>() / totals.len() as f64);
        let (gc, sum, counted) = genesys.get(key).copied().unwrap_or((0, 0.0, 0));
        let genesys_mean = (counted > 0).then(|| sum / counted as f64);
        let means_agree = match (expected_mean, genesys_mean) {
            (Some(a), Some(b)) => (a - b).abs() <= 0.01,
            (None, None) => true,
            _ => false,
        };
        if ec == gc && means_agree {
            continue;
        }
        out.differing.push(TimelineDiff {
            agent: key.0.clone(),
            month: key.1.clone(),
            genesys_count: gc,
            genesys_mean,
            expected_count: ec,
            expected_mean,
            pending: written > 0 && now.saturating_sub(written) < lag_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months_in_utc() {
        let (a, b) = month_bounds("2024-02").unwrap();
        assert_eq!(a.to_string(), "2024-02-01T00:00:00Z");
        assert_eq!(b.to_string(), "2024-03-01T00:00:00Z");
        assert_eq!(month_of(b), "2024-03");
        let (_, dec) = month_bounds("2023-12").unwrap();
        assert_eq!(month_of(dec), "2024-01");
    }
}
