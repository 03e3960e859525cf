//! `probe`: the Genesys behaviours no document settles (reference/genesys-api.md §12), measured on
//! the customer's own org, on one conversation they choose, writing as little as it can and
//! deleting all of it.
//!
//! It publishes a small form, `qm-migrate probe (delete me)`, and creates on the conversation:
//!
//! 1. answer set A (a weight-0 group answered low, an N/A question) as `FINISHED` with a release
//!    date of now, with an `Idempotency-Key`; then the same request again at once, and again
//!    `replay_after_s` after the first: replayed (the same id) or duplicated;
//! 2. meanwhile, how long until `evaluations/query?conversationId=` shows it (polled with
//!    back-off, up to `lag_bound_s`): the measure is the time of the first read that showed it, an
//!    upper bound within one back-off step;
//! 3. answer set B (a failed fatal question) with a release date 30 days ago (if refused, again with
//!    now, for its score);
//! 4. set A with `neverRelease`;
//! 5. set A with an inactive agent, and with an inactive evaluator, when given.
//!
//! Both answer sets are also scored by the dry run; each total Genesys computes is compared with the
//! prediction. The org's limits and the client's permissions are read as `preflight` reads them.
//! Then every evaluation it created (and any other on the probe form on that conversation) is
//! deleted, then the form, and whatever could not be is named with how to remove it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use genesys::models::{
    AnswerOption, EntityRef, Evaluation, EvaluationCreateBody, EvaluationForm, GroupScore,
    Question, QuestionGroup, QuestionScore, ScoringSet, User,
};
use genesys::{GenesysClient, GenesysError};
use serde::Serialize;
use uuid::Uuid;

use crate::config::Config;
use crate::form;
use crate::preflight::{self, Preflight};

/// The probe form's name: it says what to do with it if it is ever left behind.
pub const FORM_NAME: &str = "qm-migrate probe (delete me)";

/// What `probe` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The conversation to create the probe evaluations on (a test call).
    pub conversation: String,
    /// The agent (id, e-mail or user name); default: the conversation's agent participant.
    pub agent: Option<String>,
    /// The evaluator; default: `[users] default_evaluator`.
    pub evaluator: Option<String>,
    /// An inactive user who was an agent on the conversation: is it accepted as agent?
    pub inactive_agent: Option<String>,
    /// An inactive user with the evaluator role: is it accepted as evaluator?
    pub inactive_evaluator: Option<String>,
    /// Writing to Genesys was confirmed.
    pub yes: bool,
    /// Go on although the conversation already has evaluations.
    pub allow_evaluated: bool,
    /// Seconds after the first create at which the key is sent once more.
    pub replay_after_s: f64,
    /// Longest wait for the query to show a new evaluation, seconds.
    pub lag_bound_s: f64,
}

impl Options {
    /// Options for `conversation` with the defaults of the command line.
    pub fn new(conversation: &str) -> Options {
        Options {
            conversation: conversation.to_owned(),
            agent: None,
            evaluator: None,
            inactive_agent: None,
            inactive_evaluator: None,
            yes: false,
            allow_evaluated: false,
            replay_after_s: 30.0,
            lag_bound_s: 120.0,
        }
    }
}

/// What the org did, one field per behaviour (`null`: not measured, see `notes`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    /// The same create with the same `Idempotency-Key`, sent again at once, answered the first
    /// evaluation (`false`: a second evaluation was made).
    pub idempotency_replay: Option<bool>,
    /// Seconds after the first create at which the key was sent once more.
    pub replay_checked_after_s: Option<f64>,
    /// That late send was still replayed.
    pub replayed_after: Option<bool>,
    /// Seconds until the evaluation query showed a new evaluation (an upper bound within one
    /// back-off step); `null` when it did not within the bound.
    pub query_lag_s: Option<f64>,
    /// A create with `FINISHED` and full answers gave a submitted (`FINISHED`) evaluation.
    pub finished_in_one_call: Option<bool>,
    /// A `releaseDate` 30 days in the past was accepted.
    pub past_release_date_accepted: Option<bool>,
    /// `neverRelease: true` was accepted and kept.
    pub never_release_accepted: Option<bool>,
    /// Every total Genesys computed (dry run and created evaluations) equals the prediction.
    pub scores_as_predicted: Option<bool>,
    /// A weight-0 group is left out of the total (from answer set A).
    pub weight_zero_ignored: Option<bool>,
    /// A failed fatal question gives 0 % (from answer set B).
    pub failed_fatal_zeroes: Option<bool>,
    /// An inactive agent was accepted (only with `--inactive-agent`).
    pub inactive_agent_accepted: Option<bool>,
    /// An inactive evaluator was accepted (only with `--inactive-evaluator`).
    pub inactive_evaluator_accepted: Option<bool>,
    /// The org's evaluations per agent per day.
    pub per_agent_daily_cap: Option<u32>,
    /// The org's requests per minute per client.
    pub requests_per_minute: Option<u32>,
    /// Permissions preflight found missing.
    pub permissions_missing: Vec<String>,
    /// The org's gamification awards points for the evaluation score (read by preflight through
    /// the Gamification API; `null`: could not be read): migrated evaluations would award points
    /// on their release date.
    pub gamified_evaluation_score: Option<bool>,
}

/// One planted answer set scored three ways.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreCheck {
    /// What it plants.
    pub case: String,
    /// qm-migrate's prediction, percent.
    pub predicted: Option<f64>,
    /// The dry run's total.
    pub dry_run: Option<f64>,
    /// The created evaluation's total.
    pub created: Option<f64>,
}

