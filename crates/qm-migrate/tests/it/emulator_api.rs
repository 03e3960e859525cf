//! The emulator answers as Genesys documents: OAuth, documented error codes, paging, publish
//! versions, Retry-After. Driven over real HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use emulator::{
    EmulatorState, Fixture, FixtureConversation, FixtureParticipant, FixtureUser, OAuthClient,
    Settings,
};
use genesys::models::{EntityRef, EvaluationCreateBody, GroupScore, QuestionScore, ScoringSet};
use genesys::{ClientConfig, GenesysClient, GenesysError};
use secrecy::SecretString;

const SECRET: &str = "emulator-test-secret-7f3a";

fn user(id: &str, state: &str) -> FixtureUser {
    FixtureUser {
        id: id.into(),
        name: id.into(),
        email: Some(format!("{id}@example.com")),
        username: Some(format!("{id}@example.com")),
        state: state.into(),
        employee_id: None,
        quality_evaluator: true,
    }
}

fn fixture() -> Fixture {
    let start: jiff::Timestamp = "2024-03-04T15:02:11Z".parse().unwrap();
    Fixture {
        oauth_clients: vec![OAuthClient {
            client_id: "cid".into(),
            client_secret: SECRET.into(),
            permissions: None,
        }],
        users: vec![
            user("agent-a", "active"),
            user("agent-b", "active"),
            user("eval-e", "active"),
            user("gone", "deleted"),
        ],
        conversations: vec![FixtureConversation {
            conversation_id: "c0ffee00-0000-4000-8000-000000000001".into(),
            start,
            end: start,
            participants: vec![
                FixtureParticipant {
                    purpose: "customer".into(),
                    user_id: None,
                },
                FixtureParticipant {
                    purpose: "agent".into(),
                    user_id: Some("agent-a".into()),
                },
            ],
        }],
    }
}

async fn start(settings: Settings) -> (emulator::EmulatorHandle, GenesysClient) {
    let h = emulator::spawn("127.0.0.1:0", EmulatorState::new(fixture(), settings))
        .await
        .unwrap();
    let mut cfg = ClientConfig::new(
        &h.url(),
        &h.url(),
        "cid",
        SecretString::from(SECRET.to_owned()),
    );
    cfg.requests_per_minute = 100_000;
    cfg.initial_backoff = Duration::from_millis(10);
    (h, GenesysClient::new(cfg).unwrap())
}

const CONV: &str = "c0ffee00-0000-4000-8000-000000000001";

async fn published_form(client: &GenesysClient) -> (String, genesys::models::EvaluationForm) {
    let cfg = qm_migrate::config::FormConfig::default();
    let def = qm_migrate::form::definition(&cfg);
    let draft = client
        .create_form(&qm_migrate::form::for_create(&def))
        .await
        .unwrap();
    let draft_id = draft.id.unwrap();
    client.publish_form(&draft_id).await.unwrap();
    let published = client.get_published_form(&draft_id).await.unwrap();
    (draft_id, published)
}

fn body(
    form: &genesys::models::EvaluationForm,
    agent: &str,
    answer: Option<&str>,
) -> EvaluationCreateBody {
    let g0 = &form.question_groups[0];
    let q0 = &g0.questions[0];
    EvaluationCreateBody {
        evaluation_form: EntityRef::id(form.id.clone().unwrap()),
        evaluator: EntityRef::id("eval-e"),
        agent: EntityRef::id(agent),
        answers: ScoringSet {
            question_group_scores: vec![
                GroupScore {
                    question_group_id: g0.id.clone().unwrap(),
                    question_scores: vec![QuestionScore {
                        question_id: q0.id.clone().unwrap(),
                        answer_id: Some(
                            answer
                                .map(str::to_owned)
                                .unwrap_or_else(|| q0.answer_options[20].id.clone().unwrap()),
                        ),
                        ..QuestionScore::default()
                    }],
                    ..GroupScore::default()
                },
                GroupScore {
                    question_group_id: form.question_groups[1].id.clone().unwrap(),
                    marked_na: true,
                    ..GroupScore::default()
                },
            ],
            ..ScoringSet::default()
        },
        status: Some("FINISHED".into()),
        ..EvaluationCreateBody::default()
    }
}

