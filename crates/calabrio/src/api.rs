//! The Calabrio ONE REST ("legacy") API extractor (reference/calabrio.md §1).
//!
//! Session login (`POST authorize` with a JSON object, falling back to the older array body whose
//! reply sets a `CSRFTOKEN` cookie that is then sent back as `X-CSRF-Token`); forms and the person
//! directory once (`person/permission/ViewOrg`, then `person/{id}` for ids it does not list, such as
//! inactive people); then, one contact day at a time: `searchStats=true` to size the day, pages with
//! `Range: items=a-b`, each contact's evaluation list, each evaluation and its comments. Every
//! response is kept verbatim in the record's raw text. A 401 logs in again (sessions expire); 429,
//! 5xx and transport errors are retried with exponential back-off and full jitter.
//!
//! TLS is always verified. An on-premises server with a private CA is reached by adding the CA
//! bundle (`ca_bundle`), never by turning verification off.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::BackoffBuilder;
use futures_util::StreamExt;
use qm_model::{
    CanonicalEvaluation, Comment, CommentScope, Contact, Dates, Form, Kind, Person, Score, Source,
};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::catalog::{AnswerRef, Catalog, FormDef, OptionDef, QuestionDef, SectionDef};
use crate::{Locator, RecordError, SourceRecord, sha256_hex};

/// How to reach the API.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Base URL ending in `/api/rest`.
    pub base_url: String,
    /// API user (Legacy API Access).
    pub user_id: String,
    /// Its API password.
    pub password: SecretString,
    /// Extra CA certificates (PEM bundle) to trust, for on-premises servers.
    pub ca_bundle: Option<PathBuf>,
    /// Contacts per page (`limit` and the `Range` step).
    pub page_size: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per request (first try included).
    pub max_attempts: usize,
    /// Contacts fetched at once.
    pub concurrency: usize,
    /// First back-off delay (tests shorten it).
    pub initial_backoff: Duration,
}

impl ApiOptions {
    /// Defaults for everything but the address and the credentials.
    pub fn new(base_url: &str, user_id: &str, password: SecretString) -> Self {
        ApiOptions {
            base_url: base_url.trim_end_matches('/').to_owned(),
            user_id: user_id.to_owned(),
            password,
            ca_bundle: None,
            page_size: 500,
            timeout: Duration::from_secs(60),
            max_attempts: 6,
            concurrency: 4,
            initial_backoff: Duration::from_millis(250),
        }
    }
}

/// What went wrong talking to the API (never includes the password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The configuration cannot work (bad URL, unreadable CA bundle).
    #[error("Calabrio API configuration: {0}")]
    Config(String),
    /// Login refused.
    #[error(
        "Calabrio refused the login of API user '{user}' ({detail}); check the API password and that Legacy API Access is enabled for the user"
    )]
    Auth {
        /// The API user.
        user: String,
        /// Status and body excerpt.
        detail: String,
    },
    /// A request failed for good.
    #[error("GET {path}: {detail}")]
    Request {
        /// The path.
        path: String,
        /// What happened, after retries.
        detail: String,
    },
}

/// Request counters.
#[derive(Debug, Default)]
pub struct ApiStats {
    /// Requests sent.
    pub requests: AtomicU64,
    /// Retries after 429/5xx/transport errors.
    pub retries: AtomicU64,
    /// Logins (the first, and again after a session expired).
    pub logins: AtomicU64,
}

/// One contact day's records.
#[derive(Debug)]
pub struct Day {
    /// Contacts the search reported (`searchStats`).
    pub contacts: u64,
    /// The records, in contact then evaluation order.
    pub records: Vec<SourceRecord>,
}

/// A logged-in API session.
pub struct CalabrioApi {
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
    opts: ApiOptions,
    catalog: tokio::sync::RwLock<Catalog>,
    login_lock: tokio::sync::Mutex<u64>,
    generation: AtomicU64,
    /// Counters.
    pub stats: ApiStats,
    tenant: Option<String>,
}

fn id_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn epoch_ms(v: &Value, field: &str) -> Result<Option<jiff::Timestamp>, RecordError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let ms = n.as_i64().ok_or_else(|| {
                RecordError::field(field, format!("{n} is not epoch milliseconds"))
            })?;
            jiff::Timestamp::from_millisecond(ms)
                .map(Some)
                .map_err(|e| RecordError::field(field, e.to_string()))
        }
        Value::String(s) => qm_model::parse_instant(s, None)
            .map(Some)
            .map_err(|e| RecordError::field(field, e.to_string())),
        other => Err(RecordError::field(field, format!("{other} is not a time"))),
    }
}