impl ScoreCheck {
    /// Every total Genesys gave equals the prediction (None: none given).
    fn as_predicted(&self) -> Option<bool> {
        let p = self.predicted?;
        let got: Vec<f64> = [self.dry_run, self.created].into_iter().flatten().collect();
        (!got.is_empty()).then(|| got.iter().all(|g| (g - p).abs() <= 0.01))
    }
}

/// A setting `probe` recommends, as it goes into `qm-migrate.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Table, e.g. `genesys`.
    pub section: String,
    /// Key.
    pub key: String,
    /// TOML value.
    pub value: String,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The behaviour (with its number in reference §12).
    pub behaviour: String,
    /// What qm-migrate assumes today (from this configuration).
    pub assumed: String,
    /// What the org did.
    pub observed: String,
    /// What to do about it.
    pub recommended: String,
    /// The setting that does it, when there is one.
    pub setting: Option<Setting>,
}

/// The probe's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// When (UTC date) and where.
    pub date: String,
    /// The conversation used.
    pub conversation_id: String,
    /// The facts.
    pub facts: Facts,
    /// The table.
    pub rows: Vec<Row>,
    /// The planted answer sets.
    pub scoring: Vec<ScoreCheck>,
    /// Evaluations created.
    pub created: u64,
    /// Evaluations deleted.
    pub deleted: u64,
    /// The probe form was deleted.
    pub form_deleted: bool,
    /// Nothing is left behind.
    pub cleaned_up: bool,
    /// What is left behind, and how to remove it.
    pub leftovers: Vec<String>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
    /// Requests sent to Genesys.
    pub requests: u64,
    /// The preflight (limits and permissions).
    pub preflight: Preflight,
}

/// Logical ids of the probe form.
const MAIN: &str = "g:main";
const ZERO: &str = "g:zero";
const Q_GREETING: &str = "q:greeting";
const Q_RESOLVED: &str = "q:resolved";
const Q_FATAL: &str = "q:fatal";
const Q_ZERO: &str = "q:zero";

fn option(id: &str, text: &str, value: i32) -> AnswerOption {
    AnswerOption {
        id: Some(id.into()),
        text: text.into(),
        value,
        ..AnswerOption::default()
    }
}

fn question(id: &str, text: &str, na: bool, fatal: bool, options: Vec<AnswerOption>) -> Question {
    Question {
        id: Some(id.into()),
        text: text.into(),
        kind: "multipleChoiceQuestion".into(),
        na_enabled: na,
        is_kill: fatal,
        answer_options: options,
        ..Question::default()
    }
}

/// The probe form: a scored group (an N/A-able question and a fatal one) and a group of weight 0.
pub fn definition() -> EvaluationForm {
    EvaluationForm {
        name: FORM_NAME.into(),
        question_groups: vec![
            QuestionGroup {
                id: Some(MAIN.into()),
                name: "Probe: scored".into(),
                kind: "questionGroup".into(),
                weight: 1.0,
                manual_weight: true,
                na_enabled: false,
                questions: vec![
                    question(
                        Q_GREETING,
                        "Greeting given?",
                        false,
                        false,
                        vec![option("o:g:yes", "Yes", 10), option("o:g:no", "No", 0)],
                    ),
                    question(
                        Q_RESOLVED,
                        "Issue resolved?",
                        true,
                        false,
                        vec![option("o:r:yes", "Yes", 10), option("o:r:no", "No", 0)],
                    ),
                    question(
                        Q_FATAL,
                        "Compliance statement read? (fatal)",
                        false,
                        true,
                        vec![option("o:f:pass", "Pass", 1), option("o:f:fail", "Fail", 0)],
                    ),
                ],
                ..QuestionGroup::default()
            },
            QuestionGroup {
                id: Some(ZERO.into()),
                name: "Probe: weight 0".into(),
                kind: "questionGroup".into(),
                weight: 0.0,
                manual_weight: true,
                na_enabled: false,
                questions: vec![question(
                    Q_ZERO,
                    "Informational only (weight 0)",
                    false,
                    false,
                    vec![option("o:z:good", "Good", 10), option("o:z:bad", "Bad", 0)],
                )],
                ..QuestionGroup::default()
            },
        ],
        ..EvaluationForm::default()
    }
}

fn answer(q: &str, option: Option<&str>) -> QuestionScore {
    QuestionScore {
        question_id: q.into(),
        answer_id: option.map(str::to_owned),
        marked_na: option.is_none(),
        ..QuestionScore::default()
    }
}

/// Set A: the weight-0 group answered 0 and a question N/A (documented: 100 %).
fn set_weight_zero_and_na() -> ScoringSet {
    ScoringSet {
        question_group_scores: vec![
            GroupScore {
                question_group_id: MAIN.into(),
                question_scores: vec![
                    answer(Q_GREETING, Some("o:g:yes")),
                    answer(Q_RESOLVED, None),
                    answer(Q_FATAL, Some("o:f:pass")),
                ],
                ..GroupScore::default()
            },
            GroupScore {
                question_group_id: ZERO.into(),
                question_scores: vec![answer(Q_ZERO, Some("o:z:bad"))],
                ..GroupScore::default()
            },
        ],
        ..ScoringSet::default()
    }
}

/// Set B: the fatal question failed, the rest answered well (documented: 0 %).
fn set_failed_fatal() -> ScoringSet {
    ScoringSet {
        question_group_scores: vec![
            GroupScore {
                question_group_id: MAIN.into(),
                question_scores: vec![
                    answer(Q_GREETING, Some("o:g:yes")),
                    answer(Q_RESOLVED, Some("o:r:yes")),
                    answer(Q_FATAL, Some("o:f:fail")),
                ],
                ..GroupScore::default()
            },
            GroupScore {
                question_group_id: ZERO.into(),
                question_scores: vec![answer(Q_ZERO, Some("o:z:good"))],
                ..GroupScore::default()
            },
        ],
        ..ScoringSet::default()
    }
}

