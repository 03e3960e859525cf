//! The transport of the typed async client for the Genesys Cloud endpoints qm-migrate calls (the
//! operations themselves are in `api/`, one file per area).
//!
//! Every request passes a client-side rate limiter (governor, requests per minute), carries a bearer
//! token from the OAuth client-credentials grant (fetched again before expiry and once on a 401), and
//! is classified on failure: a 429 with a short `Retry-After` is waited out in-line, a long one is
//! returned as [`GenesysError::Throttled`] (the per-agent daily cap: the caller parks that agent);
//! reads are retried on 5xx and transport errors; creates are never blindly re-sent — a create that
//! may have reached Genesys is returned as possibly sent, for the ledger to reconcile.
//!
//! This file holds the client and its requests; `health` the retry budget, back-offs and the outage
//! pause; `regions` the hosts of each region.

mod health;
mod regions;

pub use regions::{REGIONS, login_url_for, region_api_url};

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::GenesysError;
use crate::models::{EntityListing, ErrorBody, TokenResponse};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, e.g. `https://api.mypurecloud.com` (no trailing slash).
    pub api_url: String,
    /// Login base, e.g. `https://login.mypurecloud.com`.
    pub login_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// Client-side limit, requests per minute (Genesys: 300 per token).
    pub requests_per_minute: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per request for retriable failures (reads) and short throttles.
    pub max_attempts: u32,
    /// Longest `Retry-After` waited in-line; longer ones are returned as [`GenesysError::Throttled`].
    pub max_inline_retry_after: Duration,
    /// First back-off after a 5xx or transport error on a read.
    pub initial_backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// Retry budget: retries cost tokens (5 for a server or transport error, 1 for a short 429),
    /// successes earn one back; with the budget spent, failures are returned at once, so a long run
    /// against a failing service cannot storm it.
    pub retry_budget: i64,
    /// Longest wait between two requests during an outage (every request failing): the client
    /// backs off as a whole, one request at a time, doubling from `initial_backoff` up to this.
    pub outage_max_backoff: Duration,
    /// The clock every wait and the request rate are measured on.
    pub clock: Clock,
}

impl ClientConfig {
    /// Defaults for everything but the endpoint and the credentials.
    pub fn new(api_url: &str, login_url: &str, client_id: &str, secret: SecretString) -> Self {
        ClientConfig {
            api_url: api_url.trim_end_matches('/').to_owned(),
            login_url: login_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: secret,
            requests_per_minute: 300,
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            max_inline_retry_after: Duration::from_secs(180),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            retry_budget: 500,
            outage_max_backoff: Duration::from_secs(60),
            clock: Clock::system(),
        }
    }
}

struct Token {
    value: SecretString,
    refresh_at: SystemTime,
}

/// The Genesys client. Cheap to clone.
#[derive(Clone)]
pub struct GenesysClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    cfg: ClientConfig,
    limiter: DefaultDirectRateLimiter,
    token: Mutex<Option<Token>>,
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    budget: AtomicI64,
    /// 429s without `Retry-After` in a row (reset by any success).
    throttle_streak: std::sync::atomic::AtomicU32,
    paused_until: std::sync::Mutex<Option<SystemTime>>,
    /// Requests in a row that met a server error or no answer (reset by any other answer).
    failure_streak: std::sync::atomic::AtomicU32,
    /// During an outage, one request at a time: the holder is the probe.
    outage_gate: Arc<Mutex<()>>,
    /// Requests sent while an outage was under way.
    outage_requests: AtomicU64,
    /// Back off as a whole during an outage (long runs); off, failures are returned as they come
    /// (one-shot checks: preflight, probe).
    patient: std::sync::atomic::AtomicBool,
}

/// Failures in a row (server errors or no answer, on any request of the client) that make an
/// outage: from then on the client backs off as a whole.
const OUTAGE_AFTER: u32 = 3;

/// Whose evaluations a paged query reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvaluationsOf {
    /// By evaluator: complete (never-released ones included), sorted by assigned date.
    Evaluator(String),
    /// By agent: sorted by release date, never-released ones left out.
    Agent(String),
}

/// Whether a request may be sent again after it possibly reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Reads: retry transport errors and 5xx.
    Safe,
    /// Creates: never re-send without reconciling first.
    Never,
}

impl GenesysClient {
    /// Builds a client.
    ///
    /// # Errors
    /// [`GenesysError::Config`] when the rate is zero or the HTTP client cannot be built.
    pub fn new(cfg: ClientConfig) -> Result<Self, GenesysError> {
        let rpm = NonZeroU32::new(cfg.requests_per_minute)
            .ok_or_else(|| GenesysError::Config("requests_per_minute must be above 0".into()))?;
        // One request per period, no burst: Genesys counts a sliding minute, so a burst of a whole
        // minute's quota would be answered with 429s.
        let period =
            Duration::from_secs_f64(60.0 / f64::from(rpm.get())).div_f64(cfg.clock.scale());
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .ok_or_else(|| GenesysError::Config("request period is zero".into()))?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("qm-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GenesysError::Config(e.to_string()))?;
        Ok(GenesysClient {
            inner: Arc::new(Inner {
                http,
                limiter: RateLimiter::direct(quota),
                budget: AtomicI64::new(cfg.retry_budget),
                cfg,
                token: Mutex::new(None),
                requests: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                throttle_streak: std::sync::atomic::AtomicU32::new(0),
                paused_until: std::sync::Mutex::new(None),
                failure_streak: std::sync::atomic::AtomicU32::new(0),
                outage_gate: Arc::new(Mutex::new(())),
                outage_requests: AtomicU64::new(0),
                patient: std::sync::atomic::AtomicBool::new(true),
            }),
        })
    }

    /// HTTP requests sent so far (token requests included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// 429 answers received so far.
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }

