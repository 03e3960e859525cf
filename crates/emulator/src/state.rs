//! The emulator's world: a fixture (users, conversations, OAuth clients), its settings, a clock that
//! can be moved forward, and the stores of what clients created.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use genesys::models::{Evaluation, EvaluationForm};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// What the emulator serves: written by `qm-migrate sample`, read by `emulator genesys --fixture`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// OAuth clients that may obtain tokens.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// The user directory, in every state.
    #[serde(default)]
    pub users: Vec<FixtureUser>,
    /// Conversations with their participants.
    #[serde(default)]
    pub conversations: Vec<FixtureConversation>,
}

/// An OAuth client (client-credentials grant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// The permissions of the client's role (`domain:entity:action`, `*` allowed); absent: every
    /// permission qm-migrate uses. A request the role does not grant answers 403
    /// `missing.permissions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

/// A Genesys user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureUser {
    /// User id.
    pub id: String,
    /// Name.
    pub name: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Login name.
    #[serde(default)]
    pub username: Option<String>,
    /// `active`, `inactive` or `deleted`.
    pub state: String,
    /// Employee id (`employerInfo.employeeId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Holds the rights to score evaluations (else `quality.evaluation.evaluator.not.quality.evaluator`).
    #[serde(default = "yes")]
    pub quality_evaluator: bool,
}

