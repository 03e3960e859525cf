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

/// One person resolved against the directory.
#[derive(Debug, Clone)]
enum Resolved {
    Found { user: User, how: String },
    Ambiguous { how: String, ids: Vec<String> },
    NotFound { tried: String },
}

/// The directory snapshot with its lookups. Each user is held once; the lookups hold positions (a
/// 40,000-user org held six copies of every user before, most of plan's memory at 1M records).
struct Directory {
    users: Vec<User>,
    by_id: HashMap<String, u32>,
    by_email: HashMap<String, Vec<u32>>,
    by_username: HashMap<String, Vec<u32>>,
    /// The login part of user names and e-mail addresses (before `@`), for `DOMAIN\user` logins.
    by_login: HashMap<String, Vec<u32>>,
    by_employee_id: HashMap<String, Vec<u32>>,
    /// `[users] mapping_file`: any Calabrio identifier (lower case) → Genesys user id or e-mail.
    mapping: HashMap<String, Vec<String>>,
}

/// The user part of a Windows login, lower case: `CORP\JDoe` and `jdoe` are both `jdoe`.
fn login_part(v: &str) -> String {
    v.rsplit('\\').next().unwrap_or(v).trim().to_lowercase()
}

impl Directory {
    /// Takes the directory whole: a copy held every user twice for the whole plan (at 1,000,000
    /// records and 40,000 users, peak RSS 239 MB with the copy, about 225 MB without).
    fn new(users: Vec<User>, mapping: HashMap<String, Vec<String>>) -> Self {
        let mut by_id = HashMap::new();
        let mut by_email = HashMap::new();
        let mut by_username = HashMap::new();
        let mut by_login = HashMap::new();
        let mut by_employee_id = HashMap::new();
        // A user listed twice (the same id) counts once under each key.
        let add = |m: &mut HashMap<String, Vec<u32>>, k: String, i: u32| {
            let list = m.entry(k).or_default();
            if !list
                .iter()
                .any(|&j| users[j as usize].id == users[i as usize].id)
            {
                list.push(i);
            }
        };
        for (i, u) in users.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            by_id.insert(u.id.clone(), i);
            if let Some(e) = &u.email {
                add(&mut by_email, e.trim().to_lowercase(), i);
                if let Some((local, _)) = e.split_once('@') {
                    add(&mut by_login, local.trim().to_lowercase(), i);
                }
            }
            if let Some(n) = &u.username {
                add(&mut by_username, n.trim().to_lowercase(), i);
                let local = n.split_once('@').map_or(n.as_str(), |(l, _)| l);
                add(&mut by_login, local.trim().to_lowercase(), i);
            }
            if let Some(e) = u
                .employer_info
                .as_ref()
                .and_then(|i| i.employee_id.as_ref())
            {
                add(&mut by_employee_id, e.trim().to_lowercase(), i);
            }
        }
        Directory {
            users,
            by_id,
            by_email,
            by_username,
            by_login,
            by_employee_id,
            mapping,
        }
    }

    /// The users a lookup lists under `key`.
    fn listed(&self, lookup: &HashMap<String, Vec<u32>>, key: &str) -> Vec<User> {
        lookup
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| self.users[i as usize].clone())
            .collect()
    }

    /// Users a `mapping` target names (a Genesys user id, else an e-mail or user name).
    fn mapped(&self, target: &str) -> Vec<User> {
        let t = target.trim();
        if let Some(&i) = self.by_id.get(t) {
            return vec![self.users[i as usize].clone()];
        }
        let k = t.to_lowercase();
        let mut out: Vec<User> = self.listed(&self.by_email, &k);
        out.extend(self.listed(&self.by_username, &k));
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    fn resolve(&self, p: &Person, keys: &[String]) -> Resolved {
        let mut tried = Vec::new();
        for key in keys {
            let values: Vec<&str> = match key.as_str() {
                "email" => vec![
                    p.email.as_deref(),
                    p.key.as_deref().filter(|k| k.contains('@')),
                ],
                "username" => vec![p.username.as_deref(), p.key.as_deref()],
                "windows_login" => vec![
                    p.windows_login.as_deref(),
                    p.key.as_deref().filter(|k| k.contains('\\')),
                ],
                "employee_id" => vec![p.employee_id.as_deref()],
                _ => vec![
                    p.calabrio_person_id.as_deref(),
                    p.email.as_deref(),
                    p.username.as_deref(),
                    p.windows_login.as_deref(),
                    p.employee_id.as_deref(),
                    p.key.as_deref(),
                ],
            }
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .fold(Vec::new(), |mut acc, v| {
                if !acc.iter().any(|x: &&str| x.eq_ignore_ascii_case(v)) {
                    acc.push(v);
                }
                acc
            });
            for v in values {
                tried.push(format!("{key}={v}"));
                let users: Vec<User> = match key.as_str() {
                    "email" => self.listed(&self.by_email, &v.to_lowercase()),
                    "username" => self.listed(&self.by_username, &v.to_lowercase()),
                    "windows_login" => self.listed(&self.by_login, &login_part(v)),
                    "employee_id" => self.listed(&self.by_employee_id, &v.to_lowercase()),
                    _ => {
                        let targets = self.mapping.get(&v.to_lowercase());
                        let mut all: Vec<User> = targets
                            .into_iter()
                            .flatten()
                            .flat_map(|t| self.mapped(t))
                            .collect();
                        all.sort_by(|a, b| a.id.cmp(&b.id));
                        all.dedup_by(|a, b| a.id == b.id);
                        if all.is_empty()
                            && let Some(t) = targets
                        {
                            return Resolved::NotFound {
                                tried: format!(
                                    "{}; the mapping file maps {key}={v} to {} which is not in the Genesys directory",
                                    tried.join(", "),
                                    t.join(", ")
                                ),
                            };
                        }
                        all
                    }
                };
                let how = if key == "mapping" {
                    format!("mapping file: {v}")
                } else {
                    format!("{key}={v}")
                };
                match users.as_slice() {
                    [] => continue,
                    [one] => {
                        return Resolved::Found {
                            user: one.clone(),
                            how,
                        };
                    }
                    many => {
                        let mut ids: Vec<String> = many.iter().map(|u| u.id.clone()).collect();
                        ids.sort();
                        return Resolved::Ambiguous { how, ids };
                    }
                }
            }
        }
        if tried.is_empty() {
            tried.push(format!("no {} in the export", keys.join(" or ")));
        }
        Resolved::NotFound {
            tried: tried.join(", "),
        }
    }

    fn find_default(&self, key: &str) -> Option<User> {
        let k = key.trim().to_lowercase();
        let mut all: Vec<&User> = self
            .by_email
            .get(&k)
            .into_iter()
            .flatten()
            .chain(self.by_username.get(&k).into_iter().flatten())
            .map(|&i| &self.users[i as usize])
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all.dedup_by(|a, b| a.id == b.id);
        match all.as_slice() {
            [one] if one.state.as_deref() == Some("active") => Some((*one).clone()),
            _ => None,
        }
    }
}

