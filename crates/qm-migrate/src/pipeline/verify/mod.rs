//! `verify` and `rollback`: what Genesys holds against what the ledger says was created, and the
//! undo a rehearsal needs.
//!
//! `verify` reads our evaluations back in pages (`crate::readback`: by evaluator or by agent on
//! each of our forms, with `expandAnswerTotalScores`; many evaluations a request), looks up per
//! conversation whatever the pages did not show, and compares agent, evaluator, form, conversation
//! and total score with the plan. Our forms' evaluations that the ledger does not know are reported
//! too.
//! `rollback` deletes every evaluation the ledger created and puts the items back to `planned` with
//! a fresh idempotency key (a replayed key would answer with the deleted evaluation), recording each
//! deletion in the item's attempts so the history keeps it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use genesys::GenesysClient;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ledger::{CreatedItem as Item, Ledger};

pub mod audit;
pub mod timeline;
pub use audit::{AuditCheck, AuditFinding};
pub use timeline::{Timeline, TimelineDiff};

// Rollback was part of this module; its callers still find it here.
pub use crate::pipeline::rollback::{RollbackSummary, rollback};

/// One difference between the ledger and Genesys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mismatch {
    /// The record, by what it is in Calabrio (`calabrio_one evaluation 80017`).
    pub record: String,
    /// Where it was last seen in the source (file:line or JSON path).
    #[serde(default)]
    pub last_seen: String,
    /// Genesys evaluation id.
    pub evaluation_id: String,
    /// `agent`, `evaluator`, `form`, `conversation` or `total_score`.
    pub field: String,
    /// What the ledger planned.
    pub ledger: String,
    /// What Genesys holds.
    pub genesys: String,
}

/// One agent whose evaluations in Genesys do not add up to what the ledger created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentCheck {
    /// Genesys user id.
    pub agent: String,
    /// `created` items of this agent in the ledger.
    pub ledger_count: u64,
    /// Evaluations of our form on those conversations that Genesys holds for this agent.
    pub genesys_count: u64,
    /// Mean planned total.
    pub ledger_mean: Option<f64>,
    /// Mean Genesys `totalScore`.
    pub genesys_mean: Option<f64>,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifySummary {
    /// `created` items checked.
    pub checked: u64,
    /// Held by Genesys exactly as planned.
    pub matched: u64,
    /// `created` in the ledger, absent from Genesys: (record by its Calabrio identity, Genesys
    /// evaluation id).
    pub missing: Vec<(String, String)>,
    /// Present but different.
    pub mismatched: Vec<Mismatch>,
    /// Evaluations of our form on these conversations that the ledger does not know.
    pub unknown: Vec<String>,
    /// Agents compared (count and mean score, ledger vs Genesys).
    pub agents_checked: u64,
    /// Agents whose count or mean score differs.
    pub agents_differing: Vec<AgentCheck>,
    /// Genesys no longer what the source as it stands now would produce: changed or withdrawn in
    /// Calabrio since it was sent, flagged, or edited in Genesys.
    pub drift: Vec<Drift>,
    /// Requests sent.
    pub requests: u64,
    /// Of which pages of our evaluations (by evaluator or agent).
    #[serde(default)]
    pub page_requests: u64,
    /// Conversations looked up one by one, for what the pages did not show.
    #[serde(default)]
    pub conversation_lookups: u64,
    /// The timeline Genesys' evaluation analytics show, per agent and month of the conversation,
    /// against the ledger (`[verify] timeline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// Genesys' own audit trail of evaluations against the ledger's writes (`[verify] audit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditCheck>,
}

/// One evaluation that no longer matches the source as it stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Drift {
    /// The record, by what it is in Calabrio (`calabrio_one evaluation 80017`).
    pub record: String,
    /// Where it stands, or last stood, in the source (file:line or JSON path).
    #[serde(default)]
    pub last_seen: String,
    /// The Genesys evaluation.
    pub evaluation_id: String,
    /// `changed in Calabrio`, `gone from the source`, `edited in Genesys`, `flagged`, or an update
    /// in progress.
    pub what: String,
    /// The total Genesys holds (as we last wrote or read it).
    pub genesys_total: Option<f64>,
    /// What the current record gives (when it was planned again).
    pub source_now: Option<f64>,
    /// In words.
    pub note: String,
}

