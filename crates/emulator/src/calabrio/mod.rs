//! A stand-in for the Calabrio ONE REST ("legacy") API endpoints an extractor uses
//! (reference/calabrio.md §1), serving a dataset `qm-migrate sample` writes (`calabrio-api.json`).
//!
//! It behaves as practitioners' code shows the real one does, plus the faults an extractor must
//! survive:
//! - `POST /api/rest/authorize` with the JSON object body answers `{"sessionId"}` and sets the
//!   `hazelcast.sessionId` cookie. With `legacy_login` it refuses the object body (400) and takes only
//!   the older array body, which sets `CSRFTOKEN` too; every later call must then send it back as
//!   `X-CSRF-Token` (403 otherwise).
//! - Sessions expire after `session_requests` requests (401), as long extractions see.
//! - `recording/contact` filters contacts by start date (`beginDate`..=`endDate`, days in the
//!   tenant's `time_zone`, UTC by default) and, with `evalState=scored`, to contacts holding a
//!   `SCORED` evaluation; it answers `{"count"}` to `searchStats=true`, and pages by
//!   `Range: items=a-b` (capped by `limit` and by a server page cap below it, `max_page`),
//!   answering `Content-Range`. Like a real tenant, it records far more contacts than are evaluated
//!   (`unevaluated_per_evaluated`).
//! - `recording/contact/{id}/eval/` lists the full evaluation objects (or summaries, without
//!   `full_objects`); an evaluation links to its comments only when it has some.
//! - `recording/evalform` lists only current forms; a retired one is served by
//!   `recording/evalform/{id}` alone.
//! - `person/permission/ViewOrg` lists only *active* persons; inactive ones are found only by
//!   `person/{id}` (the directory pitfall of §5).
//! - A seeded `fault_rate` of GETs answer 503.
//! - The faults of reference/calabrio.md §11 a crawl must survive: comments answering 404 (an
//!   evaluation deleted during the crawl), a contact's evaluations answering 403 (out of the API
//!   user's scope), a count that is a string, unreadable or under another key, a count that does not
//!   match the contacts served, pages that come back empty.
//!
//! One file per API area: `session`, `forms`, `people`, `contacts` (contacts and their
//! evaluations). This file holds the dataset, the state, the admission of each request (session,
//! CSRF token, faults) and the router.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state, locked, for a request [`admit`] lets through; otherwise the handler answers with
/// the refusal.
macro_rules! admitted {
    ($s:expr, $headers:expr) => {{
        let mut inner = $s.lock();
        if let Err((status, message)) = admit(&mut inner, $headers) {
            return error(status, message);
        }
        inner
    }};
}

mod contacts;
mod forms;
mod people;
mod session;

use contacts::{eval_comments, eval_detail, eval_list, search};
use forms::{form, forms};
use people::{person, persons};
use session::{authorize, logout};

/// An API user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiUser {
    /// Login.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// API password.
    pub password: String,
}

/// One evaluation as the API holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetEvaluation {
    /// `GET recording/contact/{cid}/eval/{eid}`.
    pub detail: Value,
    /// `GET …/comment`.
    #[serde(default)]
    pub comments: Vec<Value>,
}

/// A contact and its evaluations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetContact {
    /// The contact object of `recording/contact` (needs `id` and `startTime`, epoch ms).
    pub contact: Value,
    /// Its evaluations.
    #[serde(default)]
    pub evaluations: Vec<DatasetEvaluation>,
}

/// What the Calabrio emulator serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dataset {
    /// API users.
    pub api_users: Vec<ApiUser>,
    /// Person objects (`personId`, `active`, …).
    pub persons: Vec<Value>,
    /// Form objects of `recording/evalform`.
    pub forms: Vec<Value>,
    /// Contacts.
    pub contacts: Vec<DatasetContact>,
}

impl Dataset {
    /// The first and last contact day (UTC date of `startTime`), if any contact has one.
    pub fn contact_days(&self) -> Option<(jiff::civil::Date, jiff::civil::Date)> {
        let days = self
            .contacts
            .iter()
            .filter_map(|c| c.contact.get("startTime")?.as_i64())
            .filter_map(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date());
        days.fold(None, |acc, d| match acc {
            None => Some((d, d)),
            Some((a, b)) => Some((a.min(d), b.max(d))),
        })
    }
}

