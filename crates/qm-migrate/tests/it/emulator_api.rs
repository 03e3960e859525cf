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
        quality_evaluator: true,
    }
}

fn fixture() -> Fixture {
    let start: jiff::Timestamp = "2024-03-04T15:02:11Z".parse().unwrap();
    Fixture {
        oauth_clients: vec![OAuthClient {
            client_id: "cid".into(),
            client_secret: SECRET.into(),
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
    assert_eq!(code(&e), (Some(400), "evaluation.form.invalid".into()));

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
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", h.url()))
        .basic_auth("cid", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!(
            "{}/api/v2/quality/conversations/{CONV}/evaluations",
            h.url()
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
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
    let settings = Settings {
        per_agent_daily_cap: 1,
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
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", h.url()))
        .basic_auth("cid", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = token["access_token"].as_str().unwrap().to_owned();
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
    let (draft_id, _) = published_form(&client).await;
    let del = http
        .delete(format!(
            "{}/api/v2/quality/forms/evaluations/{draft_id}",
            h.url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 409);
    let err: serde_json::Value = del.json().await.unwrap();
    assert_eq!(err["code"], "evaluation.cannot.be.deleted");
}