/// `[users] mapping_file`: Calabrio identifier (lower case) → Genesys user ids or e-mails, with
/// conflicting rows kept (they make the person ambiguous, never a guess).
fn read_people_mapping(path: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    read_pairs(
        path,
        "people mapping file",
        (
            &[
                "calabrio",
                "calabriopersonid",
                "personid",
                "calabriokey",
                "source",
            ],
            "calabrio column (calabrio, calabrio_person_id, person_id)",
        ),
        (
            &[
                "genesys",
                "genesysuserid",
                "userid",
                "genesysemail",
                "target",
            ],
            "genesys column (genesys, genesys_user_id, user_id)",
        ),
        true,
    )
}

/// `contact_id → conversation_id` from the recording migration, with conflicts kept.
fn read_mapping(path: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    read_pairs(
        path,
        "mapping file",
        (
            &["contactid", "recordingid", "ccrid", "recordid"],
            "contact_id column (contact_id, recording_id, ccrId)",
        ),
        (
            &["conversationid", "genesysconversationid"],
            "conversation_id column",
        ),
        false,
    )
}

/// A two-column mapping CSV (header aliases matched case-, space- and punctuation-insensitively):
/// key → every distinct value, conflicts kept. `lower_keys` folds keys to lower case.
fn read_pairs(
    path: &std::path::Path,
    what: &str,
    (from_names, from_what): (&[&str], &str),
    (to_names, to_what): (&[&str], &str),
    lower_keys: bool,
) -> Result<HashMap<String, Vec<String>>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let fold = |s: &str| -> String {
        s.trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&fold(h).as_str()))
    };
    let from = find(from_names).with_context(|| format!("{}: no {from_what}", path.display()))?;
    let to = find(to_names).with_context(|| format!("{}: no {to_what}", path.display()))?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (i, row) in rdr.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let (Some(c), Some(v)) = (row.get(from), row.get(to)) else {
            bail!("{}:{}: row has too few fields", path.display(), i + 2);
        };
        let (c, v) = (c.trim(), v.trim());
        if c.is_empty() || v.is_empty() {
            continue;
        }
        let key = if lower_keys {
            c.to_lowercase()
        } else {
            c.to_owned()
        };
        let entry = map.entry(key).or_default();
        if !entry.iter().any(|x| x.eq_ignore_ascii_case(v)) {
            entry.push(v.to_owned());
        }
    }
    Ok(map)
}

