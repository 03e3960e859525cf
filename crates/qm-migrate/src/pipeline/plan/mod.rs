//! `plan`: give every staged record exactly one disposition and a human reason, before anything is
//! written to Genesys (DESIGN §2–3).
//!
//! In order, for each record: unreadable ⇒ `quarantined` (file, line, field, why); a duplicate
//! evaluation id ⇒ the newest wins, the others `excluded` as superseded; calibration or a state other
//! than scored ⇒ `excluded`; score normalised by the form's method (out of scale ⇒ `quarantined`);
//! date evaluated → created → contact start (none ⇒ `quarantined`); agent resolved by the configured
//! keys against the directory snapshot (`state=any`): none ⇒ `history`, ambiguous ⇒ `quarantined`,
//! inactive or deleted ⇒ per `[users] inactive_policy`; evaluator resolved, else the default
//! evaluator; conversation linked by `field` then `mapping` and checked to exist with the agent as an
//! agent participant (else `history`); answers built for the Legacy Migration Form and the Genesys
//! total predicted with the server's formula, which must equal the normalised source within the
//! tolerance (else `quarantined` with both numbers). Records already sent are not re-planned.
//!
//! The invariant `records = Σ dispositions` is checked at the end.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result, bail};
use genesys::GenesysClient;
use genesys::models::{AnalyticsConversation, User};
use qm_model::{
    CanonicalEvaluation, CommentScope, Disposition, Kind, Person, ScoringMethod, normalise,
    normalise_with,
};
use serde::Serialize;

use crate::config::Config;
use crate::form;
use crate::ledger::{Ledger, PlanRow, RecordRow};

mod decide;
mod encode;
mod exceptions;
mod mapping;
mod people;

use self::{decide::*, encode::*, mapping::*, people::*};
pub use exceptions::write_exceptions;

/// The idempotency key of the create of Calabrio evaluation `evaluation_id`, derived in this one
/// place: the answers' private marker carries it and the load item sends it.
fn create_key(cfg: &Config, evaluation_id: &str) -> uuid::Uuid {
    qm_model::idempotency_key(&cfg.source.system, evaluation_id, &cfg.form.name)
}

/// Options of `plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Fetch the Genesys directory again even if the ledger has a snapshot.
    pub refresh_users: bool,
    /// Where to show progress (records planned, then conversations checked).
    pub progress: Option<indicatif::ProgressBar>,
}

/// What `plan` decided.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    /// Records of the latest extract.
    pub records: u64,
    /// Count per disposition (all four names present).
    pub dispositions: BTreeMap<String, u64>,
    /// Records left as they were because they were already sent.
    pub kept_loaded: u64,
    /// Users in the directory snapshot.
    pub directory_users: usize,
    /// Conversations looked up in Genesys.
    pub conversations_checked: usize,
    /// Records the `match` strategy looked for, and how many it linked.
    pub match_tried: u64,
    /// Of `match_tried`, linked to exactly one conversation.
    pub match_linked: u64,
    /// Analytics detail-query requests `match` sent (one per agent and day, plus pages).
    pub analytics_requests: u64,
    /// Agent-days `match` answered from the ledger's cache of earlier queries.
    pub match_cache_hits: u64,
    /// Mirror mode: evaluations answered question by question on a mirrored form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirrored: Option<u64>,
    /// Mirror mode: evaluations on the container form instead, by reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_fallbacks: Option<BTreeMap<String, u64>>,
    /// Mirror mode: Calabrio forms that cannot be mirrored, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmirrorable_forms: Vec<String>,
    /// Sync: evaluations in Genesys whose record changed, to be updated (`[sync] on_change`).
    pub sync_updates: u64,
    /// Sync: changes listed and left as they are (`flag`, an evaluation edited in Genesys, or a
    /// change that moves the record off its conversation or disposition).
    pub sync_flagged: u64,
    /// Sync: evaluations whose record left the source, to be deleted (`[sync] on_withdraw`).
    pub sync_withdrawals: u64,
}

impl PlanSummary {
    /// True when every record has exactly one disposition.
    pub fn invariant_holds(&self) -> bool {
        self.dispositions.values().sum::<u64>() == self.records
    }
}