fn code(e: &GenesysError) -> (Option<u16>, String) {
    (e.status(), e.code().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn creates_score_by_the_formula_and_bad_creates_get_the_documented_codes() {
    let (h, client) = start(Settings::default()).await;
    let (draft_id, form) = published_form(&client).await;
    assert_ne!(
        form.id.as_deref(),
        Some(draft_id.as_str()),
        "publishing makes a new version id"
    );
    assert_eq!(form.published, Some(true));

    let ok = client
        .create_evaluation(
            CONV,
            &body(&form, "agent-a", None),
            Some(uuid::Uuid::new_v4()),
        )
        .await
        .unwrap();
    assert_eq!(
        ok.answers.unwrap().total_score,
        Some(80.0),
        "option 80 of 100 scores 80 %"
    );

    let e = client
        .create_evaluation(CONV, &body(&form, "agent-a", Some("no-such-answer")), None)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            Some(400),
            "quality.scoring.answer.not.in.evaluation.form".into()
        )
    );

    let mut draft_body = body(&form, "agent-a", None);
    draft_body.evaluation_form = EntityRef::id(&draft_id);
    let e = client
        .create_evaluation(CONV, &draft_body, None)
        .await
        .unwrap_err();
    // reference/genesys-api.md §6.1 lists this code for a form version that is not published.
    assert_eq!(
        code(&e),
        (Some(400), "quality.evaluation.form.not.published".into())
    );

    let e = client
        .create_evaluation(CONV, &body(&form, "agent-b", None), None)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (Some(400), "qm.evaluation.create.error.no.agent".into())
    );

    let e = client
        .create_evaluation(CONV, &body(&form, "gone", None), None)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (Some(400), "quality.evaluation.agent.doesnt.exist".into())
    );

    let e = client
        .create_evaluation(
            "c0ffee00-0000-4000-8000-00000000dead",
            &body(&form, "agent-a", None),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), (Some(404), "not.found".into()));
    assert!(e.is_permanent() && !e.possibly_sent());
    assert_eq!(h.state.evaluations().len(), 1, "rejections store nothing");
}

#[tokio::test]
async fn idempotency_key_replays_and_must_be_a_uuid() {
    let (h, client) = start(Settings::default()).await;
    let (_, form) = published_form(&client).await;
    let key = uuid::Uuid::new_v4();
    let b = body(&form, "agent-a", None);
    let first = client.create_evaluation(CONV, &b, Some(key)).await.unwrap();
    let again = client.create_evaluation(CONV, &b, Some(key)).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(h.state.evaluations().len(), 1);

    let http = reqwest::Client::new();
    let t = token(&h).await;
    let resp = http
        .post(format!(
            "{}/api/v2/quality/conversations/{CONV}/evaluations",
            h.url()
        ))
        .bearer_auth(&t)
        .header("Idempotency-Key", "not-a-uuid")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["code"], "bad.request");
}

