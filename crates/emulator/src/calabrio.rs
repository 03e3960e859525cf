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
//! - `recording/contact` filters contacts by start date (`beginDate`..=`endDate`, UTC days),
//!   answers `{"count"}` to `searchStats=true`, and pages by `Range: items=a-b` (capped by `limit`
//!   and `max_page`), answering `Content-Range`.
//! - `person/permission/ViewOrg` lists only *active* persons; inactive ones are found only by
//!   `person/{id}` (the directory pitfall of §5).
//! - A seeded `fault_rate` of GETs answer 503.

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
}

impl Default for CalabrioSettings {
    fn default() -> Self {
        CalabrioSettings {
            legacy_login: false,
            session_requests: 0,
            fault_rate: 0.0,
            max_page: 1000,
            seed: 7,
            outage_after: None,
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
        CalabrioState(Arc::new(Mutex::new(Inner {
            data,
            settings,
            sessions: HashMap::new(),
            rng,
            stats: CalabrioStats::default(),
            next_session: 1,
            by_id,
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
        self.lock().settings = settings;
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
    }

    /// Drops every session, as a server restart would.
    pub fn expire_all_sessions(&self) {
        self.lock().sessions.clear();
    }
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

async fn authorize(State(s): State<CalabrioState>, body: axum::body::Bytes) -> Response {
    let mut inner = s.lock();
    inner.stats.requests += 1;
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let (creds, legacy) = match &value {
        Value::Object(_) if inner.settings.legacy_login => {
            return error(StatusCode::BAD_REQUEST, "expected an array body");
        }
        Value::Object(_) => (value.clone(), false),
        Value::Array(items) if items.len() == 1 => (items[0].clone(), true),
        _ => return error(StatusCode::BAD_REQUEST, "expected a login object"),
    };
    let user = creds
        .get("userId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let password = creds
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !inner
        .data
        .api_users
        .iter()
        .any(|u| u.user_id == user && u.password == password)
    {
        return error(StatusCode::UNAUTHORIZED, "invalid credentials");
    }
    let n = inner.next_session;
    inner.next_session += 1;
    let sid = format!("hz-{n:08}-{}", inner.rng.random_range(100_000..999_999u32));
    let csrf = legacy.then(|| format!("csrf-{}", inner.rng.random_range(100_000..999_999u32)));
    inner.sessions.insert(
        sid.clone(),
        Session {
            used: 0,
            csrf: csrf.clone(),
        },
    );
    inner.stats.logins += 1;
    let mut headers = HeaderMap::new();
    if let Ok(v) = format!("hazelcast.sessionId={sid}; Path=/; HttpOnly").parse() {
        headers.append(header::SET_COOKIE, v);
    }
    if let Some(t) = &csrf
        && let Ok(v) = format!("CSRFTOKEN={t}; Path=/").parse()
    {
        headers.append(header::SET_COOKIE, v);
    }
    let body = if legacy {
        serde_json::json!([{"id": "recording", "sessionId": sid}])
    } else {
        serde_json::json!({"sessionId": sid})
    };
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

async fn logout(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    inner.stats.requests += 1;
    if let Some(sid) = cookie(&headers, "hazelcast.sessionId") {
        inner.sessions.remove(&sid);
    }
    StatusCode::OK.into_response()
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

async fn forms(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    json(Value::Array(inner.data.forms.clone()))
}

async fn persons(State(s): State<CalabrioState>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    let active: Vec<Value> = inner
        .data
        .persons
        .iter()
        .filter(|p| p.get("active").and_then(Value::as_bool) != Some(false))
        .cloned()
        .collect();
    json(Value::Array(active))
}

async fn person(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    let found = inner.data.persons.iter().find(|p| {
        p.get("personId").map(|v| match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        }) == Some(id.clone())
    });
    match found {
        Some(p) => json(p.clone()),
        None => error(StatusCode::NOT_FOUND, "no such person"),
    }
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(rename = "beginDate")]
    begin: Option<String>,
    #[serde(rename = "endDate")]
    end: Option<String>,
    #[serde(rename = "searchStats")]
    stats: Option<bool>,
    limit: Option<usize>,
}

async fn search(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Query(q): Query<SearchParams>,
) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    let parse = |d: &Option<String>| {
        d.as_deref()
            .map(str::parse::<jiff::civil::Date>)
            .transpose()
    };
    let (Ok(begin), Ok(end)) = (parse(&q.begin), parse(&q.end)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "beginDate/endDate must be YYYY-MM-DD",
        );
    };
    let day_of = |c: &Value| {
        c.get("startTime")
            .and_then(Value::as_i64)
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date())
    };
    let matching: Vec<&DatasetContact> = inner
        .data
        .contacts
        .iter()
        .filter(|c| match day_of(&c.contact) {
            Some(d) => begin.is_none_or(|b| d >= b) && end.is_none_or(|e| d <= e),
            None => false,
        })
        .collect();
    if q.stats == Some(true) {
        return json(serde_json::json!({"count": matching.len()}));
    }
    let total = matching.len();
    let (start, last) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("items="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .unwrap_or((0, usize::MAX - 1));
    let cap = q
        .limit
        .unwrap_or(usize::MAX)
        .min(inner.settings.max_page)
        .max(1);
    let end_excl = (last.saturating_add(1))
        .min(start.saturating_add(cap))
        .min(total);
    let page: Vec<Value> = matching
        .get(start.min(total)..end_excl.max(start.min(total)))
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let mut v = c.contact.clone();
            if let (Value::Object(m), Some(first)) = (&mut v, c.evaluations.first()) {
                m.insert(
                    "evaluation".into(),
                    serde_json::json!({
                        "id": first.detail.get("id"),
                        "evaluated": first.detail.get("evaluated"),
                    }),
                );
            }
            v
        })
        .collect();
    inner.stats.pages += 1;
    let mut h = HeaderMap::new();
    if let Ok(v) = format!(
        "items {}-{}/{total}",
        start,
        (start + page.len()).saturating_sub(1)
    )
    .parse()
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    (StatusCode::OK, h, axum::Json(Value::Array(page))).into_response()
}

fn contact_of<'a>(inner: &'a Inner, cid: &str) -> Option<&'a DatasetContact> {
    inner.by_id.get(cid).map(|&i| &inner.data.contacts[i])
}

async fn eval_list(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path(cid): Path<String>,
) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, &headers) {
        return error(status, message);
    }
    match contact_of(&inner, &cid) {
        Some(c) => json(Value::Array(
            c.evaluations
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "id": e.detail.get("id"),
                        "evaluated": e.detail.get("evaluated"),
                        "state": e.detail.get("state"),
                    })
                })
                .collect(),
        )),
        None => error(StatusCode::NOT_FOUND, "no such contact"),
    }
}