    /// Retries made so far (all causes).
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// The OAuth client id this client authenticates as (the `client` of its audit entries; an id,
    /// not a secret).
    pub fn client_id(&self) -> &str {
        &self.inner.cfg.client_id
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.cfg.clock
    }

    async fn bearer(&self, force: bool) -> Result<SecretString, GenesysError> {
        let mut guard = self.inner.token.lock().await;
        if !force
            && let Some(t) = guard.as_ref()
            && self.clock().now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let _probe = self.admit().await;
        let url = format!("{}/oauth/token", self.inner.cfg.login_url);
        let resp = self
            .inner
            .http
            .post(&url)
            .basic_auth(
                &self.inner.cfg.client_id,
                Some(self.inner.cfg.client_secret.expose_secret()),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| {
                self.note_failure();
                GenesysError::Auth(transport_message(&e))
            })?;
        let status = resp.status();
        if status.is_server_error() {
            self.note_failure();
        } else {
            self.note_answer();
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| GenesysError::Auth(transport_message(&e)))?;
        if !status.is_success() {
            #[derive(serde::Deserialize)]
            struct AuthError {
                error: Option<String>,
                error_description: Option<String>,
            }
            let detail = serde_json::from_slice::<AuthError>(&bytes)
                .map(|e| {
                    format!(
                        "{} ({})",
                        e.error.unwrap_or_default(),
                        e.error_description.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|_| "unreadable error body".into());
            return Err(GenesysError::Auth(format!("{status}: {detail}")));
        }
        let token: TokenResponse = decode(&url, &bytes)?;
        let lifetime = Duration::from_secs(token.expires_in);
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        let value = SecretString::from(token.access_token);
        *guard = Some(Token {
            value: value.clone(),
            refresh_at: self.clock().now() + lifetime.saturating_sub(margin),
        });
        Ok(value)
    }

    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        idempotency_key: Option<Uuid>,
        resend: Resend,
    ) -> Result<Option<T>, GenesysError> {
        match self
            .send(method, path, query, body, idempotency_key, resend)
            .await?
        {
            None => Ok(None),
            Some((_, bytes)) => decode(path, &bytes).map(Some),
        }
    }

    /// Sends one request (retrying what may be retried) and returns the success status and body
    /// (`None` for 204 or an empty body).
    pub(crate) async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        idempotency_key: Option<Uuid>,
        resend: Resend,
    ) -> Result<Option<(u16, Vec<u8>)>, GenesysError> {
        let url = format!("{}{}", self.inner.cfg.api_url, path);
        let cfg = &self.inner.cfg;
        let mut refreshed = false;
        let mut attempt = 0u32;
        let mut backoff = self.backoff();
        loop {
            attempt += 1;
            let token = self.bearer(false).await?;
            let probe = self.admit().await;
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header("Accept", "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(key) = idempotency_key {
                req = req.header("Idempotency-Key", key.to_string());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    self.note_failure();
                    drop(probe);
                    let possibly_sent = !e.is_connect() && !e.is_builder();
                    let retry = resend == Resend::Safe || !possibly_sent;
                    if retry && attempt < cfg.max_attempts && self.spend(5) {
                        let wait = backoff.next().unwrap_or(cfg.max_backoff);
                        tracing::debug!(%path, attempt, wait_ms = wait.as_millis() as u64, "Transport error; retrying.");
                        self.clock().sleep(wait).await;
                        continue;
                    }
                    return Err(GenesysError::Transport {
                        url: path.to_owned(),
                        message: transport_message(&e),
                        possibly_sent,
                    });
                }
            };
            let status = resp.status();
            let correlation_id = resp
                .headers()
                .get("ININ-Correlation-Id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let retry_after = resp
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    self.note_failure();
                    return Err(GenesysError::Transport {
                        url: path.to_owned(),
                        message: transport_message(&e),
                        possibly_sent: true,
                    });
                }
            };
            if matches!(status.as_u16(), 408 | 500 | 502 | 503 | 504) {
                self.note_failure();
            } else {
                self.note_answer();
            }
            drop(probe);
            if status.is_success() {
                self.earn();
                self.inner.throttle_streak.store(0, Ordering::Relaxed);
                if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                    return Ok(None);
                }
                return Ok(Some((status.as_u16(), bytes.to_vec())));
            }
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                message: Some(String::from_utf8_lossy(&bytes).chars().take(300).collect()),
                status: Some(i32::from(status.as_u16())),
                ..ErrorBody::default()
            });
            match status.as_u16() {
                401 if !refreshed => {
                    refreshed = true;
                    self.bearer(true).await?;
                    attempt -= 1;
                    continue;
                }
                429 => {
                    self.inner.throttled.fetch_add(1, Ordering::Relaxed);
                    // Without Retry-After (`too.many.requests` promises none), back off
                    // exponentially with jitter, counted across every request of this client, so
                    // neither one request nor many in flight can spin.
                    let wait = retry_after.unwrap_or_else(|| self.throttle_backoff());
                    if wait > cfg.max_inline_retry_after
                        || attempt >= cfg.max_attempts
                        || !self.spend(1)
                    {
                        self.pause(wait.min(cfg.max_inline_retry_after));
                        return Err(GenesysError::Throttled {
                            retry_after: wait,
                            body: Box::new(body),
                        });
                    }
                    tracing::info!(%path, wait_ms = wait.as_millis() as u64, "Rate limited; every request waits.");
                    self.pause(wait);
                    continue;
                }
                408 | 500 | 502 | 503 | 504
                    if resend == Resend::Safe && attempt < cfg.max_attempts && self.spend(5) =>
                {
                    let mut wait = backoff.next().unwrap_or(cfg.max_backoff);
                    if let Some(ra) = retry_after {
                        // Honoured, but clamped: a server error never parks us for long.
                        wait = wait.max(ra.min(cfg.max_backoff));
                    }
                    tracing::debug!(%path, %status, attempt, wait_ms = wait.as_millis() as u64, "Server error; retrying.");
                    self.clock().sleep(wait).await;
                    continue;
                }
                _ => {
                    return Err(GenesysError::Api {
                        status: status.as_u16(),
                        body: Box::new(body),
                        correlation_id,
                    });
                }
            }
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, GenesysError> {
        self.call::<(), T>(Method::GET, path, query, None, None, Resend::Safe)
            .await?
            .ok_or_else(|| empty_body(path))
    }

    /// Fetches a token now (a cheap credentials check).
    ///
    /// # Errors
    /// [`GenesysError::Auth`].
    pub async fn authenticate(&self) -> Result<(), GenesysError> {
        self.bearer(true).await.map(|_| ())
    }

    /// Every entity of a paged listing (`pageSize`/`pageNumber`, `nextUri` on every page but the
    /// last), reading every page: `total` and `pageCount` are documented as possibly inaccurate.
    pub(crate) async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        page_size: u32,
    ) -> Result<Vec<T>, GenesysError> {
        let mut out = Vec::new();
        for page in 1u32.. {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("pageSize", page_size.to_string()));
            q.push(("pageNumber", page.to_string()));
            let listing: EntityListing<T> = self.get(path, &q).await?;
            let n = listing.entities.len();
            out.extend(listing.entities);
            if listing.next_uri.is_none() || n == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// `DELETE path` (safe to retry: deleting twice answers 404).
    pub(crate) async fn delete(&self, path: &str) -> Result<(), GenesysError> {
        self.call::<(), serde_json::Value>(Method::DELETE, path, &[], None, None, Resend::Safe)
            .await
            .map(|_| ())
    }

    /// A harmless read (preflight): `GET path?query`, its body as JSON.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn probe_get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, GenesysError> {
        self.get(path, query).await
    }
}

