//! The audit cross-check: Genesys' own audit trail of evaluations against the ledger's log of our
//! writes (`ledger::WriteRow`), so what was done to our evaluations is known from Genesys, not only
//! from us.
//!
//! The trail is read with the asynchronous quality audit query (`POST
//! /api/v2/quality/conversations/audits/query`, its state at `…/query/{id}`, its pages at
//! `…/query/{id}/results` with a cursor). The migration's interval — from a day before our first
//! write to now — is cut into windows of `[verify] audit_window_days` (Genesys publishes no longest
//! interval), and each window is asked once per action (`Create`, `Update`, `Delete`: a filter holds
//! one value, and reads, which the trail records too, are many and not wanted). The queries run
//! side by side; their states are polled in turn with a back-off from 0.5 s to 5 s, every request counted,
//! for at most `[verify] audit_timeout_s`; what did not finish is named and not judged.
//!
//! An entry is about us when its evaluation is one the ledger wrote, or its `context.formId` is one
//! of our forms' versions. Each such entry made by our OAuth client is matched with a write of the
//! same evaluation and action (updates counted one by one); a deletion by our client also matches
//! an evaluation the ledger meant to remove and found gone. Everything else is listed with who and
//! when: a change, deletion or creation by a person or another client, a write by our client the
//! ledger does not hold, and a write the ledger holds that the trail does not (pending while younger
//! than `[verify] audit_lag_s`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::Result;
use genesys::GenesysClient;
use genesys::models::{
    AuditQuerySort, QmAuditQueryRequest, QualityAuditLogMessage, QualityAuditQueryFilter,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ledger::{Ledger, WriteRow};

/// The actions of ours the trail is asked about.
const ACTIONS: [&str; 3] = ["Create", "Update", "Delete"];
/// Entries per page of results (the audit API's documented maximum: 500).
const PAGE_SIZE: u32 = 500;

/// What the cross-check found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditCheck {
    /// The interval asked (`start/end`).
    pub interval: String,
    /// Audit queries started.
    pub queries: u64,
    /// Requests sent (starts, polls, pages).
    pub requests: u64,
    /// Entries of the trail read (create, update and delete of any evaluation).
    pub entries: u64,
    /// Entries about our evaluations or forms.
    pub about_us: u64,
    /// Writes in the ledger.
    pub writes: u64,
    /// Writes matched one to one with the trail.
    pub matched: u64,
    /// Everything that does not match, with who and when.
    pub findings: Vec<AuditFinding>,
    /// Writes of ours younger than `[verify] audit_lag_s` the trail does not show yet.
    pub pending: Vec<AuditFinding>,
    /// What could not be checked, and why (a query that failed or did not finish in time, a
    /// missing permission); none when the whole interval was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
}

/// One entry of the trail, or one write of ours, that does not match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditFinding {
    /// In words: `changed by a person`, `deleted by another OAuth client`, `written by this tool's
    /// OAuth client but not in the ledger`, `in the ledger but not in Genesys' audit trail`, …
    pub what: String,
    /// `Create`, `Update` or `Delete`.
    pub action: String,
    /// The record, by what it is in Calabrio (empty when the ledger does not know the evaluation).
    pub record: String,
    /// The Genesys evaluation.
    pub evaluation_id: String,
    /// Who: `user Jane Doe (id)`, `OAuth client id`, or this tool.
    pub who: String,
    /// When, as Genesys' trail gives it (or as the ledger recorded our write).
    pub when: String,
}

impl AuditFinding {
    /// In words, one line.
    pub fn line(&self) -> String {
        format!(
            "{}: {} ({} of Genesys evaluation {}); who: {}; when: {}",
            self.record_or_id(),
            self.what,
            self.action,
            self.evaluation_id,
            self.who,
            self.when
        )
    }

    fn record_or_id(&self) -> &str {
        if self.record.is_empty() {
            "evaluation"
        } else {
            &self.record
        }
    }
}

impl AuditCheck {
    /// The result in words, for `verify`'s line.
    pub fn line(&self) -> String {
        let mut s = format!(
            "Genesys audit trail: {} of our {} writes matched, {} findings, {} pending ({} entries read with {} requests)",
            self.matched,
            self.writes,
            self.findings.len(),
            self.pending.len(),
            self.entries,
            self.requests
        );
        if let Some(why) = &self.unchecked {
            s.push_str(&format!("; not checked: {why}"));
        }
        s
    }
}

/// One audit query in flight.
struct Pending {
    action: &'static str,
    window: String,
    transaction: String,
    done: bool,
}

/// The interval to ask: from a day before our first write (on this machine's clock and, when the
/// client's clock is moved, on its clock too) to now — never later: Genesys documents no answer to
/// an interval that ends in the future.
fn interval(writes: &[WriteRow], client: &GenesysClient) -> (Timestamp, Timestamp) {
    let sys_now = Timestamp::now();
    let client_now = Timestamp::from_millisecond(client.clock().now_unix_ms()).unwrap_or(sys_now);
    let first = writes
        .iter()
        .filter_map(|w| w.at.parse::<Timestamp>().ok())
        .min()
        .unwrap_or(sys_now);
    let shifted = client_now - sys_now.duration_since(first);
    let day = SignedDuration::from_hours(24);
    let start = first.min(shifted) - day;
    let end = client_now.max(sys_now);
    (start, end)
}

