//! `probe` against the emulator in each of its readings of the unverified behaviours: the facts it
//! reports are the emulator's setting, and nothing is left behind.

use std::process::Command;

use emulator::{EmulatorHandle, EmulatorState, Fixture, FixtureUser, Settings};
use qm_migrate::config::{Config, Credentials};
use qm_migrate::probe::{self, FORM_NAME, Options};

use crate::support::{fast_settings, fixture_secret, setup};

/// A sample's fixture served with `settings`, one of its conversations given a second agent
/// participant who is inactive (and holds the evaluator role).
struct ProbeOrg {
    dir: tempfile::TempDir,
    emu: EmulatorHandle,
    cfg: Config,
    client: genesys::GenesysClient,
    client_id: String,
    conversation: String,
    inactive: String,
}

async fn org(settings: Settings) -> ProbeOrg {
    let dir = tempfile::tempdir().unwrap();
    qm_migrate::sample::generate(20, 3, dir.path()).unwrap();
    let mut fixture: Fixture = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("genesys-fixture.json")).unwrap(),
    )
    .unwrap();
    let active: std::collections::HashSet<String> = fixture
        .users
        .iter()
        .filter(|u| u.state == "active")
        .map(|u| u.id.clone())
        .collect();
    let inactive = "0badc0de-0000-4000-8000-000000000001".to_owned();
    fixture.users.push(FixtureUser {
        id: inactive.clone(),
        name: "Left The Company".into(),
        email: Some("left@example.com".into()),
        username: Some("left@example.com".into()),
        state: "inactive".into(),
        employee_id: None,
        quality_evaluator: true,
    });
    let conv = fixture
        .conversations
        .iter_mut()
        .find(|c| {
            c.participants.first().is_some_and(|p| p.purpose == "agent")
                && c.participants
                    .iter()
                    .any(|p| p.user_id.as_ref().is_some_and(|u| active.contains(u)))
        })
        .expect("a conversation whose first participant is an active agent");
    let mut extra = conv.participants[0].clone();
    extra.user_id = Some(inactive.clone());
    conv.participants.push(extra);
    let conversation = conv.conversation_id.clone();
    let (client_id, secret) = fixture_secret(&fixture);
    let emu = emulator::spawn("127.0.0.1:0", EmulatorState::new(fixture, settings))
        .await
        .unwrap();
    let mut cfg = Config::load(&dir.path().join("qm-migrate.toml")).unwrap();
    cfg.genesys.api_url = Some(emu.url());
    cfg.genesys.login_url = Some(emu.url());
    let client = qm_migrate::client_for(
        &cfg,
        Credentials {
            client_id: client_id.clone(),
            client_secret: secrecy::SecretString::from(secret),
        },
    )
    .unwrap();
    ProbeOrg {
        dir,
        emu,
        cfg,
        client,
        client_id,
        conversation,
        inactive,
    }
}

impl ProbeOrg {
    fn options(&self, replay_after_s: f64) -> Options {
        Options {
            yes: true,
            inactive_agent: Some(self.inactive.clone()),
            inactive_evaluator: Some("left@example.com".into()),
            replay_after_s,
            lag_bound_s: 20.0,
            ..Options::new(&self.conversation)
        }
    }

    async fn probe(&self, opts: &Options) -> probe::Report {
        probe::run(&self.cfg, &self.client, &self.client_id, opts)
            .await
            .unwrap()
    }