fn find_eval<'a>(inner: &'a Inner, cid: &str, eid: &str) -> Option<&'a DatasetEvaluation> {
    contact_of(inner, cid)?
        .evaluations
        .iter()
        .find(|e| id_of(&e.detail).as_deref() == Some(eid))
}

/// Answers with `what` of the evaluation `eid` of contact `cid`, after the session checks.
fn with_eval(
    s: &CalabrioState,
    headers: &HeaderMap,
    cid: &str,
    eid: &str,
    what: impl FnOnce(&DatasetEvaluation) -> Value,
) -> Response {
    let mut inner = s.lock();
    if let Err((status, message)) = admit(&mut inner, headers) {
        return error(status, message);
    }
    match find_eval(&inner, cid, eid) {
        Some(e) => json(what(e)),
        None => error(StatusCode::NOT_FOUND, "no such evaluation"),
    }
}

async fn eval_detail(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path((cid, eid)): Path<(String, String)>,
) -> Response {
    with_eval(&s, &headers, &cid, &eid, |e| e.detail.clone())
}

async fn eval_comments(
    State(s): State<CalabrioState>,
    headers: HeaderMap,
    Path((cid, eid)): Path<(String, String)>,
) -> Response {
    with_eval(&s, &headers, &cid, &eid, |e| {
        Value::Array(e.comments.clone())
    })
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