/// A person of `person/permission/ViewOrg` or `person/{id}`.
pub fn person_from_json(p: &Value) -> Option<Person> {
    let id = p.get("personId").or_else(|| p.get("id")).and_then(id_str)?;
    let display = text(p, "displayName").or_else(|| {
        let name = [text(p, "firstName"), text(p, "lastName")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    });
    Some(Person {
        calabrio_person_id: Some(id),
        username: text(p, "username"),
        email: text(p, "email"),
        windows_login: text(p, "adLogin"),
        employee_id: text(p, "employeeId"),
        acd_id: text(p, "acdId"),
        display_id: p.get("displayId").and_then(id_str),
        display_name: display,
        key: None,
        active: p.get("active").and_then(Value::as_bool),
    })
}

/// A form of `recording/evalform`. The scoring type is read from `scoringType` when present (a name
/// not seen in practitioners' code; the per-form `[scoring]` configuration is what normalises).
pub fn form_from_json(f: &Value) -> Option<FormDef> {
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let options = |q: &Value| {
        list(q, "options")
            .iter()
            .filter_map(|o| {
                Some(OptionDef {
                    id: o.get("id").and_then(id_str)?,
                    label: text(o, "label"),
                    points: o.get("points").and_then(Value::as_f64),
                    kind: text(o, "type"),
                })
            })
            .collect()
    };
    Some(FormDef {
        id: f.get("id").and_then(id_str)?,
        name: text(f, "name"),
        scoring_type: text(f, "scoringType").map(|s| s.to_ascii_lowercase()),
        sections: list(f, "sections")
            .iter()
            .filter_map(|s| {
                Some(SectionDef {
                    id: s.get("id").and_then(id_str)?,
                    name: text(s, "name"),
                    weight: s.get("weight").and_then(Value::as_f64),
                    questions: list(s, "questions")
                        .iter()
                        .filter_map(|q| {
                            Some(QuestionDef {
                                id: q.get("id").and_then(id_str)?,
                                text: text(q, "text"),
                                weight: q.get("weight").and_then(Value::as_f64),
                                is_kpi: q.get("isKpi").and_then(Value::as_bool),
                                options: options(q),
                            })
                        })
                        .collect(),
                })
            })
            .collect(),
    })
}

/// The newest text of a comment: its newest `history[]` entry (by `created`) when it was edited.
fn newest_comment(c: &Value) -> (Option<String>, Option<jiff::Timestamp>, bool) {
    let history = c
        .get("history")
        .and_then(Value::as_array)
        .filter(|h| !h.is_empty());
    let created = |v: &Value| v.get("created").and_then(Value::as_i64).unwrap_or(i64::MIN);
    let newest = history
        .and_then(|h| {
            h.iter()
                .filter(|e| e.get("text").is_some())
                .max_by_key(|e| created(e))
        })
        .filter(|e| created(e) >= created(c));
    let source = newest.unwrap_or(c);
    let text = source
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let at = source
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
    (text, at, newest.is_some())
}

/// Maps one evaluation (detail JSON, its comments, its contact) to the canonical record.
///
/// # Errors
/// What in the evaluation cannot be read, naming its JSON path.
pub fn canonical(
    catalog: &Catalog,
    contact: &Value,
    contact_id: &str,
    detail: &Value,
    comments: &Value,
    tenant: Option<&str>,
) -> Result<CanonicalEvaluation, RecordError> {
    let evaluation_id = detail
        .get("id")
        .and_then(id_str)
        .ok_or_else(|| RecordError::field("id", "missing or not a number/string"))?;
    let form_id = detail
        .pointer("/evalForm/evalFormId")
        .and_then(id_str)
        .ok_or_else(|| RecordError::field("evalForm.evalFormId", "missing"))?;
    let form = catalog.forms.get(&form_id).ok_or_else(|| {
        RecordError::field(
            "evalForm.evalFormId",
            format!("form {form_id} is not in recording/evalform"),
        )
    })?;
    let agent_id = detail
        .pointer("/agent/id")
        .and_then(id_str)
        .ok_or_else(|| RecordError::field("agent.id", "missing: no agent"))?;
    let evaluator = detail
        .pointer("/evaluator/id")
        .and_then(id_str)
        .map(|id| catalog.person(&id));
    let kind = match detail.get("isScoreCounted") {
        Some(Value::Bool(false)) => Kind::Calibration,
        Some(Value::Bool(true)) | Some(Value::Null) | None => Kind::Evaluation,
        Some(other) => {
            return Err(RecordError::field(
                "isScoreCounted",
                format!("{other} is not true or false"),
            ));
        }
    };
    let state_raw = detail
        .pointer("/state/text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let state = state_raw
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), crate::csv_wide::normalise_state);
    let number = |key: &str| -> Result<Option<f64>, RecordError> {
        match detail.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| RecordError::field(key, format!("{v} is not a number"))),
        }
    };
    let total = number("totalScore")?;
    let raw_additive = number("additiveScore")?;
    // The API has no KPI flag (reference/calabrio.md §1.6): only the scores can tell.
    let (kpi_failed, kpi_basis) = Score::kpi(None, total, raw_additive);
    let evaluated = detail.get("evaluated").unwrap_or(&Value::Null);
    let created = detail.get("createdDate").unwrap_or(&Value::Null);
    let raw_of = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };

    let mut answers = Vec::new();
    for (si, s) in detail
        .get("sections")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let section_id = s.get("id").and_then(id_str);
        for (qi, q) in s
            .get("questions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = format!("sections[{si}].questions[{qi}]");
            let question_id = q
                .get("id")
                .and_then(id_str)
                .ok_or_else(|| RecordError::field(format!("{field}.id"), "missing"))?;
            answers.push(AnswerRef {
                section_id: section_id.clone(),
                question_id,
                option_id: q.get("selectedOption").and_then(id_str),
                field: format!("{field}.selectedOption"),
            });
        }
    }
    let sections = catalog.sections(form, &answers)?;

    let mut out_comments = Vec::new();
    for c in comments.as_array().map(Vec::as_slice).unwrap_or_default() {
        let (body, at, edited) = newest_comment(c);
        let Some(body) = body.filter(|t| !t.trim().is_empty()) else {
            continue; // Blank comments carry nothing (practitioners drop them too).
        };
        let question = c.get("questionFK").and_then(id_str);
        let section = c.get("sectionFK").and_then(id_str);
        let section_name = section.as_ref().map(|sid| {
            form.sections
                .iter()
                .find(|s| s.id == *sid)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| sid.clone())
        });
        let scope = match (&question, &section) {
            (Some(_), _) => CommentScope::Question,
            (None, Some(_)) => CommentScope::Section,
            (None, None) => CommentScope::Evaluation,
        };
        let author = c.get("commentor").map(|a| Person {
            calabrio_person_id: a
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_owned),
            username: text(a, "username"),
            display_id: a.get("displayId").and_then(id_str),
            display_name: Some(
                [text(a, "firstName"), text(a, "lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .filter(|n| !n.is_empty()),
            ..Person::default()
        });
        out_comments.push(Comment {
            comment_id: c
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_owned)
                .or_else(|| c.get("id").and_then(id_str)),
            scope,
            section_id: section_name,
            question_id: question,
            text: body,
            created_at_utc: at,
            author,
            edited: edited.then_some(true),
        });
    }

    let unit = crate::unit_of(form.scoring_type.as_deref());
    Ok(CanonicalEvaluation {
        schema: qm_model::evaluation::SCHEMA.to_owned(),
        source: Source {
            system: "calabrio_one".into(),
            tenant: tenant.map(str::to_owned),
            extractor: Some("rest_api".into()),
            extracted_at: None,
        },
        evaluation_id,
        contact: Contact {
            contact_id: Some(contact_id.to_owned()),
            assoc_call_id: contact.get("assocCallId").and_then(id_str),
            conversation_id: None,
            contact_type: text(contact, "contactType"),
            start_time_utc: epoch_ms(
                contact.get("startTime").unwrap_or(&Value::Null),
                "contact.startTime",
            )?,
            start_tz: text(contact, "tz"),
            duration_ms: contact.get("callDuration").and_then(Value::as_i64),
        },
        form: Form {
            form_id: Some(form.id.clone()),
            form_name: form.name.clone(),
            scoring_type: form.scoring_type.clone(),
            total_points: None,
        },
        agent: catalog.person(&agent_id),
        evaluator,
        approver: None,
        kind,
        evaluation_type: None,
        state,
        state_raw,
        response_state: detail
            .pointer("/responseState/text")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase),
        dates: Dates {
            evaluated_at_utc: epoch_ms(evaluated, "evaluated")?,
            evaluated_at_raw: raw_of(evaluated),
            created_at_utc: epoch_ms(created, "createdDate")?,
            created_at_raw: raw_of(created),
        },
        score: Score {
            total,
            raw_additive,
            unit,
            max_points: None,
            applicable_points: None,
            kpi_failed,
            kpi_failed_basis: kpi_basis,
        },
        sections,
        comments: out_comments,
    })
}