/// Every evaluation in Genesys that the source as it stands no longer gives as it is.
///
/// # Errors
/// SQLite errors.
pub fn drift(ledger: &Ledger) -> Result<Vec<Drift>> {
    let latest = ledger.latest_extract()?.unwrap_or(0);
    let rows = ledger
        .drift_rows(latest)?
        .into_iter()
        .map(|r| {
            let past_window = r
                .sync_note
                .as_deref()
                .is_some_and(|n| n.starts_with("past Genesys'"));
            let what = match r.sync_state.as_deref() {
                Some("edited") => "edited in Genesys",
                Some("update" | "updating") => "changed in Calabrio: update pending",
                Some("withdraw") => "gone from the source: deletion pending",
                _ if past_window && r.gone => "gone from the source, past Genesys' edit window",
                _ if past_window => "changed in Calabrio, past Genesys' edit window",
                _ if r.gone => "gone from the source",
                Some("flagged") => "flagged",
                _ => "changed in Calabrio",
            };
            Drift {
                record: r.name,
                last_seen: r.locator,
                evaluation_id: r.evaluation_id.unwrap_or_default(),
                what: what.to_owned(),
                genesys_total: r.genesys_total,
                // The plan's prediction is the source's only when the plan was made from it.
                source_now: if r.plan_hash.as_deref() == Some(r.hash.as_str()) {
                    r.predicted
                } else {
                    None
                },
                note: r.sync_note.unwrap_or_default(),
            }
        })
        .collect();
    Ok(rows)
}

impl VerifySummary {
    /// The result in one line, as `verify`, `run` and `demo` print it.
    pub fn line(&self) -> String {
        format!(
            "{} created evaluations read back with {} requests: {} matched, {} missing, {} mismatched, {} of our forms unknown to the ledger; {} agents' counts and mean scores compared, {} differ; {} drift from the source as it stands{}{}",
            self.checked,
            self.requests,
            self.matched,
            self.missing.len(),
            self.mismatched.len(),
            self.unknown.len(),
            self.agents_checked,
            self.agents_differing.len(),
            self.drift.len(),
            match &self.timeline {
                None => String::new(),
                Some(t) => match &t.unchecked {
                    Some(why) => format!("; timeline not checked: {why}"),
                    None => format!(
                        "; Genesys analytics by conversation date: {} agent-months in {} months compared, {} differ, {} pending",
                        t.agent_months,
                        t.months,
                        t.settled_differences(),
                        t.differing.len() - t.settled_differences()
                    ),
                },
            },
            match &self.audit {
                None => String::new(),
                Some(a) => format!("; {}", a.line()),
            }
        )
    }

    /// True when everything matched.
    pub fn clean(&self) -> bool {
        self.drift.is_empty()
            && self.missing.is_empty()
            && self.mismatched.is_empty()
            && self.unknown.is_empty()
            && self.agents_differing.is_empty()
            && self
                .timeline
                .as_ref()
                .is_none_or(|t| t.settled_differences() == 0)
            && self.audit.as_ref().is_none_or(|a| a.findings.is_empty())
    }
}

pub(crate) fn created_items(ledger: &Ledger) -> Result<BTreeMap<String, Vec<Item>>> {
    let mut by_conversation: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in ledger.created_items()? {
        by_conversation
            .entry(item.conversation.clone())
            .or_default()
            .push(item);
    }
    Ok(by_conversation)
}

/// Our forms: every published version id by form name, and each form's context id.
struct Ours {
    versions: BTreeMap<String, Vec<String>>,
    contexts: BTreeMap<String, String>,
    container: String,
    container_published: String,
}