fn yes() -> bool {
    true
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureConversation {
    /// Conversation id.
    pub conversation_id: String,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Participants.
    pub participants: Vec<FixtureParticipant>,
}

/// A conversation participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureParticipant {
    /// `agent`, `customer`, `acd`, …
    pub purpose: String,
    /// User id, for users.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Behaviour knobs. Defaults are Genesys' documented values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Requests per minute per OAuth client (Genesys: 300 per client-credentials token).
    pub requests_per_minute: u32,
    /// Evaluations per agent per rolling 24 h (Genesys: 50, up to 200 on request).
    pub per_agent_daily_cap: u32,
    /// Token lifetime, seconds (Genesys default: 86400).
    pub token_lifetime_s: u64,
    /// Accept inactive or deleted users as agent or evaluator (unverified #5; default: reject).
    pub accept_inactive_users: bool,
    /// At most one evaluation per conversation: a second create answers 400
    /// `quality.evaluation.already.exists` (unverified #2; default: not enforced).
    pub one_evaluation_per_conversation: bool,
    /// A `releaseDate` more than a minute in the past answers 400 `invalid.date` (unverified #4;
    /// default: accepted).
    pub reject_past_release_date: bool,
    /// A request field the official model does not define answers 400 `bad.request` (default). Off,
    /// such fields are only counted and logged, as Genesys silently ignores many.
    pub reject_unknown_fields: bool,
    /// Fault: latency added to every API request, milliseconds of the emulator's clock.
    pub latency_ms: u64,
    /// Fault: up to this much more latency, uniformly at random.
    pub latency_jitter_ms: u64,
    /// Fault: share of API requests answered 503 before doing anything (0.05 = 5 %).
    pub error_rate: f64,
    /// Fault: share of evaluation creates whose connection is dropped *after* the evaluation is
    /// stored (the client cannot know it was created).
    pub drop_after_commit_rate: f64,
    /// Fault: share of API requests answered 429 with `storm_retry_after_s` (a 429 storm).
    pub storm_rate: f64,
    /// `Retry-After` of storm 429s, seconds.
    pub storm_retry_after_s: u64,
    /// Seed of the fault dice (the same seed rolls the same faults for the same request order).
    pub seed: u64,
    /// The per-agent cap is answered as Genesys' API description lists it: 400
    /// `quality.evaluation.create.limit.exceeded.for.agent` with `limit{key, namespace, value}` and
    /// no `Retry-After` (default). On: the older reading, a 429 whose `Retry-After` is the time until
    /// a slot frees.
    pub cap_as_429: bool,
    /// Live QA: evaluations every user already received in the rolling 24 h before the emulator
    /// started (they count against the cap; the tool cannot see them).
    pub live_evaluations_per_agent: u32,
    /// How long before the start those live evaluations were made, seconds (they leave the window
    /// 24 h after that).
    pub live_evaluations_age_s: u64,
    /// `Idempotency-Key` replays the first answer (default). Off: a key is ignored and a second
    /// create with it makes a second evaluation (the replay is undocumented: unverified #12).
    pub idempotency_replay: bool,
    /// How long a key is replayed, seconds of the emulator's clock; 0: for ever.
    pub idempotency_window_s: u64,
    /// `evaluations/query` shows a new evaluation only this long after it was created,
    /// milliseconds of the emulator's clock (no source says how fresh the query is).
    pub query_lag_ms: u64,
    /// Fault: share of evaluation creates stored and answered 200 with a body that does not decode
    /// (`answers` of the wrong type; the `id` stays readable).
    pub undecodable_create_rate: f64,
    /// With `undecodable_create_rate`: the body is cut short, so not even the `id` can be read.
    pub undecodable_without_id: bool,
    /// Fault: share of creates answered 409 `quality.evaluation.already.in.progress` (an automated
    /// evaluation is running on the conversation), nothing stored.
    pub in_progress_rate: f64,
    /// Fault: the first this many publishes are committed and their connection dropped.
    pub drop_publishes: u32,
    /// Fault: for this many seconds of the emulator's clock after it starts, every API request is
    /// answered 429 `too.many.requests` without `Retry-After`.
    pub throttle_without_retry_after_s: u64,
    /// An org that reads weights otherwise: a group of weight 0 counts as weight 1 (unverified #15).
    pub zero_weight_counts: bool,
    /// An org where a failed fatal question does not zero the total (unverified #10).
    pub fatal_keeps_total: bool,
    /// The largest `pageSize` `evaluations/query` answers; above it, 400
    /// `response.entity.too.large` (Genesys documents no maximum).
    pub max_query_page_size: usize,
    /// A create with `status: FINISHED` and full answers is stored submitted (default). Off: an
    /// org that stores it `INPROGRESS`, unsubmitted, whatever the request said (unverified #3).
    pub finished_on_create: bool,
    /// Longest overall and agent comments of an evaluation, as Genesys' help pages state for
    /// evaluations created since 2024-02-19 (4000); counted as a Java string's length (UTF-16 code
    /// units). A longer one answers 400 `invalid.value` on create and update; 0: no limit.
    pub comment_limit: usize,
    /// Longest private comments and comments of one answer (help pages: 2000); 0: no limit.
    pub answer_comment_limit: usize,
    /// An audit query stays `Queued`, then `Running`, this long after it was made, milliseconds of
    /// the emulator's clock, before it is `Succeeded` (the query is asynchronous).
    pub audit_query_delay_ms: u64,
    /// Genesys refuses to re-score or delete an evaluation this many days after its creation (a
    /// Genesys answer on its developer forum: 90), on the emulator's clock: `PUT` answers 400
    /// `quality.evaluation.too.old.to.score`, `DELETE` a 400. 0: no window.
    pub edit_window_days: u32,
    /// Analytics lag: the evaluation aggregates count a change only this long after it (an
    /// evaluation created or re-scored meanwhile shows as it was), milliseconds of the emulator's
    /// clock (Genesys documents no freshness).
    pub analytics_lag_ms: u64,
    /// The longest interval an evaluation aggregates query may span, days (undocumented: 0, no limit,
    /// by default; set, the least kind reading: longer ones answer 400).
    pub aggregates_max_interval_days: i64,
    /// The longest interval a conversation detail query may span, days; 0: no limit (as the
    /// emulator's default: only "touches days" is documented).
    pub max_detail_query_days: i64,
    /// The org's performance profile gamifies the evaluation score (points awarded on release).
    pub gamified_evaluation_score: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            requests_per_minute: 300,
            per_agent_daily_cap: 50,
            token_lifetime_s: 86_400,
            accept_inactive_users: false,
            one_evaluation_per_conversation: false,
            reject_past_release_date: false,
            reject_unknown_fields: true,
            latency_ms: 0,
            latency_jitter_ms: 0,
            error_rate: 0.0,
            drop_after_commit_rate: 0.0,
            storm_rate: 0.0,
            storm_retry_after_s: 1,
            seed: 1,
            cap_as_429: false,
            live_evaluations_per_agent: 0,
            live_evaluations_age_s: 0,
            idempotency_replay: true,
            idempotency_window_s: 0,
            query_lag_ms: 0,
            undecodable_create_rate: 0.0,
            undecodable_without_id: false,
            in_progress_rate: 0.0,
            drop_publishes: 0,
            throttle_without_retry_after_s: 0,
            zero_weight_counts: false,
            fatal_keeps_total: false,
            max_query_page_size: 200,
            finished_on_create: true,
            comment_limit: 4000,
            answer_comment_limit: 2000,
            edit_window_days: 90,
            audit_query_delay_ms: 300,
            analytics_lag_ms: 0,
            aggregates_max_interval_days: 0,
            max_detail_query_days: 0,
            gamified_evaluation_score: false,
        }
    }
}