impl CalabrioApi {
    /// Logs in and loads the forms and the person directory.
    ///
    /// # Errors
    /// Configuration, login or request failures.
    pub async fn connect(opts: ApiOptions) -> Result<Self, ApiError> {
        let base = reqwest::Url::parse(&format!("{}/", opts.base_url))
            .map_err(|e| ApiError::Config(format!("base URL '{}': {e}", opts.base_url)))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ApiError::Config(
                "the base URL must not carry credentials; use CALABRIO_USER and CALABRIO_PASSWORD(_FILE)".into(),
            ));
        }
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut builder = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(opts.timeout)
            .user_agent(concat!("qm-migrate/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &opts.ca_bundle {
            let pem = std::fs::read(path)
                .map_err(|e| ApiError::Config(format!("CA bundle {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ApiError::Config(format!("CA bundle {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ApiError::Config(format!(
                    "CA bundle {}: no PEM certificate in it",
                    path.display()
                )));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        let tenant = base.host_str().map(str::to_owned);
        let api = CalabrioApi {
            http,
            jar,
            base,
            opts,
            catalog: tokio::sync::RwLock::new(Catalog::default()),
            login_lock: tokio::sync::Mutex::new(0),
            generation: AtomicU64::new(0),
            stats: ApiStats::default(),
            tenant,
        };
        api.login(0).await?;
        let (forms, _) = api.get("recording/evalform", None).await?;
        let (persons, _) = api
            .get("org/common/person/permission/ViewOrg", None)
            .await?;
        let mut catalog = Catalog::default();
        for f in forms.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(form) = form_from_json(f) {
                catalog.forms.insert(form.id.clone(), form);
            }
        }
        for p in persons.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(person) = person_from_json(p) {
                let id = person.calabrio_person_id.clone().unwrap_or_default();
                catalog.persons.insert(id, person);
            }
        }
        *api.catalog.write().await = catalog;
        Ok(api)
    }

    /// The form definitions read so far (sections, questions, options with points).
    pub async fn forms(&self) -> Vec<FormDef> {
        self.catalog.read().await.forms.values().cloned().collect()
    }

    /// Forms and persons known so far.
    pub async fn catalog_sizes(&self) -> (usize, usize) {
        let c = self.catalog.read().await;
        (c.forms.len(), c.persons.len())
    }

    fn url(&self, path: &str) -> reqwest::Url {
        // Paths are ours and relative; joining cannot fail for them.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    fn csrf(&self) -> Option<String> {
        let cookies = self.jar.cookies(&self.base)?;
        let header = cookies.to_str().ok()?;
        header
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("CSRFTOKEN"))
            .map(|(_, v)| v.to_owned())
    }

    /// Logs in unless another task already did since generation `seen`.
    async fn login(&self, seen: u64) -> Result<(), ApiError> {
        let mut guard = self.login_lock.lock().await;
        if *guard != seen {
            return Ok(());
        }
        self.stats.logins.fetch_add(1, Ordering::Relaxed);
        let url = self.url("authorize");
        let password = self.opts.password.expose_secret();
        let object = serde_json::json!({"userId": self.opts.user_id, "password": password, "language": "en"});
        let auth_err = |detail: String| ApiError::Auth {
            user: self.opts.user_id.clone(),
            detail,
        };
        let send = |body: Value| {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            self.http.post(url.clone()).json(&body).send()
        };
        let resp = send(object)
            .await
            .map_err(|e| auth_err(format!("cannot reach {}: {}", url, e.without_url())))?;
        let status = resp.status();
        if status.is_success() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if let Some(sid) = body.get("sessionId").and_then(Value::as_str) {
                self.jar
                    .add_cookie_str(&format!("hazelcast.sessionId={sid}; Path=/"), &self.base);
            }
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(auth_err(format!("HTTP {status}")));
        } else {
            // Older and on-premises servers take an array body and answer with cookies.
            let array = serde_json::json!([{
                "id": "recording", "userId": self.opts.user_id, "password": password,
                "locale": "en", "data": {"locale": "en"}
            }]);
            let resp = send(array)
                .await
                .map_err(|e| auth_err(format!("cannot reach {}: {}", url, e.without_url())))?;
            if !resp.status().is_success() {
                return Err(auth_err(format!(
                    "HTTP {status} to the object body, HTTP {} to the array body",
                    resp.status()
                )));
            }
        }
        *guard += 1;
        self.generation.store(*guard, Ordering::SeqCst);
        Ok(())
    }

    /// GETs `path` (relative to the base), retrying and logging in again as needed. Returns the
    /// parsed JSON and the body verbatim.
    async fn get(
        &self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<(Value, String), ApiError> {
        let url = self.url(path);
        let fail = |detail: String| ApiError::Request {
            path: path.to_owned(),
            detail,
        };
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.opts.initial_backoff)
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(self.opts.max_attempts.saturating_sub(1))
            .build();
        let mut relogged = false;
        loop {
            let generation = self.generation.load(Ordering::SeqCst);
            let mut req = self
                .http
                .get(url.clone())
                .header("Accept", "application/json");
            if let Some((a, b)) = range {
                req = req.header("Range", format!("items={a}-{b}"));
            }
            if let Some(token) = self.csrf() {
                req = req.header("X-CSRF-Token", token);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = req.send().await;
            let retry_after = match outcome {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp
                        .text()
                        .await
                        .map_err(|e| fail(format!("reading the body: {}", e.without_url())))?;
                    let value: Value = serde_json::from_str(&body)
                        .map_err(|e| fail(format!("not JSON ({e}): {}", excerpt(&body))))?;
                    return Ok((value, body));
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !relogged => {
                    relogged = true;
                    self.login(generation).await?;
                    continue;
                }
                Ok(resp)
                    if resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error() =>
                {
                    let after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(120)));
                    (format!("HTTP {}", resp.status()), after)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(fail(format!("HTTP {status}: {}", excerpt(&body))));
                }
                Err(e) => (format!("{}", e.without_url()), None),
            };
            let (detail, after) = retry_after;
            match delays.next() {
                Some(d) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(after.map_or(d, |a| a.max(d))).await;
                }
                None => {
                    return Err(fail(format!(
                        "{detail} (after {} attempts)",
                        self.opts.max_attempts
                    )));
                }
            }
        }
    }

    async fn person(&self, id: &str) -> Result<(), ApiError> {
        if self.catalog.read().await.persons.contains_key(id) {
            return Ok(());
        }
        let found = match self.get(&format!("org/common/person/{id}"), None).await {
            Ok((p, _)) => person_from_json(&p),
            Err(ApiError::Request { detail, .. }) if detail.starts_with("HTTP 404") => None,
            Err(e) => return Err(e),
        };
        let person = found.unwrap_or_else(|| Person {
            calabrio_person_id: Some(id.to_owned()),
            ..Person::default()
        });
        self.catalog
            .write()
            .await
            .persons
            .insert(id.to_owned(), person);
        Ok(())
    }

    /// Preflight: after [`CalabrioApi::connect`] logged in, sizes the contacts from `from` to `to`
    /// (`searchStats`) and reads the first one (`Range: items=0-0`). Returns the number of contacts
    /// and the id of the one read (none when the window is empty).
    ///
    /// # Errors
    /// A request that failed after its retries.
    pub async fn probe(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<(u64, Option<String>), ApiError> {
        let window = format!("beginDate={from}&endDate={to}&searchScope=allEvaluations");
        let count = self.contact_count(&window).await?;
        if count == 0 {
            return Ok((0, None));
        }
        let (page, _) = self
            .get(&format!("recording/contact?{window}&limit=1"), Some((0, 0)))
            .await?;
        let id = page
            .as_array()
            .and_then(|a| a.first())
            .and_then(|c| c.get("id"))
            .and_then(id_str);
        Ok((count, id))
    }

    /// The number of contacts a search `window` finds (`searchStats=true`).
    async fn contact_count(&self, window: &str) -> Result<u64, ApiError> {
        let (stats, _) = self
            .get(
                &format!("recording/contact?{window}&searchStats=true"),
                None,
            )
            .await?;
        Ok(stats.get("count").and_then(Value::as_u64).unwrap_or(0))
    }

    /// Every evaluation on contacts of `day` (contact start date, UTC).
    ///
    /// # Errors
    /// A request that failed after its retries; the day is then not complete.
    pub async fn day(&self, day: jiff::civil::Date) -> Result<Day, ApiError> {
        let window = format!("beginDate={day}&endDate={day}&searchScope=allEvaluations");
        let count = self.contact_count(&window).await?;
        let mut contacts: Vec<Box<RawValue>> = Vec::new();
        let mut start = 0;
        let page = self.opts.page_size.max(1);
        while start < count {
            let path = format!("recording/contact?{window}&limit={page}");
            let (_, body) = self.get(&path, Some((start, start + page - 1))).await?;
            let items: Vec<Box<RawValue>> =
                serde_json::from_str(&body).map_err(|e| ApiError::Request {
                    path: path.clone(),
                    detail: format!("expected an array of contacts: {e}"),
                })?;
            if items.is_empty() {
                break;
            }
            start += items.len() as u64;
            contacts.extend(items);
        }
        let mut seen = std::collections::HashSet::new();
        contacts.retain(|c| {
            serde_json::from_str::<Value>(c.get())
                .ok()
                .and_then(|v| v.get("id").and_then(id_str))
                .is_none_or(|id| seen.insert(id))
        });
        let results: Vec<Result<Vec<SourceRecord>, ApiError>> =
            futures_util::stream::iter(contacts.iter().map(|c| self.contact(c)))
                .buffered(self.opts.concurrency.max(1))
                .collect()
                .await;
        let mut records = Vec::new();
        for r in results {
            records.extend(r?);
        }
        Ok(Day {
            contacts: count,
            records,
        })
    }

    async fn contact(&self, raw_contact: &RawValue) -> Result<Vec<SourceRecord>, ApiError> {
        let contact: Value = serde_json::from_str(raw_contact.get()).unwrap_or(Value::Null);
        let locator = |path: String| Locator {
            file: self.opts.base_url.clone(),
            line: None,
            json_path: Some(path),
        };
        let Some(cid) = contact.get("id").and_then(id_str) else {
            let raw = raw_contact.get().to_owned();
            return Ok(vec![SourceRecord {
                locator: locator("recording/contact".into()),
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed: Err(RecordError::field("id", "contact without an id")),
            }]);
        };
        let (list, _) = self
            .get(&format!("recording/contact/{cid}/eval/"), None)
            .await?;
        let mut out = Vec::new();
        for summary in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(eid) = summary.get("id").and_then(id_str) else {
                continue;
            };
            let path = format!("recording/contact/{cid}/eval/{eid}");
            let (detail, detail_raw) = self.get(&path, None).await?;
            let (comments, comments_raw) = self.get(&format!("{path}/comment"), None).await?;
            for key in ["/agent/id", "/evaluator/id"] {
                if let Some(pid) = detail.pointer(key).and_then(id_str) {
                    self.person(&pid).await?;
                }
            }
            let raw = format!(
                "{{\"contact\":{},\"evaluation\":{detail_raw},\"comments\":{comments_raw}}}",
                raw_contact.get()
            );
            let parsed = {
                let catalog = self.catalog.read().await;
                canonical(
                    &catalog,
                    &contact,
                    &cid,
                    &detail,
                    &comments,
                    self.tenant.as_deref(),
                )
            };
            out.push(SourceRecord {
                locator: locator(path),
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed,
            });
        }
        Ok(out)
    }

    /// Logs out (`DELETE authorize`); failures are ignored.
    pub async fn logout(&self) {
        let _ = self.http.delete(self.url("authorize")).send().await;
    }
}