pub(crate) fn empty_body(path: &str) -> GenesysError {
    GenesysError::Decode {
        url: path.to_owned(),
        path: ".".into(),
        message: "empty response body".into(),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<T, GenesysError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| GenesysError::Decode {
        url: url.to_owned(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// A transport error's text without the URL (which could carry a query with ids, never secrets,
/// but we keep messages short and uniform).
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_exponential_with_full_jitter_and_the_budget_runs_out() {
        let mut cfg = ClientConfig::new(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            "id",
            SecretString::from("s".to_owned()),
        );
        cfg.initial_backoff = Duration::from_millis(100);
        cfg.max_backoff = Duration::from_secs(2);
        cfg.retry_budget = 12;
        let c = GenesysClient::new(cfg).unwrap();
        let delays: Vec<Duration> = c.backoff().take(8).collect();
        let caps = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
        for (d, cap) in delays.iter().zip(caps) {
            assert!(*d <= Duration::from_millis(cap), "{d:?} > {cap} ms");
        }
        assert!(
            delays
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1,
            "jittered"
        );
        assert!(c.spend(5) && c.spend(5));
        assert!(!c.spend(5), "budget of 12 allows two retries of cost 5");
        c.earn();
        c.earn();
        c.earn();
        assert!(c.spend(5));
        assert_eq!(c.retries(), 3);
    }

    #[test]
    fn login_host_follows_sdk_rule() {
        assert_eq!(
            login_url_for("https://api.mypurecloud.ie"),
            "https://login.mypurecloud.ie"
        );
        assert_eq!(login_url_for("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(
            region_api_url("EU-WEST-1").as_deref(),
            Some("https://api.mypurecloud.ie")
        );
        assert_eq!(region_api_url("mars-1"), None);
    }
}