/// The state of one probe: what it created, so that cleanup finds all of it.
struct Probe<'a> {
    client: &'a GenesysClient,
    conversation: String,
    agent: String,
    evaluator: String,
    /// The form (its draft id: deleting it deletes every version).
    form_id: String,
    /// The published version the evaluations are made on.
    published_id: String,
    context_id: Option<String>,
    map: BTreeMap<String, String>,
    created: BTreeSet<String>,
    /// Creates whose answer was lost (they may exist).
    lost: u64,
    notes: Vec<String>,
}

enum Release {
    Now,
    DaysAgo(i64),
    Never,
}

impl Probe<'_> {
    fn stamp(&self, days_ago: i64) -> String {
        let ms = self.client.clock().now_unix_ms() - days_ago * 86_400_000;
        jiff::Timestamp::from_millisecond(ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    fn body(
        &self,
        set: &ScoringSet,
        release: &Release,
        agent: &str,
        evaluator: &str,
    ) -> Result<EvaluationCreateBody> {
        let (release_date, never_release) = match release {
            Release::Now => (Some(self.stamp(0)), None),
            Release::DaysAgo(d) => (Some(self.stamp(*d)), None),
            Release::Never => (None, Some(true)),
        };
        Ok(EvaluationCreateBody {
            evaluation_form: EntityRef {
                id: self.published_id.clone(),
                ..EntityRef::default()
            },
            evaluator: EntityRef {
                id: evaluator.to_owned(),
                ..EntityRef::default()
            },
            agent: EntityRef {
                id: agent.to_owned(),
                ..EntityRef::default()
            },
            answers: form::translate(set, &self.map)?,
            status: Some("FINISHED".into()),
            release_date,
            never_release,
            agent_has_read: None,
        })
    }

    /// One create; what it made is remembered for the cleanup.
    async fn create(
        &mut self,
        body: &EvaluationCreateBody,
        key: Option<Uuid>,
    ) -> Result<Evaluation, GenesysError> {
        match self
            .client
            .create_evaluation(&self.conversation, body, key)
            .await
        {
            Ok(e) => {
                self.created.insert(e.id.clone());
                Ok(e)
            }
            Err(e) => {
                if let GenesysError::Undecodable { id: Some(id), .. } = &e {
                    self.created.insert(id.clone());
                } else if e.possibly_sent() {
                    self.lost += 1;
                }
                Err(e)
            }
        }
    }

    /// The evaluations on this conversation made on the probe form.
    async fn ours_on_conversation(&self) -> Result<Vec<Evaluation>, GenesysError> {
        Ok(self
            .client
            .evaluations_for_conversation(&self.conversation)
            .await?
            .into_iter()
            .filter(|e| {
                e.evaluation_form.as_ref().is_some_and(|f| {
                    f.id == self.published_id
                        || (self.context_id.is_some() && f.context_id == self.context_id)
                        || f.name.as_deref() == Some(FORM_NAME)
                })
            })
            .collect())
    }
}

/// A user named by id, e-mail or user name.
fn resolve<'u>(users: &'u [User], who: &str) -> Option<&'u User> {
    let w = who.trim();
    users.iter().find(|u| u.id == w).or_else(|| {
        users.iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(w))
                || u.username
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(w))
        })
    })
}

/// A code from a Genesys error, for the table.
fn code_of(e: &GenesysError) -> String {
    match e {
        GenesysError::Api { status, body, .. } => {
            format!("{status} {}", body.code.as_deref().unwrap_or("(no code)"))
        }
        other => other.to_string(),
    }
}

