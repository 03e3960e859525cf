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
//!
//! One file per step: `setup` (the probe form and its answer sets), `measure`, `cleanup`, `advice`
//! (the findings table and the text) and `write_config`; this file holds the report and the run.

mod advice;
mod cleanup;
mod measure;
mod setup;
mod write_config;

pub use advice::human;
pub use setup::definition;
pub use write_config::write_config;

use advice::*;
use cleanup::*;
use measure::*;
use setup::*;
#[cfg(test)]
use write_config::*;

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