impl Ours {
    fn read(cfg: &Config, ledger: &Ledger) -> Result<Ours> {
        let container_published = ledger
            .form(&cfg.form.name)?
            .and_then(|f| f.published_id)
            .context("the form is not provisioned: nothing can have been created with it")?;
        // Every version counts: an evaluation made before a new version of its form was published
        // stays on the version it was made on.
        let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, id) in ledger.form_versions()? {
            versions.entry(name).or_default().push(id);
        }
        let contexts = ledger.form_contexts()?.into_iter().collect();
        Ok(Ours {
            versions,
            contexts,
            container: cfg.form.name.clone(),
            container_published,
        })
    }

    fn is_ours(&self, e: &genesys::models::Evaluation) -> bool {
        e.evaluation_form.as_ref().is_some_and(|f| {
            f.id == self.container_published || self.versions.values().flatten().any(|o| *o == f.id)
        })
    }

    fn context_of(&self, item: &Item) -> Option<&String> {
        self.contexts
            .get(item.form_name.as_deref().unwrap_or(&self.container))
    }
}

/// The differences between what the ledger planned for `item` and evaluation `e`.
fn compare(ours: &Ours, item: &Item, e: &genesys::models::Evaluation) -> Vec<Mismatch> {
    let id = |r: &Option<genesys::models::EntityRef>| {
        r.as_ref().map(|x| x.id.clone()).unwrap_or_default()
    };
    let mut diffs = Vec::new();
    let mut check = |field: &str, ledger_value: String, genesys_value: String| {
        if ledger_value != genesys_value {
            diffs.push(Mismatch {
                record: item.name.clone(),
                last_seen: item.locator.clone(),
                evaluation_id: item.evaluation_id.clone(),
                field: field.into(),
                ledger: ledger_value,
                genesys: genesys_value,
            });
        }
    };
    check("agent", item.agent.clone(), id(&e.agent));
    if let Some(ev) = &item.evaluator {
        check("evaluator", ev.clone(), id(&e.evaluator));
    }
    let held_form = id(&e.evaluation_form);
    let name = item.form_name.as_deref().unwrap_or(&ours.container);
    let versions = ours
        .versions
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let right_form = versions.contains(&held_form)
        || (item.form_name.is_none() && held_form == ours.container_published);
    if !right_form {
        check(
            "form",
            versions
                .last()
                .cloned()
                .unwrap_or_else(|| ours.container_published.clone()),
            held_form,
        );
    }
    check(
        "conversation",
        item.conversation.clone(),
        id(&e.conversation),
    );
    let total = e.answers.as_ref().and_then(|a| a.total_score);
    match (item.predicted, total) {
        (Some(p), Some(t)) if (p - t).abs() <= 0.01 => {}
        (p, t) => check(
            "total_score",
            p.map_or_else(|| "none".into(), |v| format!("{v:.2}")),
            t.map_or_else(|| "none".into(), |v| format!("{v:.2}")),
        ),
    }
    diffs
}