/// Runs the probe.
///
/// # Errors
/// Refusals (no `--yes`, an evaluated conversation, an unknown conversation or user) and failures
/// before anything was written. Once something was written, failures become notes and the cleanup
/// still runs.
pub async fn run(
    cfg: &Config,
    client: &GenesysClient,
    client_id: &str,
    opts: &Options,
) -> Result<Report> {
    if !opts.yes {
        bail!(
            "probe writes to Genesys: it publishes the form '{FORM_NAME}' and creates about six evaluations on conversation {}, then deletes all of them. Add --yes to go ahead.",
            opts.conversation
        );
    }
    let before = client.requests_sent();
    let mut report = Report {
        date: jiff::Timestamp::from_millisecond(client.clock().now_unix_ms())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y-%m-%d")
            .to_string(),
        conversation_id: opts.conversation.clone(),
        ..Report::default()
    };
    report.preflight = preflight::run(cfg, client, client_id).await?;
    if let Some(c) = report
        .preflight
        .checks
        .iter()
        .find(|c| c.what == "credentials" && c.verdict == preflight::Verdict::Failed)
    {
        bail!("{}", c.detail);
    }
    report.facts.per_agent_daily_cap = report.preflight.per_agent_daily_cap;
    report.facts.requests_per_minute = report.preflight.requests_per_minute;
    report.facts.gamified_evaluation_score = report
        .preflight
        .side_effects
        .as_ref()
        .and_then(|s| s.gamified_evaluation_score);
    report.facts.permissions_missing = report
        .preflight
        .checks
        .iter()
        .filter(|c| c.verdict == preflight::Verdict::Missing)
        .map(|c| c.what.clone())
        .collect();

    // The conversation, its people, and whether it is free to use.
    let conversation = client
        .conversation_details(std::slice::from_ref(&opts.conversation))
        .await
        .context("cannot read the conversation's analytics details")?
        .into_iter()
        .find(|c| c.conversation_id == opts.conversation)
        .with_context(|| {
            format!(
                "conversation {} is not known to Genesys (analytics details): give the id of a recent test call",
                opts.conversation
            )
        })?;
    let users = client
        .list_users("any")
        .await
        .context("cannot read the Genesys users")?;
    let pick = |flag: &str, who: &str| -> Result<String> {
        resolve(&users, who).map(|u| u.id.clone()).with_context(|| {
            format!("{flag} {who}: no Genesys user has that id, e-mail or user name")
        })
    };
    let agent = match &opts.agent {
        Some(a) => pick("--agent", a)?,
        None => conversation
            .participants
            .iter()
            .find(|p| p.purpose.as_deref() == Some("agent") && p.user_id.is_some())
            .and_then(|p| p.user_id.clone())
            .with_context(|| {
                format!(
                    "conversation {} has no agent participant: give --agent",
                    opts.conversation
                )
            })?,
    };
    let evaluator = match opts
        .evaluator
        .as_deref()
        .or(cfg.users.default_evaluator.as_deref())
    {
        Some(e) => pick("--evaluator", e)?,
        None => bail!(
            "no evaluator: give --evaluator (a Genesys user with the quality evaluator role) or set [users] default_evaluator"
        ),
    };
    let inactive_agent = opts
        .inactive_agent
        .as_deref()
        .map(|a| pick("--inactive-agent", a))
        .transpose()?;
    let inactive_evaluator = opts
        .inactive_evaluator
        .as_deref()
        .map(|a| pick("--inactive-evaluator", a))
        .transpose()?;
    let existing = client
        .evaluations_for_conversation(&opts.conversation)
        .await
        .context("cannot read the conversation's evaluations")?;
    let foreign = existing
        .iter()
        .filter(|e| e.evaluation_form.as_ref().and_then(|f| f.name.as_deref()) != Some(FORM_NAME))
        .count();
    if foreign > 0 && !opts.allow_evaluated {
        bail!(
            "conversation {} already has {foreign} evaluation(s): choose a test call nobody evaluates, or add --allow-evaluated (the probe deletes only its own)",
            opts.conversation
        );
    }

    // The probe form.
    let def = definition();
    let (form_id, context_id, published, map) = probe_form(client, &def).await?;
    let mut p = Probe {
        client,
        conversation: opts.conversation.clone(),
        agent,
        evaluator,
        form_id,
        published_id: published.id.clone().unwrap_or_default(),
        context_id,
        map,
        created: BTreeSet::new(),
        lost: 0,
        notes: Vec::new(),
    };
    measure(
        &mut p,
        &def,
        &published,
        opts,
        inactive_agent.as_deref(),
        inactive_evaluator.as_deref(),
        &mut report,
    )
    .await;
    cleanup(&mut p, &published, &mut report).await;
    report.notes.append(&mut p.notes);
    report.rows = rows(cfg, &report);
    report.requests = client.requests_sent().saturating_sub(before);
    Ok(report)
}

/// Creates and publishes the probe form (or reuses one a probe left behind): (draft id, context id,
/// the published version as read, logical → published ids).
async fn probe_form(
    client: &GenesysClient,
    def: &EvaluationForm,
) -> Result<(
    String,
    Option<String>,
    EvaluationForm,
    BTreeMap<String, String>,
)> {
    let mut draft = None;
    for f in client
        .list_forms(FORM_NAME)
        .await
        .context("cannot list evaluation forms")?
    {
        if f.name != FORM_NAME {
            continue;
        }
        let id = f.id.clone().context("listed form without id")?;
        match client.get_published_form(&id).await {
            Ok(published) if form::map_ids(def, &published).is_ok() => {
                let map = form::map_ids(def, &published)?;
                return Ok((id, published.context_id.clone(), published, map));
            }
            // A left-behind form of another shape: delete it and make ours.
            Ok(_) => {
                client.delete_form(&id).await.with_context(|| {
                    format!("a form named '{FORM_NAME}' ({id}) of another shape exists and cannot be deleted")
                })?;
            }
            Err(GenesysError::Api { status: 404, .. }) => draft = Some(id),
            Err(e) => return Err(e).context("cannot read the probe form"),
        }
    }
    let draft_id = match draft {
        Some(d) => d,
        None => client
            .create_form(&form::for_create(def))
            .await
            .context("cannot create the probe form")?
            .id
            .context("created form without id")?,
    };
    crate::provision::publish(client, FORM_NAME, &draft_id, None).await?;
    let published = client
        .get_published_form(&draft_id)
        .await
        .context("cannot read the published probe form")?;
    let map = form::map_ids(def, &published)?;
    Ok((draft_id, published.context_id.clone(), published, map))
}

/// Sleeps on the client's clock.
async fn sleep(client: &GenesysClient, s: f64) {
    if s > 0.0 {
        client.clock().sleep(Duration::from_secs_f64(s)).await;
    }
}

/// Seconds since `t0` on the client's clock.
fn since(client: &GenesysClient, t0_ms: i64) -> f64 {
    (client.clock().now_unix_ms() - t0_ms) as f64 / 1000.0
}