fn excerpt(body: &str) -> String {
    let t: String = body.chars().take(200).collect();
    t.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        let form = form_from_json(&json!({
            "id": 12, "name": "Sales", "scoringType": "Points",
            "sections": [{"id": 101, "name": "Compliance", "questions": [
                {"id": 1001, "text": "Verified?", "options": [
                    {"id": 1, "label": "Yes", "points": 10}, {"id": 2, "label": "No", "points": 0}]}
            ]}]
        }))
        .unwrap();
        c.forms.insert(form.id.clone(), form);
        let p = person_from_json(&json!({"personId": 31, "email": "a@x.com", "firstName": "Ann", "lastName": "Lee", "active": false})).unwrap();
        c.persons.insert("31".into(), p);
        c
    }

    fn detail(option: u64) -> Value {
        json!({"id": 80517, "evalForm": {"evalFormId": 12}, "agent": {"id": 31}, "evaluator": null,
               "isScoreCounted": true, "evaluated": 1_666_105_331_000_i64, "state": {"text": "SCORED"},
               "additiveScore": 10, "totalScore": 0.0,
               "sections": [{"id": 101, "questions": [{"id": 1001, "selectedOption": option}]}]})
    }

    #[test]
    fn an_evaluation_maps_with_its_person_answers_kpi_and_newest_comment() {
        let comments = json!([
            {"$ref": "/x/comment/7", "text": "first draft", "created": 1000, "questionFK": 1001, "sectionFK": 101,
             "history": [{"created": 1000, "text": "first draft"}, {"created": 2000, "text": "final words"}]},
            {"$ref": "/x/comment/8", "text": "   ", "created": 1000}
        ]);
        let ev = canonical(
            &catalog(),
            &json!({"startTime": 1_666_000_000_000_i64}),
            "6797639",
            &detail(1),
            &comments,
            None,
        )
        .unwrap();
        assert_eq!(ev.agent.display_name.as_deref(), Some("Ann Lee"));
        assert_eq!(ev.agent.active, Some(false));
        assert!(ev.evaluator.is_none());
        assert_eq!(
            ev.sections[0].questions[0]
                .answer
                .as_ref()
                .unwrap()
                .label
                .as_deref(),
            Some("Yes")
        );
        assert_eq!(
            (ev.sections[0].score, ev.sections[0].max),
            (Some(10.0), Some(10.0))
        );
        // totalScore 0 with additiveScore 10: a KPI failure, inferred and recorded as such.
        assert_eq!(ev.score.kpi_failed, Some(true));
        assert_eq!(
            ev.score.kpi_failed_basis.as_deref(),
            Some("inferred_total_zero")
        );
        assert_eq!(ev.comments.len(), 1, "the blank comment is dropped");
        assert_eq!(ev.comments[0].text, "final words");
        assert_eq!(ev.comments[0].edited, Some(true));
        assert_eq!(ev.comments[0].scope, CommentScope::Question);
        assert_eq!(ev.comments[0].comment_id.as_deref(), Some("7"));
        assert_eq!(
            ev.dates.evaluated_at_utc.unwrap().as_second(),
            1_666_105_331
        );
    }

    #[test]
    fn what_cannot_be_read_is_named_by_its_json_path() {
        let e =
            canonical(&catalog(), &Value::Null, "1", &detail(99), &json!([]), None).unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("sections[0].questions[0].selectedOption")
        );
        assert_eq!(e.message, "option 99 is not an option of question 1001");
        let mut d = detail(1);
        d["evalForm"]["evalFormId"] = json!(5);
        let e = canonical(&catalog(), &Value::Null, "1", &d, &json!([]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 'evalForm.evalFormId': form 5 is not in recording/evalform"
        );
        let mut d = detail(1);
        d["totalScore"] = json!("high");
        let e = canonical(&catalog(), &Value::Null, "1", &d, &json!([]), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("totalScore"));
    }

    #[tokio::test]
    async fn a_ca_bundle_that_is_not_pem_is_a_configuration_error_and_urls_carry_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("ca.pem");
        std::fs::write(&bad, "not a certificate").unwrap();
        let mut o = ApiOptions::new(
            "https://calabrio.example/api/rest",
            "api",
            "pw".to_owned().into(),
        );
        o.ca_bundle = Some(bad.clone());
        let e = CalabrioApi::connect(o).await.err().unwrap().to_string();
        assert!(
            e.contains(&bad.display().to_string()) && e.contains("no PEM certificate"),
            "{e}"
        );
        let o = ApiOptions::new(
            "https://user:secret@calabrio.example/api/rest",
            "api",
            "pw".to_owned().into(),
        );
        let e = CalabrioApi::connect(o).await.err().unwrap().to_string();
        assert!(
            e.contains("must not carry credentials") && !e.contains("secret"),
            "{e}"
        );
    }
}