/// Compares Genesys with the ledger: our evaluations are read in pages (by evaluator or by agent on
/// each of our forms, whichever needs fewer requests), and whatever the pages did not show is looked
/// up per conversation, so a stale page hides nothing.
///
/// # Errors
/// Ledger and Genesys errors.
pub async fn verify(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
) -> Result<VerifySummary> {
    let ours = Ours::read(cfg, ledger)?;
    let before = client.requests_sent();
    let run = ledger.begin_run("verify")?;
    let mut summary = VerifySummary::default();
    let by_conversation = created_items(ledger)?;
    let items: Vec<&Item> = by_conversation.values().flatten().collect();
    let wanted: Vec<(Option<String>, String, String)> = items
        .iter()
        .filter_map(|i| {
            Some((
                i.evaluator.clone(),
                i.agent.clone(),
                ours.context_of(i)?.clone(),
            ))
        })
        .collect();
    let pages = crate::readback::read(
        client,
        &crate::readback::grouping(
            &wanted,
            cfg.genesys.query_page_size,
            cfg.form.release_policy == "never",
        ),
        cfg.genesys.query_page_size,
    )
    .await?;
    summary.page_requests = pages.requests;
    // Everything Genesys holds on our forms that we saw, by id.
    let mut seen: std::collections::HashMap<String, genesys::models::Evaluation> = pages
        .by_id
        .into_iter()
        .filter(|(_, e)| ours.is_ours(e))
        .collect();
    // What the pages did not show: per conversation.
    let missing_conversations: Vec<&String> = by_conversation
        .iter()
        .filter(|(_, items)| items.iter().any(|i| !seen.contains_key(&i.evaluation_id)))
        .map(|(c, _)| c)
        .collect();
    for conversation in missing_conversations {
        let held = client
            .evaluations_for_conversation(conversation)
            .await
            .with_context(|| {
                format!("cannot read the evaluations of conversation {conversation}")
            })?;
        summary.conversation_lookups += 1;
        for e in held.into_iter().filter(|e| ours.is_ours(e)) {
            seen.entry(e.id.clone()).or_insert(e);
        }
    }
    // Per agent: (count, sum of totals, totals counted) on each side.
    let mut ledger_side: BTreeMap<String, (u64, f64, u64)> = BTreeMap::new();
    let mut genesys_side: BTreeMap<String, (u64, f64, u64)> = BTreeMap::new();
    let add = |m: &mut BTreeMap<String, (u64, f64, u64)>, agent: &str, total: Option<f64>| {
        let e = m.entry(agent.to_owned()).or_insert((0, 0.0, 0));
        e.0 += 1;
        if let Some(t) = total {
            e.1 += t;
            e.2 += 1;
        }
    };
    let known: std::collections::HashSet<&str> =
        items.iter().map(|i| i.evaluation_id.as_str()).collect();
    let ledger_agents: std::collections::HashSet<&str> =
        items.iter().map(|i| i.agent.as_str()).collect();
    for item in &items {
        summary.checked += 1;
        add(&mut ledger_side, &item.agent, item.predicted);
        let Some(e) = seen.get(&item.evaluation_id) else {
            summary
                .missing
                .push((item.name.clone(), item.evaluation_id.clone()));
            continue;
        };
        let diffs = compare(&ours, item, e);
        if diffs.is_empty() {
            summary.matched += 1;
        } else {
            summary.mismatched.extend(diffs);
        }
    }
    let mut unknown: Vec<String> = Vec::new();
    for e in seen.values() {
        let agent = e.agent.as_ref().map(|a| a.id.clone()).unwrap_or_default();
        // Per agent, what Genesys holds of ours for the agents the ledger created for.
        if ledger_agents.contains(agent.as_str()) {
            add(
                &mut genesys_side,
                &agent,
                e.answers.as_ref().and_then(|a| a.total_score),
            );
        }
        if !known.contains(e.id.as_str()) {
            unknown.push(e.id.clone());
        }
    }
    unknown.sort();
    summary.unknown = unknown;
    let mean = |(_, sum, n): (u64, f64, u64)| (n > 0).then(|| sum / n as f64);
    let agents: std::collections::BTreeSet<&String> =
        ledger_side.keys().chain(genesys_side.keys()).collect();
    for agent in agents {
        summary.agents_checked += 1;
        let l = ledger_side.get(agent).copied().unwrap_or((0, 0.0, 0));
        let g = genesys_side.get(agent).copied().unwrap_or((0, 0.0, 0));
        let (lm, gm) = (mean(l), mean(g));
        let means_agree = match (lm, gm) {
            (Some(a), Some(b)) => (a - b).abs() <= 0.01,
            (None, None) => true,
            _ => false,
        };
        if l.0 != g.0 || !means_agree {
            summary.agents_differing.push(AgentCheck {
                agent: agent.clone(),
                ledger_count: l.0,
                genesys_count: g.0,
                ledger_mean: lm,
                genesys_mean: gm,
            });
        }
    }
    let mut form_ids: std::collections::BTreeSet<String> =
        ours.versions.values().flatten().cloned().collect();
    form_ids.insert(ours.container_published.clone());
    if cfg.verify.timeline {
        summary.timeline = Some(timeline::check(cfg, client, &items, &seen, &form_ids).await?);
    }
    if cfg.verify.audit {
        let still_created = items.iter().map(|i| i.evaluation_id.clone()).collect();
        summary.audit = Some(audit::check(cfg, ledger, client, &form_ids, &still_created).await?);
    }
    summary.requests = client.requests_sent().saturating_sub(before);
    summary.drift = drift(ledger)?;
    ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}