/// The emulator's view of a shared [`genesys::clock::Clock`] (scaled and advanceable, so multi-day
/// caps are tested in seconds), in `jiff` instants.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    shared: genesys::clock::Clock,
}

impl Clock {
    /// Now, on the emulator's clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.shared.now_unix_ms()).unwrap_or(Timestamp::MAX)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.shared.advance(by);
    }

    /// The shared clock (give it to the client and the loader so all agree on the time).
    pub fn shared(&self) -> &genesys::clock::Clock {
        &self.shared
    }
}

/// A form version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FormVersion {
    pub(crate) form: EvaluationForm,
    pub(crate) published: bool,
    pub(crate) seq: u64,
}

/// A stored evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredEvaluation {
    /// When it was stored, on the emulator's clock (the query shows it `query_lag_ms` later).
    #[serde(default)]
    pub(crate) stored_at: Option<Timestamp>,
    pub(crate) conversation_id: String,
    pub(crate) agent_id: String,
    pub(crate) evaluator_id: String,
    pub(crate) evaluation: Evaluation,
    /// Earlier versions, oldest first (each update keeps the version it replaced).
    #[serde(default)]
    pub(crate) versions: Vec<Evaluation>,
}

/// One write the org's audit trail records (Genesys keeps a year of them): who (the OAuth client,
/// or a person), what (`Create`, `Update`, `Delete`), which evaluation, when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Entry id.
    pub id: String,
    /// When, on the emulator's clock.
    pub at: Timestamp,
    /// `Create`, `Update` or `Delete`.
    pub action: String,
    /// The evaluation.
    pub evaluation_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Its form version.
    pub form_id: String,
    /// The OAuth client that made the request (API writes).
    pub client_id: Option<String>,
    /// The person who made it (a supervisor's edit in the UI).
    pub user_id: Option<String>,
}

/// An asynchronous audit query: the request, when it was made, its id.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    pub(crate) request: serde_json::Value,
    pub(crate) made_at: Timestamp,
}

/// An external metric point's key: (user id, metric id, date).
pub(crate) type MetricKey = (String, String, String);

