//! `load` (evaluations channel): send every planned evaluation exactly once.
//!
//! Before anything is sent, items left `sending` by a crash become `unknown`, and every `unknown` is
//! resolved by looking for it in Genesys (evaluations on its conversation whose private comments carry
//! its idempotency key): found ⇒ `created`, not found ⇒ `planned`, re-sent with the *same*
//! `Idempotency-Key`. Then planned items are sent, agents interleaved, each committed as `sending`
//! before its request leaves. A 429 whose `Retry-After` exceeds the park threshold (the per-agent
//! daily cap) defers that agent's items until then and the others go on; a request that may have
//! reached Genesys is `unknown`; a permanent 4xx is `rejected` with the Genesys code and message.

pub mod readback;

use std::collections::{BTreeMap, HashMap, VecDeque};

use anyhow::{Context, Result, bail};
use genesys::error::CreateFailure;
use genesys::models::{EntityRef, EvaluationCreateBody, ScoringSet};
use genesys::{GenesysClient, GenesysError};
use serde::Serialize;

use crate::config::Config;
use crate::form;
use crate::ledger::{Ledger, LoadRow, state};

/// Options of `load`.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Build and count requests without sending.
    pub dry_run: bool,
    /// Send at most this many creates.
    pub max: Option<usize>,
    /// Keep going, sleeping through cap windows, until everything is created or rejected.
    pub follow: bool,
    /// Requests in flight at once; 0 takes `[genesys] concurrency`.
    pub concurrency: usize,
    /// Set to stop cleanly: no new request leaves, in-flight ones settle.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// What `load` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadSummary {
    /// Creates answered with an evaluation in this run.
    pub created_now: u64,
    /// `unknown` items found already created in Genesys.
    pub adopted: u64,
    /// `unknown` items not found, sent again with the same key.
    pub resent_after_unknown: u64,
    /// Items rejected in this run.
    pub rejected_now: u64,
    /// Items deferred in this run (per-agent cap, proactively or on a long 429).
    pub deferred_now: u64,
    /// Items whose outcome is unknown after this run.
    pub unknown_now: u64,
    /// Sync: evaluations updated to their changed record in this run.
    pub updated_now: u64,
    /// Sync: evaluations deleted because their record left the source (`on_withdraw = "delete"`).
    pub withdrawn_now: u64,
    /// Sync: evaluations found edited in Genesys (never overwritten; listed).
    pub edited_in_genesys: u64,
    /// Sync: updates whose answer was lost (resolved by reading them back on the next run).
    pub update_unknown: u64,
    /// Creates refused with a 429 after the client's in-line waits ran out (sent again later).
    pub throttled_now: u64,
    /// Of `adopted`: evaluations found on a form this ledger did not create (a lost ledger).
    pub adopted_from_form: u64,
    /// Requests spent reading those forms' evaluations.
    pub adoption_page_requests: u64,
    /// Requests spent reading pages for many `unknown` items at once.
    pub reconcile_page_requests: u64,
    /// Creates that a dry run would send.
    pub would_send: u64,
    /// Estimated time to finish at the start, seconds of the migration's clock.
    pub eta_seconds: f64,
    /// Time taken, seconds of the migration's clock.
    pub elapsed_seconds: f64,
    /// Stopped by a signal before finishing.
    pub interrupted: bool,
    /// Load items by state after the run.
    pub load: BTreeMap<String, u64>,
}

/// Margin added to a cap window so our count never runs ahead of Genesys' (it counts on receipt).
const CAP_MARGIN_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

fn ts_from_ms(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
}

/// Estimated time to send `backlog[agent]` items per agent: each agent's items are placed in the
/// earliest slot its rolling 24 h cap allows (a slot frees 24 h after each earlier send), and the
/// whole queue cannot go faster than the request rate.
pub fn eta_ms(
    backlog: &BTreeMap<String, usize>,
    recent: &BTreeMap<String, Vec<i64>>,
    blocked: &BTreeMap<String, i64>,
    cap: u32,
    requests_per_minute: u32,
    now_ms: i64,
) -> i64 {
    let cap = cap.max(1) as usize;
    let total: usize = backlog.values().sum();
    let rate_ms = (total as f64 * 60_000.0 / f64::from(requests_per_minute.max(1))) as i64;
    let mut latest = now_ms;
    for (agent, n) in backlog {
        let mut slots: std::collections::BinaryHeap<std::cmp::Reverse<i64>> =
            std::collections::BinaryHeap::new();
        let used = recent.get(agent).map(Vec::as_slice).unwrap_or(&[]);
        let used: Vec<i64> = used
            .iter()
            .copied()
            .filter(|t| *t > now_ms - DAY_MS)
            .collect();
        for t in &used {
            slots.push(std::cmp::Reverse(t + DAY_MS + CAP_MARGIN_MS));
        }
        for _ in used.len()..cap {
            slots.push(std::cmp::Reverse(now_ms));
        }
        // The org answered this agent with its cap: nothing before it said.
        let earliest = blocked.get(agent).copied().unwrap_or(now_ms).max(now_ms);
        let mut last = now_ms;
        for _ in 0..*n {
            let std::cmp::Reverse(free) = slots.pop().unwrap_or(std::cmp::Reverse(now_ms));
            let send = free.max(earliest);
            last = last.max(send);
            slots.push(std::cmp::Reverse(send + DAY_MS + CAP_MARGIN_MS));
        }
        latest = latest.max(last);
    }
    (latest - now_ms).max(rate_ms)
}

struct Ctx<'a> {
    cfg: &'a Config,
    ledger: &'a Ledger,
    client: &'a GenesysClient,
    opts: &'a LoadOptions,
    form_id: String,
    map: BTreeMap<String, String>,
    /// Mirror mode: each mirrored form's published id and id map, by name.
    mirrors: MirrorForms,
}

/// From this many `unknown` items due at once, they are first looked for in pages.
const PAGED_RECONCILE_FROM: usize = 8;

/// A 409 `quality.evaluation.already.in.progress` (an automated evaluation is running on the
/// conversation): the item is tried again this much later.
const RETRY_LATER_MS: i64 = 120_000;

/// What one create's answer does to its item.
enum Settled {
    /// Recorded; the pass goes on.
    Done,
    /// Recorded; the whole run must stop (credentials, permissions, the form): the message.
    Stop(String),
}

