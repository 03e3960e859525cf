//! Exactly once as Genesys really answers (#14): the per-agent cap as a 400, live QA the tool cannot
//! see, 409 in progress, 429 without Retry-After, a success that does not decode, a dropped publish,
//! two loads on one ledger, and a preflight that meets 5xx.

use std::sync::atomic::Ordering;
use std::time::Duration;

use qm_migrate::ledger::state;

use crate::support::{fast_settings, setup, setup_with};

const CAP_CODE: &str = "quality.evaluation.create.limit.exceeded.for.agent";

fn count(env: &crate::support::Env, sql: &str) -> i64 {
    env.ledger()
        .conn()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_qa_that_filled_most_of_the_cap_defers_agents_and_nothing_is_rejected() {
    // One virtual day every 20 real seconds. Every agent got 4 of its 5 evaluations today from live
    // QA, 12 hours before the migration starts: the org's count, which the tool cannot see.
    let clock = genesys::Clock::scaled(4320.0);
    let settings = emulator::Settings {
        per_agent_daily_cap: 5,
        live_evaluations_per_agent: 4,
        live_evaluations_age_s: 12 * 3600,
        idempotency_replay: false,
        ..fast_settings()
    };
    let mut env = setup_with(160, "csv", settings, clock.clone(), clock.clone()).await;
    // The cap as `run` takes it: from the org's limits.
    let p = qm_migrate::preflight::run(&env.cfg, &env.client, "qm-migrate-demo")
        .await
        .unwrap();
    env.cfg.genesys.per_agent_daily_cap = p.per_agent_daily_cap.unwrap();
    assert_eq!(env.cfg.genesys.per_agent_daily_cap, 5);
    env.prepare().await;
    let ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let planned = ledger.loads_in(&[state::PLANNED]).unwrap().len();

    // A plain load: one slot per agent, then the org's cap answers.
    let first = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(first.load["rejected"], 0, "{:?}", first.load);
    assert!(first.load["deferred"] > 0, "{:?}", first.load);
    assert!(
        env.emu.state.stats().cap_answers.load(Ordering::Relaxed) > 0,
        "the org answered with its cap"
    );
    // Every deferred item carries the code Genesys answered, or ours when we knew first.
    let deferred = ledger.loads_in(&[state::DEFERRED]).unwrap();
    let codes: i64 = count(
        &env,
        &format!("SELECT count(*) FROM loads WHERE state = 'deferred' AND code = '{CAP_CODE}'"),
    );
    assert_eq!(
        codes as usize,
        deferred.len(),
        "deferred with the cap's code"
    );
    let caps = ledger.agent_caps().unwrap();
    assert!(!caps.is_empty());
    assert!(caps.iter().all(|c| c.limit_value == Some(5)), "{caps:?}");
    // The ETA accounts for the agents the org said are full.
    let eta = qm_migrate::load::status_eta(&env.cfg, &ledger, clock.now_unix_ms()).unwrap();
    assert!(eta > 3000.0, "ETA {eta} s waits for the cap answers");
    assert_eq!(
        env.emu.state.evaluations().len(),
        first.load["created"] as usize
    );

    // --follow sleeps through the windows (rechecking capped agents) until everything is created.
    let opts = qm_migrate::load::LoadOptions {
        follow: true,
        ..Default::default()
    };
    let out = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &opts, &bar)
        .await
        .unwrap();
    assert_eq!(out.load["created"] as usize, planned);
    assert_eq!(out.load["rejected"], 0);
    assert!(
        out.elapsed_seconds > 10.0 * 3600.0,
        "created after the live evaluations left the window ({} s)",
        out.elapsed_seconds
    );
    env.assert_exactly_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loads_started_at_once_one_runs_the_other_refuses_naming_it() {
    let settings = emulator::Settings {
        latency_ms: 30,
        idempotency_replay: false,
        ..fast_settings()
    };
    let env = setup(300, "csv", settings).await;
    env.prepare().await;
    let (cfg_path, id, secret) = env.binary_config("two.toml");
    let start = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"));
        c.arg("--config")
            .arg(&cfg_path)
            .args(["--quiet", "load"])
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let a = start();
    let b = start();
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a, b) = tokio::task::spawn_blocking(move || {
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    let (winner, loser, winner_pid) = if a.status.code() == Some(2) {
        (b, a, b_pid)
    } else {
        (a, b, a_pid)
    };
    assert_eq!(loser.status.code(), Some(2), "one refuses");
    let said = String::from_utf8_lossy(&loser.stderr);
    assert!(
        said.contains("is in use by `load`") && said.contains(&format!("pid {winner_pid}")),
        "{said}"
    );
    assert_eq!(
        winner.status.code(),
        Some(1),
        "the other runs to the end (1: the sample has quarantined records): {}",
        String::from_utf8_lossy(&winner.stderr)
    );
    env.assert_exactly_once();
    // Released: the next command takes the ledger.
    assert!(qm_migrate::lease::holder(&env.cfg.ledger.path).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automated_evaluation_in_progress_is_retried_later_not_rejected() {
    let clock = genesys::Clock::scaled(60.0);
    let settings = emulator::Settings {
        in_progress_rate: 0.3,
        seed: 3,
        ..fast_settings()
    };
    let env = setup_with(120, "csv", settings, clock.clone(), clock.clone()).await;
    env.prepare().await;
    let ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let first = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(first.load["rejected"], 0);
    let later: i64 = count(
        &env,
        "SELECT count(*) FROM loads WHERE state = 'deferred' AND code = 'quality.evaluation.already.in.progress'",
    );
    assert!(later > 0, "409s deferred the item");
    let opts = qm_migrate::load::LoadOptions {
        follow: true,
        ..Default::default()
    };
    let out = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &opts, &bar)
        .await
        .unwrap();
    assert_eq!(out.load["rejected"], 0);
    assert!(
        env.emu
            .state
            .stats()
            .in_progress_answers
            .load(Ordering::Relaxed)
            > 0
    );
    env.assert_exactly_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_without_retry_after_backs_off_and_never_spins() {
    // Ten times faster than real time; a minute of 429s without Retry-After.
    let clock = genesys::Clock::scaled(10.0);
    let env = setup_with(60, "csv", fast_settings(), clock.clone(), clock.clone()).await;
    env.prepare().await;
    let stats = env.emu.state.stats();
    let before = stats.requests.load(Ordering::Relaxed);
    env.emu
        .state
        .throttle_without_retry_after(Duration::from_secs(60));
    let ledger = env.ledger();
    let opts = qm_migrate::load::LoadOptions {
        follow: true,
        ..Default::default()
    };
    let out = qm_migrate::load::run(
        &env.cfg,
        &ledger,
        &env.client,
        &opts,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let throttled = stats.throttled_without_retry_after.load(Ordering::Relaxed);
    let requests = stats.requests.load(Ordering::Relaxed) - before;
    eprintln!(
        "{throttled} 429s in the throttled minute, {requests} requests in all, {} created",
        out.created_now
    );
    assert!(throttled > 0, "the throttle was met");
    // Exponential back-off with jitter from 0.5 s to 30 s: a handful of tries per minute, not a spin
    // (at this client's 100,000 requests a minute, a spin would be thousands).
    assert!(throttled <= 40, "{throttled} 429s in one minute");
    assert_eq!(out.load["rejected"], 0);
    assert!(out.elapsed_seconds >= 60.0, "{}", out.elapsed_seconds);
    env.assert_exactly_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_whose_body_does_not_decode_is_created_or_unknown_never_resent_blind() {
    for without_id in [false, true] {
        let settings = emulator::Settings {
            undecodable_create_rate: 0.3,
            undecodable_without_id: without_id,
            idempotency_replay: false,
            seed: 21,
            ..fast_settings()
        };
        let mut env = setup(120, "csv", settings).await;
        env.cfg.genesys.timeout_s = 1;
        env.cfg.genesys.reconcile_after_s = Some(1);
        env.prepare().await;
        let ledger = env.ledger();
        let out = qm_migrate::load::run(
            &env.cfg,
            &ledger,
            &env.client,
            &Default::default(),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap();
        let undecodable = env
            .emu
            .state
            .stats()
            .undecodable_answers
            .load(Ordering::Relaxed);
        assert!(undecodable > 0);
        if without_id {
            // No id to read: unknown, then found by its key.
            assert_eq!(out.adopted, undecodable, "every one adopted");
        } else {
            let noted: i64 = count(
                &env,
                "SELECT count(*) FROM loads WHERE message LIKE 'created; the answer did not decode%'",
            );
            assert_eq!(noted as u64, undecodable, "created with the id it carried");
        }
        env.assert_exactly_once();
    }
}

#[tokio::test]
async fn a_publish_whose_answer_is_lost_is_resolved_by_reading_not_resent() {
    let settings = emulator::Settings {
        drop_publishes: 1,
        ..fast_settings()
    };
    let env = setup(40, "csv", settings).await;
    env.prepare().await;
    assert_eq!(
        env.emu
            .state
            .stats()
            .publishes_dropped
            .load(Ordering::Relaxed),
        1
    );
    let versions = env.emu.state.published_versions(&env.cfg.form.name);
    assert_eq!(versions.len(), 1, "published once: {versions:?}");
    let form = env.ledger().form(&env.cfg.form.name).unwrap().unwrap();
    assert_eq!(form.published_id.as_deref(), Some(versions[0].0.as_str()));
    let out = env.run().await;
    assert_eq!(
        out.json["load"]["created"],
        out.json["dispositions"]["evaluation"]
    );
}

#[tokio::test]
async fn preflight_takes_a_5xx_for_unknown_never_for_granted() {
    let settings = emulator::Settings {
        error_rate: 1.0,
        ..fast_settings()
    };
    let mut env = setup(20, "csv", settings).await;
    env.cfg.genesys.max_attempts = 2;
    let p = qm_migrate::preflight::run(&env.cfg, &env.client, "qm-migrate-demo")
        .await
        .unwrap();
    assert_eq!(p.permissions_from, "inferred");
    let probed = [
        "quality:evaluation:view",
        "quality:evaluationForm:view",
        "directory:user:view",
    ];
    for what in probed {
        let c = p.checks.iter().find(|c| c.what == what).unwrap();
        assert_eq!(
            c.verdict,
            qm_migrate::preflight::Verdict::Unknown,
            "{what}: {}",
            c.detail
        );
        assert!(c.detail.contains("503"), "{}", c.detail);
    }
    assert!(
        !p.checks
            .iter()
            .any(|c| c.what.contains(':') && c.verdict == qm_migrate::preflight::Verdict::Ok),
        "nothing granted on a 5xx"
    );
}
