//! `load` (evaluations channel): send every planned evaluation exactly once.
//!
//! Before anything is sent, items left `sending` by a crash become `unknown`, and every `unknown` is
//! resolved by looking for it in Genesys (evaluations on its conversation whose private comments carry
//! its idempotency key): found ⇒ `created`, not found ⇒ `planned`, re-sent with the *same*
//! `Idempotency-Key`. Then planned items are sent, agents interleaved, each committed as `sending`
//! before its request leaves. A 429 whose `Retry-After` exceeds the park threshold (the per-agent
//! daily cap) defers that agent's items until then and the others go on; a request that may have
//! reached Genesys is `unknown`; a permanent 4xx is `rejected` with the Genesys code and message.

mod body;
pub mod readback;
mod reconcile;
mod schedule;
mod sync;

use self::{body::published_ids, reconcile::*, schedule::*};
pub use body::{MirrorForms, create_body, mirror_forms};
pub use schedule::{eta_ms, human_duration, status_eta};

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
    /// Stopped because Genesys kept failing (an outage `--follow` would have waited out): the
    /// last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage: Option<String>,
    /// Requests sent while Genesys was failing every request (the client backs off as a whole).
    pub outage_requests: u64,
    /// Sync: changes and withdrawals not applied because the evaluation is past Genesys' edit
    /// window (listed, `flagged`).
    pub past_edit_window: u64,
    /// Sync: evaluations whose read, update or deletion Genesys refused for that evaluation alone
    /// (listed with Genesys' code; the run went on).
    pub sync_refused: u64,
    /// Load items by state after the run.
    pub load: BTreeMap<String, u64>,
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

/// Failures in a row after which a `load` without `--follow` stops sending creates and ends
/// cleanly (with the client's back-off, about a minute of outage; a blip of a few failures among
/// successes never reaches it).
const OUTAGE_GIVE_UP: u32 = 8;

/// From this many `unknown` items due at once, they are first looked for in pages.
const PAGED_RECONCILE_FROM: usize = 8;

/// A 409 `quality.evaluation.already.in.progress` (an automated evaluation is running on the
/// conversation): the item is tried again this much later.
const RETRY_LATER_MS: i64 = 120_000;

/// What one create's answer does to its item.
enum Settled {
    /// Recorded; the pass goes on.
    Done,
    /// Recorded; the whole run must stop (credentials, permissions, the form; or Genesys cannot be
    /// reached, an outage): why.
    Stop(anyhow::Error),
}

/// Genesys is failing every request (the client counts failures in a row): an outage, nobody's
/// fault, waited out with `--follow` or stopped on cleanly.
#[derive(Debug, thiserror::Error)]
#[error("Genesys is failing every request (server errors or no answer)")]
pub(crate) struct Outage;

/// An error that is an outage rather than a refusal: [`Outage`], or a Genesys failure that is a
/// server error or no answer.
pub(crate) fn is_outage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<Outage>().is_some()
            || c.downcast_ref::<GenesysError>()
                .is_some_and(GenesysError::is_outage)
    })
}

/// What to do after a step met an outage.
enum Weather {
    /// Waited (`--follow`): do the step again.
    Retry,
    /// Recorded in the summary: stop cleanly.
    Stop,
}

impl Ctx<'_> {
    /// An error of a step: anything but an outage is returned; an outage is waited out with
    /// `--follow` (the client backs off as a whole meanwhile), or recorded for a clean stop.
    async fn weather(&self, e: anyhow::Error, summary: &mut LoadSummary) -> Result<Weather> {
        if !is_outage(&e) {
            return Err(e);
        }
        if !self.opts.follow || self.stopped() {
            tracing::warn!(error = %format!("{e:#}"), "Genesys is failing; stopping cleanly (load --follow waits an outage out).");
            summary.outage = Some(format!("{e:#}"));
            return Ok(Weather::Stop);
        }
        let wait = self
            .client
            .outage_wait()
            .max(std::time::Duration::from_secs(1));
        tracing::warn!(error = %format!("{e:#}"), wait_s = wait.as_secs_f64(), "Genesys is failing; waiting the outage out.");
        let sleep = self.client.clock().sleep(wait);
        match self.opts.stop.clone() {
            Some(mut stop) => {
                tokio::select! {
                    () = sleep => {}
                    _ = stop.changed() => {}
                }
            }
            None => sleep.await,
        }
        Ok(Weather::Retry)
    }

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
                ledger.set_genesys_created(item.record_id, ev.created_date.as_deref())?;
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
                return Ok(Settled::Stop(
                    anyhow::Error::new(e).context("Genesys cannot be reached"),
                ));
            }
            CreateFailure::AlreadyExists => {
                // Maybe ours, from an attempt whose answer was lost: look before rejecting.
                if let Some((id, total, at)) = find_existing(self.client, &item).await? {
                    created(
                        &id,
                        total,
                        Some("adopted: Genesys said it already exists, and it carries our key"),
                    )?;
                    ledger.set_genesys_created(item.record_id, at.as_deref())?;
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
                return Ok(Settled::Stop(anyhow::anyhow!(stop_hint(&e))));
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
    let outage_before = client.outage_requests();
    let mut budget = opts.max;
    let mut idle_rounds = 0;
    let mut prepared = false;
    // A step that meets an outage is done again once the outage is over (`--follow`: the client
    // backs off as a whole meanwhile), or ends the run cleanly, the outage in the summary.
    macro_rules! step {
        ($label:lifetime, $e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => match ctx.weather(e, &mut summary).await? {
                    Weather::Retry => continue $label,
                    Weather::Stop => break $label,
                },
            }
        };
    }
    'run: loop {
        if ctx.stopped() {
            break;
        }
        if !prepared {
            if !opts.dry_run {
                ctx.recover_sending()?;
                step!('run, ctx.adopt_from_forms(&mut summary).await);
                step!('run, ctx.reconcile_due(&mut summary).await);
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
            prepared = true;
        }
        let created_before = summary.created_now + summary.adopted;
        let sent = step!('run, ctx.pass(&mut summary, &mut budget, progress).await);
        if opts.dry_run || ctx.stopped() || budget == Some(0) {
            break;
        }
        // Outcomes that may have been sent are resolved once the query can be trusted to show
        // them, and re-sent if absent, in the same run.
        let next_unknown = step!('run, ctx.reconcile_due(&mut summary).await);
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
    }
    // The sync of evaluations whose record changed or left the source.
    while !opts.dry_run && !ctx.stopped() && opts.max.is_none() && summary.outage.is_none() {
        match ctx.sync(&mut summary).await {
            Ok(()) => break,
            Err(e) => match ctx.weather(e, &mut summary).await? {
                Weather::Retry => {}
                Weather::Stop => break,
            },
        }
    }
    summary.outage_requests = client.outage_requests().saturating_sub(outage_before);
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