/// Behaviour switches.
#[derive(Debug, Clone)]
pub struct CalabrioSettings {
    /// Accept only the older array login body and demand the CSRF token.
    pub legacy_login: bool,
    /// Requests a session serves before it expires (0 = never).
    pub session_requests: u64,
    /// Share of GETs answered 503.
    pub fault_rate: f64,
    /// Most contacts one page returns, whatever `limit` asks.
    pub max_page: usize,
    /// Seed of the fault generator.
    pub seed: u64,
    /// An outage: once this many requests have been served in all, every request answers 503.
    pub outage_after: Option<u64>,
    /// Recorded contacts without any evaluation, per contact that holds one (a tenant records
    /// every call and evaluates a few per cent); at most 99.
    pub unevaluated_per_evaluated: u32,
    /// `eval/` lists full evaluation objects (as practitioners' data shows), else summaries.
    pub full_objects: bool,
    /// Evaluations whose comments answer 404 (deleted while the crawl runs).
    pub missing_comments: Vec<String>,
    /// Contacts whose evaluations answer 403 (out of the API user's scope).
    pub forbidden_contacts: Vec<String>,
    /// Forms `recording/evalform` no longer lists (retired); `recording/evalform/{id}` serves them.
    pub retired_forms: Vec<String>,
    /// How `searchStats` writes the count.
    pub count_as: CountAs,
    /// Added to every count `searchStats` answers (a count that does not match the contacts).
    pub count_offset: i64,
    /// The next this many pages after a day's first come back empty.
    pub empty_pages: u32,
    /// The tenant's zone, in which `beginDate`/`endDate` are days (`None`: UTC).
    pub time_zone: Option<String>,
}

/// How `searchStats` writes the count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CountAs {
    /// `{"count": 40}`.
    #[default]
    Number,
    /// `{"count": "40"}`.
    String,
    /// `{"count": "about 40"}`: no count a client can read.
    Unreadable,
    /// `{"total": 40}`: the count under another key.
    OtherKey,
}