impl Ctx<'_> {
    fn now_ms(&self) -> i64 {
        self.client.clock().now_unix_ms()
    }

    fn stopped(&self) -> bool {
        self.opts.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    fn reconcile_after_ms(&self) -> i64 {
        i64::try_from(self.cfg.genesys.reconcile_after().as_millis()).unwrap_or(i64::MAX)
    }

    /// `sending` left by a crash is `unknown` (its request may have reached Genesys).
    fn recover_sending(&self) -> Result<()> {
        for item in self.ledger.loads_in(&[state::SENDING])? {
            self.ledger.set_load(
                item.record_id,
                state::UNKNOWN,
                None,
                None,
                None,
                Some("found sending at start: the process stopped mid-request"),
                None,
            )?;
        }
        Ok(())
    }

    /// The sync actions `plan` decided: an evaluation whose record changed takes the new answers
    /// (`PUT`, the official `Evaluation` model, the rest of the evaluation as Genesys holds it); one
    /// whose record left the source is deleted. Before either, the evaluation is read: one changed
    /// in Genesys since our last write (another `changedDate`) is `edited` and left alone. An
    /// update whose answer was lost stays `updating` and is resolved by reading it back (its
    /// private comment names the record content it carries), so it is applied once.
    async fn sync(&self, summary: &mut LoadSummary) -> Result<()> {
        let today = ts_from_ms(self.now_ms()).strftime("%Y-%m-%d").to_string();
        for due in self.ledger.sync_due()? {
            if self.stopped() {
                break;
            }
            let id = due.record_id;
            let current = match self
                .client
                .get_evaluation(&due.conversation_id, &due.evaluation_id)
                .await
            {
                Ok(e) => e,
                Err(GenesysError::Api { status: 404, .. }) => {
                    if due.sync_state == "withdraw" {
                        self.withdrawn(
                            &due,
                            "gone from the source; already absent from Genesys",
                            summary,
                        )?;
                    } else {
                        self.ledger.set_sync(id,
                            Some("edited"),
                            Some(
                                "deleted in Genesys by someone else: the Calabrio change is not applied",
                            ),
                        )?;
                        summary.edited_in_genesys += 1;
                    }
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot read evaluation {} to sync it", due.evaluation_id)
                    });
                }
            };
            let plan = self
                .ledger
                .plan(id)?
                .with_context(|| format!("load item {id} has no plan"))?;
            let content = plan.record_hash.clone().unwrap_or_default();
            let tag = format!("synced={}", content.get(..16).unwrap_or(&content));
            let carries = current
                .answers
                .as_ref()
                .and_then(|a| a.private_comments.as_deref())
                .is_some_and(|c| c.contains(&tag));
            if due.sync_state == "updating" && carries {
                self.ledger.mark_updated(
                    id,
                    current.changed_date.as_deref(),
                    current.answers.as_ref().and_then(|a| a.total_score),
                    &format!(
                        "updated from Calabrio on {today} (its answer was lost; found applied)"
                    ),
                )?;
                summary.updated_now += 1;
                continue;
            }
            if due.genesys_changed.is_some() && current.changed_date != due.genesys_changed {
                self.ledger.set_sync(id,
                    Some("edited"),
                    Some(&format!(
                        "edited in Genesys on {}: not overwritten; the Calabrio change is listed for a person to reconcile",
                        current.changed_date.as_deref().unwrap_or("an unknown date")
                    )),
                )?;
                summary.edited_in_genesys += 1;
                continue;
            }
            if due.sync_state == "withdraw" {
                match self
                    .client
                    .delete_evaluation(&due.conversation_id, &due.evaluation_id)
                    .await
                {
                    Ok(()) | Err(GenesysError::Api { status: 404, .. }) => {
                        self.withdrawn(
                            &due,
                            &format!("deleted from Genesys on {today}: gone from the source"),
                            summary,
                        )?;
                    }
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot delete evaluation {}", due.evaluation_id)
                        });
                    }
                }
                continue;
            }
            // The update: the plan's answers on the form the evaluation is on.
            let (form_id, map) = match plan.form_name.as_deref() {
                None => (&self.form_id, &self.map),
                Some(name) => match self.mirrors.get(name) {
                    Some((f, m)) => (f, m),
                    None => {
                        self.ledger.set_sync(
                            id,
                            Some("flagged"),
                            Some(&format!("the mirrored form '{name}' is not provisioned")),
                        )?;
                        continue;
                    }
                },
            };
            let on_form = current.evaluation_form.as_ref().map(|f| f.id.as_str());
            if on_form != Some(form_id.as_str()) {
                self.ledger.set_sync(id,
                    Some("flagged"),
                    Some(
                        "changed in Calabrio, but its evaluation is on another form version than the current one: not updated",
                    ),
                )?;
                continue;
            }
            let mut logical: ScoringSet =
                serde_json::from_str(plan.answers.as_deref().unwrap_or("null"))
                    .with_context(|| format!("plan of record {id} has no answers"))?;
            logical.private_comments = logical
                .private_comments
                .as_deref()
                .map(|m| format!("{}; {tag}", form::marker_with_key(m, &due.idempotency_key)));
            let note = format!("Updated from Calabrio on {today}.");
            logical.comments = Some(match logical.comments.as_deref() {
                Some(c) if !c.is_empty() => format!("{c}\n{note}"),
                _ => note.clone(),
            });
            let mut body = current.clone();
            body.answers = Some(form::translate(&logical, map)?);
            body.status = Some(self.cfg.form.status.clone());
            self.ledger.set_sync(id, Some("updating"), None)?;
            match self
                .client
                .update_evaluation(&due.conversation_id, &body)
                .await
            {
                Ok(ev) => {
                    self.ledger.mark_updated(
                        id,
                        ev.changed_date.as_deref(),
                        ev.answers.as_ref().and_then(|a| a.total_score),
                        &format!("updated from Calabrio on {today}"),
                    )?;
                    summary.updated_now += 1;
                }
                Err(e) if e.possibly_sent() => {
                    summary.update_unknown += 1;
                    tracing::warn!(evaluation = %due.evaluation_id, error = %e, "An update's answer was lost; it is read back on the next run.");
                }
                Err(e) => {
                    self.ledger.set_sync(
                        id,
                        Some("flagged"),
                        Some(&format!("the update was refused by Genesys: {e}")),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The evaluation of `due` is gone from Genesys as its record left the source.
    fn withdrawn(
        &self,
        due: &crate::ledger::SyncDue,
        why: &str,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        self.ledger.set_load(
            due.record_id,
            state::WITHDRAWN,
            Some(&due.evaluation_id),
            None,
            None,
            Some(why),
            None,
        )?;
        self.ledger.set_sync(due.record_id, None, None)?;
        summary.withdrawn_now += 1;
        Ok(())
    }

    /// Looks for every `unknown` item old enough to be looked up (its attempt at least
    /// `reconcile_after` old, so a lagging query has caught up): found ⇒ `created`, not found ⇒
    /// `planned`, sent again with the same key and body. Younger ones wait; returns when the next
    /// one matures.
    async fn reconcile_due(&self, summary: &mut LoadSummary) -> Result<Option<i64>> {
        let after = self.reconcile_after_ms();
        let now = self.now_ms();
        let mut next: Option<i64> = None;
        let mut due_items = Vec::new();
        for item in self.ledger.loads_in(&[state::UNKNOWN])? {
            // An attempt of unknown time (an old ledger) counts as old.
            let due = item.sent_at.unwrap_or(i64::MIN).saturating_add(after);
            if due > now {
                next = Some(next.map_or(due, |n: i64| n.min(due)));
            } else {
                due_items.push(item);
            }
        }
        // Many at once (an outage): read them in pages first; a page may be stale, so whatever it
        // did not show is still looked up per conversation before it counts as absent.
        let paged = if due_items.len() >= PAGED_RECONCILE_FROM {
            self.unknowns_in_pages(&due_items, summary).await?
        } else {
            HashMap::new()
        };
        for item in due_items {
            let found = match paged.get(&item.record_id) {
                Some(hit) => Some(hit.clone()),
                None => find_existing(self.client, &item).await?,
            };
            match found {
                Some((id, total)) => {
                    self.ledger.set_load(
                        item.record_id,
                        state::CREATED,
                        Some(&id),
                        None,
                        None,
                        Some("adopted: found in Genesys by its idempotency key"),
                        total,
                    )?;
                    summary.adopted += 1;
                }
                None => {
                    self.ledger.set_load(
                        item.record_id,
                        state::PLANNED,
                        None,
                        None,
                        None,
                        Some(&format!(
                            "was unknown; not in Genesys {} s after the attempt: sent again with the same key",
                            after / 1000
                        )),
                        None,
                    )?;
                    summary.resent_after_unknown += 1;
                }
            }
        }
        Ok(next)
    }

    /// The `unknown` items found in pages of their evaluators' (or agents') evaluations on our
    /// forms, by record: (Genesys id, total).
    async fn unknowns_in_pages(
        &self,
        items: &[LoadRow],
        summary: &mut LoadSummary,
    ) -> Result<HashMap<i64, (String, Option<f64>)>> {
        let contexts = self.ledger.form_contexts()?;
        let mut wanted = Vec::new();
        for item in items {
            let plan = self.ledger.plan(item.record_id)?;
            let form = plan
                .as_ref()
                .and_then(|p| p.form_name.clone())
                .unwrap_or_else(|| self.cfg.form.name.clone());
            if let Some(c) = contexts.get(&form) {
                wanted.push((
                    plan.and_then(|p| p.evaluator_user_id),
                    item.agent_user_id.clone(),
                    c.clone(),
                ));
            }
        }
        let pages = crate::readback::read(
            self.client,
            &crate::readback::grouping(
                &wanted,
                self.cfg.genesys.query_page_size,
                self.cfg.form.release_policy == "never",
            ),
            self.cfg.genesys.query_page_size,
        )
        .await?;
        summary.reconcile_page_requests += pages.requests;
        let mut out = HashMap::new();
        for item in items {
            if let Some(e) = pages.by_id.values().find(|e| is_ours(e, item)) {
                out.insert(
                    item.record_id,
                    (e.id.clone(), e.answers.as_ref().and_then(|a| a.total_score)),
                );
            }
        }
        Ok(out)
    }

    /// A form this ledger found in Genesys (a lost ledger, a second ledger) may already hold our
    /// evaluations: they are read in pages and every one carrying our marker is adopted (`created`,
    /// with its Genesys id) before anything is sent, so a new ledger is not a second migration.
    async fn adopt_from_forms(&self, summary: &mut LoadSummary) -> Result<()> {
        let forms = self.ledger.forms_to_adopt_from()?;
        if forms.is_empty() {
            return Ok(());
        }
        let people = self.ledger.unsent_people()?;
        for (name, context) in forms {
            let wanted: Vec<(Option<String>, String, String)> = people
                .iter()
                .filter(|(_, _, f)| f.as_deref().unwrap_or(&self.cfg.form.name) == name)
                .map(|(e, a, _)| (e.clone(), a.clone(), context.clone()))
                .collect();
            let mut grouping = crate::readback::grouping(
                &wanted,
                self.cfg.genesys.query_page_size,
                self.cfg.form.release_policy == "never",
            );
            // Items whose evaluator the plan does not know are read by agent as well.
            for (e, a, c) in &wanted {
                if e.is_none() {
                    grouping
                        .entry((genesys::EvaluationsOf::Agent(a.clone()), c.clone()))
                        .or_insert(0);
                }
            }
            let pages =
                crate::readback::read(self.client, &grouping, self.cfg.genesys.query_page_size)
                    .await
                    .with_context(|| {
                        format!("cannot read the evaluations already on form '{name}'")
                    })?;
            summary.adoption_page_requests += pages.requests;
            let mut evaluations: Vec<&genesys::models::Evaluation> = pages.by_id.values().collect();
            // The oldest first: of duplicates left by an earlier incident, the first made is kept.
            evaluations.sort_by(|a, b| a.created_date.cmp(&b.created_date).then(a.id.cmp(&b.id)));
            for e in evaluations {
                let Some((source, evaluation_id)) = e
                    .answers
                    .as_ref()
                    .and_then(|a| a.private_comments.as_deref())
                    .and_then(form::parse_marker)
                else {
                    continue;
                };
                if source != self.cfg.source.system {
                    continue;
                }
                let Some(item) = self.ledger.load_item_of_evaluation(&evaluation_id)? else {
                    continue;
                };
                if item.state == state::CREATED {
                    continue;
                }
                let agent_ok = e.agent.as_ref().is_none_or(|a| a.id == item.agent_user_id);
                if !agent_ok {
                    continue;
                }
                self.ledger.set_load(
                    item.record_id,
                    state::CREATED,
                    Some(&e.id),
                    None,
                    None,
                    Some(&format!(
                        "adopted: already on form '{name}' in Genesys (marker of Calabrio evaluation {evaluation_id}); not sent again"
                    )),
                    e.answers.as_ref().and_then(|a| a.total_score),
                )?;
                let now = ts_from_ms(self.now_ms()).to_string();
                self.ledger.record_attempt(
                    item.record_id,
                    &now,
                    "adopted",
                    None,
                    None,
                    Some("found on the form by its marker"),
                    Some(&e.id),
                )?;
                summary.adopted += 1;
                summary.adopted_from_form += 1;
            }
            self.ledger.mark_adoption_done(&name)?;
        }
        Ok(())
    }

    fn release_due(&self) -> Result<Option<i64>> {
        let now = self.now_ms();
        let mut earliest: Option<i64> = None;
        for item in self.ledger.loads_in(&[state::DEFERRED])? {
            let until = item
                .deferred_until
                .as_deref()
                .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                .map(|t| t.as_millisecond());
            match until {
                Some(u) if u > now => earliest = Some(earliest.map_or(u, |e: i64| e.min(u))),
                _ => self.ledger.set_load(
                    item.record_id,
                    state::PLANNED,
                    None,
                    None,
                    None,
                    None,
                    None,
                )?,
            }
        }
        Ok(earliest)
    }

    fn defer(&self, record_id: i64, until_ms: i64, code: Option<&str>, why: &str) -> Result<()> {
        self.ledger.set_load(
            record_id,
            state::DEFERRED,
            None,
            Some(&ts_from_ms(until_ms).to_string()),
            code,
            Some(why),
            None,
        )
    }

    /// The cap the scheduler counts against: the configured (or org-read) one, lowered by any cap
    /// Genesys named in a cap answer.
    fn effective_cap(&self, caps: &[crate::ledger::AgentCap]) -> usize {
        let named = caps
            .iter()
            .filter_map(|c| c.limit_value)
            .filter(|v| *v > 0)
            .min()
            .and_then(|v| usize::try_from(v).ok());
        let cfg = self.cfg.genesys.per_agent_daily_cap as usize;
        named.map_or(cfg, |n| n.min(cfg)).max(1)
    }

    /// Sends every item that may be sent now. Returns the number of creates sent. A failure lets
    /// the requests in flight settle, and records them, before it is returned.
    async fn pass(
        &self,
        summary: &mut LoadSummary,
        budget: &mut Option<usize>,
        progress: &indicatif::ProgressBar,
    ) -> Result<usize> {
        let now = self.now_ms();
        let caps = self.ledger.agent_caps()?;
        let cap = self.effective_cap(&caps);
        let mut blocked: HashMap<String, crate::ledger::AgentCap> = caps
            .into_iter()
            .filter(|c| c.until_ms > now)
            .map(|c| (c.agent_user_id.clone(), c))
            .collect();
        let mut windows: BTreeMap<String, VecDeque<i64>> = BTreeMap::new();
        for (agent, t) in self.ledger.recent_sends(now - DAY_MS)? {
            windows.entry(agent).or_default().push_back(t);
        }
        let mut queues: BTreeMap<String, VecDeque<LoadRow>> = BTreeMap::new();
        for item in self.ledger.loads_in(&[state::PLANNED])? {
            queues
                .entry(item.agent_user_id.clone())
                .or_default()
                .push_back(item);
        }
        let concurrency = if self.opts.concurrency == 0 {
            self.cfg.genesys.concurrency
        } else {
            self.opts.concurrency
        }
        .max(1);
        let mut inflight: tokio::task::JoinSet<(
            LoadRow,
            String,
            Result<genesys::models::Evaluation, GenesysError>,
        )> = tokio::task::JoinSet::new();
        let mut sent = 0usize;
        let mut order: VecDeque<String> = queues.keys().cloned().collect();
        let mut failure: Option<anyhow::Error> = None;
        loop {
            // Fill the pipe, agents in turn.
            while failure.is_none()
                && inflight.len() < concurrency
                && !self.stopped()
                && budget.is_none_or(|b| b > 0)
            {
                let Some(agent) = order.pop_front() else {
                    break;
                };
                match self
                    .next_request(
                        &agent,
                        cap,
                        &mut blocked,
                        &mut windows,
                        &mut queues,
                        summary,
                    )
                    .await
                {
                    Ok(next) => {
                        if queues.get(&agent).is_some_and(|q| !q.is_empty()) {
                            order.push_back(agent.clone());
                        }
                        let Some((item, body)) = next else {
                            continue;
                        };
                        sent += 1;
                        if let Some(b) = budget.as_mut() {
                            *b -= 1;
                        }
                        progress.inc(1);
                        if self.opts.dry_run {
                            summary.would_send += 1;
                            continue;
                        }
                        let key: uuid::Uuid = match item.idempotency_key.parse() {
                            Ok(k) => k,
                            Err(e) => {
                                failure =
                                    Some(anyhow::Error::new(e).context("ledger idempotency key"));
                                break;
                            }
                        };
                        let now = self.now_ms();
                        if let Err(e) = self.ledger.mark_sending(item.record_id, now) {
                            failure = Some(e);
                            break;
                        }
                        windows.entry(agent.clone()).or_default().push_back(now);
                        let client = self.client.clone();
                        let key_header = self.cfg.genesys.use_idempotency_key.then_some(key);
                        let started = ts_from_ms(now).to_string();
                        inflight.spawn(async move {
                            let r = client
                                .create_evaluation(&item.conversation_id, &body, key_header)
                                .await;
                            (item, started, r)
                        });
                    }
                    Err(e) => failure = Some(e),
                }
            }
            let Some(joined) = inflight.join_next().await else {
                break;
            };
            match joined {
                Ok((item, started, result)) => {
                    match self
                        .settle(item, &started, result, summary, &mut queues, &mut blocked)
                        .await
                    {
                        Ok(Settled::Done) => {}
                        Ok(Settled::Stop(why)) => {
                            failure.get_or_insert_with(|| anyhow::anyhow!(why));
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                }
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        anyhow::Error::new(e).context("a request task failed")
                    });
                }
            }
        }
        match failure {
            Some(e) => {
                Err(e).context("load stopped (the requests in flight were settled and recorded)")
            }
            None => Ok(sent),
        }
    }

    /// The next create of `agent`'s queue that may leave now, with its body; `None` when the agent
    /// has nothing to send now (its queue is empty, or it is at its cap and its items were deferred).
    async fn next_request(
        &self,
        agent: &str,
        cap: usize,
        blocked: &mut HashMap<String, crate::ledger::AgentCap>,
        windows: &mut BTreeMap<String, VecDeque<i64>>,
        queues: &mut BTreeMap<String, VecDeque<LoadRow>>,
        summary: &mut LoadSummary,
    ) -> Result<Option<(LoadRow, EvaluationCreateBody)>> {
        let Some(item) = queues.get_mut(agent).and_then(VecDeque::pop_front) else {
            return Ok(None);
        };
        let now = self.now_ms();
        // The org said this agent is full: nothing for it before then.
        if let Some(c) = blocked.get(agent) {
            let why = format!(
                "Genesys answered this agent with its cap ({}); next try {}",
                c.code.as_deref().unwrap_or("per-agent cap"),
                ts_from_ms(c.until_ms)
            );
            self.defer_agent(
                agent,
                item,
                c.until_ms,
                c.code.as_deref(),
                &why,
                queues,
                summary,
            )?;
            return Ok(None);
        }
        let window = windows.entry(agent.to_owned()).or_default();
        while window.front().is_some_and(|t| *t <= now - DAY_MS) {
            window.pop_front();
        }
        if window.len() >= cap {
            // At its cap by our own count: this agent waits, the others go on.
            let until = window.front().copied().unwrap_or(now) + DAY_MS + CAP_MARGIN_MS;
            let why = format!("per-agent cap of {cap} evaluations per 24 h reached");
            self.defer_agent(
                agent,
                item,
                until,
                Some("per.agent.cap"),
                &why,
                queues,
                summary,
            )?;
            return Ok(None);
        }
        if !self.opts.dry_run
            && self.cfg.genesys.on_existing_evaluation != "create"
            && self.other_evaluation(&item, summary).await?
        {
            return Ok(None);
        }
        // The release date belongs to the key generation: fixed at its first send, so every
        // re-send with the same key is byte-identical; a new generation gets a fresh one.
        let release = if self.cfg.form.release_policy == "immediate" {
            let now_text = ts_from_ms(now)
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            Some(if self.opts.dry_run {
                now_text
            } else {
                self.ledger.release_date(item.record_id, &now_text)?
            })
        } else {
            None
        };
        let (form_id, map) = match self.ledger.plan_form_name(item.record_id)? {
            None => (&self.form_id, &self.map),
            Some(name) => self
                .mirrors
                .get(&name)
                .map(|(f, m)| (f, m))
                .with_context(|| {
                    format!(
                        "the mirrored form '{name}' is not provisioned: run `qm-migrate provision`"
                    )
                })?,
        };
        let body = create_body(self.cfg, self.ledger, &item, form_id, map, release)?;
        if self.opts.dry_run {
            window.push_back(now);
        }
        Ok(Some((item, body)))
    }

    /// Defers `item` and the rest of its agent's queue until `until`.
    #[allow(clippy::too_many_arguments)]
    fn defer_agent(
        &self,
        agent: &str,
        item: LoadRow,
        until: i64,
        code: Option<&str>,
        why: &str,
        queues: &mut BTreeMap<String, VecDeque<LoadRow>>,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        let rest = queues
            .get_mut(agent)
            .map(std::mem::take)
            .unwrap_or_default();
        for other in std::iter::once(item).chain(rest) {
            self.defer(other.record_id, until, code, why)?;
            summary.deferred_now += 1;
        }
        Ok(())
    }

    /// `skip` / `fail` for a conversation someone else already evaluated (unverified #2).
    async fn other_evaluation(&self, item: &LoadRow, summary: &mut LoadSummary) -> Result<bool> {
        let others: Vec<String> = evaluations_on(self.client, item)
            .await?
            .iter()
            .filter(|e| !is_ours(e, item))
            .map(|e| e.id.clone())
            .collect();
        if others.is_empty() {
            return Ok(false);
        }
        let msg = format!(
            "conversation {} already has evaluation(s) {} not made for this record",
            item.conversation_id,
            others.join(", ")
        );
        if self.cfg.genesys.on_existing_evaluation == "fail" {
            bail!("{msg} ([genesys] on_existing_evaluation = \"fail\")");
        }
        self.ledger.set_load(
            item.record_id,
            state::REJECTED,
            None,
            None,
            Some("existing.evaluation"),
            Some(&format!(
                "{msg}; skipped ([genesys] on_existing_evaluation = \"skip\")"
            )),
            None,
        )?;
        summary.rejected_now += 1;
        Ok(true)
    }

    /// When the agent of a cap answer may be tried again: the `Retry-After` when Genesys gave one;
    /// else, when our own sends fill the cap Genesys named, 24 h after the oldest of them; else
    /// (live QA, which we cannot see, filled it) after `[genesys] cap_recheck_s`.
    fn cap_until(&self, agent: &str, e: &GenesysError) -> Result<i64> {
        let now = self.now_ms();
        if let GenesysError::Throttled { retry_after, .. } = e {
            return Ok(
                now.saturating_add(i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX))
            );
        }
        let own: Vec<i64> = self
            .ledger
            .recent_sends(now - DAY_MS)?
            .into_iter()
            .filter(|(a, _)| a == agent)
            .map(|(_, t)| t)
            .collect();
        let named = e
            .limit()
            .and_then(|l| l.value)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(self.cfg.genesys.per_agent_daily_cap as usize);
        let recheck = now.saturating_add(
            i64::try_from(self.cfg.genesys.cap_recheck_s).unwrap_or(i64::MAX / 1000) * 1000,
        );
        Ok(match own.first() {
            Some(oldest) if own.len() >= named => oldest + DAY_MS + CAP_MARGIN_MS,
            _ => recheck,
        })
    }

    async fn settle(
        &self,
        item: LoadRow,
        started: &str,
        result: Result<genesys::models::Evaluation, GenesysError>,
        summary: &mut LoadSummary,
        queues: &mut BTreeMap<String, VecDeque<LoadRow>>,
        blocked: &mut HashMap<String, crate::ledger::AgentCap>,
    ) -> Result<Settled> {
        let ledger = self.ledger;
        let attempt = |outcome: &str, e: &GenesysError, msg: &str| {
            ledger.record_attempt(
                item.record_id,
                started,
                outcome,
                e.status(),
                e.code(),
                Some(msg),
                None,
            )
        };
        let created = |id: &str, total: Option<f64>, note: Option<&str>| -> Result<()> {
            ledger.set_load(
                item.record_id,
                state::CREATED,
                Some(id),
                None,
                None,
                note,
                total,
            )?;
            ledger.record_attempt(
                item.record_id,
                started,
                "created",
                Some(200),
                None,
                note,
                Some(id),
            )
        };
        // The item's new state, with Genesys' code, and the attempt's outcome.
        let mark = |to: &str, outcome: &str, e: &GenesysError, msg: &str| -> Result<()> {
            ledger.set_load(item.record_id, to, None, None, e.code(), Some(msg), None)?;
            attempt(outcome, e, msg)
        };
        let e = match result {
            Ok(ev) => {
                created(
                    &ev.id,
                    ev.answers.as_ref().and_then(|a| a.total_score),
                    None,
                )?;
                ledger.set_genesys_changed(item.record_id, ev.changed_date.as_deref())?;
                summary.created_now += 1;
                return Ok(Settled::Done);
            }
            Err(e) => e,
        };
        match e.create_failure() {
            CreateFailure::AgentCapped => {
                // Nothing was created: the next attempt takes a new key (a Genesys that replays a
                // key's first answer would otherwise answer this cap for ever).
                let until = self.cap_until(&item.agent_user_id, &e)?;
                let code = e
                    .code()
                    .unwrap_or(genesys::error::AGENT_CAP_CODE)
                    .to_owned();
                let limit = e.limit().and_then(|l| l.value);
                let msg = format!(
                    "{} (Genesys {}); this agent is tried again {}",
                    e.message(),
                    code,
                    ts_from_ms(until)
                );
                ledger.put_agent_cap(&item.agent_user_id, until, Some(&code), limit, Some(&msg))?;
                blocked.insert(
                    item.agent_user_id.clone(),
                    crate::ledger::AgentCap {
                        agent_user_id: item.agent_user_id.clone(),
                        until_ms: until,
                        code: Some(code.clone()),
                        limit_value: limit,
                    },
                );
                attempt("deferred", &e, &msg)?;
                ledger.next_key_generation(item.record_id)?;
                tracing::warn!(agent = %item.agent_user_id, %code, until = %ts_from_ms(until), "Agent reached its Genesys cap; its evaluations are deferred.");
                let agent = item.agent_user_id.clone();
                self.defer_agent(&agent, item, until, Some(&code), &msg, queues, summary)?;
            }
            CreateFailure::RetryLater => {
                let until = self.now_ms() + RETRY_LATER_MS;
                let msg = format!("{}: tried again {}", e.message(), ts_from_ms(until));
                attempt("deferred", &e, &msg)?;
                ledger.next_key_generation(item.record_id)?;
                self.defer(item.record_id, until, e.code(), &msg)?;
                summary.deferred_now += 1;
            }
            CreateFailure::Throttled => {
                // Refused, nothing created: back in the queue with a new key; the client slows
                // every request down before the next one leaves.
                let msg = format!("{e}: sent again after the client's back-off");
                ledger.next_key_generation(item.record_id)?;
                mark(state::PLANNED, "throttled", &e, &msg)?;
                summary.throttled_now += 1;
            }
            CreateFailure::PossiblySent => {
                if let GenesysError::Undecodable { id: Some(id), .. } = &e {
                    // A success whose body we cannot read: it exists, and its id is known.
                    created(
                        id,
                        None,
                        Some(&format!("created; the answer did not decode: {e}")),
                    )?;
                    summary.created_now += 1;
                } else {
                    mark(state::UNKNOWN, "unknown", &e, &e.to_string())?;
                    summary.unknown_now += 1;
                }
            }
            CreateFailure::NotSent => {
                mark(state::PLANNED, "not sent", &e, &e.to_string())?;
                return Ok(Settled::Stop(format!("Genesys cannot be reached: {e}")));
            }
            CreateFailure::AlreadyExists => {
                // Maybe ours, from an attempt whose answer was lost: look before rejecting.
                if let Some((id, total)) = find_existing(self.client, &item).await? {
                    created(
                        &id,
                        total,
                        Some("adopted: Genesys said it already exists, and it carries our key"),
                    )?;
                    summary.adopted += 1;
                } else {
                    self.reject(&item, &e, started, summary)?;
                }
            }
            CreateFailure::ItemRejected => self.reject(&item, &e, started, summary)?,
            CreateFailure::StopRun => {
                // Not this item's fault: it goes back to planned, with a new key (nothing was
                // created), and the run stops with what to fix.
                ledger.next_key_generation(item.record_id)?;
                mark(state::PLANNED, "refused", &e, &e.to_string())?;
                return Ok(Settled::Stop(stop_hint(&e)));
            }
        }
        Ok(Settled::Done)
    }

    fn reject(
        &self,
        item: &LoadRow,
        e: &GenesysError,
        started: &str,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        let msg = e.message();
        self.ledger.set_load(
            item.record_id,
            state::REJECTED,
            None,
            None,
            e.code(),
            Some(&msg),
            None,
        )?;
        self.ledger.record_attempt(
            item.record_id,
            started,
            "rejected",
            e.status(),
            e.code(),
            Some(&msg),
            None,
        )?;
        // A re-plan may send it again: with a new key, as nothing was created.
        self.ledger.next_key_generation(item.record_id)?;
        summary.rejected_now += 1;
        Ok(())
    }

    fn eta(&self) -> Result<f64> {
        status_eta(self.cfg, self.ledger, self.now_ms())
    }
}