/// Everything mutable.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) tokens: HashMap<String, (String, Timestamp)>,
    pub(crate) windows: HashMap<String, VecDeque<Timestamp>>,
    pub(crate) forms: HashMap<String, FormVersion>,
    pub(crate) form_seq: u64,
    pub(crate) evaluations: Vec<StoredEvaluation>,
    pub(crate) idempotency: HashMap<String, (String, String)>,
    /// When each idempotency key was first used (its replay window starts then).
    pub(crate) idempotency_at: HashMap<String, Timestamp>,
    /// Publishes still to drop (`drop_publishes`).
    pub(crate) publishes_to_drop: u32,
    /// Every API request is answered 429 `too.many.requests` without `Retry-After` until then.
    /// Fault: every evaluation update is applied and its connection dropped.
    pub(crate) drop_update_answers: bool,
    pub(crate) throttled_until: Option<Timestamp>,
    /// An outage: every route answers 503 until then.
    pub(crate) outage_until: Option<Timestamp>,
    /// The audit trail of evaluation writes.
    pub(crate) audit: Vec<AuditEntry>,
    /// Audit queries by transaction id.
    pub(crate) audit_queries: HashMap<String, AuditQuery>,
    /// Evaluations analytics has not processed yet (tests): left out of the aggregates.
    pub(crate) held_from_analytics: std::collections::HashSet<String>,
    /// Refusals staged by tests: (HTTP method, evaluation id) → (status, code).
    pub(crate) refusals: HashMap<(String, String), (u16, String)>,
    /// Evaluations a stale index leaves out of queries by agent or evaluator (tests).
    pub(crate) hidden_from_pages: std::collections::HashSet<String>,
    pub(crate) agent_creates: HashMap<String, VecDeque<Timestamp>>,
    pub(crate) metric_definitions: Vec<genesys::models::ExternalMetricDefinition>,
    /// Integrations (client apps): the integration object with its `config`.
    pub(crate) integrations: Vec<serde_json::Value>,
    /// (user id, metric id, date) → (value, count).
    pub(crate) metric_data: std::collections::BTreeMap<MetricKey, (f64, i64)>,
}

/// What persists between runs of an emulator (forms, evaluations, idempotency keys, per-agent
/// counters); tokens and rate windows do not, as in a real org after a restart of the client.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    forms: HashMap<String, FormVersion>,
    form_seq: u64,
    evaluations: Vec<StoredEvaluation>,
    idempotency: HashMap<String, (String, String)>,
    #[serde(default)]
    idempotency_at: HashMap<String, Timestamp>,
    agent_creates: HashMap<String, VecDeque<Timestamp>>,
    #[serde(default)]
    metric_definitions: Vec<genesys::models::ExternalMetricDefinition>,
    #[serde(default)]
    integrations: Vec<serde_json::Value>,
    #[serde(default)]
    metric_data: Vec<(MetricKey, (f64, i64))>,
    #[serde(default)]
    audit: Vec<AuditEntry>,
}

/// Counters a test or a demo reads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Every HTTP request received.
    pub requests: AtomicU64,
    /// OAuth tokens issued.
    pub tokens_issued: AtomicU64,
    /// Evaluations created.
    pub evaluations_created: AtomicU64,
    /// Evaluation updates applied.
    pub evaluations_updated: AtomicU64,
    /// Creates answered from the idempotency store.
    pub idempotent_replays: AtomicU64,
    /// 429s sent.
    pub throttled: AtomicU64,
    /// Injected faults: 503s, dropped connections after commit, storm 429s.
    pub faults_5xx: AtomicU64,
    /// Connections dropped after an evaluation was stored.
    pub faults_dropped: AtomicU64,
    /// Storm 429s.
    pub faults_storm: AtomicU64,
    /// Creates answered with the per-agent cap.
    pub cap_answers: AtomicU64,
    /// Creates answered 409 `quality.evaluation.already.in.progress`.
    pub in_progress_answers: AtomicU64,
    /// Creates stored and answered with a body that does not decode.
    pub undecodable_answers: AtomicU64,
    /// Publishes committed whose connection was dropped.
    pub publishes_dropped: AtomicU64,
    /// 429s without `Retry-After`.
    pub throttled_without_retry_after: AtomicU64,
    /// Requests answered 503 during an outage.
    pub outage_answers: AtomicU64,
    /// Creates that carried an `Idempotency-Key` already used (replayed or not).
    pub repeated_keys: AtomicU64,
    /// Every request body that did not match its official model: `operation: violation`.
    pub schema_violations: Mutex<Vec<String>>,
    /// Every conversation detail query: its interval and the user it was filtered by (none: the
    /// org's conversations).
    pub detail_queries: Mutex<Vec<(Timestamp, Timestamp, Option<String>)>>,
}