impl Default for CalabrioSettings {
    fn default() -> Self {
        CalabrioSettings {
            legacy_login: false,
            session_requests: 0,
            fault_rate: 0.0,
            max_page: 100,
            seed: 7,
            outage_after: None,
            unevaluated_per_evaluated: 0,
            full_objects: true,
            missing_comments: Vec::new(),
            forbidden_contacts: Vec::new(),
            retired_forms: Vec::new(),
            count_as: CountAs::Number,
            count_offset: 0,
            empty_pages: 0,
            time_zone: None,
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CalabrioStats {
    /// Requests served.
    pub requests: u64,
    /// Successful logins.
    pub logins: u64,
    /// 401s for an expired or unknown session.
    pub expired: u64,
    /// 503s injected.
    pub faults: u64,
    /// Contact pages served.
    pub pages: u64,
    /// Contact searches (`searchStats` and pages) by whether they asked only for evaluated
    /// contacts.
    pub evaluated_searches: u64,
}

struct Session {
    used: u64,
    csrf: Option<String>,
}

struct Inner {
    data: Dataset,
    settings: CalabrioSettings,
    sessions: HashMap<String, Session>,
    rng: ChaCha8Rng,
    stats: CalabrioStats,
    next_session: u64,
    /// contact id → index in `data.contacts`.
    by_id: HashMap<String, usize>,
    /// The recorded contacts no one evaluated (`unevaluated_per_evaluated`), by start.
    unevaluated: Vec<DatasetContact>,
    /// Empty pages still to serve (`empty_pages`).
    empty_pages_left: u32,
}

/// Shared emulator state.
#[derive(Clone)]
pub struct CalabrioState(Arc<Mutex<Inner>>);

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl CalabrioState {
    /// State over `data`.
    pub fn new(mut data: Dataset, settings: CalabrioSettings) -> Self {
        data.contacts.sort_by_key(|c| {
            (
                c.contact
                    .get("startTime")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                id_of(&c.contact).unwrap_or_default(),
            )
        });
        let by_id = data
            .contacts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((id_of(&c.contact)?, i)))
            .collect();
        let rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let unevaluated = unevaluated(&data, settings.unevaluated_per_evaluated);
        let empty_pages_left = settings.empty_pages;
        CalabrioState(Arc::new(Mutex::new(Inner {
            data,
            settings,
            sessions: HashMap::new(),
            rng,
            stats: CalabrioStats::default(),
            next_session: 1,
            by_id,
            unevaluated,
            empty_pages_left,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counters so far.
    pub fn stats(&self) -> CalabrioStats {
        self.lock().stats.clone()
    }

    /// Changes the settings (tests turn faults on and off).
    pub fn set_settings(&self, settings: CalabrioSettings) {
        let mut inner = self.lock();
        inner.unevaluated = unevaluated(&inner.data, settings.unevaluated_per_evaluated);
        inner.empty_pages_left = settings.empty_pages;
        inner.settings = settings;
    }

    /// Changes the dataset, as supervisors working in Calabrio would (an evaluation re-scored,
    /// another deleted).
    pub fn edit(&self, edit: impl FnOnce(&mut Dataset)) {
        let mut inner = self.lock();
        let mut data = std::mem::take(&mut inner.data);
        edit(&mut data);
        let fresh = CalabrioState::new(data, inner.settings.clone());
        let mut fresh = fresh.lock();
        inner.data = std::mem::take(&mut fresh.data);
        inner.by_id = std::mem::take(&mut fresh.by_id);
        inner.unevaluated = std::mem::take(&mut fresh.unevaluated);
    }

    /// Drops every session, as a server restart would.
    pub fn expire_all_sessions(&self) {
        self.lock().sessions.clear();
    }
}

/// `per` recorded contacts without evaluations beside each contact of `data`, minutes after it
/// (ids from 900000000000, which the sample's contacts never reach).
fn unevaluated(data: &Dataset, per: u32) -> Vec<DatasetContact> {
    let per = u64::from(per.min(99));
    let mut out = Vec::new();
    for (i, c) in data.contacts.iter().enumerate() {
        let Some(start) = c.contact.get("startTime").and_then(Value::as_i64) else {
            continue;
        };
        for k in 0..per {
            let id = 900_000_000_000 + (i as u64) * 100 + k;
            let offset = i64::try_from(k + 1).unwrap_or(0) * 37_000;
            out.push(DatasetContact {
                contact: serde_json::json!({
                    "id": id, "startTime": start + offset, "tz": c.contact.get("tz"),
                    "contactType": "CALL", "callDuration": 180_000,
                }),
                evaluations: Vec::new(),
            });
        }
    }
    out
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"message": message}))).into_response()
}

/// Checks the session and the fault dice; `Err` is the status and message to answer.
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    inner.stats.requests += 1;
    let Some(sid) = cookie(headers, "hazelcast.sessionId") else {
        inner.stats.expired += 1;
        return Err((StatusCode::UNAUTHORIZED, "no session"));
    };
    let limit = inner.settings.session_requests;
    let Some(session) = inner.sessions.get_mut(&sid) else {
        inner.stats.expired += 1;
        return Err((StatusCode::UNAUTHORIZED, "session expired"));
    };
    if let Some(t) = &session.csrf {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if sent != Some(t.as_str()) {
            return Err((StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token"));
        }
    }
    session.used += 1;
    if limit > 0 && session.used > limit {
        inner.sessions.remove(&sid);
        inner.stats.expired += 1;
        return Err((StatusCode::UNAUTHORIZED, "session expired"));
    }
    if inner
        .settings
        .outage_after
        .is_some_and(|n| inner.stats.requests > n)
    {
        inner.stats.faults += 1;
        return Err((StatusCode::SERVICE_UNAVAILABLE, "outage"));
    }
    let rate = inner.settings.fault_rate;
    if rate > 0.0 && inner.rng.random_range(0.0..1.0) < rate {
        inner.stats.faults += 1;
        return Err((StatusCode::SERVICE_UNAVAILABLE, "injected fault"));
    }
    Ok(())
}

fn json(v: Value) -> Response {
    axum::Json(v).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint in the Calabrio emulator",
    )
}

/// The router over `state`.
pub fn app(state: CalabrioState) -> Router {
    Router::new()
        .route("/api/rest/authorize", post(authorize).delete(logout))
        .route("/api/rest/recording/evalform", get(forms))
        .route("/api/rest/recording/evalform/{id}", get(form))
        .route(
            "/api/rest/org/common/person/permission/ViewOrg",
            get(persons),
        )
        .route("/api/rest/org/common/person/{id}", get(person))
        .route("/api/rest/recording/contact", get(search))
        .route("/api/rest/recording/contact/{cid}/eval/", get(eval_list))
        .route("/api/rest/recording/contact/{cid}/eval", get(eval_list))
        .route(
            "/api/rest/recording/contact/{cid}/eval/{eid}",
            get(eval_detail),
        )
        .route(
            "/api/rest/recording/contact/{cid}/eval/{eid}/comment",
            get(eval_comments),
        )
        .fallback(not_found)
        .with_state(state)
}

/// A running Calabrio emulator.
pub struct CalabrioHandle {
    /// The bound address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: CalabrioState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl CalabrioHandle {
    /// The API base URL, `http://127.0.0.1:PORT/api/rest`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/rest", self.addr)
    }
}

impl Drop for CalabrioHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr` and serves `state` in a background task.
///
/// # Errors
/// The bind error.
pub async fn spawn(addr: &str, state: CalabrioState) -> std::io::Result<CalabrioHandle> {
    let s = crate::serve(addr, app(state.clone()), "calabrio").await?;
    Ok(CalabrioHandle {
        addr: s.addr,
        state,
        shutdown: Some(s.shutdown),
    })
}