fn windows(start: Timestamp, end: Timestamp, days: u32) -> Vec<String> {
    let step = SignedDuration::from_hours(24 * i64::from(days.max(1)));
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let b = (a + step).min(end);
        out.push(format!("{a}/{b}"));
        a = b;
    }
    out
}

/// Starts every query, waits for them politely, and reads the entries of those that succeeded.
/// Returns the entries and what could not be read.
async fn read_trail(
    cfg: &Config,
    client: &GenesysClient,
    windows: &[String],
    check: &mut AuditCheck,
) -> (Vec<QualityAuditLogMessage>, Vec<String>) {
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    for window in windows {
        for action in ACTIONS {
            let query = QmAuditQueryRequest {
                interval: window.clone(),
                filters: vec![
                    QualityAuditQueryFilter {
                        property: "EntityType".into(),
                        value: "Evaluation".into(),
                    },
                    QualityAuditQueryFilter {
                        property: "Action".into(),
                        value: action.into(),
                    },
                ],
                sort: vec![AuditQuerySort {
                    name: "Timestamp".into(),
                    sort_order: "ascending".into(),
                }],
            };
            match client.start_audit_query(&query).await {
                Ok(s) => {
                    check.queries += 1;
                    pending.push(Pending {
                        action,
                        window: window.clone(),
                        done: s.state == "Succeeded",
                        transaction: s.id,
                    });
                }
                Err(e) if e.status() == Some(403) => {
                    problems.push(format!(
                        "Genesys refused the audit query ({e}); the OAuth client needs audits:interactionDetails:view"
                    ));
                    return (Vec::new(), problems);
                }
                Err(e) => problems.push(format!("the {action} query for {window} failed: {e}")),
            }
        }
    }
    let clock = client.clock().clone();
    let deadline = clock.now() + Duration::from_secs(cfg.verify.audit_timeout_s);
    let mut wait = Duration::from_millis(500);
    loop {
        if pending.iter().all(|p| p.done) {
            break;
        }
        if clock.now() >= deadline {
            for p in pending.iter_mut().filter(|p| !p.done) {
                problems.push(format!(
                    "the {} query for {} did not finish within [verify] audit_timeout_s = {} s",
                    p.action, p.window, cfg.verify.audit_timeout_s
                ));
                p.done = true;
                p.transaction.clear();
            }
            break;
        }
        clock.sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
        // The queries were started together: poll them in order, and the next only once the one
        // before has finished (it is then likely done too), so a wait costs one request, not one
        // per query.
        for p in pending.iter_mut().filter(|p| !p.done) {
            match client.audit_query_status(&p.transaction).await {
                Ok(s) if s.state == "Succeeded" => p.done = true,
                Ok(s) if s.state == "Failed" || s.state == "Cancelled" => {
                    problems.push(format!(
                        "the {} query for {} ended {}",
                        p.action, p.window, s.state
                    ));
                    p.done = true;
                    p.transaction.clear();
                }
                Ok(_) => break,
                Err(e) => {
                    problems.push(format!(
                        "the state of the {} query for {} cannot be read: {e}",
                        p.action, p.window
                    ));
                    p.done = true;
                    p.transaction.clear();
                }
            }
        }
    }
    let mut entries = Vec::new();
    for p in pending.iter().filter(|p| !p.transaction.is_empty()) {
        let mut cursor: Option<String> = None;
        loop {
            match client
                .audit_query_results(&p.transaction, PAGE_SIZE, cursor.as_deref())
                .await
            {
                Ok(page) => {
                    entries.extend(page.entities);
                    match page.cursor {
                        Some(c) if !c.is_empty() && Some(&c) != cursor.as_ref() => {
                            cursor = Some(c);
                        }
                        _ => break,
                    }
                }
                Err(e) => {
                    problems.push(format!(
                        "the results of the {} query for {} cannot be read: {e}",
                        p.action, p.window
                    ));
                    break;
                }
            }
        }
    }
    (entries, problems)
}

/// Who made an entry, in words.
fn who(ledger: &Ledger, e: &QualityAuditLogMessage, ours: &str) -> Result<String> {
    if let Some(u) = &e.user {
        let name = match &u.name {
            Some(n) => Some(n.clone()),
            None => ledger.user_name(&u.id)?,
        };
        return Ok(match name {
            Some(n) => format!("user {n} ({})", u.id),
            None => format!("user {}", u.id),
        });
    }
    Ok(match &e.client {
        Some(c) if c.id == ours => format!("this tool's OAuth client ({ours})"),
        Some(c) => format!("OAuth client {}", c.id),
        None => "an unnamed actor".into(),
    })
}