#[allow(clippy::too_many_lines)]
async fn measure(
    p: &mut Probe<'_>,
    def: &EvaluationForm,
    published: &EvaluationForm,
    opts: &Options,
    inactive_agent: Option<&str>,
    inactive_evaluator: Option<&str>,
    report: &mut Report,
) {
    let (agent, evaluator) = (p.agent.clone(), p.evaluator.clone());
    let sets = [
        (
            "weight-0 group answered 0, one question N/A (documented: 100 %)",
            set_weight_zero_and_na(),
        ),
        (
            "fatal question failed (documented: 0 %)",
            set_failed_fatal(),
        ),
    ];
    for (case, set) in &sets {
        let predicted = genesys::scoring::score(def, set, true)
            .ok()
            .and_then(|s| s.total_score);
        let dry_run = match form::translate(set, &p.map) {
            Ok(t) => match p.client.score_dry_run(published, &t).await {
                Ok(s) => s.total_score,
                Err(e) => {
                    p.notes.push(format!("scoring dry run ({case}): {e}"));
                    None
                }
            },
            Err(e) => {
                p.notes.push(format!("scoring dry run ({case}): {e}"));
                None
            }
        };
        report.scoring.push(ScoreCheck {
            case: (*case).to_owned(),
            predicted,
            dry_run,
            created: None,
        });
    }

    // 1. Set A, FINISHED, released now, with a key; the same request at once.
    let key = Uuid::new_v4();
    let first_body = match p.body(&sets[0].1, &Release::Now, &agent, &evaluator) {
        Ok(b) => b,
        Err(e) => {
            p.notes
                .push(format!("cannot build the probe request: {e:#}"));
            return;
        }
    };
    let t0 = p.client.clock().now_unix_ms();
    let first = match p.create(&first_body, Some(key)).await {
        Ok(e) => e,
        Err(e) => {
            p.notes.push(format!(
                "the first probe create failed ({}): nothing else could be measured on this conversation",
                code_of(&e)
            ));
            return;
        }
    };
    report.scoring[0].created = first.answers.as_ref().and_then(|a| a.total_score);
    report.facts.finished_in_one_call = Some(first.status.as_deref() == Some("FINISHED"));
    match p.create(&first_body, Some(key)).await {
        Ok(again) => report.facts.idempotency_replay = Some(again.id == first.id),
        // A replay answers as the first create did (2xx): a refusal means the key was not replayed.
        Err(
            e @ GenesysError::Api {
                status: 400..=499, ..
            },
        ) => {
            report.facts.idempotency_replay = Some(false);
            p.notes.push(format!(
                "the same create sent again with its key was refused ({}), not replayed",
                code_of(&e)
            ));
        }
        Err(e) => p.notes.push(format!(
            "the same create sent again with its key failed ({}): replay not measured",
            code_of(&e)
        )),
    }

    // 2. How long until the query shows it.
    let mut step = 0.25f64;
    loop {
        match p.ours_on_conversation().await {
            Ok(found) => {
                if let Some(e) = found.iter().find(|e| e.id == first.id) {
                    report.facts.query_lag_s = Some((since(p.client, t0) * 10.0).ceil() / 10.0);
                    // What was stored, as read back: a create answered FINISHED but stored
                    // otherwise is not submitted.
                    if e.status.as_deref() != Some("FINISHED") {
                        report.facts.finished_in_one_call = Some(false);
                    }
                    break;
                }
            }
            Err(e) => p.notes.push(format!("evaluation query: {e}")),
        }
        let elapsed = since(p.client, t0);
        if elapsed >= opts.lag_bound_s {
            p.notes.push(format!(
                "the evaluation query did not show the new evaluation within {} s",
                opts.lag_bound_s
            ));
            break;
        }
        sleep(p.client, step.min(opts.lag_bound_s - elapsed)).await;
        step = (step * 2.0).min(2.0);
    }

    // 3. The key once more, later.
    if report.facts.idempotency_replay == Some(true) {
        sleep(p.client, opts.replay_after_s - since(p.client, t0)).await;
        let after = since(p.client, t0);
        match p.create(&first_body, Some(key)).await {
            Ok(again) => {
                report.facts.replay_checked_after_s = Some((after * 10.0).round() / 10.0);
                report.facts.replayed_after = Some(again.id == first.id);
            }
            // A refusal of the repeated key is not a duplicate: the replay window has closed
            // with a refusal (any answer but the first evaluation is "not replayed").
            Err(
                e @ GenesysError::Api {
                    status: 400..=499, ..
                },
            ) => {
                report.facts.replay_checked_after_s = Some((after * 10.0).round() / 10.0);
                report.facts.replayed_after = Some(false);
                p.notes.push(format!(
                    "the key sent {after:.0} s later was answered {}",
                    code_of(&e)
                ));
            }
            Err(e) => p.notes.push(format!(
                "the key sent again later failed ({}): the replay window not measured",
                code_of(&e)
            )),
        }
    }

    // 4. Set B with a past release date (again released now if that is refused).
    let fatal_created = match p.body(&sets[1].1, &Release::DaysAgo(30), &agent, &evaluator) {
        Ok(b) => match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(e) => {
                report.facts.past_release_date_accepted = Some(true);
                Some(e)
            }
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                report.facts.past_release_date_accepted = Some(false);
                p.notes.push(format!(
                    "a releaseDate 30 days ago was refused: {}",
                    code_of(&e)
                ));
                match p.body(&sets[1].1, &Release::Now, &agent, &evaluator) {
                    Ok(b) => p.create(&b, Some(Uuid::new_v4())).await.ok(),
                    Err(_) => None,
                }
            }
            Err(e) => {
                p.notes.push(format!(
                    "the past-release-date create failed ({}): not measured",
                    code_of(&e)
                ));
                None
            }
        },
        Err(e) => {
            p.notes.push(format!("{e:#}"));
            None
        }
    };
    if let Some(e) = fatal_created {
        report.scoring[1].created = e.answers.as_ref().and_then(|a| a.total_score);
    }

    // 5. neverRelease.
    if let Ok(b) = p.body(&sets[0].1, &Release::Never, &agent, &evaluator) {
        match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(e) => report.facts.never_release_accepted = Some(e.never_release == Some(true)),
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                report.facts.never_release_accepted = Some(false);
                p.notes
                    .push(format!("neverRelease was refused: {}", code_of(&e)));
            }
            Err(e) => p
                .notes
                .push(format!("neverRelease not measured: {}", code_of(&e))),
        }
    }

    // 6. Inactive people, when given.
    for (who, as_agent) in [(inactive_agent, true), (inactive_evaluator, false)] {
        let Some(user) = who else { continue };
        let (a, ev) = if as_agent {
            (user, evaluator.as_str())
        } else {
            (agent.as_str(), user)
        };
        let Ok(b) = p.body(&sets[0].1, &Release::Now, a, ev) else {
            continue;
        };
        let accepted = match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(_) => Some(true),
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                p.notes.push(format!(
                    "the inactive {} was refused: {}",
                    if as_agent { "agent" } else { "evaluator" },
                    code_of(&e)
                ));
                Some(false)
            }
            Err(e) => {
                p.notes
                    .push(format!("inactive user not measured: {}", code_of(&e)));
                None
            }
        };
        if as_agent {
            report.facts.inactive_agent_accepted = accepted;
        } else {
            report.facts.inactive_evaluator_accepted = accepted;
        }
    }

    let checks: Vec<Option<bool>> = report
        .scoring
        .iter()
        .map(ScoreCheck::as_predicted)
        .collect();
    report.facts.scores_as_predicted = if checks.iter().all(Option::is_none) {
        None
    } else {
        Some(checks.iter().all(|c| *c != Some(false)))
    };
    report.facts.weight_zero_ignored = checks[0];
    report.facts.failed_fatal_zeroes = report.scoring[1]
        .dry_run
        .or(report.scoring[1].created)
        .map(|t| t.abs() <= 0.01);
}

