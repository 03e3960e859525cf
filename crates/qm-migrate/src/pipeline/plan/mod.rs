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
//!
//! Each record is decided once and written once. `pass` streams the records in source order (a
//! second thread decides the next chunk: `decide` for the disposition, `encode` for the answers);
//! a record linked to a conversation waits in `link`, unwritten, until Genesys answers its check,
//! and a record for `match` until its agent's day is queried; `resync` handles records already
//! in Genesys. `planner` holds what a decision consults and `writer` writes each row once; the pass
//! uses `link` and `resync`, and they use only the planner and the writer, never the pass. This
//! file reads the inputs (directory, mapping files, mirrored forms, what was sent) and sums up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

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
mod link;
mod mapping;
mod match_scope;
mod pass;
mod people;
mod planner;
mod resync;
mod writer;

use self::link::Links;
use self::pass::Pass;
use self::planner::Planner;
use self::writer::{SyncCounts, Writer};
use self::{decide::*, encode::*, mapping::*, people::*};
pub use exceptions::write_exceptions;
pub use match_scope::MatchEstimate;

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
    /// Say on stderr what `match` will spend before it starts (the commands; not the tests).
    pub announce: bool,
}

/// What `plan` decided.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    /// Records accounted for: those of the latest extract, and those that left the source whose
    /// evaluation is still in Genesys (`records_left_source`, under the disposition they had).
    pub records: u64,
    /// Of `records`, those no longer in the source whose evaluation is still in Genesys.
    pub records_left_source: u64,
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
    /// What `match` was about to spend, stated before its first request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_estimate: Option<MatchEstimate>,
    /// The org's first conversation `match` found (none looked for when `[link] match_from` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_first_conversation: Option<String>,
    /// Requests spent finding it.
    pub match_scope_requests: u64,
    /// Records left to the history because `[link] match_budget` was spent.
    pub match_over_budget: u64,
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
    // Records of an extract that did not finish look as if the rest had left the source: their
    // evaluations would be withdrawn. Plan only on a finished extract.
    if let Some(unfinished) = ledger.unfinished_extract()? {
        bail!(
            "the last extract (run {unfinished}) did not finish: run `qm-migrate extract` again to complete it before planning (the records it did not read yet would look deleted from Calabrio)"
        );
    }
    if cfg.source.kind == "calabrio-api"
        && let Some(source) = ledger.api_pass_open()?
    {
        bail!(
            "the extract from {source} has not read every contact day of its pass yet (a day did not add up, or the extract stopped): run `qm-migrate extract` again before planning (the records of the days not read yet would look deleted from Calabrio)"
        );
    }
    let run_id = ledger.begin_run("plan")?;
    let mut summary = PlanSummary::default();

    let mut users = ledger.directory()?;
    if users.is_empty() || opts.refresh_users {
        users = client
            .list_users("any")
            .await
            .context("cannot read the Genesys user directory (GET /api/v2/users?state=any)")?;
        ledger.replace_directory(&users)?;
    }
    summary.directory_users = users.len();
    let planner = Arc::new(planner(cfg, ledger, users, &mut summary)?);
    let ledger: &Ledger = ledger;
    summary.records_left_source = ledger.left_source_count()?;
    summary.records = ledger.current_record_count()? + summary.records_left_source;

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
        superseded = planner.superseded.len(),
        "Plan: planning each record."
    );
    let mut pass = Pass {
        planner: Arc::clone(&planner),
        writer: Writer::new(ledger),
        links: Links::new(client, cfg.genesys.concurrency),
        synced: ledger.synced()?,
        sync_counts: SyncCounts::default(),
        bar: bar.clone(),
    };
    pass.links.announce = opts.announce;
    ledger.begin_bulk()?;
    // A stop (Ctrl-C) while plan asks Genesys abandons the plan as a whole: nothing of it is
    // written, and a re-run plans again.
    let passed = crate::interrupt::or_stop("plan", "plan", async {
        pass.run().await?;
        tracing::info!(
            records = pass.links.deferred(),
            "Plan: `match` is querying the agents' conversations."
        );
        pass.links
            .run_matches(&planner, &mut pass.writer, &mut summary)
            .await
    })
    .await;
    match passed {
        Ok(()) => ledger.commit_bulk(&["plans", "loads"])?,
        Err(e) => {
            ledger.abandon_bulk();
            return Err(e);
        }
    }
    bar.finish_and_clear();
    summary.conversations_checked = pass.links.checked;
    summary.dispositions = std::mem::take(&mut pass.writer.dispositions);
    let Pass {
        synced,
        mut sync_counts,
        ..
    } = pass;

    // Evaluations in Genesys whose record left the source.
    for (id, locator) in ledger.withdrawn_in_source()? {
        let state = synced.get(&id).and_then(|s| s.sync_state.clone());
        let window_closed = synced
            .get(&id)
            .is_some_and(|s| s.edit_window_closed.is_some());
        // Flagged under `on_withdraw = "flag"` stays flagged; a switch to `delete` takes it. Past
        // Genesys' edit window it stays listed: it cannot be deleted.
        if matches!(state.as_deref(), Some("withdraw" | "edited" | "updating"))
            || (state.as_deref() == Some("flagged")
                && (cfg.sync.on_withdraw == "flag" || window_closed))
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
    for id in &planner.keep {
        let d = ledger
            .plan(*id)?
            .and_then(|p| p.disposition)
            .unwrap_or(Disposition::Evaluation);
        *summary
            .dispositions
            .entry(d.as_str().to_owned())
            .or_insert(0) += 1;
    }
    summary.kept_loaded = planner.keep.len() as u64;
    if cfg.form.mode == "mirror" {
        let (mirrored, fallbacks) = mirror_counts(ledger)?;
        summary.mirrored = Some(mirrored);
        summary.mirror_fallbacks = Some(fallbacks);
    }
    ledger.finish_run(run_id, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// What planning consults: the directory, the mapping files, the default evaluator, the form,
/// the mirrored forms, and what the ledger says was sent or superseded.
fn planner(
    cfg: &Config,
    ledger: &Ledger,
    users: Vec<User>,
    summary: &mut PlanSummary,
) -> Result<Planner> {
    let people = match &cfg.users.mapping_file {
        Some(p) if cfg.users.match_keys.iter().any(|k| k == "mapping") => read_people_mapping(p)?,
        _ => HashMap::new(),
    };
    let dir = Directory::new(users, people);
    let mapping = match &cfg.link.mapping_file {
        Some(p) if cfg.link.strategies.iter().any(|s| s == "mapping") => read_mapping(p)?,
        _ => HashMap::new(),
    };
    let default_evaluator = cfg
        .users
        .default_evaluator
        .as_deref()
        .map(|k| (k.to_owned(), dir.find_default(k)));
    // Records already sent (or possibly sent) are kept as they are; their evaluation ids are never
    // sent again from another record.
    let sent = ledger.sent_records()?;
    let keep: HashSet<i64> = sent.keys().copied().collect();
    let sent_ids: HashMap<String, String> = sent
        .into_values()
        .filter_map(|(id, loc)| Some((id?, loc)))
        .collect();
    // Mirror mode: every Calabrio form the source defined, mirrored once.
    let mut mirrors = Mirrors::new();
    if cfg.form.mode == "mirror" {
        for (id, text) in ledger.calabrio_forms()? {
            let built = serde_json::from_str::<calabrio::catalog::FormDef>(&text)
                .map_err(|e| {
                    format!("the stored definition of Calabrio form {id} is unreadable: {e}")
                })
                .and_then(|d| crate::mirror::build(&d));
            if let Err(why) = &built {
                summary.unmirrorable_forms.push(why.clone());
            }
            mirrors.insert(id, built);
        }
    }
    Ok(Planner {
        ctx: Ctx {
            cfg: cfg.clone(),
            dir,
            mapping,
            default_evaluator,
        },
        def: form::definition(&cfg.form),
        mirrors,
        keep,
        // The newest record of each evaluation id is decided in the ledger (an index answers
        // it); only the superseded ones are held here.
        superseded: ledger.superseded()?,
        sent_ids,
    })
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
