//! The emulator's world: a fixture (users, conversations, OAuth clients), its settings, a clock that
//! can be moved forward, and the stores of what clients created.
//!
//! By area, as the routes are: `fixture` (the org and its lookups), `settings` (limits, switches,
//! faults), `evaluations` (forms and evaluations stored), `audit` (the audit trail and the person
//! edits tests stage), `staging` (faults and refusals switched at run time); this file holds the
//! state itself, its clock, its counters and its snapshot.

mod audit;
mod evaluations;
mod fixture;
mod settings;
mod staging;

pub use audit::{AuditEntry, SUPERVISOR};
pub(crate) use audit::{AuditQuery, audit_entry};
pub(crate) use evaluations::{FormVersion, StoredEvaluation};
pub use fixture::{Fixture, FixtureConversation, FixtureParticipant, FixtureUser, OAuthClient};
pub use settings::Settings;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

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
}
