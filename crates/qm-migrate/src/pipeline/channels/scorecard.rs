//! The scorecard channel (DESIGN §1): Genesys Employee Performance External Metrics.
//!
//! One point per agent per day: `value` = the mean normalised score of that agent's evaluations that
//! day (evaluation and history records with a Genesys account), `count` = how many, `type` = `Total`,
//! `dateOccurred` = the day in `[scorecard] time_zone`. Genesys accepts only days from 7 back to 30
//! ahead (reference/genesys-api.md §2.4, unverified #19), so days outside the configured window are
//! recorded as `outside_window` and never sent. Items go 100 to a request through the same
//! rate-limited, retrying client as evaluations; `Total` overwrites, so a re-sent item never adds a
//! second point, and an item whose value and count were already sent is not sent again. A 200 can
//! hide per-item failures: every `unprocessedEntities` item is recorded with its code and message.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use genesys::GenesysClient;
use genesys::models::{ExternalMetricDataItem, ExternalMetricDefinition};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::{Ledger, ScorecardDay};

/// What the scorecard channel did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScorecardSummary {
    /// `[scorecard] enabled`.
    pub enabled: bool,
    /// The metric definition's id.
    pub metric_id: Option<String>,
    /// Agent-days with a score.
    pub days: u64,
    /// Sent and processed in this run.
    pub sent: u64,
    /// Already sent with the same value and count.
    pub unchanged: u64,
    /// Returned in `unprocessedEntities` (recorded with Genesys' code).
    pub unprocessed: u64,
    /// Outside the accepted window: not sent.
    pub outside_window: u64,
}

/// Finds the metric definition by name or creates it, and remembers its id.
///
/// # Errors
/// Ledger and Genesys errors.
pub async fn provision(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
) -> Result<Option<String>> {
    if !cfg.scorecard.enabled {
        return Ok(None);
    }
    let existing = client
        .list_metric_definitions()
        .await
        .context("cannot list external metric definitions")?;
    let mut main = None;
    for name in metric_names(cfg) {
        let id = match existing
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.id.clone())
        {
            Some(id) => id,
            None => client
                .create_metric_definition(&ExternalMetricDefinition {
                    id: None,
                    name: name.clone(),
                    unit: "Percent".into(),
                    precision: 1,
                    default_objective_type: "HigherIsBetter".into(),
                    enabled: true,
                })
                .await
                .with_context(|| format!("cannot create the external metric definition '{name}'"))?
                .id
                .context("Genesys returned a metric definition without an id")?,
        };
        ledger.put_metric(&name, &id)?;
        main.get_or_insert(id);
    }
    Ok(main)
}

/// The overall metric first, then one per configured section.
fn metric_names(cfg: &Config) -> Vec<String> {
    std::iter::once(cfg.scorecard.metric_name.clone())
        .chain(
            cfg.scorecard
                .sections
                .iter()
                .map(|s| format!("{}: {s}", cfg.scorecard.metric_name)),
        )
        .collect()
}

/// Agent and day → (sum of scores, count): each evaluation's instant taken to its day in `tz`.
pub fn aggregate(
    rows: impl IntoIterator<Item = (String, jiff::Timestamp, f64)>,
    tz: &jiff::tz::TimeZone,
) -> BTreeMap<(String, jiff::civil::Date), (f64, i64)> {
    let mut out: BTreeMap<(String, jiff::civil::Date), (f64, i64)> = BTreeMap::new();
    for (agent, at, score) in rows {
        let day = tz.to_datetime(at).date();
        let e = out.entry((agent, day)).or_insert((0.0, 0));
        e.0 += score;
        e.1 += 1;
    }
    out
}

/// Sends the scorecard for `today` (the client's clock in production).
///
/// # Errors
/// Ledger and Genesys errors (a failed request stops the channel; a re-run resumes).
pub async fn run(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    today: jiff::civil::Date,
) -> Result<ScorecardSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "scorecard")?;
    let mut summary = ScorecardSummary {
        enabled: cfg.scorecard.enabled,
        ..ScorecardSummary::default()
    };
    if !cfg.scorecard.enabled {
        return Ok(summary);
    }
    let ids = |ledger: &Ledger| -> Result<Vec<Option<String>>> {
        metric_names(cfg)
            .iter()
            .map(|n| ledger.metric_id(n))
            .collect()
    };
    let mut metric_ids = ids(ledger)?;
    if metric_ids.iter().any(Option::is_none) {
        provision(cfg, ledger, client).await?;
        metric_ids = ids(ledger)?;
    }
    let metric_ids: Vec<String> = metric_ids
        .into_iter()
        .collect::<Option<_>>()
        .context("scorecard metrics not provisioned")?;
    summary.metric_id = metric_ids.first().cloned();
    let tz = jiff::tz::TimeZone::get(&cfg.scorecard.time_zone)
        .with_context(|| format!("[scorecard] time_zone '{}'", cfg.scorecard.time_zone))?;
    let run = ledger.latest_extract()?.unwrap_or(-1);
    // One series per metric: the overall score, then each configured section's percentage.
    let mut series: Vec<Vec<(String, jiff::Timestamp, f64)>> = vec![Vec::new(); metric_ids.len()];
    ledger.scan_score_points(run, |point| {
        let Ok(at) = point.evaluated_at.parse::<jiff::Timestamp>() else {
            return Ok(());
        };
        let agent = point.agent_user_id;
        series[0].push((agent.clone(), at, point.score));
        if cfg.scorecard.sections.is_empty() {
            return Ok(());
        }
        let Some(ev) = point
            .canonical
            .and_then(|t| serde_json::from_str::<qm_model::CanonicalEvaluation>(&t).ok())
        else {
            return Ok(());
        };
        for (i, name) in cfg.scorecard.sections.iter().enumerate() {
            let pct = ev.sections.iter().find_map(|s| {
                let n = s.name.as_deref()?;
                let (v, m) = (s.score?, s.max?);
                (n.eq_ignore_ascii_case(name) && m > 0.0).then(|| v / m * 100.0)
            });
            if let Some(p) = pct {
                series[i + 1].push((agent.clone(), at, p));
            }
        }
        Ok(())
    })?;
    let lo = today.checked_sub(jiff::Span::new().days(cfg.scorecard.days_back))?;
    let hi = today.checked_add(jiff::Span::new().days(cfg.scorecard.days_ahead))?;
    for (metric_id, rows) in metric_ids.iter().zip(series) {
        let days = aggregate(rows, &tz);
        summary.days += days.len() as u64;
        send_metric(ledger, client, metric_id, &days, (lo, hi), &mut summary).await?;
    }
    Ok(summary)
}

