//! `load` (evaluations channel): send every planned evaluation exactly once.
//!
//! Before anything is sent, items left `sending` by a crash become `unknown`, and every `unknown` is
//! resolved by looking for it in Genesys (evaluations on its conversation whose private comments carry
//! its idempotency key): found ⇒ `created`, not found ⇒ `planned`, re-sent with the *same*
//! `Idempotency-Key`. Then planned items are sent, agents interleaved, each committed as `sending`
//! before its request leaves. A 429 whose `Retry-After` exceeds the park threshold (the per-agent
//! daily cap) defers that agent's items until then and the others go on; a request that may have
//! reached Genesys is `unknown`; a permanent 4xx is `rejected` with the Genesys code and message.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use anyhow::{Context, Result, bail};
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
    /// Items deferred in this run.
    pub deferred_now: u64,
    /// Items whose outcome is unknown after this run.
    pub unknown_now: u64,
    /// Creates that a dry run would send.
    pub would_send: u64,
    /// Load items by state after the run.
    pub load: BTreeMap<String, u64>,
}

fn now_ts() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Runs the evaluations channel.
///
/// # Errors
/// A missing form (run `provision`), ledger errors, and Genesys errors that stop the run
/// (authentication, permissions).
pub async fn run(
    cfg: &Config,
    ledger: &Ledger,
    client: &GenesysClient,
    opts: &LoadOptions,
    progress: &indicatif::ProgressBar,
) -> Result<LoadSummary> {
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
    let map: BTreeMap<String, String> =
        serde_json::from_str(form_row.id_map.as_deref().unwrap_or("{}"))
            .context("ledger form id map")?;
    let form_id = map
        .get("form")
        .cloned()
        .context("ledger form id map has no form id")?;
    anyhow::ensure!(
        form_row.definition_hash == form::definition_hash(&form::definition(&cfg.form)),
        "the [form] configuration changed since the form was provisioned; run provision (with a new [form] name)"
    );

    if !opts.dry_run {
        // 1. A crash while sending leaves `sending`: it may or may not exist in Genesys.
        for item in ledger.loads_in(&[state::SENDING])? {
            ledger.set_load(
                item.record_id,
                state::UNKNOWN,
                None,
                None,
                None,
                Some("found sending at start: the process stopped mid-request"),
                None,
            )?;
        }
        // 2. Resolve every unknown before sending anything.
        for item in ledger.loads_in(&[state::UNKNOWN])? {
            match find_existing(client, &item).await? {
                Some((id, total)) => {
                    ledger.set_load(
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
                    ledger.set_load(
                        item.record_id,
                        state::PLANNED,
                        None,
                        None,
                        None,
                        Some("was unknown; not in Genesys: sent again with the same key"),
                        None,
                    )?;
                    summary.resent_after_unknown += 1;
                }
            }
        }
    }
    // 3. Deferrals whose time has come.
    let now = now_ts();
    for item in ledger.loads_in(&[state::DEFERRED])? {
        let due = item
            .deferred_until
            .as_deref()
            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
            .is_none_or(|d| d <= now);
        if due {
            ledger.set_load(item.record_id, state::PLANNED, None, None, None, None, None)?;
        }
    }

    // 4. Send, agents interleaved.
    let planned = ledger.loads_in(&[state::PLANNED])?;
    let mut queues: BTreeMap<String, VecDeque<LoadRow>> = BTreeMap::new();
    for item in planned {
        queues
            .entry(item.agent_user_id.clone())
            .or_default()
            .push_back(item);
    }
    let total: usize = queues.values().map(VecDeque::len).sum();
    progress.set_length(total as u64);
    progress.set_position(0);
    progress.set_message("load");
    let mut parked: HashSet<String> = HashSet::new();
    let mut sent = 0usize;
    let now_text = now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    'outer: loop {
        let mut progressed = false;
        let agents: Vec<String> = queues.keys().cloned().collect();
        for agent in agents {
            let Some(item) = queues.get_mut(&agent).and_then(VecDeque::pop_front) else {
                continue;
            };
            progressed = true;
            if parked.contains(&agent) {
                continue;
            }
            if opts.max.is_some_and(|m| sent >= m) {
                break 'outer;
            }
            let release = if cfg.form.release_policy == "immediate" {
                Some(if opts.dry_run {
                    now_text.clone()
                } else {
                    ledger.release_date(item.record_id, &now_text)?
                })
            } else {
                None
            };
            let body = create_body(cfg, ledger, &item, &form_id, &map, release)?;
            if cfg.genesys.on_existing_evaluation != "create" && !opts.dry_run {
                let existing = client
                    .evaluations_for_conversation(&item.conversation_id)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot query evaluations on conversation {}",
                            item.conversation_id
                        )
                    })?;
                let marker = format!("idempotency_key={}", item.idempotency_key);
                let others: Vec<String> = existing
                    .iter()
                    .filter(|e| {
                        !e.answers
                            .as_ref()
                            .and_then(|a| a.private_comments.as_deref())
                            .is_some_and(|c| c.contains(&marker))
                    })
                    .map(|e| e.id.clone())
                    .collect();
                if !others.is_empty() {
                    let msg = format!(
                        "conversation {} already has evaluation(s) {} not made for this record",
                        item.conversation_id,
                        others.join(", ")
                    );
                    if cfg.genesys.on_existing_evaluation == "fail" {
                        bail!("{msg} ([genesys] on_existing_evaluation = \"fail\")");
                    }
                    ledger.set_load(
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
                    continue;
                }
            }
            sent += 1;
            progress.inc(1);
            if opts.dry_run {
                summary.would_send += 1;
                continue;
            }
            let key: uuid::Uuid = item
                .idempotency_key
                .parse()
                .context("ledger idempotency key")?;
            ledger.set_load(item.record_id, state::SENDING, None, None, None, None, None)?;
            let started = now_ts().to_string();
            let key_header = if cfg.genesys.use_idempotency_key {
                Some(key)
            } else {
                None
            };
            let result = client
                .create_evaluation(&item.conversation_id, &body, key_header)
                .await;
            match result {
                Ok(ev) => {
                    let total = ev.answers.as_ref().and_then(|a| a.total_score);
                    ledger.set_load(
                        item.record_id,
                        state::CREATED,
                        Some(&ev.id),
                        None,
                        None,
                        None,
                        total,
                    )?;
                    ledger.record_attempt(
                        item.record_id,
                        &started,
                        "created",
                        Some(200),
                        None,
                        None,
                        Some(&ev.id),
                    )?;
                    summary.created_now += 1;
                }
                Err(GenesysError::Throttled { retry_after, body }) => {
                    let until = now_ts()
                        .checked_add(jiff::SignedDuration::from_secs(
                            i64::try_from(retry_after.as_secs()).unwrap_or(i64::MAX),
                        ))
                        .unwrap_or(jiff::Timestamp::MAX)
                        .to_string();
                    let msg = body.message.clone().unwrap_or_default();
                    ledger.set_load(
                        item.record_id,
                        state::DEFERRED,
                        None,
                        Some(&until),
                        body.code.as_deref(),
                        Some(&msg),
                        None,
                    )?;
                    ledger.record_attempt(
                        item.record_id,
                        &started,
                        "deferred",
                        Some(429),
                        body.code.as_deref(),
                        Some(&msg),
                        None,
                    )?;
                    summary.deferred_now += 1;
                    tracing::warn!(agent = %agent, until = %until, "Agent reached a Genesys limit; its evaluations are deferred.");
                    // The rest of this agent's queue waits too.
                    if let Some(rest) = queues.get_mut(&agent) {
                        for other in rest.drain(..) {
                            ledger.set_load(
                                other.record_id,
                                state::DEFERRED,
                                None,
                                Some(&until),
                                body.code.as_deref(),
                                Some("agent parked by an earlier 429"),
                                None,
                            )?;
                            summary.deferred_now += 1;
                        }
                    }
                    parked.insert(agent.clone());
                }
                Err(e) if e.possibly_sent() => {
                    let msg = e.to_string();
                    ledger.set_load(
                        item.record_id,
                        state::UNKNOWN,
                        None,
                        None,
                        e.code(),
                        Some(&msg),
                        None,
                    )?;
                    ledger.record_attempt(
                        item.record_id,
                        &started,
                        "unknown",
                        e.status(),
                        e.code(),
                        Some(&msg),
                        None,
                    )?;
                    summary.unknown_now += 1;
                }
                Err(e) if e.is_permanent() => {
                    let msg = e.message();
                    ledger.set_load(
                        item.record_id,
                        state::REJECTED,
                        None,
                        None,
                        e.code(),
                        Some(&msg),
                        None,
                    )?;
                    ledger.record_attempt(
                        item.record_id,
                        &started,
                        "rejected",
                        e.status(),
                        e.code(),
                        Some(&msg),
                        None,
                    )?;
                    summary.rejected_now += 1;
                    if matches!(e.status(), Some(401 | 403)) {
                        bail!(
                            "Genesys refused the request ({e}); check the OAuth client's roles (reference: quality:evaluation:add)"
                        );
                    }
                }
                Err(e) => {
                    ledger.set_load(
                        item.record_id,
                        state::PLANNED,
                        None,
                        None,
                        e.code(),
                        Some(&e.to_string()),
                        None,
                    )?;
                    return Err(e).context("load stopped");
                }
            }
        }
        if !progressed {
            break;
        }
    }
    progress.finish_and_clear();
    for (s, n) in ledger.load_counts()? {
        summary.load.insert(s, u64::try_from(n).unwrap_or(0));
    }
    for s in state::ALL {
        summary.load.entry(s.to_owned()).or_insert(0);
    }
    ledger.finish_run(run_id, &serde_json::to_value(&summary)?)?;
    Ok(summary)
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
    let logical: ScoringSet = serde_json::from_str(plan.answers.as_deref().unwrap_or("null"))
        .with_context(|| format!("plan of record {} has no answers", item.record_id))?;
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

/// Looks for the evaluation of `item` in Genesys by its idempotency key marker.
async fn find_existing(
    client: &GenesysClient,
    item: &LoadRow,
) -> Result<Option<(String, Option<f64>)>> {
    let found = client
        .evaluations_for_conversation(&item.conversation_id)
        .await
        .with_context(|| {
            format!(
                "cannot look for evaluations on conversation {}",
                item.conversation_id
            )
        })?;
    let marker = format!("idempotency_key={}", item.idempotency_key);
    Ok(found
        .into_iter()
        .find(|e| {
            e.answers
                .as_ref()
                .and_then(|a| a.private_comments.as_deref())
                .is_some_and(|c| c.contains(&marker))
        })
        .map(|e| (e.id.clone(), e.answers.and_then(|a| a.total_score))))
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