#[tokio::test]
async fn oauth_needs_basic_auth_and_expired_tokens_get_401_then_a_new_token() {
    let settings = Settings {
        token_lifetime_s: 60,
        ..Settings::default()
    };
    let (h, client) = start(settings).await;
    let http = reqwest::Client::new();
    let no_basic = http
        .post(format!("{}/oauth/token", h.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cid"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_basic.status(), 401);
    let wrong = http
        .post(format!("{}/oauth/token", h.url()))
        .basic_auth("cid", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let anonymous = http
        .get(format!("{}/api/v2/users", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    assert_eq!(client.list_users("active").await.unwrap().len(), 3);
    let before = client.requests_sent();
    h.state.clock().advance(Duration::from_secs(61));
    assert_eq!(client.list_users("any").await.unwrap().len(), 4);
    // 401 on the expired token, one new token, the retried request.
    assert_eq!(client.requests_sent() - before, 3);
}

#[tokio::test]
async fn short_retry_after_is_waited_out_and_the_request_succeeds() {
    let settings = Settings {
        requests_per_minute: 3,
        ..Settings::default()
    };
    let (h, client) = start(settings).await;
    for _ in 0..3 {
        client.list_users("active").await.unwrap();
    }
    // 58 s pass on the emulator's clock: the window frees up in about 2 s.
    h.state.clock().advance(Duration::from_secs(58));
    let t = Instant::now();
    client.list_users("active").await.unwrap();
    let waited = t.elapsed();
    assert_eq!(client.throttled(), 1, "one 429");
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After was honoured: waited {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(
        h.state
            .stats()
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn long_retry_after_is_returned_as_throttled_for_the_caller_to_park() {
    // The older reading of the cap: a 429 with a long Retry-After.
    let settings = Settings {
        per_agent_daily_cap: 1,
        cap_as_429: true,
        ..Settings::default()
    };
    let (_h, client) = start(settings).await;
    let (_, form) = published_form(&client).await;
    client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap();
    let e = client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap_err();
    match e {
        GenesysError::Throttled { retry_after, body } => {
            assert!(
                retry_after > Duration::from_secs(23 * 3600),
                "{retry_after:?}"
            );
            assert_eq!(body.code.as_deref(), Some("too.many.requests.retry.after"));
        }
        other => panic!("expected Throttled, got {other}"),
    }
}

#[tokio::test]
async fn paging_state_filter_query_rules_and_form_delete() {
    let (h, client) = start(Settings::default()).await;
    let http = reqwest::Client::new();
    let t = token(&h).await;
    let page: serde_json::Value = http
        .get(format!(
            "{}/api/v2/users?pageSize=2&pageNumber=1&state=any",
            h.url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["entities"].as_array().unwrap().len(), 2);
    assert_eq!(page["pageCount"], 2);
    assert!(page["nextUri"].as_str().unwrap().contains("pageNumber=2"));
    let last: serde_json::Value = http
        .get(format!(
            "{}/api/v2/users?pageSize=2&pageNumber=2&state=deleted",
            h.url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["entities"].as_array().unwrap().len(), 0);
    assert!(last.get("nextUri").is_none());

    let q = http
        .get(format!(
            "{}/api/v2/quality/evaluations/query?pageSize=25",
            h.url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        q.status(),
        400,
        "one of conversationId/agentUserId/evaluatorUserId/assigneeUserId is required"
    );

    // A draft can be deleted (204); a published form cannot (409).
    let def = qm_migrate::form::definition(&qm_migrate::config::FormConfig::default());
    let draft = client
        .create_form(&qm_migrate::form::for_create(&def))
        .await
        .unwrap();
    let del = http
        .delete(format!(
            "{}/api/v2/quality/forms/evaluations/{}",
            h.url(),
            draft.id.unwrap()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    // A published form in use by an evaluation cannot be deleted (409); once unused, the form
    // goes with every version (Terraform's delete).
    let (draft_id, form) = published_form(&client).await;
    let e = client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap();
    let delete_form = || {
        http.delete(format!(
            "{}/api/v2/quality/forms/evaluations/{draft_id}",
            h.url()
        ))
        .bearer_auth(&t)
        .send()
    };
    let del = delete_form().await.unwrap();
    assert_eq!(del.status(), 409);
    let err: serde_json::Value = del.json().await.unwrap();
    assert_eq!(err["code"], "evaluation.cannot.be.deleted");
    client.delete_evaluation(CONV, &e.id).await.unwrap();
    assert_eq!(delete_form().await.unwrap().status(), 204);
    let published_id = form.id.clone().unwrap();
    assert!(matches!(
        client.get_published_form(&published_id).await,
        Err(GenesysError::Api { status: 404, .. })
    ));
}

async fn token(h: &emulator::EmulatorHandle) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", h.url()))
        .basic_auth("cid", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// Calls the emulator and checks the answer against the official response model of `operation`
/// for the status it got. Returns the status and body.
async fn call(
    h: &emulator::EmulatorHandle,
    t: &str,
    operation: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    failures: &mut Vec<String>,
) -> (u16, serde_json::Value) {
    let schemas = emulator::schema::schemas();
    let op = schemas
        .operation(operation)
        .unwrap_or_else(|| panic!("{operation} not vendored"));
    assert_eq!(op.method, method.as_str(), "{operation}");
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", h.url()))
        .bearer_auth(t);
    if let Some(b) = &body {
        if let Some(def) = &op.request
            && let Err(v) = schemas.validate(def, emulator::schema::Mode::Request, b)
        {
            failures.push(format!("{operation} request: {v:?}"));
        }
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let value: serde_json::Value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    match op.responses.get(&status.to_string()) {
        None => failures.push(format!(
            "{operation}: status {status} is not a documented response"
        )),
        Some(None) => {
            if !bytes.is_empty() {
                failures.push(format!("{operation}: {status} should have no body"));
            }
        }
        Some(Some(def)) => {
            if let Err(v) = schemas.validate(def, emulator::schema::Mode::Response, &value) {
                failures.push(format!(
                    "{operation} {status} as {def}: {}",
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
    }
    (status, value)
}

#[tokio::test]
#[allow(clippy::unnecessary_to_owned)]
async fn every_route_answers_with_the_official_response_model() {
    use reqwest::Method;
    let (h, _client) = start(Settings::default()).await;
    let t = token(&h).await;
    let mut f = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    macro_rules! hit {
        ($op:expr, $m:expr, $p:expr, $b:expr, $want:expr) => {{
            seen.insert($op.to_owned());
            let (status, v) = call(&h, &t, $op, $m, &$p, $b, &mut f).await;
            assert_eq!(status, $want, "{} {}: {v}", $op, $p);
            v
        }};
    }
    hit!(
        "get_users",
        Method::GET,
        "/api/v2/users?state=any&pageSize=2".to_owned(),
        None,
        200
    );
    hit!(
        "get_user",
        Method::GET,
        "/api/v2/users/agent-a".to_owned(),
        None,
        200
    );
    hit!(
        "get_user",
        Method::GET,
        "/api/v2/users/nobody".to_owned(),
        None,
        404
    );
    hit!(
        "post_users_search",
        Method::POST,
        "/api/v2/users/search".to_owned(),
        Some(serde_json::json!({"pageSize": 25, "pageNumber": 1,
            "query": [{"type": "EXACT", "fields": ["email"], "values": ["agent-a@example.com"]}]})),
        200
    );
    let def = qm_migrate::form::for_create(&qm_migrate::form::definition(
        &qm_migrate::config::FormConfig::default(),
    ));
    let draft = hit!(
        "post_quality_forms_evaluations",
        Method::POST,
        "/api/v2/quality/forms/evaluations".to_owned(),
        Some(serde_json::to_value(&def).unwrap()),
        200
    );
    let draft_id = draft["id"].as_str().unwrap().to_owned();
    hit!(
        "get_quality_forms_evaluations",
        Method::GET,
        "/api/v2/quality/forms/evaluations?name=Legacy".to_owned(),
        None,
        200
    );
    hit!(
        "get_quality_forms_evaluation",
        Method::GET,
        format!("/api/v2/quality/forms/evaluations/{draft_id}"),
        None,
        200
    );
    hit!(
        "get_quality_publishedforms_evaluation",
        Method::GET,
        format!("/api/v2/quality/publishedforms/evaluations/{draft_id}"),
        None,
        404
    );
    // A draft can be replaced before it is published (a new version of a mirrored form).
    let put = hit!(
        "put_quality_forms_evaluation",
        Method::PUT,
        format!("/api/v2/quality/forms/evaluations/{draft_id}"),
        Some(serde_json::to_value(&def).unwrap()),
        200
    );
    assert_eq!(put["id"], draft_id.as_str());
    hit!(
        "post_quality_publishedforms_evaluations",
        Method::POST,
        "/api/v2/quality/publishedforms/evaluations".to_owned(),
        Some(serde_json::json!({"id": draft_id, "published": true})),
        200
    );
    hit!(
        "get_quality_publishedforms_evaluations",
        Method::GET,
        "/api/v2/quality/publishedforms/evaluations".to_owned(),
        None,
        200
    );
    let published = hit!(
        "get_quality_publishedforms_evaluation",
        Method::GET,
        format!("/api/v2/quality/publishedforms/evaluations/{draft_id}"),
        None,
        200
    );
    let form: genesys::models::EvaluationForm = serde_json::from_value(published.clone()).unwrap();
    let create = serde_json::to_value(body(&form, "agent-a", None)).unwrap();
    let ev = hit!(
        "post_quality_conversation_evaluations",
        Method::POST,
        format!("/api/v2/quality/conversations/{CONV}/evaluations"),
        Some(create.clone()),
        200
    );
    let eid = ev["id"].as_str().unwrap().to_owned();
    hit!(
        "post_quality_conversation_evaluations",
        Method::POST,
        format!("/api/v2/quality/conversations/{CONV}/evaluations"),
        Some(serde_json::to_value(body(&form, "agent-b", None)).unwrap()),
        400
    );
    hit!(
        "get_quality_conversation_evaluation",
        Method::GET,
        format!("/api/v2/quality/conversations/{CONV}/evaluations/{eid}"),
        None,
        200
    );
    let listing = hit!(
        "get_quality_evaluations_query",
        Method::GET,
        format!(
            "/api/v2/quality/evaluations/query?conversationId={CONV}&expandAnswerTotalScores=true"
        ),
        None,
        200
    );
    assert!(listing["entities"][0]["answers"]["totalScore"].is_number());
    hit!(
        "get_quality_evaluations_query",
        Method::GET,
        "/api/v2/quality/evaluations/query".to_owned(),
        None,
        400
    );
    hit!(
        "post_quality_evaluations_scoring",
        Method::POST,
        "/api/v2/quality/evaluations/scoring".to_owned(),
        Some(
            serde_json::json!({"evaluationForm": {"id": form.id, "name": form.name, "questionGroups": published["questionGroups"]}, "answers": create["answers"]})
        ),
        200
    );
    hit!(
        "get_analytics_conversations_details",
        Method::GET,
        format!(
            "/api/v2/analytics/conversations/details?id={CONV},c0ffee00-0000-4000-8000-00000000beef"
        ),
        None,
        200
    );
    let q = |user: &str, interval: &str| {
        serde_json::json!({
            "interval": interval, "order": "asc", "orderBy": "conversationStart",
            "segmentFilters": [{"type": "and", "predicates": [
                {"type": "dimension", "dimension": "userId", "operator": "matches", "value": user}]}],
            "paging": {"pageSize": 100, "pageNumber": 1}
        })
    };
    let found = hit!(
        "post_analytics_conversations_details_query",
        Method::POST,
        "/api/v2/analytics/conversations/details/query".to_owned(),
        Some(q("agent-a", "2024-03-04T15:00:00Z/2024-03-04T15:05:00Z")),
        200
    );
    assert_eq!(found["totalHits"], 1, "{found}");
    assert_eq!(found["conversations"][0]["conversationId"], CONV);
    // The interval covers whole days (the model's wording): a query for the evening still finds it.
    let evening = hit!(
        "post_analytics_conversations_details_query",
        Method::POST,
        "/api/v2/analytics/conversations/details/query".to_owned(),
        Some(q("agent-a", "2024-03-04T20:00:00Z/2024-03-04T21:00:00Z")),
        200
    );
    assert_eq!(evening["totalHits"], 1, "{evening}");
    for (who, interval) in [
        ("agent-b", "2024-03-04T15:00:00Z/2024-03-04T15:05:00Z"),
        ("agent-a", "2024-03-05T00:00:00Z/2024-03-05T01:00:00Z"),
    ] {
        let none = hit!(
            "post_analytics_conversations_details_query",
            Method::POST,
            "/api/v2/analytics/conversations/details/query".to_owned(),
            Some(q(who, interval)),
            200
        );
        assert_eq!(none["totalHits"], 0, "{who} {interval}: {none}");
        assert!(none.get("conversations").is_none());
    }
    hit!(
        "get_analytics_conversation_details",
        Method::GET,
        format!("/api/v2/analytics/conversations/{CONV}/details"),
        None,
        200
    );
    hit!(
        "get_organizations_limits_namespace",
        Method::GET,
        "/api/v2/organizations/limits/namespaces/quality".to_owned(),
        None,
        200
    );
    // Genesys' evaluation analytics, by the conversation's start (#25).
    let counted = hit!(
        "post_analytics_evaluations_aggregates_query",
        Method::POST,
        "/api/v2/analytics/evaluations/aggregates/query".to_owned(),
        Some(serde_json::json!({
            "interval": "2024-01-01T00:00:00Z/2025-01-01T00:00:00Z",
            "granularity": "P1M",
            "groupBy": ["userId"],
            "metrics": ["nEvaluations", "oTotalScore"],
            "alternateTimeDimension": "conversationStart",
            "filter": {"type": "or", "predicates": [
                {"type": "dimension", "dimension": "userId", "operator": "matches", "value": "agent-a"}]}
        })),
        200
    );
    assert_eq!(
        counted["results"][0]["group"]["userId"], "agent-a",
        "{counted}"
    );
    assert!(
        counted["results"][0]["data"][0]["interval"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-01T00:00:00.000Z/"),
        "{counted}"
    );
    let profiles = hit!(
        "get_gamification_profiles",
        Method::GET,
        "/api/v2/gamification/profiles".to_owned(),
        None,
        200
    );
    hit!(
        "get_gamification_profile_metrics",
        Method::GET,
        format!(
            "/api/v2/gamification/profiles/{}/metrics",
            profiles["entities"][0]["id"].as_str().unwrap()
        ),
        None,
        200
    );
    // The audit trail of our writes (#27): an asynchronous query, its state, its results.
    let query = hit!(
        "post_quality_conversations_audits_query",
        Method::POST,
        "/api/v2/quality/conversations/audits/query".to_owned(),
        Some(serde_json::json!({
            "interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z",
            "filters": [{"property": "EntityType", "value": "Evaluation"},
                        {"property": "Action", "value": "Create"}],
            "sort": [{"name": "Timestamp", "sortOrder": "ascending"}]
        })),
        200
    );
    let tx = query["id"].as_str().unwrap().to_owned();
    assert_eq!(query["state"], "Queued", "{query}");
    h.state.clock().advance(std::time::Duration::from_secs(5));
    let status = hit!(
        "get_quality_conversations_audits_query_transaction_id",
        Method::GET,
        format!("/api/v2/quality/conversations/audits/query/{tx}"),
        None,
        200
    );
    assert_eq!(status["state"], "Succeeded", "{status}");
    let results = hit!(
        "get_quality_conversations_audits_query_transaction_id_results",
        Method::GET,
        format!("/api/v2/quality/conversations/audits/query/{tx}/results?pageSize=1"),
        None,
        200
    );
    assert_eq!(results["entities"][0]["action"], "Create", "{results}");
    assert_eq!(
        results["entities"][0]["entity"]["id"],
        eid.as_str(),
        "{results}"
    );
    assert!(
        results["entities"][0]["client"]["id"].is_string(),
        "{results}"
    );
    hit!(
        "get_gamification_metricdefinitions",
        Method::GET,
        "/api/v2/gamification/metricdefinitions".to_owned(),
        None,
        200
    );
    hit!(
        "delete_quality_conversation_evaluation",
        Method::DELETE,
        format!("/api/v2/quality/conversations/{CONV}/evaluations/{eid}"),
        None,
        200
    );
    let other = hit!(
        "post_quality_forms_evaluations",
        Method::POST,
        "/api/v2/quality/forms/evaluations".to_owned(),
        Some(serde_json::to_value(&def).unwrap()),
        200
    );
    hit!(
        "delete_quality_forms_evaluation",
        Method::DELETE,
        format!(
            "/api/v2/quality/forms/evaluations/{}",
            other["id"].as_str().unwrap()
        ),
        None,
        204
    );
    assert!(
        f.is_empty(),
        "responses off the official models:\n{}",
        f.join("\n")
    );
    let all: std::collections::BTreeSet<String> = emulator::schema::schemas()
        .operations()
        .keys()
        .cloned()
        .collect();
    assert_eq!(seen, all, "every vendored operation is walked");
    assert!(
        h.state.schema_violations().is_empty(),
        "{:?}",
        h.state.schema_violations()
    );
}

#[tokio::test]
async fn query_by_agent_alone_hides_never_release_and_answers_need_expand() {
    let (h, client) = start(Settings::default()).await;
    let (_, form) = published_form(&client).await;
    let mut hidden = body(&form, "agent-a", None);
    hidden.never_release = Some(true);
    client.create_evaluation(CONV, &hidden, None).await.unwrap();
    client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap();
    let t = token(&h).await;
    let http = reqwest::Client::new();
    let get = |q: String| {
        let http = http.clone();
        let t = t.clone();
        let url = format!("{}/api/v2/quality/evaluations/query?{q}", h.url());
        async move {
            http.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let by_agent = get("agentUserId=agent-a".into()).await;
    assert_eq!(
        by_agent["entities"].as_array().unwrap().len(),
        1,
        "neverRelease left out"
    );
    let by_conv = get(format!("conversationId={CONV}")).await;
    assert_eq!(by_conv["entities"].as_array().unwrap().len(), 2);
    assert!(
        by_conv["entities"][0].get("answers").is_none(),
        "answers only with expandAnswerTotalScores"
    );
    let expanded = get(format!(
        "conversationId={CONV}&expandAnswerTotalScores=true"
    ))
    .await;
    assert!(expanded["entities"][0]["answers"]["totalScore"].is_number());
}

#[tokio::test]
async fn unverified_behaviours_have_emulator_modes() {
    // One evaluation per conversation (unverified #2).
    let (_h, client) = start(Settings {
        one_evaluation_per_conversation: true,
        ..Settings::default()
    })
    .await;
    let (_, form) = published_form(&client).await;
    client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap();
    let e = client
        .create_evaluation(CONV, &body(&form, "agent-a", None), None)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (Some(400), "quality.evaluation.already.exists".into())
    );
    // Past release dates (unverified #4).
    let (_h2, client2) = start(Settings {
        reject_past_release_date: true,
        ..Settings::default()
    })
    .await;
    let (_, form2) = published_form(&client2).await;
    let mut old = body(&form2, "agent-a", None);
    old.release_date = Some("2020-01-01T00:00:00.000Z".into());
    let e = client2
        .create_evaluation(CONV, &old, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), (Some(400), "invalid.date".into()));
    let (_h3, client3) = start(Settings::default()).await;
    let (_, form3) = published_form(&client3).await;
    let mut old3 = body(&form3, "agent-a", None);
    old3.release_date = Some("2020-01-01T00:00:00.000Z".into());
    client3.create_evaluation(CONV, &old3, None).await.unwrap();
    // Inactive users (unverified #5).
    let (_h4, client4) = start(Settings {
        accept_inactive_users: true,
        ..Settings::default()
    })
    .await;
    let (_, form4) = published_form(&client4).await;
    let mut by_gone = body(&form4, "agent-a", None);
    by_gone.evaluator = EntityRef::id("gone");
    client4
        .create_evaluation(CONV, &by_gone, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_request_fields_are_refused_or_only_reported() {
    let (h, _client) = start(Settings::default()).await;
    let t = token(&h).await;
    let http = reqwest::Client::new();
    // The guide's body.
    let guide = serde_json::json!({"conversationId": CONV, "evaluationFormId": "f", "agentId": "agent-a", "status": "PUBLISHED",
        "evaluationForm": {"id": "f"}, "evaluator": {"id": "eval-e"}, "agent": {"id": "agent-a"}});
    let resp = http
        .post(format!(
            "{}/api/v2/quality/conversations/{CONV}/evaluations",
            h.url()
        ))
        .bearer_auth(&t)
        .json(&guide)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["code"], "bad.request");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("EvaluationCreateBody"), "{msg}");
    assert!(!h.state.schema_violations().is_empty());

    let (h2, _c2) = start(Settings {
        reject_unknown_fields: false,
        ..Settings::default()
    })
    .await;
    let t2 = token(&h2).await;
    let extra = serde_json::json!({"name": "f", "questionGroups": [], "favouriteColour": "blue"});
    let resp = http
        .post(format!("{}/api/v2/quality/forms/evaluations", h2.url()))
        .bearer_auth(&t2)
        .json(&extra)
        .send()
        .await
        .unwrap();
    // Not refused for the unknown field (the empty form is refused for its own reason).
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["code"], "evaluation.form.invalid", "{err}");
    assert!(
        h2.state
            .schema_violations()
            .iter()
            .any(|v| v.contains("favouriteColour"))
    );
}

#[tokio::test]
async fn metric_definition_and_integration_lists_are_read_to_the_last_page() {
    let (_h, client) = start(Settings {
        requests_per_minute: 100_000,
        ..Settings::default()
    })
    .await;
    for i in 0..130 {
        client
            .create_metric_definition(&genesys::models::ExternalMetricDefinition {
                name: format!("metric {i}"),
                unit: "Percent".into(),
                precision: 1,
                default_objective_type: "HigherIsBetter".into(),
                enabled: true,
                id: None,
            })
            .await
            .unwrap();
    }
    // Pages of 100: a client reading only the first would miss 30 and create a second metric.
    let all = client.list_metric_definitions().await.unwrap();
    assert_eq!(all.len(), 130);
    assert!(all.iter().any(|d| d.name == "metric 129"));
    for i in 0..105 {
        client
            .register_client_app(
                None,
                &format!("app {i}"),
                "https://example.com/h/index.html",
            )
            .await
            .unwrap();
    }
    let apps = client.list_integrations().await.unwrap();
    assert_eq!(apps.len(), 105);
    assert!(apps.iter().any(|a| a["name"] == "app 104"));
}