/// Sends one metric's agent-days that are inside `window` and not already sent with the same value.
async fn send_metric(
    ledger: &Ledger,
    client: &GenesysClient,
    metric_id: &str,
    days: &BTreeMap<(String, jiff::civil::Date), (f64, i64)>,
    (lo, hi): (jiff::civil::Date, jiff::civil::Date),
    summary: &mut ScorecardSummary,
) -> Result<()> {
    let mut to_send: Vec<ExternalMetricDataItem> = Vec::new();
    for ((agent, day), (sum, count)) in days {
        let value = (sum / *count as f64 * 10.0).round() / 10.0;
        let day_text = day.to_string();
        let previous = ledger.scorecard_day(agent, &day_text, metric_id)?;
        if *day < lo || *day > hi {
            summary.outside_window += 1;
            if previous.as_ref().is_none_or(|p| p.2 != "sent") {
                ledger.put_scorecard_day(&ScorecardDay {
                    agent_user_id: agent,
                    day: &day_text,
                    metric_id,
                    value,
                    count: *count,
                    state: "outside_window",
                    code: None,
                    message: Some(&format!("{day} is outside the accepted window {lo} … {hi}")),
                })?;
            }
            continue;
        }
        if let Some((v, c, st)) = &previous
            && st == "sent"
            && (*v - value).abs() < 1e-9
            && c == count
        {
            summary.unchanged += 1;
            continue;
        }
        to_send.push(ExternalMetricDataItem {
            user_id: Some(agent.clone()),
            user_email: None,
            metric_id: metric_id.to_owned(),
            date_occurred: day.to_string(),
            value: Some(value),
            count: Some(*count),
            kind: Some("Total".into()),
        });
    }
    for batch in to_send.chunks(100) {
        let resp = client
            .write_metric_data(batch)
            .await
            .context("cannot write external metric data (POST /api/v2/employeeperformance/externalmetrics/data)")?;
        let record = |item: &ExternalMetricDataItem,
                      state: &str,
                      code: Option<&str>,
                      message: Option<&str>| {
            ledger.put_scorecard_day(&ScorecardDay {
                agent_user_id: item.user_id.as_deref().unwrap_or_default(),
                day: &item.date_occurred,
                metric_id: &item.metric_id,
                value: item.value.unwrap_or(0.0),
                count: item.count.unwrap_or(1),
                state,
                code,
                message,
            })
        };
        let same = |a: &ExternalMetricDataItem, b: &ExternalMetricDataItem| {
            a.user_id == b.user_id && a.date_occurred == b.date_occurred
        };
        for item in batch {
            if resp.processed_entities.iter().any(|p| same(p, item)) {
                record(item, "sent", None, None)?;
                summary.sent += 1;
            } else if let Some(u) = resp
                .unprocessed_entities
                .iter()
                .find(|u| same(&u.item, item))
            {
                record(item, "unprocessed", u.code.as_deref(), u.message.as_deref())?;
                summary.unprocessed += 1;
            } else {
                record(
                    item,
                    "unprocessed",
                    Some("missing"),
                    Some("in neither processedEntities nor unprocessedEntities"),
                )?;
                summary.unprocessed += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_a_day_in_the_reporting_time_zone() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        // 23:30 UTC on the 26th and 01:00 UTC on the 27th.
        let rows = vec![
            ("a".to_owned(), at("2026-10-26T23:30:00Z"), 80.0),
            ("a".to_owned(), at("2026-10-27T01:00:00Z"), 60.0),
        ];
        let utc = aggregate(rows.clone(), &jiff::tz::TimeZone::UTC);
        assert_eq!(utc.len(), 2, "two UTC days");
        let ny = aggregate(
            rows.clone(),
            &jiff::tz::TimeZone::get("America/New_York").unwrap(),
        );
        let day = jiff::civil::date(2026, 10, 26);
        assert_eq!(
            ny.get(&("a".to_owned(), day)),
            Some(&(140.0, 2)),
            "one New York day"
        );
        let tokyo = aggregate(rows, &jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
        let day = jiff::civil::date(2026, 10, 27);
        assert_eq!(
            tokyo.get(&("a".to_owned(), day)),
            Some(&(140.0, 2)),
            "one Tokyo day"
        );
    }
}