/// What to do about an answer that stops the run.
fn stop_hint(e: &GenesysError) -> String {
    let fix = match (e.status(), e.code().unwrap_or("")) {
        (Some(401), _) => {
            "check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (a new token was already tried)"
        }
        (Some(403), _) => {
            "check the OAuth client's roles (quality:evaluation:add; `qm-migrate preflight` lists them)"
        }
        (_, c) if c.starts_with("quality.scoring.") || c.contains(".form.") => {
            "the form's ids are not those of its published version: run `qm-migrate provision`"
        }
        (_, c) if c.contains("state") => "check [form] status",
        _ => "this is a request qm-migrate should not have sent; please report it",
    };
    format!("Genesys refused a create in a way every create would meet ({e}): {fix}")
}

/// Runs the evaluations channel.
///
/// # Errors
/// A missing form (run `provision`), another writer holding the ledger, ledger errors, and Genesys
/// errors that stop the run (authentication, permissions, the form).
pub async fn run(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    opts: &LoadOptions,
    progress: &indicatif::ProgressBar,
) -> Result<LoadSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "load")?;
    let run_id = ledger.begin_run(if opts.dry_run {
        "load --dry-run"
    } else {
        "load"
    })?;
    let mut summary = LoadSummary::default();
    let form_row = ledger
        .form(&cfg.form.name)?
        .filter(|f| f.id_map.is_some())
        .with_context(|| {
            format!(
                "the form '{}' is not provisioned: run `qm-migrate provision` first",
                cfg.form.name
            )
        })?;
    let (form_id, map) = published_ids(&form_row)?;
    anyhow::ensure!(
        form_row.definition_hash == form::definition_hash(&form::definition(&cfg.form)),
        "the [form] configuration changed since the form was provisioned; run provision (with a new [form] name)"
    );
    let ctx = Ctx {
        cfg,
        ledger,
        client,
        opts,
        form_id,
        map,
        mirrors: mirror_forms(ledger)?,
    };
    let started = ctx.now_ms();
    if !opts.dry_run {
        ctx.recover_sending()?;
        ctx.adopt_from_forms(&mut summary).await?;
        ctx.reconcile_due(&mut summary).await?;
    }
    ctx.release_due()?;
    summary.eta_seconds = ctx.eta()?;
    let pending = ledger.loads_in(&[state::PLANNED, state::DEFERRED])?.len();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_length(pending as u64);
    progress.set_position(0);
    progress.set_message(format!("load, eta {}", human_duration(summary.eta_seconds)));
    tracing::info!(
        items = pending,
        eta_s = summary.eta_seconds,
        "Loading evaluations."
    );
    let mut budget = opts.max;
    let mut idle_rounds = 0;
    loop {
        let created_before = summary.created_now + summary.adopted;
        let sent = ctx.pass(&mut summary, &mut budget, progress).await?;
        if opts.dry_run || ctx.stopped() || budget == Some(0) {
            break;
        }
        // Outcomes that may have been sent are resolved once the query can be trusted to show
        // them, and re-sent if absent, in the same run.
        let next_unknown = ctx.reconcile_due(&mut summary).await?;
        let next_release = ctx.release_due()?;
        // A round is idle when it sent and nothing came of it (neither created nor found); a
        // round that sent nothing (it only waited) neither counts nor resets.
        if summary.created_now + summary.adopted > created_before {
            idle_rounds = 0;
        } else if sent > 0 {
            idle_rounds += 1;
        }
        if !ledger.loads_in(&[state::PLANNED])?.is_empty() {
            // A run that keeps failing the same creates (each attempt unknown, absent, sent
            // again) stops after a few rounds, unless it is to follow through.
            if idle_rounds > 5 && !opts.follow {
                break;
            }
            continue;
        }
        // Nothing can leave now. Unknown items are always waited for (their wait is bounded by
        // reconcile_after); cap windows only with --follow.
        let wake = match (next_unknown, next_release.filter(|_| opts.follow)) {
            (Some(u), Some(r)) => Some(u.min(r)),
            (Some(u), None) => Some(u),
            (None, r) => r,
        };
        let Some(wake) = wake else {
            break;
        };
        let wait =
            std::time::Duration::from_millis(u64::try_from(wake - ctx.now_ms()).unwrap_or(0));
        progress.set_message(if next_unknown == Some(wake) {
            format!(
                "waiting {} before looking for a create whose answer was lost",
                human_duration(wait.as_secs_f64())
            )
        } else {
            format!(
                "waiting {} for the per-agent cap",
                human_duration(wait.as_secs_f64())
            )
        });
        let sleep = client.clock().sleep(wait);
        match opts.stop.clone() {
            Some(mut stop) => {
                tokio::select! {
                    () = sleep => {}
                    _ = stop.changed() => {}
                }
            }
            None => sleep.await,
        }
        if ctx.stopped() {
            break;
        }
    }
    if !opts.dry_run && !ctx.stopped() && opts.max.is_none() {
        ctx.sync(&mut summary).await?;
    }
    summary.interrupted = ctx.stopped();
    summary.unknown_now = ledger.loads_in(&[state::UNKNOWN])?.len() as u64;
    progress.finish_and_clear();
    summary.elapsed_seconds = (ctx.now_ms() - started) as f64 / 1000.0;
    for (s, n) in ledger.load_counts()? {
        summary.load.insert(s, u64::try_from(n).unwrap_or(0));
    }
    for s in state::ALL {
        summary.load.entry(s.to_owned()).or_insert(0);
    }
    ledger.finish_run(run_id, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// `3 d 4 h`, `12 min`, `40 s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The ETA of what the ledger still has to send, seconds of the migration's clock.
///
/// # Errors
/// Ledger errors.
pub fn status_eta(cfg: &Config, ledger: &Ledger, now_ms: i64) -> Result<f64> {
    let mut backlog: BTreeMap<String, usize> = BTreeMap::new();
    for item in ledger.loads_in(&[
        state::PLANNED,
        state::DEFERRED,
        state::UNKNOWN,
        state::SENDING,
    ])? {
        *backlog.entry(item.agent_user_id).or_insert(0) += 1;
    }
    let mut recent: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (agent, t) in ledger.recent_sends(now_ms - DAY_MS)? {
        recent.entry(agent).or_default().push(t);
    }
    let caps = ledger.agent_caps()?;
    let cap = caps
        .iter()
        .filter_map(|c| c.limit_value)
        .filter_map(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
        .fold(cfg.genesys.per_agent_daily_cap, u32::min);
    let blocked: BTreeMap<String, i64> = caps
        .into_iter()
        .filter(|c| c.until_ms > now_ms)
        .map(|c| (c.agent_user_id, c.until_ms))
        .collect();
    Ok(eta_ms(
        &backlog,
        &recent,
        &blocked,
        cap,
        cfg.genesys.requests_per_minute,
        now_ms,
    ) as f64
        / 1000.0)
}

/// The `EvaluationCreateBody` of a load item: published form id, evaluator and agent from the plan,
/// answers translated from logical to published ids, status and release per `[form]`.
///
/// # Errors
/// A missing plan, missing answers, or an id the published form does not map.
pub fn create_body(
    cfg: &Config,
    ledger: &Ledger,
    item: &LoadRow,
    form_id: &str,
    map: &BTreeMap<String, String>,
    release_date: Option<String>,
) -> Result<EvaluationCreateBody> {
    let plan = ledger
        .plan(item.record_id)?
        .with_context(|| format!("load item {} has no plan", item.record_id))?;
    let mut logical: ScoringSet =
        serde_json::from_str(plan.answers.as_deref().unwrap_or("null"))
            .with_context(|| format!("plan of record {} has no answers", item.record_id))?;
    // The marker names the key this attempt is sent with (a new generation after a known refusal).
    logical.private_comments = logical
        .private_comments
        .as_deref()
        .map(|m| form::marker_with_key(m, &item.idempotency_key));
    Ok(EvaluationCreateBody {
        evaluation_form: EntityRef::id(form_id),
        evaluator: EntityRef::id(plan.evaluator_user_id.clone().unwrap_or_default()),
        agent: EntityRef::id(&item.agent_user_id),
        answers: form::translate(&logical, map)?,
        status: Some(cfg.form.status.clone()),
        release_date,
        never_release: (cfg.form.release_policy == "never").then_some(true),
        agent_has_read: None,
    })
}

/// The evaluations Genesys holds on the conversation of `item`.
async fn evaluations_on(
    client: &GenesysClient,
    item: &LoadRow,
) -> Result<Vec<genesys::models::Evaluation>> {
    client
        .evaluations_for_conversation(&item.conversation_id)
        .await
        .with_context(|| {
            format!(
                "cannot query evaluations on conversation {}",
                item.conversation_id
            )
        })
}

/// Ours: it carries our marker (the key is derived from evaluation id and form) and the same agent.
fn is_ours(e: &genesys::models::Evaluation, item: &LoadRow) -> bool {
    let marker = format!("idempotency_key={}", item.idempotency_key);
    e.answers
        .as_ref()
        .and_then(|a| a.private_comments.as_deref())
        .is_some_and(|c| c.contains(&marker))
        && e.agent.as_ref().is_none_or(|a| a.id == item.agent_user_id)
}

/// Looks for the evaluation of `item` in Genesys by its idempotency key marker.
async fn find_existing(
    client: &GenesysClient,
    item: &LoadRow,
) -> Result<Option<(String, Option<f64>)>> {
    Ok(evaluations_on(client, item)
        .await?
        .into_iter()
        .find(|e| is_ours(e, item))
        .map(|e| (e.id.clone(), e.answers.and_then(|a| a.total_score))))
}

/// Mirrored forms by name: (published id, logical → published ids).
pub type MirrorForms = HashMap<String, (String, BTreeMap<String, String>)>;

/// The provisioned mirrored forms the plans use: name → (published id, logical → published ids).
///
/// # Errors
/// A mirrored form the plans use that is not provisioned; ledger errors.
pub fn mirror_forms(ledger: &Ledger) -> Result<MirrorForms> {
    let mut out = HashMap::new();
    for name in ledger.planned_form_names()? {
        let row = ledger
            .form(&name)?
            .filter(|f| f.id_map.is_some())
            .with_context(|| {
                format!("the mirrored form '{name}' is not provisioned: run `qm-migrate provision` first")
            })?;
        out.insert(name, published_ids(&row)?);
    }
    Ok(out)
}

/// A provisioned form's published id and its map of logical to published ids.
fn published_ids(row: &crate::ledger::FormRow) -> Result<(String, BTreeMap<String, String>)> {
    let map: BTreeMap<String, String> = serde_json::from_str(row.id_map.as_deref().unwrap_or("{}"))
        .with_context(|| format!("ledger id map of form '{}'", row.name))?;
    let id = map
        .get("form")
        .cloned()
        .with_context(|| format!("ledger id map of form '{}' has no form id", row.name))?;
    Ok((id, map))
}

/// Evaluations created per agent (for summaries).
///
/// # Errors
/// SQLite errors.
pub fn created_per_agent(ledger: &Ledger) -> Result<HashMap<String, u64>> {
    let mut out = HashMap::new();
    for item in ledger.loads_in(&[state::CREATED])? {
        *out.entry(item.agent_user_id).or_insert(0) += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_places_each_agent_in_its_cap_slots() {
        let now = 1_000_000_000;
        let mut backlog = BTreeMap::new();
        backlog.insert("a".to_owned(), 5);
        backlog.insert("b".to_owned(), 1);
        let recent = BTreeMap::new();
        // Cap 2: a sends 2 now, 2 a day (plus margin) later, 1 two days later.
        let none = BTreeMap::new();
        let eta = eta_ms(&backlog, &recent, &none, 2, 300, now);
        assert_eq!(eta, 2 * (DAY_MS + CAP_MARGIN_MS));
        // Sends already in the window take slots.
        let mut recent = BTreeMap::new();
        recent.insert("b".to_owned(), vec![now - 1000, now - 500]);
        let mut only_b = BTreeMap::new();
        only_b.insert("b".to_owned(), 1);
        assert_eq!(
            eta_ms(&only_b, &recent, &none, 2, 300, now),
            DAY_MS + CAP_MARGIN_MS - 1000
        );
        // Without a cap problem, the request rate sets the time: 600 at 300/min = 2 min.
        let mut many = BTreeMap::new();
        for i in 0..600 {
            many.insert(format!("agent{i}"), 1);
        }
        assert_eq!(
            eta_ms(&many, &BTreeMap::new(), &none, 50, 300, now),
            120_000
        );
        // An agent the org answered with its cap waits for the time it gave.
        let mut blocked = BTreeMap::new();
        blocked.insert("b".to_owned(), now + 3_600_000);
        assert_eq!(
            eta_ms(&only_b, &BTreeMap::new(), &blocked, 2, 300, now),
            3_600_000
        );
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(40.0), "40 s");
        assert_eq!(human_duration(600.0), "10 min");
        assert_eq!(human_duration(3.0 * 86_400.0 + 7200.0), "3 d 2 h");
    }
}
