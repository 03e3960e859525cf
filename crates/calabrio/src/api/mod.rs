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
    /// Added to every contact search: which contacts hold evaluations (practitioners search
    /// `evalState=scored`; empty: every recorded contact).
    pub contact_filter: String,
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
            contact_filter: "evalState=scored".into(),
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
    /// A request failed for good (server errors or no answer after the retries, an answer that is
    /// not what the API gives).
    #[error("GET {path}: {detail}")]
    Request {
        /// The path.
        path: String,
        /// What happened, after retries.
        detail: String,
    },
    /// The API refused this one request (404 gone, 403 out of the API user's scope, …): the
    /// problem of the contact or evaluation it is about, not of the run.
    #[error("GET {path}: HTTP {status}: {detail}")]
    Refused {
        /// The path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The body's excerpt.
        detail: String,
    },
    /// A contact day (or a window of days) does not add up: it is not marked complete, and the
    /// next extract reads it again.
    #[error("the contacts of {day} are not complete: {detail}")]
    Incomplete {
        /// The day, or the window of days.
        day: String,
        /// Why.
        detail: String,
    },
}

impl ApiError {
    /// The API did not answer usefully (server errors or no answer after the retries): an outage
    /// to resume after, not a refusal.
    pub fn is_outage(&self) -> bool {
        matches!(self, ApiError::Request { .. })
    }
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
    /// What the API refused about one contact or evaluation, each with its reason. The next extract
    /// tries them again.
    pub refused: Vec<Refused>,
    /// Requests this day took.
    pub requests: u64,
    /// Evaluations read this day.
    pub evaluations: u64,
}

/// What the API refused about one contact (its evaluations) or one evaluation (its comments, or
/// the evaluation itself): not the run's problem. The ledger keeps the copy an earlier extract
/// staged, when there is one (a refusal is not a deletion: a deleted evaluation leaves the next
/// pass's lists); otherwise `record` is staged.
#[derive(Debug)]
pub struct Refused {
    /// What was refused, as the path of the records it concerns: one evaluation
    /// (`recording/contact/{cid}/eval/{eid}`), or every evaluation of a contact
    /// (`recording/contact/{cid}/eval/`, ending in `/`).
    pub path: String,
    /// The record to stage when no earlier copy exists: unreadable with the reason, or the
    /// evaluation without its comments (with a warning).
    pub record: SourceRecord,
    /// Why, for the extract's summary.
    pub reason: String,
}

/// A logged-in API session.
pub struct CalabrioApi {
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
    opts: ApiOptions,
    catalog: tokio::sync::RwLock<Catalog>,
    /// Forms asked for by id and not found (a retired form is asked once).
    missing_forms: tokio::sync::Mutex<std::collections::HashSet<String>>,
    login_lock: tokio::sync::Mutex<u64>,
    generation: AtomicU64,
    /// Counters.
    pub stats: ApiStats,
    tenant: Option<String>,
}

mod crawl;
mod session;
mod to_canonical;

use to_canonical::*;
pub use to_canonical::{canonical, form_from_json, person_from_json};

pub(super) fn excerpt(body: &str) -> String {
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
        // As tenants answer: the top-level text is the comment as it stands; history records edits.
        let comments = json!([
            {"$ref": "/x/comment/7", "text": "final words", "created": 1000, "questionFK": 1001, "sectionFK": 101,
             "history": [{"created": 1000, "text": "first draft"}, {"created": 2000, "text": "first draft"}]},
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
            "field 'evalForm.evalFormId': form 5 is not in recording/evalform, nor found by its id (a retired form the API no longer gives)"
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
