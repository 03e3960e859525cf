//! The timeline a supervisor sees in Genesys (#25): verify reads Genesys' own evaluation analytics
//! by conversation date, per agent and month, against the ledger; `match` spends nothing where
//! Genesys cannot hold a conversation, and says what it will spend before it starts.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::support::{Env, fast_settings, setup_org, setup_with, verify};

/// A created evaluation: (Genesys id, agent, `YYYY-MM` of its conversation's start).
fn a_created(env: &Env) -> (String, String, String) {
    env.ledger()
        .conn()
        .query_row(
            "SELECT l.evaluation_id, l.agent_user_id, substr(p.conversation_start, 1, 7)
             FROM loads l JOIN plans p ON p.record_id = l.record_id
             WHERE l.state = 'created' AND p.conversation_start IS NOT NULL ORDER BY l.record_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_month_analytics_has_not_processed_is_pending_then_a_difference_then_clean() {
    let clock = genesys::Clock::scaled(1.0);
    let mut env = setup_with(120, "csv", fast_settings(), clock.clone(), clock.clone()).await;
    env.cfg.verify.analytics_lag_s = 3600;
    let out = env.run().await;
    let t = &out.json["verify"]["timeline"];
    assert!(t["agent_months"].as_u64().unwrap() > 20, "{t}");
    assert_eq!(t["differing"].as_array().unwrap().len(), 0, "{t}");
    assert!(t["requests"].as_u64().unwrap() >= 1, "{t}");
    assert!(
        out.json["requests_by_purpose"]["verify_timeline"].as_u64() == t["requests"].as_u64(),
        "counted apart: {}",
        out.json["requests_by_purpose"]
    );

    // Genesys' analytics have not processed one evaluation yet.
    let (id, agent, month) = a_created(&env);
    env.emu.state.hold_from_analytics(&id);
    let v = verify(&env).await;
    let t = v.timeline.clone().unwrap();
    assert_eq!(t.differing.len(), 1, "{t:?}");
    let d = &t.differing[0];
    assert_eq!(
        (d.agent.as_str(), d.month.as_str()),
        (agent.as_str(), month.as_str())
    );
    assert_eq!(d.expected_count, d.genesys_count + 1, "{d:?}");
    assert!(d.pending, "written just now: pending");
    assert!(
        v.clean(),
        "a pending difference does not fail verify: {}",
        v.line()
    );

    // Older than [verify] analytics_lag_s: a difference, verify exits 1.
    clock.advance(Duration::from_secs(2 * 3600));
    let v = verify(&env).await;
    let t = v.timeline.clone().unwrap();
    assert_eq!(t.differing.len(), 1, "{t:?}");
    assert!(!t.differing[0].pending);
    assert!(!v.clean(), "{}", v.line());
    assert!(v.line().contains("1 differ"), "{}", v.line());

    // Processed: clean.
    env.emu.state.release_to_analytics(&id);
    let v = verify(&env).await;
    assert!(v.timeline.as_ref().unwrap().differing.is_empty());
    assert!(v.clean(), "{}", v.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_rescore_shows_in_that_agent_months_mean() {
    let clock = genesys::Clock::scaled(1.0);
    let env = setup_with(120, "csv", fast_settings(), clock.clone(), clock.clone()).await;
    env.run().await;
    clock.advance(Duration::from_secs(2 * 3600));
    let (id, agent, month) = a_created(&env);
    let before = env
        .emu
        .state
        .evaluations()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap()
        .answers
        .unwrap()
        .total_score
        .unwrap();
    let rescored = if before > 50.0 { 10.0 } else { 95.0 };
    assert!(env.emu.state.edit_evaluation(&id, |e| {
        if let Some(a) = e.answers.as_mut() {
            a.total_score = Some(rescored);
        }
    }));
    let v = verify(&env).await;
    let t = v.timeline.unwrap();
    let d = t
        .differing
        .iter()
        .find(|d| d.agent == agent && d.month == month)
        .unwrap_or_else(|| panic!("agent {agent} in {month} is named: {t:?}"));
    assert_eq!(d.genesys_count, d.expected_count, "{d:?}");
    let (g, e) = (d.genesys_mean.unwrap(), d.expected_mean.unwrap());
    assert!(
        ((g - e) * d.genesys_count as f64 - (rescored - before)).abs() < 0.01,
        "the mean moved by the re-score: {d:?}"
    );
    assert!(!d.pending);
    assert_eq!(t.differing.len(), 1, "only that agent-month: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_asks_nothing_before_the_org_went_live_and_says_what_it_will_spend() {
    // The org went live on 2025-06-01: no conversation is older.
    let go_live: jiff::Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    let env = setup_org(
        1500,
        "csv",
        fast_settings(),
        genesys::Clock::system(),
        genesys::Clock::system(),
        |f| f.conversations.retain(|c| c.start >= go_live),
    )
    .await;
    let plan = env.prepare().await;
    let estimate = plan.match_estimate.clone().expect("match ran");
    assert!(estimate.before_first_conversation > 0, "{estimate:?}");
    assert!(
        plan.match_first_conversation.as_deref().unwrap() >= "2025-06-01",
        "{plan:?}"
    );
    // At most one request per agent-day after go-live, plus a small constant (the search for the
    // org's first conversation).
    let after: i64 = env
        .ledger()
        .conn()
        .query_row(
            "SELECT count(*) FROM (SELECT DISTINCT p.agent_user_id,
                    substr(json_extract(r.canonical, '$.contact.start_time_utc'), 1, 10)
             FROM records r JOIN plans p ON p.record_id = r.id
             WHERE p.link_detail LIKE '%match%'
               AND json_extract(r.canonical, '$.contact.start_time_utc') >= '2025-06-01')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(after > 5, "{after} agent-days after go-live");
    assert!(
        plan.analytics_requests <= after as u64 + 3,
        "{} requests for {after} agent-days after go-live: {estimate:?}",
        plan.analytics_requests
    );
    assert_eq!(
        estimate.requests + 1,
        plan.analytics_requests,
        "{estimate:?}"
    );
    // None before it: every per-agent query reaches past go-live.
    let queries = env.emu.state.stats().detail_queries.lock().unwrap().clone();
    let per_agent: Vec<_> = queries.iter().filter(|(_, _, u)| u.is_some()).collect();
    assert!(!per_agent.is_empty());
    assert!(
        per_agent.iter().all(|(_, end, _)| *end >= go_live),
        "no agent-day before go-live is queried"
    );
    let org_wide = queries.iter().filter(|(_, _, u)| u.is_none()).count();
    assert_eq!(org_wide, 1, "one query finds the org's first conversation");
    println!("{}", estimate.line());
    let stats = env.emu.state.stats();
    assert!(stats.requests.load(Relaxed) > 0);

    // The plan command says it.
    let (cfg_path, id, secret) = env.binary_config("plan.toml");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&cfg_path)
            .arg("plan")
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("agent-days to look through")
            && text.contains("before the org's first conversation"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stops_match_early_and_says_why() {
    let mut env = setup_with(
        400,
        "csv",
        fast_settings(),
        genesys::Clock::system(),
        genesys::Clock::system(),
    )
    .await;
    env.cfg.link.match_budget = Some(3);
    let plan = env.prepare().await;
    let estimate = plan.match_estimate.clone().unwrap();
    assert!(estimate.requests > 3, "{estimate:?}");
    assert!(plan.match_over_budget > 0, "{plan:?}");
    assert!(
        plan.analytics_requests <= 3 + 1 + 2,
        "the budget holds (plus the search for the first conversation and pages): {plan:?}"
    );
    let reasons: i64 = env
        .ledger()
        .conn()
        .query_row(
            "SELECT count(*) FROM plans WHERE reason LIKE '%[link] match_budget%' AND disposition = 'history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reasons as u64, plan.match_over_budget);
}