    /// Nothing of the probe is left in the emulator.
    async fn assert_nothing_left(&self, report: &probe::Report) {
        assert!(report.cleaned_up, "{:?}", report.leftovers);
        assert!(report.form_deleted);
        assert!(
            self.emu.state.evaluations().is_empty(),
            "evaluations left: {}",
            self.emu.state.evaluations().len()
        );
        assert!(
            self.client.list_forms(FORM_NAME).await.unwrap().is_empty(),
            "the probe form is left"
        );
        let made = self
            .emu
            .state
            .stats()
            .evaluations_created
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(report.created, made, "created as the emulator counted");
        assert_eq!(report.deleted, made, "every one deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_org_that_does_what_the_tool_assumes_probe_says_so_and_leaves_nothing() {
    let o = org(fast_settings()).await;
    let r = o.probe(&o.options(1.0)).await;
    let f = &r.facts;
    assert_eq!(f.idempotency_replay, Some(true), "{:?}", r.notes);
    assert_eq!(f.replayed_after, Some(true));
    assert!(f.replay_checked_after_s.unwrap() >= 1.0);
    assert!(f.query_lag_s.unwrap() < 1.0, "{:?}", f.query_lag_s);
    assert_eq!(f.finished_in_one_call, Some(true));
    assert_eq!(f.past_release_date_accepted, Some(true));
    assert_eq!(f.never_release_accepted, Some(true));
    assert_eq!(f.scores_as_predicted, Some(true), "{:?}", r.scoring);
    assert_eq!(f.weight_zero_ignored, Some(true));
    assert_eq!(f.failed_fatal_zeroes, Some(true));
    assert_eq!(f.inactive_agent_accepted, Some(false));
    assert_eq!(f.inactive_evaluator_accepted, Some(false));
    assert_eq!(f.per_agent_daily_cap, Some(50));
    assert!(f.permissions_missing.is_empty());
    // The first create, its two replays (no new evaluation), the past-dated one, neverRelease.
    assert_eq!(r.created, 3, "{r:#?}");
    for s in &r.scoring {
        assert!(s.dry_run.is_some() && s.created.is_some(), "{s:?}");
    }
    o.assert_nothing_left(&r).await;
    let text = probe::human(&r);
    assert!(text.contains("nothing was left behind"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_org_that_does_none_of_it_probe_measures_each_difference_and_writes_the_config() {
    let o = org(Settings {
        idempotency_replay: false,
        query_lag_ms: 3000,
        reject_past_release_date: true,
        accept_inactive_users: true,
        fatal_keeps_total: true,
        zero_weight_counts: true,
        finished_on_create: false,
        per_agent_daily_cap: 120,
        ..fast_settings()
    })
    .await;
    let r = o.probe(&o.options(1.0)).await;
    let f = &r.facts;
    assert_eq!(f.idempotency_replay, Some(false));
    assert_eq!(
        f.replayed_after, None,
        "not tried once the key is not replayed"
    );
    let lag = f.query_lag_s.unwrap();
    assert!((3.0..=8.0).contains(&lag), "lag {lag}");
    assert_eq!(f.finished_in_one_call, Some(false));
    assert_eq!(f.past_release_date_accepted, Some(false));
    assert_eq!(f.scores_as_predicted, Some(false));
    assert_eq!(f.weight_zero_ignored, Some(false));
    assert_eq!(f.failed_fatal_zeroes, Some(false));
    assert_eq!(f.inactive_agent_accepted, Some(true));
    assert_eq!(f.inactive_evaluator_accepted, Some(true));
    assert_eq!(f.per_agent_daily_cap, Some(120));
    // First, its duplicate, the past date refused then now, neverRelease, two inactive people.
    assert_eq!(r.created, 6, "{r:#?}");
    o.assert_nothing_left(&r).await;
    eprintln!("{}", probe::human(&r));

    // --write-config through the binary's path: the recommendations land in their tables, the
    // file still loads, and the loader now waits for the measured lag.
    let path = o.dir.path().join("qm-migrate.toml");
    let written = probe::write_config(&path, &r).unwrap();
    assert!(
        written.iter().any(|l| l.contains("query_lag_s")),
        "{written:?}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("# probe {}", r.date)), "{text}");
    let cfg = Config::load(&path).unwrap();
    assert_eq!(cfg.genesys.query_lag_s, Some(lag));
    assert_eq!(cfg.genesys.per_agent_daily_cap, 120);
    assert_eq!(cfg.form.release_policy, "omit");
    assert_eq!(cfg.users.inactive_policy, "allow");
    assert_eq!(cfg.genesys.reconcile_after_s, None);
    assert_eq!(
        cfg.genesys.reconcile_after().as_secs_f64(),
        cfg.genesys.timeout_s as f64 + 2.0 * lag
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_replayed_only_for_a_while_is_told_apart() {
    let o = org(Settings {
        idempotency_window_s: 1,
        ..fast_settings()
    })
    .await;
    let mut opts = o.options(2.5);
    opts.inactive_agent = None;
    opts.inactive_evaluator = None;
    let r = o.probe(&opts).await;
    assert_eq!(r.facts.idempotency_replay, Some(true));
    assert_eq!(r.facts.replayed_after, Some(false));
    assert!(r.facts.replay_checked_after_s.unwrap() >= 2.5);
    assert_eq!(r.facts.inactive_agent_accepted, None);
    o.assert_nothing_left(&r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_refuses_without_yes_and_on_an_evaluated_conversation_and_deletes_only_its_own() {
    let env = setup(20, "csv", fast_settings()).await;
    let (id, _) = fixture_secret(
        &serde_json::from_str::<Fixture>(
            &std::fs::read_to_string(env.path("genesys-fixture.json")).unwrap(),
        )
        .unwrap(),
    );
    let err = probe::run(&env.cfg, &env.client, &id, &Options::new("any"))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--yes"), "{err:#}");
    assert_eq!(env.client.requests_sent(), 0, "nothing sent without --yes");

    // A migrated conversation.
    env.prepare().await;
    let ledger = env.ledger();
    qm_migrate::load::run(
        &env.cfg,
        &ledger,
        &env.client,
        &Default::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let ours = env.emu.state.evaluations();
    let target = ours[0].conversation.as_ref().unwrap().id.clone();
    let opts = Options {
        yes: true,
        replay_after_s: 0.0,
        lag_bound_s: 5.0,
        ..Options::new(&target)
    };
    let err = probe::run(&env.cfg, &env.client, &id, &opts)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("already has 1 evaluation"),
        "{err:#}"
    );
    assert_eq!(env.emu.state.evaluations().len(), ours.len());

    // --allow-evaluated, through the binary with --json: the migration's evaluation stays.
    let (cfg_path, id, secret) = env.binary_config("probe.toml");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&cfg_path)
            .args([
                "--json",
                "probe",
                "--conversation",
                &target,
                "--yes",
                "--allow-evaluated",
                "--replay-after-s",
                "0",
            ])
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["facts"]["idempotency_replay"], true);
    assert_eq!(v["facts"]["finished_in_one_call"], true);
    assert_eq!(v["facts"]["past_release_date_accepted"], true);
    assert_eq!(v["facts"]["scores_as_predicted"], true);
    assert!(v["facts"]["query_lag_s"].as_f64().unwrap() < 1.0);
    assert_eq!(v["cleaned_up"], true);
    assert_eq!(v["created"], 3);
    assert_eq!(v["deleted"], 3);
    let after: Vec<String> = env
        .emu
        .state
        .evaluations()
        .iter()
        .map(|e| e.id.clone())
        .collect();
    let before: Vec<String> = ours.iter().map(|e| e.id.clone()).collect();
    assert_eq!(after, before, "only the probe's evaluations were deleted");
}