struct Pending {
    row: PlanRow,
    locator: String,
    ev: Option<CanonicalEvaluation>,
    candidate: Option<(String, String)>,
    agent: Option<User>,
    agent_label: String,
    evaluation_id: String,
    /// `match` is to be tried: the contact start (epoch ms).
    match_at: Option<i64>,
    evaluator_note: String,
    evaluator_label: String,
    method: Option<ScoringMethod>,
    notes: Vec<String>,
}

fn decided(record_id: i64, d: Disposition, reason: String) -> Pending {
    Pending {
        row: PlanRow {
            record_id,
            disposition: Some(d),
            reason,
            ..PlanRow::default()
        },
        locator: String::new(),
        ev: None,
        candidate: None,
        agent: None,
        agent_label: String::new(),
        evaluation_id: String::new(),
        match_at: None,
        evaluator_note: String::new(),
        evaluator_label: String::new(),
        method: None,
        notes: Vec::new(),
    }
}

/// A record decided `history` in `row` (its reason set), kept with its evaluation for the channel.
fn to_history(
    mut row: PlanRow,
    locator: &str,
    ev: CanonicalEvaluation,
    method: ScoringMethod,
) -> Pending {
    row.disposition = Some(Disposition::History);
    Pending {
        row,
        locator: locator.to_owned(),
        ev: Some(ev),
        method: Some(method),
        ..decided(0, Disposition::History, String::new())
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

fn ts_human(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn looks_like_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
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
                    key: qm_model::idempotency_key(
                        &cfg.source.system,
                        &p.evaluation_id,
                        &cfg.form.name,
                    ),
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
                        let key = qm_model::idempotency_key(
                            &cfg.source.system,
                            &p.evaluation_id,
                            &cfg.form.name,
                        );
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

/// What planning one record consults: the configuration, the directory, the recording map and the
/// default evaluator.
struct Ctx<'a> {
    cfg: &'a Config,
    dir: &'a Directory,
    mapping: &'a HashMap<String, Vec<String>>,
    default_evaluator: Option<(&'a str, Option<&'a User>)>,
}

fn plan_one(
    ctx: &Ctx<'_>,
    record_id: i64,
    locator: &str,
    ev: CanonicalEvaluation,
    forced: Option<(String, String)>,
) -> Pending {
    let Ctx {
        cfg,
        dir,
        mapping,
        default_evaluator,
    } = *ctx;
    let q = |reason: String| decided(record_id, Disposition::Quarantined, reason);
    if ev.kind == Kind::Calibration {
        return decided(
            record_id,
            Disposition::Excluded,
            "calibration (isScoreCounted=false): never counts toward the agent's scores".into(),
        );
    }
    if !["scored", "approved"].contains(&ev.state.as_str()) {
        return decided(
            record_id,
            Disposition::Excluded,
            format!(
                "state '{}' is not a completed (scored) evaluation",
                ev.state_raw.as_deref().unwrap_or(&ev.state)
            ),
        );
    }
    // Text that cannot travel: control characters (a sign of a damaged export) and comments
    // longer than Genesys is known to keep.
    for (what, text) in ev
        .comments
        .iter()
        .map(|c| ("comment", c.text.as_str()))
        .chain(ev.agent.display_name.as_deref().map(|t| ("agent name", t)))
        .chain(
            ev.evaluator
                .as_ref()
                .and_then(|p| p.display_name.as_deref())
                .map(|t| ("evaluator name", t)),
        )
    {
        if let Some((i, c)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return q(format!(
                "{locator}: {what} holds control character U+{:04X} at character {}",
                u32::from(c),
                i + 1
            ));
        }
        let len = text.chars().count();
        if len > cfg.form.max_comment_chars {
            return q(format!(
                "{locator}: {what} of {len} characters exceeds [form] max_comment_chars ({})",
                cfg.form.max_comment_chars
            ));
        }
    }
    let mut notes = Vec::new();
    let form_key = ev.form.key();
    let method = match cfg.method_for(&form_key) {
        Ok(m) => m,
        Err(e) => {
            return q(format!(
                "{locator}: scoring method of form '{form_key}': {e:#}"
            ));
        }
    };
    let Some(total) = ev.score.total else {
        return q(format!("{locator}: no total score"));
    };
    let applicable = ev
        .score
        .applicable_points
        .or(ev.score.max_points)
        .or(ev.form.total_points);
    let normalised = match normalise_with(total, method, applicable) {
        Ok(n) => n,
        Err(e) => return q(format!("{locator}: total_score of form '{form_key}': {e}")),
    };

    let (date, basis) = match (
        ev.dates.evaluated_at_utc,
        ev.dates.created_at_utc,
        ev.contact.start_time_utc,
    ) {
        (Some(d), _, _) => (d, "evaluated"),
        (None, Some(d), _) => {
            notes.push("evaluation date missing: the created date is used".to_owned());
            (d, "created")
        }
        (None, None, Some(d)) => {
            notes
                .push("evaluation and created dates missing: the contact start is used".to_owned());
            (d, "contact_start")
        }
        _ => {
            return q(format!(
                "{locator}: no date: evaluated_at, created_at and the contact start are all empty"
            ));
        }
    };

    if date > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24) {
        return q(format!(
            "{locator}: the {basis} date {date} is in the future"
        ));
    }

    let mut row = PlanRow {
        record_id,
        evaluated_at: Some(date.to_string()),
        date_basis: Some(basis.into()),
        score: Some(normalised.percent),
        method: Some(normalised.method.clone()),
        ..PlanRow::default()
    };

    // Agent.
    let agent = match dir.resolve(&ev.agent, &cfg.users.match_keys) {
        Resolved::Found { user, how } => {
            let st = user.state.as_deref().unwrap_or("active");
            row.agent_match = Some(how.clone());
            if st != "active" && cfg.users.inactive_policy == "history" {
                row.disposition = Some(Disposition::History);
                row.reason = format!(
                    "agent {} ({how}) has a Genesys account ({}) that is {st}: whether Genesys accepts evaluations for it is unverified, so it stays in the history ([users] inactive_policy = \"history\")",
                    ev.agent.label(),
                    user.id
                );
                row.agent_user_id = Some(user.id.clone());
                return to_history(row, locator, ev, method);
            }
            notes.push(format!("agent matched by {how}"));
            row.agent_match = Some(how);
            user
        }
        Resolved::Ambiguous { how, ids } => {
            let mut p = q(format!(
                "{locator}: agent {} ({how}) matches {} Genesys users ({}); never guessed",
                ev.agent.label(),
                ids.len(),
                ids.join(", ")
            ));
            p.row.agent_match = Some(format!("ambiguous: {how} matches {}", ids.join(", ")));
            return p;
        }
        Resolved::NotFound { tried } => {
            row.agent_match = Some(format!("none (tried {tried})"));
            row.disposition = Some(Disposition::History);
            row.reason = format!(
                "agent {} has no Genesys account (tried {tried}); kept in the history",
                ev.agent.label()
            );
            return to_history(row, locator, ev, method);
        }
    };
    row.agent_user_id = Some(agent.id.clone());

    // Evaluator.
    let original_label = ev
        .evaluator
        .as_ref()
        .map(Person::label)
        .unwrap_or_else(|| "(no evaluator recorded)".into());
    let mut use_default = |why: String| -> Result<User, String> {
        match default_evaluator {
            Some((_, Some(u))) => {
                notes.push(format!("{why}: the default evaluator is used"));
                Ok((*u).clone())
            }
            Some((k, None)) => Err(format!(
                "{why}, and the default evaluator '{k}' is not a single active Genesys user"
            )),
            None => Err(format!(
                "{why}, and no [users] default_evaluator is configured"
            )),
        }
    };
    let evaluator = if cfg.users.evaluator_mode == "service_user" {
        use_default("[users] evaluator_mode = \"service_user\"".into())
    } else {
        match ev.evaluator.as_ref().filter(|p| !p.is_empty()) {
            None => use_default("the export names no evaluator".into()),
            Some(p) => match dir.resolve(p, &cfg.users.match_keys) {
                Resolved::Found { user, .. } if user.state.as_deref() == Some("active") => Ok(user),
                Resolved::Found { user, how } => use_default(format!(
                    "evaluator {} ({how}) is {} in Genesys",
                    p.label(),
                    user.state.as_deref().unwrap_or("not active")
                )),
                Resolved::Ambiguous { how, ids } => use_default(format!(
                    "evaluator {} ({how}) matches {} Genesys users",
                    p.label(),
                    ids.len()
                )),
                Resolved::NotFound { tried } => use_default(format!(
                    "evaluator {} has no Genesys account (tried {tried})",
                    p.label()
                )),
            },
        }
    };
    let evaluator = match evaluator {
        Ok(u) => u,
        Err(why) => return q(format!("{locator}: {why}")),
    };
    row.evaluator_user_id = Some(evaluator.id.clone());

    // Link.
    let mut candidate = forced;
    let mut link_notes = Vec::new();
    let mut match_at = None;
    for strategy in &cfg.link.strategies {
        if candidate.is_some() {
            break;
        }
        match strategy.as_str() {
            "field" => {
                for f in &cfg.link.conversation_id_fields {
                    let v = match f.as_str() {
                        "conversation_id" => ev.contact.conversation_id.as_deref(),
                        _ => ev.contact.assoc_call_id.as_deref(),
                    };
                    match v.map(str::trim).filter(|v| !v.is_empty()) {
                        Some(v) if looks_like_uuid(v) => {
                            candidate = Some((v.to_lowercase(), format!("field:{f}")));
                            break;
                        }
                        Some(v) => {
                            link_notes.push(format!("{f} '{v}' is not a Genesys conversation id"))
                        }
                        None => link_notes.push(format!("no {f}")),
                    }
                }
            }
            "mapping" => match ev.contact.contact_id.as_deref() {
                None => link_notes.push("no contact id for the mapping file".into()),
                Some(c) => match mapping.get(c).map(Vec::as_slice) {
                    Some([one]) => candidate = Some((one.to_lowercase(), "mapping".into())),
                    Some(many) if many.len() > 1 => link_notes.push(format!(
                        "the mapping file maps contact {c} to {} conversations ({})",
                        many.len(),
                        many.join(", ")
                    )),
                    _ => link_notes.push(format!("contact {c} is not in the mapping file")),
                },
            },
            "match" => match ev.contact.start_time_utc {
                Some(t) => match_at = Some(t.as_millisecond()),
                None => link_notes.push("no contact start time to match on".into()),
            },
            _ => {}
        }
    }
    row.link_detail = Some(match &candidate {
        Some((_, strategy)) => strategy.clone(),
        None => link_notes.join("; "),
    });
    let ev_label = original_label;
    match candidate {
        None => {
            row.disposition = Some(Disposition::History);
            row.reason = format!(
                "no Genesys conversation to attach it to ({}); kept in the history",
                if link_notes.is_empty() {
                    "no link strategy applies".to_owned()
                } else {
                    link_notes.join("; ")
                }
            );
            Pending {
                row,
                locator: locator.to_owned(),
                ev: Some(ev),
                candidate: None,
                agent_label: agent.name.clone().unwrap_or_else(|| agent.id.clone()),
                agent: Some(agent),
                evaluation_id: String::new(),
                match_at,
                evaluator_note: String::new(),
                evaluator_label: ev_label,
                method: Some(method),
                notes,
            }
        }
        Some((cid, strategy)) => {
            row.conversation_id = Some(cid.clone());
            row.link_strategy = Some(strategy.clone());
            Pending {
                row,
                locator: locator.to_owned(),
                ev: Some(ev),
                candidate: Some((cid, strategy)),
                agent: Some(agent),
                agent_label: String::new(),
                evaluation_id: String::new(),
                match_at: None,
                evaluator_note: if evaluator.id
                    == default_evaluator
                        .and_then(|(_, u)| u.map(|u| u.id.clone()))
                        .unwrap_or_default()
                {
                    " (recorded in Genesys under the default evaluator)".into()
                } else {
                    String::new()
                },
                evaluator_label: ev_label,
                method: Some(method),
                notes,
            }
        }
    }
}

/// Everything about a linkable record that does not depend on its conversation: the encoded
/// answers, the predicted Genesys total and the outcome if the conversation checks pass. Run as soon
/// as the record is planned, so its canonical evaluation can be dropped (plan memory stays small).
/// Mirrored forms by Calabrio form id, or why the form cannot be mirrored.
type Mirrors = HashMap<String, Result<crate::mirror::MirrorForm, String>>;

fn prepare_one(
    cfg: &Config,
    def: &genesys::models::EvaluationForm,
    mirrors: &Mirrors,
    p: &mut Pending,
) {
    let (Some(ev), Some((cid, strategy)), Some(method)) =
        (p.ev.take(), p.candidate.clone(), p.method)
    else {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!("{}: internal: incomplete plan", p.locator);
        return;
    };
    p.agent_label = ev.agent.label();
    p.evaluation_id = ev.evaluation_id.clone();
    let ev = &ev;
    // Encode and predict.
    let source_percent = p.row.score.unwrap_or(0.0);
    let kpi_failed = ev.score.kpi_failed == Some(true);
    let shown = if kpi_failed {
        ev.score
            .raw_additive
            .and_then(|r| {
                let applicable = ev.score.applicable_points.or(ev.score.max_points);
                normalise_with(r, method, applicable).ok()
            })
            .map(|n| n.percent)
            .unwrap_or(source_percent)
    } else {
        source_percent
    };
    if kpi_failed {
        p.notes.push(format!(
            "KPI failed in Calabrio ({}): the fatal question reproduces the 0 % total; pre-KPI score {shown:.1}%",
            ev.score.kpi_failed_basis.as_deref().unwrap_or("explicit")
        ));
    }
    let mut sections = Vec::new();
    for s in &ev.sections {
        let Some(name) = s.name.clone() else { continue };
        let pct = match (s.score, s.max) {
            (Some(v), Some(max)) if max > 0.0 => normalise(v, ScoringMethod::Ratio { max }).ok(),
            (Some(v), _) => normalise(v, method).ok(),
            _ => None,
        };
        if s.score.is_some() && pct.is_none() {
            p.notes.push(format!(
                "section '{name}' score is outside its scale: shown as N/A"
            ));
        }
        sections.push((name, pct.map(|n| n.percent)));
    }
    let mapped: Vec<&String> = cfg.form.sections.iter().collect();
    let mut section_comments = BTreeMap::new();
    let mut extra_comments = Vec::new();
    for c in &ev.comments {
        match c.scope {
            CommentScope::Evaluation => extra_comments.push(c.text.clone()),
            CommentScope::Section | CommentScope::Question => {
                let sec = c.section_id.clone().unwrap_or_default();
                if mapped.iter().any(|m| m.eq_ignore_ascii_case(&sec))
                    && c.scope == CommentScope::Section
                {
                    section_comments.insert(sec, c.text.clone());
                } else {
                    extra_comments.push(format!(
                        "[{}] {}",
                        if sec.is_empty() { "question" } else { &sec },
                        c.text
                    ));
                }
            }
        }
    }
    let score_text = match method {
        ScoringMethod::Ratio { max } => {
            format!(
                "score {}/{} = {:.1}%",
                trim_num(ev.score.total.unwrap_or(0.0)),
                trim_num(max),
                source_percent
            )
        }
        ScoringMethod::Linear { min, max } => format!(
            "score {} on {}–{} = {:.1}%",
            trim_num(ev.score.total.unwrap_or(0.0)),
            trim_num(min),
            trim_num(max),
            source_percent
        ),
        ScoringMethod::Percent => format!("score {source_percent:.1}%"),
        ScoringMethod::Points => format!(
            "score {} of {} applicable points = {source_percent:.1}%",
            trim_num(ev.score.total.unwrap_or(0.0)),
            trim_num(
                ev.score
                    .applicable_points
                    .or(ev.score.max_points)
                    .or(ev.form.total_points)
                    .unwrap_or(0.0)
            )
        ),
    };
    let date = p
        .row
        .evaluated_at
        .as_deref()
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .map(ts_human)
        .unwrap_or_default();
    let date_note = match p.row.date_basis.as_deref() {
        Some("created") => " (created date; evaluation date missing)",
        Some("contact_start") => " (contact start; evaluation date missing)",
        _ => "",
    };
    let mut provenance = format!(
        "[Migrated from Calabrio ONE] evaluation {} · contact {} · evaluated {date}{date_note} by {}{} · form \"{}\" · {score_text}",
        ev.evaluation_id,
        ev.contact.contact_id.as_deref().unwrap_or("(none)"),
        p.evaluator_label,
        p.evaluator_note,
        ev.form.key(),
    );
    if kpi_failed {
        provenance.push_str(" · KPI failed: total 0 %");
    }
    let mut comments = provenance;
    for c in extra_comments {
        comments.push('\n');
        comments.push_str(&c);
    }
    let key = qm_model::idempotency_key(&cfg.source.system, &ev.evaluation_id, &cfg.form.name);
    let private = form::marker(&cfg.source.system, &ev.evaluation_id, &key.to_string());
    let enc = form::Encoded {
        shown_percent: shown,
        kpi_failed,
        sections,
        section_comments,
        comments,
        private_comments: private,
    };
    let answers = form::answers(&cfg.form, &enc);
    let predicted = match genesys::scoring::score(def, &answers, true) {
        Ok(s) => s.total_score.unwrap_or(0.0),
        Err(e) => {
            p.row.disposition = Some(Disposition::Quarantined);
            p.row.reason = format!(
                "{}: the answers do not fit the Legacy Migration Form: {e}",
                p.locator
            );
            return;
        }
    };
    p.row.predicted = Some(predicted);
    let expected = if kpi_failed { 0.0 } else { source_percent };
    if kpi_failed && source_percent != 0.0 {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!(
            "{}: KPI marked failed but the Calabrio total is {source_percent:.1}%, not 0: Genesys would compute {predicted:.1}% (total_score and kpi_failed disagree)",
            p.locator
        );
        return;
    }
    if (predicted - expected).abs() > cfg.scoring.tolerance + 1e-9 {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!(
            "{}: Genesys would compute {predicted:.2}% but the normalised Calabrio total is {expected:.2}% (tolerance {})",
            p.locator, cfg.scoring.tolerance
        );
        return;
    }
    p.row.answers = serde_json::to_string(&answers).ok();
    p.row.disposition = Some(Disposition::Evaluation);
    if cfg.form.mode == "mirror" {
        mirror_one(cfg, mirrors, ev, &answers, expected, p);
    }
    let predicted = p.row.predicted.unwrap_or(predicted);
    let mut reason = format!(
        "linked to conversation {cid} by {strategy}; {}; Genesys total will be {predicted:.1}% ({})",
        score_text,
        p.row.method.as_deref().unwrap_or("")
    );
    for n in &p.notes {
        reason.push_str("; ");
        reason.push_str(n);
    }
    p.row.reason = reason;
}

/// Mirror mode: the answers on the record's mirrored form when they score as Calabrio did (the
/// container answers stay otherwise, with the reason in the notes).
fn mirror_one(
    cfg: &Config,
    mirrors: &Mirrors,
    ev: &qm_model::CanonicalEvaluation,
    container: &genesys::models::ScoringSet,
    expected: f64,
    p: &mut Pending,
) {
    let fid = ev.form.form_id.clone().unwrap_or_default();
    let why = match mirrors.get(&fid) {
        None => format!(
            "container form, not mirrored: the source carries no definition of Calabrio form '{}' (the API and tables sources do)",
            ev.form.key()
        ),
        Some(Err(why)) => format!("container form, not mirrored: {why}"),
        Some(Ok(m)) => match crate::mirror::answer(m, ev, expected, cfg.scoring.tolerance) {
            crate::mirror::Mirrored::Answers {
                mut answers,
                predicted,
            } => {
                // The provenance and the reconciliation marker travel with the answers.
                answers.comments.clone_from(&container.comments);
                answers
                    .private_comments
                    .clone_from(&container.private_comments);
                p.row.answers = serde_json::to_string(&answers).ok();
                p.row.predicted = Some(predicted);
                p.row.form_name = Some(m.definition.name.clone());
                p.notes.push(format!(
                    "mirrored on '{}' question by question",
                    m.definition.name
                ));
                return;
            }
            crate::mirror::Mirrored::Fallback(why) => {
                format!("container form, not mirrored: {why}")
            }
        },
    };
    p.notes.push(why);
}

fn trim_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Writes every non-`evaluation` record as CSV (locator, evaluation id, disposition, reason).
///
/// # Errors
/// Ledger and I/O errors.
pub fn write_exceptions(ledger: &Ledger, path: &std::path::Path) -> Result<usize> {
    let rows = ledger.exceptions()?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "source",
        "evaluation_id",
        "disposition",
        "reason",
        "agent_match",
        "link",
    ])?;
    for (loc, id, d, reason, agent, link) in &rows {
        w.write_record([
            loc.as_str(),
            id.as_deref().unwrap_or(""),
            d.as_str(),
            reason.as_str(),
            agent.as_deref().unwrap_or(""),
            link.as_deref().unwrap_or(""),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::fsutil::write_private(path, &bytes)?;
    Ok(rows.len())
}