/// Cross-checks the trail with the ledger's writes. `our_forms` holds every version id of our
/// forms. Never fails on Genesys: what cannot be read is `unchecked`.
///
/// # Errors
/// Ledger errors.
pub async fn check(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    our_forms: &BTreeSet<String>,
    still_created: &BTreeSet<String>,
) -> Result<AuditCheck> {
    let before = client.requests_sent();
    let writes = ledger.genesys_writes()?;
    let (start, end) = interval(&writes, client);
    let mut check = AuditCheck {
        interval: format!("{start}/{end}"),
        writes: writes.len() as u64,
        ..AuditCheck::default()
    };
    let (entries, problems) = read_trail(
        cfg,
        client,
        &windows(start, end, cfg.verify.audit_window_days),
        &mut check,
    )
    .await;
    check.entries = entries.len() as u64;
    let names: HashMap<&str, &str> = writes
        .iter()
        .map(|w| (w.evaluation_id.as_str(), w.record.as_str()))
        .collect();
    // Our writes still to be matched, by (evaluation, action): how many.
    let mut open: BTreeMap<(String, String), Vec<&WriteRow>> = BTreeMap::new();
    for w in &writes {
        open.entry((w.evaluation_id.clone(), w.action.clone()))
            .or_default()
            .push(w);
    }
    let ours = client.client_id().to_owned();
    let mut seen_ids = std::collections::HashSet::new();
    for e in &entries {
        if e.status.as_deref() == Some("Failure") {
            continue;
        }
        if e.entity_type.as_deref().is_some_and(|t| t != "Evaluation") {
            continue;
        }
        let id = e.entity.as_ref().map(|x| x.id.clone()).unwrap_or_default();
        if !seen_ids.insert(e.id.clone()) && !e.id.is_empty() {
            // The same entry from two overlapping pages or windows.
            continue;
        }
        let on_our_form = e
            .context
            .get("formId")
            .is_some_and(|f| our_forms.contains(f));
        if !names.contains_key(id.as_str()) && !on_our_form {
            continue;
        }
        check.about_us += 1;
        let by_us = e.user.is_none() && e.client.as_ref().is_some_and(|c| c.id == ours);
        let record = names
            .get(id.as_str())
            .map(|s| (*s).to_owned())
            .unwrap_or_default();
        let when = e.event_date.clone().unwrap_or_default();
        if by_us {
            let key = (id.clone(), e.action.clone());
            if let Some(ws) = open.get_mut(&key).filter(|ws| !ws.is_empty()) {
                ws.remove(0);
                check.matched += 1;
                continue;
            }
            // A deletion of an evaluation the ledger meant to remove and found already gone (its
            // answer was lost): ours, though the ledger could not log it.
            if e.action == "Delete"
                && names.contains_key(id.as_str())
                && !still_created.contains(&id)
            {
                continue;
            }
            check.findings.push(AuditFinding {
                what: "written by this tool's OAuth client but not in the ledger".into(),
                action: e.action.clone(),
                record,
                evaluation_id: id,
                who: who(ledger, e, &ours)?,
                when,
            });
            continue;
        }
        let actor = if e.user.is_some() {
            "a person"
        } else {
            "another OAuth client"
        };
        let what = match e.action.as_str() {
            "Update" => format!("changed in Genesys by {actor}"),
            "Delete" => format!("deleted in Genesys by {actor}"),
            "Create" => format!("created on our form by {actor}"),
            other => format!("{other} by {actor}"),
        };
        check.findings.push(AuditFinding {
            what,
            action: e.action.clone(),
            record,
            evaluation_id: id,
            who: who(ledger, e, &ours)?,
            when,
        });
    }
    if problems.is_empty() {
        let lag =
            SignedDuration::from_secs(i64::try_from(cfg.verify.audit_lag_s).unwrap_or(i64::MAX));
        let recent = Timestamp::now() - lag;
        for w in open.values().flatten() {
            let finding = AuditFinding {
                what: "in the ledger but not in Genesys' audit trail".into(),
                action: w.action.clone(),
                record: w.record.clone(),
                evaluation_id: w.evaluation_id.clone(),
                who: format!("this tool's OAuth client ({ours})"),
                when: w.at.clone(),
            };
            if w.at.parse::<Timestamp>().is_ok_and(|t| t > recent) {
                check.pending.push(finding);
            } else {
                check.findings.push(finding);
            }
        }
    } else {
        check.unchecked = Some(format!(
            "{}; the ledger's writes were not looked for in the trail",
            problems.join("; ")
        ));
    }
    check
        .findings
        .sort_by(|a, b| (&a.when, &a.evaluation_id).cmp(&(&b.when, &b.evaluation_id)));
    check.requests = client.requests_sent().saturating_sub(before);
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_interval_without_gaps() {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-03-15T12:00:00Z".parse().unwrap();
        let w = windows(a, b, 31);
        assert_eq!(w.len(), 3);
        assert!(w[0].starts_with("2026-01-01T00:00:00Z/2026-02-01T00:00:00Z"));
        assert!(w[2].ends_with("/2026-03-15T12:00:00Z"));
        for pair in w.windows(2) {
            let end = pair[0].split_once('/').unwrap().1;
            assert!(pair[1].starts_with(end), "{pair:?}");
        }
    }
}