/// Shared emulator state.
#[derive(Clone)]
pub struct EmulatorState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) fixture: Fixture,
    /// Index of `fixture.users` and `fixture.conversations` by id (lookups are per request).
    user_index: std::collections::HashMap<String, usize>,
    conversation_index: std::collections::HashMap<String, usize>,
    /// User id → the conversations they took part in, in start order (analytics queries).
    by_participant: std::collections::HashMap<String, Vec<usize>>,
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) store: Mutex<Store>,
    pub(crate) stats: Stats,
    pub(crate) dice: Mutex<rand_chacha::ChaCha8Rng>,
}

impl EmulatorState {
    /// A fresh state over `fixture`, on the system clock.
    pub fn new(fixture: Fixture, settings: Settings) -> Self {
        Self::with_clock(fixture, settings, genesys::clock::Clock::system())
    }

    /// A fresh state over `fixture` on `clock` (share it with the client for scaled-time runs).
    pub fn with_clock(fixture: Fixture, settings: Settings, clock: genesys::clock::Clock) -> Self {
        let seed = settings.seed;
        let user_index = fixture
            .users
            .iter()
            .enumerate()
            .rev() // the first of duplicate ids wins, as a linear search would
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        let conversation_index = fixture
            .conversations
            .iter()
            .enumerate()
            .rev()
            .map(|(i, c)| (c.conversation_id.clone(), i))
            .collect();
        let mut by_participant: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, c) in fixture.conversations.iter().enumerate() {
            let mut users: Vec<&String> = c
                .participants
                .iter()
                .filter_map(|p| p.user_id.as_ref())
                .collect();
            users.sort();
            users.dedup();
            for u in users {
                by_participant.entry(u.clone()).or_default().push(i);
            }
        }
        for list in by_participant.values_mut() {
            list.sort_by_key(|&i| fixture.conversations[i].start);
        }
        let clock = Clock { shared: clock };
        let started = clock.now();
        let mut store = Store {
            publishes_to_drop: settings.drop_publishes,
            throttled_until: (settings.throttle_without_retry_after_s > 0)
                .then(|| {
                    started
                        .checked_add(SignedDuration::from_secs(
                            i64::try_from(settings.throttle_without_retry_after_s)
                                .unwrap_or(i64::MAX),
                        ))
                        .ok()
                })
                .flatten(),
            ..Store::default()
        };
        if settings.live_evaluations_per_agent > 0 {
            // Live QA made these in the day before the migration started: they count against the
            // cap, and leave the window 24 h after they were made.
            let at = started
                .checked_sub(SignedDuration::from_secs(
                    i64::try_from(settings.live_evaluations_age_s).unwrap_or(0),
                ))
                .unwrap_or(started);
            for u in &fixture.users {
                store.agent_creates.insert(
                    u.id.clone(),
                    std::iter::repeat_n(at, settings.live_evaluations_per_agent as usize).collect(),
                );
            }
        }
        EmulatorState {
            inner: Arc::new(Inner {
                by_participant,
                user_index,
                conversation_index,
                fixture,
                settings,
                clock,
                store: Mutex::new(store),
                stats: Stats::default(),
                dice: Mutex::new(
                    <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed),
                ),
            }),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Request bodies that did not match the official models so far.
    pub fn schema_violations(&self) -> Vec<String> {
        self.inner
            .stats
            .schema_violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The fixture.
    pub fn fixture(&self) -> &Fixture {
        &self.inner.fixture
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written in a way later
        // requests could not serve, so recover from poisoning instead of failing every request.
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The persistent part of the state, as JSON.
    pub fn snapshot(&self) -> serde_json::Value {
        let store = self.store();
        let snap = Snapshot {
            forms: store.forms.clone(),
            form_seq: store.form_seq,
            evaluations: store.evaluations.clone(),
            idempotency: store.idempotency.clone(),
            idempotency_at: store.idempotency_at.clone(),
            agent_creates: store.agent_creates.clone(),
            metric_definitions: store.metric_definitions.clone(),
            integrations: store.integrations.clone(),
            metric_data: store
                .metric_data
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            audit: store.audit.clone(),
        };
        serde_json::to_value(&snap).unwrap_or(serde_json::Value::Null)
    }

    /// Restores a [`EmulatorState::snapshot`].
    ///
    /// # Errors
    /// When the JSON is not a snapshot.
    pub fn restore(&self, value: serde_json::Value) -> Result<(), serde_json::Error> {
        let snap: Snapshot = serde_json::from_value(value)?;
        let mut store = self.store();
        store.forms = snap.forms;
        store.form_seq = snap.form_seq;
        store.evaluations = snap.evaluations;
        store.idempotency = snap.idempotency;
        store.idempotency_at = snap.idempotency_at;
        store.agent_creates = snap.agent_creates;
        store.metric_definitions = snap.metric_definitions;
        store.integrations = snap.integrations;
        store.metric_data = snap.metric_data.into_iter().collect();
        store.audit = snap.audit;
        Ok(())
    }

    /// Removes a stored evaluation behind the API's back (tests that tamper with the org).
    pub fn tamper_remove_evaluation(&self, id: &str) -> bool {
        let mut store = self.store();
        let before = store.evaluations.len();
        store.evaluations.retain(|e| e.evaluation.id != id);
        store.evaluations.len() != before
    }

    /// Changes a stored evaluation's total score behind the API's back (tests).
    pub fn tamper_set_total(&self, id: &str, total: f64) -> bool {
        let mut store = self.store();
        match store.evaluations.iter_mut().find(|e| e.evaluation.id == id) {
            Some(e) => {
                if let Some(a) = e.evaluation.answers.as_mut() {
                    a.total_score = Some(total);
                }
                true
            }
            None => false,
        }
    }

    /// `d` from now on the emulator's clock.
    fn after(&self, d: std::time::Duration) -> Timestamp {
        self.inner
            .clock
            .now()
            .checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX)
    }

    /// From now on, for `d` of the emulator's clock, every API request is answered 429
    /// `too.many.requests` without `Retry-After` (tests).
    pub fn throttle_without_retry_after(&self, d: std::time::Duration) {
        self.store().throttled_until = Some(self.after(d));
    }

    /// Analytics has not processed evaluation `id` yet: the aggregates leave it out until
    /// [`EmulatorState::release_to_analytics`] (tests).
    pub fn hold_from_analytics(&self, id: &str) {
        self.store().held_from_analytics.insert(id.to_owned());
    }

    /// Analytics has processed evaluation `id`.
    pub fn release_to_analytics(&self, id: &str) {
        self.store().held_from_analytics.remove(id);
    }

    /// From now on, every `method` (`GET`, `PUT`, `DELETE`) of evaluation `id` is answered
    /// `status` with `code`, for that evaluation alone (tests of one item's refusal).
    pub fn refuse(&self, method: &str, id: &str, status: u16, code: &str) {
        self.store().refusals.insert(
            (method.to_owned(), id.to_owned()),
            (status, code.to_owned()),
        );
    }

    /// A refusal staged with [`EmulatorState::refuse`], as its answer.
    pub(crate) fn refusal(&self, method: &str, id: &str) -> Option<(u16, String)> {
        self.store()
            .refusals
            .get(&(method.to_owned(), id.to_owned()))
            .cloned()
    }

    /// From now on, for `d` of the emulator's clock, every route (tokens included) answers 503
    /// `service.unavailable`: an outage (tests).
    pub fn outage(&self, d: std::time::Duration) {
        self.store().outage_until = Some(self.after(d));
    }

    /// Fault, switched at run time: every evaluation update is applied and its connection dropped
    /// (the client cannot know it was applied).
    pub fn drop_update_answers(&self, on: bool) {
        self.store().drop_update_answers = on;
    }

    /// The published versions of the forms named `name`, oldest first: (version id, context id).
    pub fn published_versions(&self, name: &str) -> Vec<(String, String)> {
        let store = self.store();
        let mut v: Vec<&FormVersion> = store
            .forms
            .values()
            .filter(|v| v.published && v.form.name == name)
            .collect();
        v.sort_by_key(|v| v.seq);
        v.into_iter()
            .map(|v| {
                (
                    v.form.id.clone().unwrap_or_default(),
                    v.form.context_id.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// A stale index: evaluation `id` is left out of queries by agent or evaluator (still found by
    /// conversation), as a page read while the index catches up could miss it (tests).
    pub fn hide_from_paged_queries(&self, id: &str) {
        self.store().hidden_from_pages.insert(id.to_owned());
    }

    /// Every bearer token issued so far (tests that look for them where they must not be).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.store().tokens.keys().cloned().collect()
    }

    /// Every integration registered (client apps), with its configuration.
    pub fn integrations(&self) -> Vec<serde_json::Value> {
        self.store().integrations.clone()
    }

    /// Every external metric data point: (user id, metric id, date, value, count).
    pub fn metric_points(&self) -> Vec<(String, String, String, f64, i64)> {
        self.store()
            .metric_data
            .iter()
            .map(|((u, m, d), (v, c))| (u.clone(), m.clone(), d.clone(), *v, *c))
            .collect()
    }

    /// Every evaluation currently stored (deleted ones are gone), for tests and demo summaries.
    pub fn evaluations(&self) -> Vec<Evaluation> {
        self.store()
            .evaluations
            .iter()
            .map(|e| e.evaluation.clone())
            .collect()
    }

    /// Evaluations stored per agent.
    pub fn evaluations_per_agent(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in &self.store().evaluations {
            *out.entry(e.agent_id.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Evaluations stored by evaluator.
    pub fn evaluator_of(&self, evaluation_id: &str) -> Option<String> {
        self.store()
            .evaluations
            .iter()
            .find(|e| e.evaluation.id == evaluation_id)
            .map(|e| e.evaluator_id.clone())
    }

    /// Whether a create with `key` is answered from the idempotency store (replay on, and the key
    /// first used within the replay window).
    pub(crate) fn replays(&self, key: &str) -> bool {
        self.replays_in(&self.store(), key)
    }

    /// [`EmulatorState::replays`] with the store already locked.
    pub(crate) fn replays_in(&self, store: &Store, key: &str) -> bool {
        let s = &self.inner.settings;
        if !s.idempotency_replay {
            return false;
        }
        if s.idempotency_window_s == 0 {
            return true;
        }
        store.idempotency_at.get(key).is_none_or(|first| {
            let window = SignedDuration::from_secs(
                i64::try_from(s.idempotency_window_s).unwrap_or(i64::MAX),
            );
            first
                .checked_add(window)
                .is_ok_and(|end| self.inner.clock.now() <= end)
        })
    }

    /// The scoring rules this org follows.
    pub(crate) fn rules(&self) -> crate::scoring::Rules {
        crate::scoring::Rules {
            zero_weight_counts: self.inner.settings.zero_weight_counts,
            fatal_keeps_total: self.inner.settings.fatal_keeps_total,
        }
    }

    /// Rolls a fault with probability `p`.
    pub(crate) fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self
            .inner
            .dice
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rand::RngExt::random_bool(&mut *rng, p.min(1.0))
    }

    /// A latency draw, milliseconds.
    pub(crate) fn latency(&self) -> u64 {
        let s = &self.inner.settings;
        if s.latency_jitter_ms == 0 {
            return s.latency_ms;
        }
        let mut rng = self
            .inner
            .dice
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.latency_ms + rand::RngExt::random_range(&mut *rng, 0..=s.latency_jitter_ms)
    }

    pub(crate) fn user(&self, id: &str) -> Option<&FixtureUser> {
        self.inner
            .user_index
            .get(id)
            .map(|&i| &self.inner.fixture.users[i])
    }

    /// The conversations `user_id` took part in, in start order.
    pub(crate) fn conversations_of(&self, user_id: &str) -> Vec<&FixtureConversation> {
        self.inner
            .by_participant
            .get(user_id)
            .map(|l| {
                l.iter()
                    .map(|&i| &self.inner.fixture.conversations[i])
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn conversation(&self, id: &str) -> Option<&FixtureConversation> {
        self.inner
            .conversation_index
            .get(id)
            .map(|&i| &self.inner.fixture.conversations[i])
    }
}

impl EmulatorState {
    /// How many versions evaluation `id` has had (1: never updated); `None` when it does not exist.
    pub fn evaluation_versions(&self, id: &str) -> Option<usize> {
        self.store()
            .evaluations
            .iter()
            .find(|e| e.evaluation.id == id)
            .map(|e| e.versions.len() + 1)
    }

    /// A supervisor's edit in Genesys: `edit` changes the evaluation, which becomes a new version
    /// with a new `changedDate`, and the audit trail records it as the fixture's supervisor's.
    /// Returns false when it does not exist.
    pub fn edit_evaluation(&self, id: &str, edit: impl FnOnce(&mut Evaluation)) -> bool {
        self.edit_evaluation_by(SUPERVISOR, id, edit)
    }

    /// [`EmulatorState::edit_evaluation`] by person `user_id`.
    pub fn edit_evaluation_by(
        &self,
        user_id: &str,
        id: &str,
        edit: impl FnOnce(&mut Evaluation),
    ) -> bool {
        let now = self.inner.clock.now();
        let mut store = self.store();
        let Some(e) = store.evaluations.iter_mut().find(|e| e.evaluation.id == id) else {
            return false;
        };
        e.versions.push(e.evaluation.clone());
        edit(&mut e.evaluation);
        e.evaluation.changed_date = Some(now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        let entry = audit_entry(now, "Update", e, None, Some(user_id));
        store.audit.push(entry);
        true
    }

    /// A person deletes evaluation `id` in Genesys (the audit trail records it). Returns false
    /// when it does not exist.
    pub fn delete_evaluation_by(&self, user_id: &str, id: &str) -> bool {
        let now = self.inner.clock.now();
        let mut store = self.store();
        let Some(pos) = store.evaluations.iter().position(|e| e.evaluation.id == id) else {
            return false;
        };
        let removed = store.evaluations.remove(pos);
        let entry = audit_entry(now, "Delete", &removed, None, Some(user_id));
        store.audit.push(entry);
        true
    }

    /// The audit trail so far.
    pub fn audit_trail(&self) -> Vec<AuditEntry> {
        self.store().audit.clone()
    }
}

/// The person the tests' staged edits are made by.
pub const SUPERVISOR: &str = "5e5e5e5e-0000-4000-8000-00000000beef";

/// An audit entry for `action` on `e` by a client or a person.
pub(crate) fn audit_entry(
    at: Timestamp,
    action: &str,
    e: &StoredEvaluation,
    client_id: Option<&str>,
    user_id: Option<&str>,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::new_v4().to_string(),
        at,
        action: action.to_owned(),
        evaluation_id: e.evaluation.id.clone(),
        conversation_id: e.conversation_id.clone(),
        form_id: e
            .evaluation
            .evaluation_form
            .as_ref()
            .map(|f| f.id.clone())
            .unwrap_or_default(),
        client_id: client_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
    }
}