/// Deletes every evaluation the probe made (and any other on the probe form on the conversation),
/// then the form; names whatever is left.
async fn cleanup(p: &mut Probe<'_>, published: &EvaluationForm, report: &mut Report) {
    report.created = p.created.len() as u64;
    // Whatever the query shows on the probe form too (a create whose answer was lost). With a
    // lagging query, wait for it once before the sweep.
    if p.lost > 0 {
        sleep(p.client, report.facts.query_lag_s.unwrap_or(5.0) + 1.0).await;
    }
    let mut ids = p.created.clone();
    match p.ours_on_conversation().await {
        Ok(found) => ids.extend(found.into_iter().map(|e| e.id)),
        Err(e) => p
            .notes
            .push(format!("cannot list the conversation's evaluations: {e}")),
    }
    for id in &ids {
        match p.client.delete_evaluation(&p.conversation, id).await {
            Ok(()) => report.deleted += 1,
            Err(GenesysError::Api { status: 404, .. }) => {}
            Err(e) => report.leftovers.push(format!(
                "evaluation {id} on conversation {} could not be deleted ({}): DELETE /api/v2/quality/conversations/{}/evaluations/{id}, or delete it in the conversation's Quality tab",
                p.conversation,
                code_of(&e),
                p.conversation
            )),
        }
    }
    if p.lost > ids.len().saturating_sub(p.created.len()) as u64 {
        report.leftovers.push(format!(
            "{} create(s) whose answer was lost were not found on conversation {}: look there for evaluations on the form '{FORM_NAME}' and delete them",
            p.lost, p.conversation
        ));
    }
    // The form goes once no evaluation uses it (Genesys may need a moment after the deletes).
    let mut last = None;
    for wait in [0.0, 1.0, 2.0, 4.0] {
        sleep(p.client, wait).await;
        match p.client.delete_form(&p.form_id).await {
            Ok(()) | Err(GenesysError::Api { status: 404, .. }) => {
                report.form_deleted = true;
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        report.leftovers.push(format!(
            "the form '{FORM_NAME}' ({}, published version {}) could not be deleted ({}): delete it under Admin > Quality > Evaluation Forms once no evaluation uses it",
            p.form_id,
            published.id.as_deref().unwrap_or("?"),
            code_of(&e)
        ));
    }
    report.cleaned_up = report.leftovers.is_empty();
}

fn yes_no(b: Option<bool>, yes: &str, no: &str) -> String {
    match b {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => "not measured (see notes)".to_owned(),
    }
}

fn setting(section: &str, key: &str, value: impl Into<String>) -> Option<Setting> {
    Some(Setting {
        section: section.into(),
        key: key.into(),
        value: value.into(),
    })
}

/// The table: behaviour, assumption, observation, recommendation.
#[allow(clippy::too_many_lines)]
fn rows(cfg: &Config, r: &Report) -> Vec<Row> {
    let f = &r.facts;
    let mut rows = Vec::new();
    rows.push(Row {
        behaviour: "#12 Idempotency-Key replay".into(),
        assumed: format!(
            "not relied on: an unknown create is looked up before it is re-sent (use_idempotency_key = {})",
            cfg.genesys.use_idempotency_key
        ),
        observed: match (f.idempotency_replay, f.replayed_after) {
            (Some(true), Some(true)) => format!(
                "replayed, also {} s later",
                f.replay_checked_after_s.unwrap_or_default()
            ),
            (Some(true), Some(false)) => format!(
                "replayed at once, not {} s later",
                f.replay_checked_after_s.unwrap_or_default()
            ),
            (Some(true), None) => "replayed at once".into(),
            (Some(false), _) => "not replayed: the same key made a second evaluation".into(),
            (None, _) => "not measured (see notes)".into(),
        },
        recommended: "keep the key on; reconcile (query_lag_s) is what guards a re-send".into(),
        setting: f
            .idempotency_replay
            .and(setting("genesys", "use_idempotency_key", "true")),
    });
    rows.push(Row {
        behaviour: "— how soon a new evaluation shows in evaluations/query".into(),
        assumed: format!(
            "reconcile_after_s = {:.0} (an unknown create is looked up that long after it was sent)",
            cfg.genesys.reconcile_after().as_secs_f64()
        ),
        observed: f.query_lag_s.map_or_else(
            || "not shown within the bound".to_owned(),
            |l| format!("shown after {l:.1} s (at most)"),
        ),
        recommended: f.query_lag_s.map_or_else(
            || "raise reconcile_after_s well above the bound, and probe again".to_owned(),
            |l| {
                format!(
                    "query_lag_s = {l:.1}: an unknown create is looked up after timeout_s + 2 × the lag"
                )
            },
        ),
        setting: f
            .query_lag_s
            .and_then(|l| setting("genesys", "query_lag_s", format!("{l:.1}"))),
    });
    rows.push(Row {
        behaviour: "#3 FINISHED with answers in one create".into(),
        assumed: format!("[form] status = \"{}\"", cfg.form.status),
        observed: yes_no(
            f.finished_in_one_call,
            "submitted (FINISHED)",
            "stored unsubmitted",
        ),
        recommended: match f.finished_in_one_call {
            Some(false) => "do not load: the org does not submit on create; evaluations would stay unsubmitted (ask Genesys support; qm-migrate has no create-then-submit mode)".into(),
            _ => "keep status = \"FINISHED\"".into(),
        },
        setting: (f.finished_in_one_call == Some(true))
            .then(|| setting("form", "status", "\"FINISHED\""))
            .flatten(),
    });
    rows.push(Row {
        behaviour: "#4 a releaseDate in the past".into(),
        assumed: format!(
            "[form] release_policy = \"{}\" (the date is fixed at the first send: a re-send after reconcile carries a past date)",
            cfg.form.release_policy
        ),
        observed: yes_no(f.past_release_date_accepted, "accepted", "refused"),
        recommended: match f.past_release_date_accepted {
            Some(false) if cfg.form.release_policy == "immediate" => {
                "release_policy = \"omit\": a re-sent create would be refused for its past date"
                    .into()
            }
            _ => format!("keep release_policy = \"{}\"", cfg.form.release_policy),
        },
        setting: match f.past_release_date_accepted {
            Some(false) if cfg.form.release_policy == "immediate" => {
                setting("form", "release_policy", "\"omit\"")
            }
            _ => None,
        },
    });
    rows.push(Row {
        behaviour: "#4 neverRelease".into(),
        assumed: "used by release_policy = \"never\"".into(),
        observed: yes_no(f.never_release_accepted, "accepted", "refused or not kept"),
        recommended: match f.never_release_accepted {
            Some(false) => "do not use release_policy = \"never\"".into(),
            _ => "release_policy = \"never\" is available".into(),
        },
        setting: None,
    });
    rows.push(Row {
        behaviour: "gamification (points on release)".into(),
        assumed: format!("release_policy = \"{}\"", cfg.form.release_policy),
        observed: yes_no(
            f.gamified_evaluation_score,
            "the evaluation score is a gamification metric",
            "the evaluation score is not gamified",
        ),
        recommended: match (
            f.gamified_evaluation_score,
            cfg.form.release_policy.as_str(),
        ) {
            (Some(true), "never") => {
                "keep release_policy = \"never\": no points are awarded".into()
            }
            (Some(true), _) => {
                "release_policy = \"never\" (released migrated evaluations award points now)".into()
            }
            (None, _) => "grant gamification:profile:view to tell".into(),
            (Some(false), _) => format!("keep release_policy = \"{}\"", cfg.form.release_policy),
        },
        setting: match (
            f.gamified_evaluation_score,
            cfg.form.release_policy.as_str(),
        ) {
            (Some(true), p) if p != "never" => setting("form", "release_policy", "\"never\""),
            _ => None,
        },
    });
    let scoring_seen = r
        .scoring
        .iter()
        .map(|s| {
            format!(
                "{}: predicted {}, dry run {}, created {}",
                s.case,
                pct(s.predicted),
                pct(s.dry_run),
                pct(s.created)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    rows.push(Row {
        behaviour: "#10 #15 scoring: weight-0 groups, N/A, a failed fatal question".into(),
        assumed: "weight 0 does not count, N/A is 0 of 0, a failed fatal question gives 0 %".into(),
        observed: scoring_seen,
        recommended: match f.scores_as_predicted {
            Some(false) => "do not load: the org scores otherwise; provision's dry run will refuse the form until this is understood".into(),
            _ => "nothing to change".into(),
        },
        setting: None,
    });
    if f.inactive_agent_accepted.is_some() {
        let v = if f.inactive_agent_accepted == Some(true) {
            "allow"
        } else {
            "history"
        };
        rows.push(Row {
            behaviour: "#5 an inactive agent".into(),
            assumed: format!(
                "[users] inactive_policy = \"{}\"",
                cfg.users.inactive_policy
            ),
            observed: yes_no(f.inactive_agent_accepted, "accepted", "refused"),
            recommended: format!("inactive_policy = \"{v}\""),
            setting: setting("users", "inactive_policy", format!("\"{v}\"")),
        });
    }
    if f.inactive_evaluator_accepted.is_some() {
        rows.push(Row {
            behaviour: "#5 an inactive evaluator".into(),
            assumed: "an inactive evaluator is replaced by [users] default_evaluator".into(),
            observed: yes_no(f.inactive_evaluator_accepted, "accepted", "refused"),
            recommended: "keep default_evaluator set (the original evaluator's name travels in the comments either way)".into(),
            setting: None,
        });
    }
    // An org limit read as preflight reads it, and the `[genesys]` key it sets.
    let limit = |behaviour: &str, key: &str, ours: u32, org: Option<u32>| Row {
        behaviour: behaviour.into(),
        assumed: format!("{key} = {ours}"),
        observed: org.map_or_else(|| "not readable".into(), |c| format!("{c}")),
        recommended: org.map_or_else(|| "keep the default".into(), |c| format!("{key} = {c}")),
        setting: org.and_then(|c| setting("genesys", key, c.to_string())),
    };
    rows.push(limit(
        "#7 evaluations per agent per day",
        "per_agent_daily_cap",
        cfg.genesys.per_agent_daily_cap,
        f.per_agent_daily_cap,
    ));
    rows.push(limit(
        "requests per minute per client",
        "requests_per_minute",
        cfg.genesys.requests_per_minute,
        f.requests_per_minute,
    ));
    rows.push(Row {
        behaviour: "#21 permissions".into(),
        assumed: "every permission reference §9 lists for this configuration".into(),
        observed: if f.permissions_missing.is_empty() {
            "none missing".into()
        } else {
            format!("missing: {}", f.permissions_missing.join(", "))
        },
        recommended: if f.permissions_missing.is_empty() {
            "nothing to change".into()
        } else {
            "grant them to the OAuth client's role (`qm-migrate preflight` says why each is needed)"
                .into()
        },
        setting: None,
    });
    rows
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2} %"))
}

/// The report in plain words.
pub fn human(r: &Report) -> String {
    let mut out = format!(
        "probe of conversation {} on {} ({} requests)\n\n",
        r.conversation_id, r.date, r.requests
    );
    for row in &r.rows {
        out.push_str(&format!(
            "{}\n  qm-migrate assumed: {}\n  the org did:        {}\n  recommended:        {}\n",
            row.behaviour, row.assumed, row.observed, row.recommended
        ));
    }
    if !r.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &r.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out.push_str(&format!(
        "\ncleanup: {} evaluation(s) created, {} deleted; probe form {}\n",
        r.created,
        r.deleted,
        if r.form_deleted {
            "deleted"
        } else {
            "NOT deleted"
        }
    ));
    if r.cleaned_up {
        out.push_str("nothing was left behind\n");
    } else {
        out.push_str("LEFT BEHIND:\n");
        for l in &r.leftovers {
            out.push_str(&format!("  - {l}\n"));
        }
    }
    out
}

/// Puts the recommended settings into the config file at `path`: each one replaces the key's line
/// in its table (or goes right after the table's header, or in a new table at the end), with a
/// comment naming the probe's date and the value it replaced. The result must still load as a
/// configuration, or nothing is written. Returns the lines written.
///
/// # Errors
/// I/O errors, and a result that would not load.
pub fn write_config(path: &Path, r: &Report) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut written = Vec::new();
    for row in &r.rows {
        let Some(s) = &row.setting else { continue };
        let line = format!(
            "{} = {}  # probe {} (conversation {}): {}",
            s.key, s.value, r.date, r.conversation_id, row.observed
        );
        set_key(&mut lines, &s.section, &s.key, &line);
        written.push(format!("[{}] {}", s.section, line));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let tmp = path.with_extension("probe-check.toml");
    crate::fsutil::write_private(&tmp, out.as_bytes())?;
    let check = Config::load(&tmp);
    let _ = std::fs::remove_file(&tmp);
    check.context(
        "the recommended settings would not make a valid configuration; nothing written",
    )?;
    crate::fsutil::write_private(path, out.as_bytes())?;
    Ok(written)
}

/// The table a line opens, if it is a table header.
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.split('#').next().unwrap_or("").trim();
    t.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .filter(|n| !n.starts_with('['))
        .map(str::trim)
}

/// Does `line` set `key` (uncommented)?
fn sets_key(line: &str, key: &str) -> bool {
    let t = line.trim_start();
    t.strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Sets `key` in `[section]` to `line`, keeping the old line as a comment.
fn set_key(lines: &mut Vec<String>, section: &str, key: &str, line: &str) {
    let start = lines.iter().position(|l| header(l) == Some(section));
    let Some(start) = start else {
        lines.push(String::new());
        lines.push(format!("[{section}]"));
        lines.push(line.to_owned());
        return;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| header(l).is_some())
        .map_or(lines.len(), |i| start + 1 + i);
    if let Some(i) = (start + 1..end).find(|&i| sets_key(&lines[i], key)) {
        let old = std::mem::replace(&mut lines[i], line.to_owned());
        lines.insert(i, format!("# before the probe: {}", old.trim()));
        return;
    }
    lines.insert(start + 1, line.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_replaced_in_its_own_table_and_added_where_missing() {
        let mut lines: Vec<String> = "[form]\nstatus = \"X\"\n[genesys]\n# query_lag_s = 2.0\ntimeout_s = 5\n[users]\nstatus = 1"
            .lines()
            .map(str::to_owned)
            .collect();
        set_key(&mut lines, "genesys", "query_lag_s", "query_lag_s = 1.5");
        set_key(&mut lines, "users", "status", "status = 2");
        set_key(&mut lines, "scorecard", "enabled", "enabled = false");
        let text = lines.join("\n");
        assert_eq!(
            text,
            "[form]\nstatus = \"X\"\n[genesys]\nquery_lag_s = 1.5\n# query_lag_s = 2.0\ntimeout_s = 5\n[users]\n# before the probe: status = 1\nstatus = 2\n\n[scorecard]\nenabled = false"
        );
    }

    #[test]
    fn the_planted_sets_are_predicted_as_documented() {
        let def = definition();
        let a = genesys::scoring::score(&def, &set_weight_zero_and_na(), true).unwrap();
        assert!((a.total_score.unwrap() - 100.0).abs() < 0.01, "{a:?}");
        let b = genesys::scoring::score(&def, &set_failed_fatal(), true).unwrap();
        assert!(b.total_score.unwrap().abs() < 0.01, "{b:?}");
    }
}