/// An evaluation in Genesys that its record no longer gives: deleted (`[sync] on_withdraw =
/// "delete"`) or listed. `counts`: (updates, flagged, withdrawals).
fn withdraw_or_flag(
    cfg: &Config,
    ledger: &Ledger,
    id: i64,
    why: &str,
    counts: &mut (u64, u64, u64),
) -> Result<()> {
    if cfg.sync.on_withdraw == "delete" {
        ledger.set_sync(id, Some("withdraw"), Some(why))?;
        counts.2 += 1;
    } else {
        ledger.set_sync(id, Some("flagged"), Some(why))?;
        counts.1 += 1;
    }
    Ok(())
}

/// The index of agent `id` in `agents` (id, label), added when first seen: plan keeps each agent's
/// strings once, however many records refer to it.
fn intern(
    agents: &mut Vec<(String, String)>,
    index: &mut HashMap<String, u32>,
    id: &str,
    label: &str,
) -> u32 {
    if let Some(&i) = index.get(id) {
        return i;
    }
    let i = u32::try_from(agents.len()).unwrap_or(u32::MAX);
    agents.push((id.to_owned(), label.to_owned()));
    index.insert(id.to_owned(), i);
    i
}

/// Plans every staged record.
///
/// # Errors
/// Ledger and Genesys errors (a failed user or conversation lookup stops the plan: nothing is guessed).
pub async fn run(
    cfg: &Config,
    ledger: &mut Ledger,
    client: &GenesysClient,
    opts: &PlanOptions,
) -> Result<PlanSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "plan")?;
    let run_id = ledger.begin_run("plan")?;
    let mut summary = PlanSummary::default();
    for d in Disposition::ALL {
        summary.dispositions.insert(d.as_str().to_owned(), 0);
    }

    let mut users = ledger.directory()?;
    if users.is_empty() || opts.refresh_users {
        users = client
            .list_users("any")
            .await
            .context("cannot read the Genesys user directory (GET /api/v2/users?state=any)")?;
        ledger.replace_directory(&users)?;
    }
    summary.directory_users = users.len();
    let people = match &cfg.users.mapping_file {
        Some(p) if cfg.users.match_keys.iter().any(|k| k == "mapping") => read_people_mapping(p)?,
        _ => HashMap::new(),
    };
    let dir = Directory::new(users, people);
    let mapping = if cfg.link.strategies.iter().any(|s| s == "mapping") {
        match &cfg.link.mapping_file {
            Some(p) => read_mapping(p)?,
            None => HashMap::new(),
        }
    } else {
        HashMap::new()
    };
    let default_owned = cfg
        .users
        .default_evaluator
        .as_deref()
        .map(|k| (k, dir.find_default(k)));
    let default_evaluator = default_owned.as_ref().map(|(k, u)| (*k, u.as_ref()));

    // The newest record of each evaluation id is decided in the ledger (an index answers it);
    // only the superseded ones are held here.
    let superseded = ledger.superseded()?;
    summary.records = ledger.current_record_count()?;

    // Records already sent (or possibly sent) are kept as they are; their evaluation ids are never
    // sent again from another record.
    let sent = ledger.sent_records()?;
    let keep: HashSet<i64> = sent.keys().copied().collect();
    let sent_ids: HashMap<String, String> = sent
        .into_values()
        .filter_map(|(id, loc)| Some((id?, loc)))
        .collect();

    // The form the answers are scored against is the same for every record: build it once.
    let def = form::definition(&cfg.form);
    // Mirror mode: every Calabrio form the source defined, mirrored once.
    let mirrors: Mirrors = if cfg.form.mode == "mirror" {
        let mut m = Mirrors::new();
        for (id, text) in ledger.calabrio_forms()? {
            let built = serde_json::from_str::<calabrio::catalog::FormDef>(&text)
                .map_err(|e| {
                    format!("the stored definition of Calabrio form {id} is unreadable: {e}")
                })
                .and_then(|d| crate::mirror::build(&d));
            if let Err(why) = &built {
                summary.unmirrorable_forms.push(why.clone());
            }
            m.insert(id, built);
        }
        m
    } else {
        Mirrors::new()
    };
    let ctx = Ctx {
        cfg,
        dir: &dir,
        mapping: &mapping,
        default_evaluator,
    };

    // Pass 2: plan each record as it streams by and write its plan. A record that links to a
    // conversation is written with the outcome it gets if the conversation checks pass, and
    // remembered (compactly) for those checks.
    // A conversation id: a UUID (16 bytes) as Genesys ids are, else the text.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum ConvId {
        Uuid(uuid::Uuid),
        Text(Box<str>),
    }
    impl std::fmt::Display for ConvId {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                ConvId::Uuid(u) => write!(f, "{u}"),
                ConvId::Text(t) => f.write_str(t),
            }
        }
    }
    // About 50 bytes each: 750,000 of them at a million records.
    struct Candidate {
        record_id: i64,
        conversation: ConvId,
        /// Index into `strategies`.
        strategy: u16,
        /// Index into `agents` (id, label).
        agent: u32,
        /// The idempotency key of its create.
        key: uuid::Uuid,
        ready: Disposition,
        /// What the conversation check found.
        checked: Checked,
    }
    #[derive(Clone, Copy)]
    enum Checked {
        Missing,
        NotTheAgent,
        Found,
    }
    let bar = opts
        .progress
        .clone()
        .unwrap_or_else(indicatif::ProgressBar::hidden);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar.set_length(summary.records);
    bar.set_position(0);
    bar.set_message("plan: records");
    tracing::info!(
        records = summary.records,
        superseded = superseded.len(),
        "Plan: planning each record."
    );
    // Reserved whole: pages never written are not resident, and growing by doubling would hold
    // the old and the new buffer at once (at 1,000,000 records, 30 MB more at the peak).
    let mut candidates: Vec<Candidate> =
        Vec::with_capacity(usize::try_from(summary.records).unwrap_or(0));
    // Records `match` is to try: written as history now, re-planned if exactly one conversation
    // of their agent started close enough to the contact.
    struct MatchNeed {
        record_id: i64,
        agent: u32,
        at: i64,
        notes: Box<str>,
    }
    let mut needs: Vec<MatchNeed> = Vec::new();
    let mut strategies: Vec<String> = Vec::new();
    let mut agents: Vec<(String, String)> = Vec::new();
    let mut agent_ix: HashMap<String, u32> = HashMap::new();
    ledger.begin_bulk()?;
    let mut written = 0u64;
    let count = |summary: &mut PlanSummary, d: Disposition, delta: i64| {
        let e = summary
            .dispositions
            .entry(d.as_str().to_owned())
            .or_insert(0);
        *e = e.saturating_add_signed(delta);
    };
    let synced = ledger.synced()?;
    let mut sync_counts = (0u64, 0u64, 0u64);
    // The part of planning a record that needs no ledger (parse, people, link, answers, score),
    // done on a second thread one chunk ahead of the writes.
    let prepare = |r: &RecordRow| -> Option<Result<Pending>> {
        if keep.contains(&r.id)
            || superseded.contains_key(&r.id)
            || r.evaluation_id
                .as_ref()
                .is_some_and(|id| sent_ids.contains_key(id))
        {
            return None;
        }
        let text = r.canonical.as_ref()?;
        Some(
            serde_json::from_str::<CanonicalEvaluation>(text)
                .with_context(|| format!("ledger record {} holds unreadable canonical JSON", r.id))
                .map(|ev| {
                    let mut p = plan_one(&ctx, r.id, &r.locator, ev, None);
                    if p.row.disposition.is_none() {
                        prepare_one(cfg, &def, &mirrors, &mut p);
                    }
                    p
                }),
        )
    };
    let outcome = ledger.bulk_checked_once(&["plans", "loads"], || {
        ledger.scan_current_records_prepared(prepare, |r, prepared| {
        if keep.contains(&r.id) {
            // Already in Genesys: a change of its content since is a sync action.
            let Some(s) = synced.get(&r.id) else {
                return Ok(());
            };
            let back = s.synced_hash.as_deref() == Some(r.hash.as_str());
            // Back to what Genesys holds (a change undone, a record that returned): nothing to do,
            // and a pending update must not send the content in between.
            if back && matches!(s.sync_state.as_deref(), Some("flagged" | "withdraw")) {
                ledger.set_sync(r.id, None, Some("back in step with the source"))?;
            }
            if s.synced_hash.is_some()
                && (!back || s.sync_state.as_deref() == Some("update"))
                && !matches!(
                    s.sync_state.as_deref(),
                    Some("edited" | "updating")
                )
            {
                let mut p = match &r.canonical {
                    Some(text) => {
                        let ev: CanonicalEvaluation = serde_json::from_str(text)
                            .with_context(|| format!("ledger record {} holds unreadable canonical JSON", r.id))?;
                        let mut p = plan_one(&ctx, r.id, &r.locator, ev, None);
                        if p.row.disposition.is_none() {
                            // Linked before (by any strategy): it stays on its conversation.
                            if p.candidate.is_none() && p.match_at.is_some() {
                                p.candidate = Some((s.conversation_id.clone(), "kept".into()));
                                p.match_at = None;
                            }
                            if p.candidate.is_some() {
                                prepare_one(cfg, &def, &mirrors, &mut p);
                            }
                        }
                        p
                    }
                    None => decided(r.id, Disposition::Quarantined, format!("{}: now unreadable", r.locator)),
                };
                let same_target = p.row.answers.is_some()
                    && p.row.disposition.is_none_or(|d| d == Disposition::Evaluation)
                    && p.candidate.as_ref().is_some_and(|(c, _)| *c == s.conversation_id)
                    && p.agent.as_ref().is_some_and(|a| a.id == s.agent_user_id);
                if !same_target {
                    let why = format!(
                        "changed in Calabrio and no longer this evaluation: now {} ({})",
                        p.row.disposition.map_or("unlinked", |d| d.as_str()),
                        p.row.reason
                    );
                    withdraw_or_flag(cfg, ledger, r.id, &why, &mut sync_counts)?;
                } else if back {
                    // The change was undone before it was sent: the plan is Genesys' content again.
                    p.row.record_hash = Some(r.hash.clone());
                    p.row.disposition = Some(Disposition::Evaluation);
                    ledger.put_plan(&p.row)?;
                    ledger.set_sync(r.id, None, Some("the change was undone in Calabrio before it was sent"))?;
                } else if cfg.sync.on_change == "update" {
                    p.row.record_hash = Some(r.hash.clone());
                    p.row.disposition = Some(Disposition::Evaluation);
                    ledger.put_plan(&p.row)?;
                    let why = format!(
                        "changed in Calabrio (now {:.2} %): Genesys is to take the new answers",
                        p.row.predicted.unwrap_or_default()
                    );
                    ledger.set_sync(r.id, Some("update"), Some(&why))?;
                    sync_counts.0 += 1;
                } else {
                    let why = format!(
                        "changed in Calabrio (now {:.2} %); left as it is in Genesys ([sync] on_change = \"flag\")",
                        p.row.predicted.unwrap_or_default()
                    );
                    ledger.set_sync(r.id, Some("flagged"), Some(&why))?;
                    sync_counts.1 += 1;
                }
            }
            return Ok(());
        }
        let mut p = if let Some(loc) = r.evaluation_id.as_ref().and_then(|id| sent_ids.get(id)) {
            decided(
                r.id,
                Disposition::Excluded,
                format!(
                    "evaluation {} was already sent to Genesys from {loc}; this other version is not sent again (reconcile it by hand)",
                    r.evaluation_id.as_deref().unwrap_or_default()
                ),
            )
        } else if let Some(p) = prepared {
            p?
        } else if let Some(text) = &r.canonical {
            let ev: CanonicalEvaluation = serde_json::from_str(text).with_context(|| {
                format!("ledger record {} holds unreadable canonical JSON", r.id)
            })?;
            if let Some(&winner) = superseded.get(&r.id) {
                decided(
                    r.id,
                    Disposition::Excluded,
                    format!(
                        "superseded duplicate: evaluation {} appears again at {}{}; the newest is kept",
                        ev.evaluation_id,
                        ledger.locator_of(winner)?,
                        if ledger.hash_of(winner)? == r.hash {
                            " (identical content)"
                        } else {
                            ""
                        }
                    ),
                )
            } else {
                let mut p = plan_one(
                    &ctx,
                    r.id,
                    &r.locator,
                    ev,
                    None,
                );
                if p.row.disposition.is_none() {
                    prepare_one(cfg, &def, &mirrors, &mut p);
                }
                p
            }
        } else {
            let what = match (&r.error_field, &r.error) {
                (Some(f), Some(e)) => format!("field '{f}': {e}"),
                (None, Some(e)) => e.clone(),
                _ => "unreadable".into(),
            };
            decided(
                r.id,
                Disposition::Quarantined,
                format!("{}: {what}", r.locator),
            )
        };
        let d = p.row.disposition.unwrap_or(Disposition::Quarantined);
        count(&mut summary, d, 1);
        p.row.record_hash = Some(r.hash.clone());
        ledger.put_plan(&p.row)?;
        if let (Some(at), Some(agent)) = (p.match_at, p.agent.as_ref()) {
            let agent = intern(&mut agents, &mut agent_ix, &agent.id, &p.agent_label);
            needs.push(MatchNeed {
                record_id: r.id,
                agent,
                at,
                notes: p.row.link_detail.clone().unwrap_or_default().into(),
            });
        }
        match (p.candidate, p.agent) {
            (Some((conversation_id, strategy)), Some(agent)) => {
                let strategy = match strategies.iter().position(|x| *x == strategy) {
                    Some(i) => i,
                    None => {
                        strategies.push(strategy);
                        strategies.len() - 1
                    }
                };
                let agent = intern(&mut agents, &mut agent_ix, &agent.id, &p.agent_label);
                candidates.push(Candidate {
                    record_id: r.id,
                    conversation: match uuid::Uuid::try_parse(&conversation_id) {
                        Ok(u) if u.to_string() == conversation_id => ConvId::Uuid(u),
                        _ => ConvId::Text(conversation_id.into()),
                    },
                    strategy: u16::try_from(strategy).unwrap_or(u16::MAX),
                    agent,
                    key: create_key(cfg, &p.evaluation_id),
                    ready: d,
                    checked: Checked::Missing,
                });
            }
            _ => ledger.disarm_load(r.id)?,
        }
        written += 1;
        bar.inc(1);
        if written.is_multiple_of(5000) {
            ledger.commit_bulk_step()?;
        }
        Ok(())
    })
    });
    if let Err(e) = outcome {
        ledger.abandon_bulk();
        return Err(e);
    }

    // `match`: one analytics query per agent and UTC day (plus pages), however many of that
    // agent's evaluations fall on the day.
    summary.match_tried = needs.len() as u64;
    let tol_ms = i64::try_from(cfg.link.match_tolerance_s)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000);
    let day_of = |ms: i64| ms.div_euclid(86_400_000);
    needs.sort_by_key(|n| (n.agent, day_of(n.at), n.at));
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut i = 0;
    while i < needs.len() {
        let (agent, day) = (needs[i].agent, day_of(needs[i].at));
        let mut j = i;
        while j < needs.len() && needs[j].agent == agent && day_of(needs[j].at) == day {
            j += 1;
        }
        let (agent_id, agent_label) = agents[agent as usize].clone();
        let interval = format!(
            "{}/{}",
            ts(needs[i].at - tol_ms),
            ts(needs[j - 1].at + tol_ms)
        );
        let found: Vec<AnalyticsConversation> = match ledger.match_cache(&agent_id, &interval)? {
            Some(json) => {
                summary.match_cache_hits += 1;
                serde_json::from_str(&json)?
            }
            None => {
                let before = client.requests_sent();
                let found = match client.conversations_of_user(&agent_id, &interval).await {
                    Ok(f) => f,
                    Err(e) => {
                        ledger.abandon_bulk();
                        return Err(anyhow::Error::new(e).context(
                            "cannot query conversations (POST /api/v2/analytics/conversations/details/query)",
                        ));
                    }
                };
                summary.analytics_requests += client.requests_sent().saturating_sub(before);
                ledger.put_match_cache(&agent_id, &interval, &serde_json::to_string(&found)?)?;
                found
            }
        };
        let starts: Vec<(&str, i64)> = found
            .iter()
            .filter(|c| c.has_agent(&agent_id))
            .filter_map(|c| {
                let t = c
                    .conversation_start
                    .as_deref()?
                    .parse::<jiff::Timestamp>()
                    .ok()?;
                Some((c.conversation_id.as_str(), t.as_millisecond()))
            })
            .collect();
        for n in &needs[i..j] {
            let mut near: Vec<(&str, i64)> = starts
                .iter()
                .map(|(id, t)| (*id, t - n.at))
                .filter(|(_, d)| d.abs() <= tol_ms)
                .collect();
            near.sort_by_key(|(_, d)| d.abs());
            let secs = |d: i64| format!("{:+} s", d / 1000);
            let list = |v: &[(&str, i64)]| {
                v.iter()
                    .map(|(id, d)| format!("{id} ({})", secs(*d)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let prior = if n.notes.is_empty() {
                String::new()
            } else {
                format!("{}; ", n.notes)
            };
            match near.as_slice() {
                [(cid, delta)] => {
                    let Some(text) = ledger.canonical_of(n.record_id)? else {
                        continue;
                    };
                    let ev: CanonicalEvaluation = serde_json::from_str(&text)?;
                    let locator = ledger.locator_of(n.record_id)?;
                    let mut p = plan_one(
                        &ctx,
                        n.record_id,
                        &locator,
                        ev,
                        Some((
                            (*cid).to_owned(),
                            format!("match ({} from the contact start)", secs(*delta)),
                        )),
                    );
                    if p.row.disposition.is_none() {
                        prepare_one(cfg, &def, &mirrors, &mut p);
                    }
                    let d = p.row.disposition.unwrap_or(Disposition::Quarantined);
                    count(&mut summary, Disposition::History, -1);
                    count(&mut summary, d, 1);
                    ledger.put_plan(&p.row)?;
                    if d == Disposition::Evaluation {
                        summary.match_linked += 1;
                        let key = create_key(cfg, &p.evaluation_id);
                        ledger.arm_load(n.record_id, &key.to_string(), cid, &agent_id)?;
                    }
                }
                [] => {
                    let nearest = starts
                        .iter()
                        .map(|(id, t)| (*id, t - n.at))
                        .min_by_key(|(_, d)| d.abs())
                        .map(|(id, d)| format!("; the nearest, {id}, started {} from it", secs(d)))
                        .unwrap_or_default();
                    let detail = format!(
                        "{prior}match: no conversation of agent {agent_label} started within ±{} s of the contact start {}{nearest}",
                        cfg.link.match_tolerance_s,
                        ts(n.at)
                    );
                    let reason = format!(
                        "no Genesys conversation to attach it to ({detail}); kept in the history"
                    );
                    ledger.set_link_outcome(n.record_id, &reason, &detail)?;
                }
                many => {
                    let detail = format!(
                        "{prior}match: {} conversations of agent {agent_label} started within ±{} s of the contact start {}: {}",
                        many.len(),
                        cfg.link.match_tolerance_s,
                        ts(n.at),
                        list(many)
                    );
                    let reason =
                        format!("not linked, never guessed ({detail}); kept in the history");
                    ledger.set_link_outcome(n.record_id, &reason, &detail)?;
                }
            }
        }
        i = j;
    }
    drop(needs);

    // Check the candidate conversations, 100 at a time, and settle each candidate as its batch
    // comes back (nothing holds every conversation at once).
    candidates.sort_by(|a, b| a.conversation.cmp(&b.conversation));
    tracing::info!(
        candidates = candidates.len(),
        "Plan: checking the candidates' conversations in Genesys."
    );
    bar.set_length(candidates.len() as u64);
    bar.set_position(0);
    bar.set_message("plan: conversations checked for records");
    // Batches of up to 100 distinct conversations (candidates are sorted by conversation).
    let mut batches: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < candidates.len() {
        let (mut j, mut distinct) = (i, 0);
        while j < candidates.len() {
            if j == i || candidates[j].conversation != candidates[j - 1].conversation {
                if distinct == 100 {
                    break;
                }
                distinct += 1;
            }
            j += 1;
        }
        summary.conversations_checked += distinct;
        batches.push((i, j));
        i = j;
    }
    // Several batches in flight (`[genesys] concurrency`), their answers taken in order.
    let mut checked = vec![Checked::Missing; candidates.len()];
    {
        use futures_util::StreamExt as _;
        let candidates = &candidates;
        let mut answers = futures_util::stream::iter(batches.iter().copied())
            .map(|(i, j)| {
                let mut ids: Vec<String> = candidates[i..j]
                    .iter()
                    .map(|c| c.conversation.to_string())
                    .collect();
                ids.dedup();
                async move { (i, j, client.conversation_details(&ids).await) }
            })
            .buffered(cfg.genesys.concurrency.max(1));
        while let Some((i, j, found)) = answers.next().await {
            let found = match found {
                Ok(f) => f,
                Err(e) => {
                    ledger.abandon_bulk();
                    return Err(anyhow::Error::new(e).context(
                        "cannot check conversations (GET /api/v2/analytics/conversations/details)",
                    ));
                }
            };
            let conversations: HashMap<&str, &AnalyticsConversation> = found
                .iter()
                .map(|c| (c.conversation_id.as_str(), c))
                .collect();
            for (k, c) in candidates[i..j].iter().enumerate() {
                let cid = c.conversation.to_string();
                let (agent_id, _) = &agents[c.agent as usize];
                checked[i + k] = match conversations.get(cid.as_str()) {
                    None => Checked::Missing,
                    Some(conv) if !conv.has_agent(agent_id) => Checked::NotTheAgent,
                    Some(_) => Checked::Found,
                };
            }
            bar.inc((j - i) as u64);
        }
    }
    for (c, k) in candidates.iter_mut().zip(checked) {
        c.checked = k;
    }
    // Settle the candidates in record order: the ledger's pages are then read and written in
    // sequence (in conversation order each write landed on a random page of a ledger far larger
    // than SQLite's cache: at 200,000 records this took 6 s instead of 1 s).
    candidates.sort_unstable_by_key(|c| c.record_id);
    let settled = ledger.bulk_checked_once(&["loads"], || {
        for c in &candidates {
            let cid = &c.conversation.to_string();
            let (agent_id, agent_label) = &agents[c.agent as usize];
            let strategy = &strategies[usize::from(c.strategy)];
            let history = match c.checked {
                Checked::Missing => Some(format!(
                    "conversation {cid} (from {strategy}) does not exist in Genesys (never a Genesys interaction, or removed by retention); kept in the history"
                )),
                Checked::NotTheAgent => Some(format!(
                    "agent {agent_label} ({agent_id}) did not take part in conversation {cid} as an agent, so Genesys cannot hold this evaluation; kept in the history"
                )),
                Checked::Found => None,
            };
            match history {
                Some(reason) => {
                    count(&mut summary, c.ready, -1);
                    count(&mut summary, Disposition::History, 1);
                    ledger.demote_to_history(c.record_id, &reason)?;
                    ledger.disarm_load(c.record_id)?;
                }
                None if c.ready == Disposition::Evaluation => {
                    ledger.arm_load(c.record_id, &c.key.to_string(), cid, agent_id)?;
                }
                None => ledger.disarm_load(c.record_id)?,
            }
        }
        Ok(())
    });
    if let Err(e) = settled {
        ledger.abandon_bulk();
        return Err(e);
    }
    ledger.commit_bulk()?;
    bar.finish_and_clear();
    // Evaluations in Genesys whose record left the source.
    for (id, locator) in ledger.withdrawn_in_source()? {
        let state = synced.get(&id).and_then(|s| s.sync_state.clone());
        // Flagged under `on_withdraw = "flag"` stays flagged; a switch to `delete` takes it.
        if matches!(state.as_deref(), Some("withdraw" | "edited" | "updating"))
            || (state.as_deref() == Some("flagged") && cfg.sync.on_withdraw == "flag")
        {
            continue;
        }
        let why = format!("gone from the source (last seen at {locator})");
        withdraw_or_flag(cfg, ledger, id, &why, &mut sync_counts)?;
    }
    (
        summary.sync_updates,
        summary.sync_flagged,
        summary.sync_withdrawals,
    ) = sync_counts;
    for id in &keep {
        let d = ledger
            .plan(*id)?
            .and_then(|p| p.disposition)
            .unwrap_or(Disposition::Evaluation);
        *summary
            .dispositions
            .entry(d.as_str().to_owned())
            .or_insert(0) += 1;
    }
    summary.kept_loaded = keep.len() as u64;
    if cfg.form.mode == "mirror" {
        let (mirrored, fallbacks) = mirror_counts(ledger)?;
        summary.mirrored = Some(mirrored);
        summary.mirror_fallbacks = Some(fallbacks);
    }
    ledger.finish_run(run_id, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// Mirror mode: evaluations planned on a mirrored form, and the others by fallback reason (numbers
/// replaced by `#`, so alike reasons count together).
fn mirror_counts(ledger: &Ledger) -> Result<(u64, BTreeMap<String, u64>)> {
    let run = ledger.latest_extract()?.unwrap_or(-1);
    let mut mirrored = 0;
    let mut fallbacks: BTreeMap<String, u64> = BTreeMap::new();
    for (form, reason) in ledger.evaluation_forms(run)? {
        if form.is_some() {
            mirrored += 1;
            continue;
        }
        let text = reason
            .split("container form, not mirrored: ")
            .nth(1)
            .unwrap_or("unknown")
            .split("; ")
            .next()
            .unwrap_or("");
        // Numbers become `#`, so alike reasons count together.
        let mut why = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() || (c == '.' && why.ends_with('#')) {
                if !why.ends_with('#') {
                    why.push('#');
                }
            } else {
                why.push(c);
            }
        }
        *fallbacks.entry(why).or_insert(0) += 1;
    }
    Ok((mirrored, fallbacks))
}
