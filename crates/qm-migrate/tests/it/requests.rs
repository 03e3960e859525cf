//! Requests are the migration's clock (300 a minute): the whole run at about one request per created
//! evaluation, verify included, read back in pages; a stale page hides nothing; a lost ledger is not
//! a second migration.

use std::sync::atomic::Ordering;

use crate::support::{fast_settings, setup, setup_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2000_evaluation_run_at_genesys_limits_sends_about_one_request_per_evaluation() {
    // Genesys' real limits (300 requests a minute, 50 evaluations per agent a day), on a clock 120
    // times faster than real time so the run takes seconds.
    let clock = genesys::Clock::scaled(120.0);
    let mut env = setup_with(
        2000,
        "csv",
        emulator::Settings::default(),
        clock.clone(),
        clock.clone(),
    )
    .await;
    env.cfg.genesys.requests_per_minute = 300;
    let client = qm_migrate::client_with_clock(&env.cfg, env.credentials(), clock.clone()).unwrap();
    let p = qm_migrate::preflight_into(&mut env.cfg, &client, "qm-migrate-demo")
        .await
        .unwrap();
    assert!(p.runnable());
    let out = qm_migrate::run_all_with(
        &env.cfg,
        &client,
        None,
        &env.path("report.html"),
        &indicatif::ProgressBar::hidden(),
        None,
        p.requests,
    )
    .await
    .unwrap();
    let r = &out.json["requests_by_purpose"];
    let created = out.json["load_run"]["created_now"].as_u64().unwrap();
    eprintln!("{created} created; requests {r}");
    assert!(created > 1000, "{created}");
    let per = r["per_created_evaluation"].as_f64().unwrap();
    assert!(per <= 1.05, "{per} requests per created evaluation: {r}");
    // Everything counted: the emulator saw as many requests as the client sent (tokens included).
    assert_eq!(
        env.emu.state.stats().requests.load(Ordering::Relaxed),
        r["total"].as_u64().unwrap()
    );
    let v = &out.json["verify"];
    assert_eq!(v["matched"].as_u64().unwrap(), created);
    assert_eq!(v["conversation_lookups"], 0, "the pages showed everything");
}

#[tokio::test]
async fn an_evaluation_a_stale_page_leaves_out_is_still_found_per_conversation() {
    let env = setup(120, "csv", fast_settings()).await;
    let first = env.run().await;
    assert_eq!(first.json["verify"]["conversation_lookups"], 0);
    let ledger = env.ledger();
    let items = ledger.loads_in(&["created"]).unwrap();
    // The index behind the paged query has not caught up with this one.
    let hidden = items[3].evaluation_id.clone().unwrap();
    env.emu.state.hide_from_paged_queries(&hidden);
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(v.clean(), "{}", v.line());
    assert_eq!(v.matched as usize, items.len());
    assert_eq!(v.conversation_lookups, 1, "looked up on its conversation");
    // And when it is really gone, that lookup says so.
    assert!(env.emu.state.tamper_remove_evaluation(&hidden));
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert_eq!(v.missing.len(), 1);
    assert_eq!(v.missing[0].1, hidden);
}

#[tokio::test]
async fn a_page_too_large_is_halved_and_the_reading_goes_on() {
    let settings = emulator::Settings {
        max_query_page_size: 30,
        ..fast_settings()
    };
    let mut env = setup(200, "csv", settings).await;
    env.cfg.genesys.query_page_size = 200;
    let out = env.run().await;
    let v = &out.json["verify"];
    assert_eq!(v["matched"], out.json["load"]["created"]);
    assert_eq!(v["conversation_lookups"], 0);
    // Read directly: the page size that worked is at most the emulator's.
    let ledger = env.ledger();
    let form = ledger.form(&env.cfg.form.name).unwrap().unwrap();
    let plan = ledger
        .plan(ledger.loads_in(&["created"]).unwrap()[0].record_id)
        .unwrap()
        .unwrap();
    let (found, size) = env
        .client
        .evaluations_of(
            &genesys::EvaluationsOf::Evaluator(plan.evaluator_user_id.unwrap()),
            form.context_id.as_deref().unwrap(),
            200,
        )
        .await
        .unwrap();
    assert!((15..=30).contains(&size), "{size}");
    assert!(!found.is_empty());
}

#[tokio::test]
async fn a_lost_ledger_is_not_a_second_migration() {
    // Genesys does not replay Idempotency-Key here: only the adoption stands between a new ledger
    // and a second copy of every evaluation.
    let settings = emulator::Settings {
        idempotency_replay: false,
        ..fast_settings()
    };
    let env = setup(300, "csv", settings).await;
    let first = env.run().await;
    let created = first.json["load"]["created"].as_u64().unwrap();
    assert!(created > 100);
    let stored = env.emu.state.evaluations().len();
    // A new laptop, a cleaned folder: the ledger is gone.
    for ext in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(format!("{}{ext}", env.cfg.ledger.path.display()));
    }
    let second = env.run().await;
    let l = &second.json["load_run"];
    assert_eq!(l["created_now"], 0, "nothing created twice: {l}");
    assert_eq!(l["adopted_from_form"].as_u64().unwrap(), created);
    assert_eq!(env.emu.state.evaluations().len(), stored);
    assert!(
        serde_json::from_value::<qm_migrate::verify::VerifySummary>(second.json["verify"].clone())
            .unwrap()
            .clean(),
        "{}",
        second.json["verify"]
    );
    env.assert_exactly_once();
}
