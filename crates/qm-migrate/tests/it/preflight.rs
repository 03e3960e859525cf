//! `preflight` reads what a migration needs and names what is missing; it never writes.

use emulator::{EmulatorState, Fixture};
use qm_migrate::config::Credentials;
use qm_migrate::preflight::Verdict;

use crate::support::{fast_settings, setup};

/// Every permission but `without`.
fn all_but(without: &[&str]) -> Vec<String> {
    emulator::permissions::ALL
        .iter()
        .filter(|p| !without.contains(p))
        .map(|p| (*p).to_owned())
        .collect()
}

/// An emulator over the env's fixture whose OAuth client holds `permissions`; the client for it.
async fn restricted(
    env: &crate::support::Env,
    permissions: Vec<String>,
) -> (
    emulator::EmulatorHandle,
    genesys::GenesysClient,
    qm_migrate::config::Config,
    String,
) {
    let mut fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(env.path("genesys-fixture.json")).unwrap())
            .unwrap();
    fixture.oauth_clients[0].permissions = Some(permissions);
    let (id, secret) = crate::support::fixture_secret(&fixture);
    let emu = emulator::spawn(
        "127.0.0.1:0",
        EmulatorState::new(
            fixture,
            emulator::Settings {
                per_agent_daily_cap: 200,
                ..fast_settings()
            },
        ),
    )
    .await
    .unwrap();
    let mut cfg = env.cfg.clone();
    cfg.genesys.api_url = Some(emu.url());
    cfg.genesys.login_url = Some(emu.url());
    let client = qm_migrate::client_for(
        &cfg,
        Credentials {
            client_id: id.clone(),
            client_secret: secrecy::SecretString::from(secret),
        },
    )
    .unwrap();
    (emu, client, cfg, id)
}

/// The binary with `args`, the config and the credentials in the environment (off the runtime's
/// threads: the emulator answers on them).
async fn command(
    args: &[&str],
    config: &std::path::Path,
    id: &str,
    secret: &str,
) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"));
    c.args(args)
        .arg("--config")
        .arg(config)
        .env("GENESYS_CLIENT_ID", id)
        .env("GENESYS_CLIENT_SECRET", secret)
        .env_remove("GENESYS_CLIENT_ID_FILE")
        .env_remove("GENESYS_CLIENT_SECRET_FILE")
        .env_remove("QM_MIGRATE_CONFIG")
        .env("QM_MIGRATE_NO_PROGRESS", "1");
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// A config file for the binary pointing at `emu`, and the client secret.
fn config_file(
    env: &crate::support::Env,
    emu: &emulator::EmulatorHandle,
) -> (std::path::PathBuf, String) {
    let cfg_path = env.path("restricted.toml");
    std::fs::write(
        &cfg_path,
        std::fs::read_to_string(env.path("qm-migrate.toml"))
            .unwrap()
            .replace("http://127.0.0.1:8080", &emu.url())
            .replace("requests_per_minute = 300", "requests_per_minute = 100000"),
    )
    .unwrap();
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(env.path("genesys-fixture.json")).unwrap())
            .unwrap();
    (cfg_path, crate::support::fixture_secret(&fixture).1)
}

fn verdict<'a>(
    p: &'a qm_migrate::preflight::Preflight,
    what: &str,
) -> &'a qm_migrate::preflight::Check {
    p.checks
        .iter()
        .find(|c| c.what == what)
        .unwrap_or_else(|| panic!("no check {what}: {p:#?}"))
}

#[tokio::test]
async fn a_full_client_passes_and_the_org_limits_feed_the_scheduler() {
    let env = setup(30, "csv", fast_settings()).await;
    let (emu, client, mut cfg, id) = restricted(&env, all_but(&[])).await;
    let p = qm_migrate::preflight_into(&mut cfg, &client, &id)
        .await
        .unwrap();
    assert!(p.runnable(), "{}", qm_migrate::preflight::human(&p));
    assert_eq!(p.permissions_from, "roles");
    assert_eq!(verdict(&p, "quality:evaluation:add").verdict, Verdict::Ok);
    assert_eq!(p.per_agent_daily_cap, Some(200));
    assert_eq!(
        cfg.genesys.per_agent_daily_cap, 200,
        "the org's cap is used"
    );
    assert_eq!(p.requests_per_minute, Some(100_000));
    // Reading only: nothing was created.
    assert!(emu.state.evaluations().is_empty());
    assert!(client.list_forms("").await.unwrap().is_empty());

    // `run` goes on through verify and the report; `status` then shows the last run.
    let (cfg_path, secret) = config_file(&env, &emu);
    let out = command(&["run", "--json"], &cfg_path, &id, &secret).await;
    assert_eq!(out.status.code(), Some(1), "the sample plants quarantines");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["preflight"]["per_agent_daily_cap"], 200);
    let created = j["load"]["created"].as_u64().unwrap();
    assert!(created > 10);
    assert_eq!(j["verify"]["matched"].as_u64(), Some(created));
    let report = std::path::PathBuf::from(j["report"].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&report).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = command(&["status", "--json"], &cfg_path, &id, &secret).await;
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["last_run"]["command"], "verify");
    assert!(st["last_run"]["finished_at"].is_string());
    let commands: Vec<&str> = st["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["verify", "load", "plan", "extract"]);
    assert!(st["eta_seconds"].is_number());
}

#[tokio::test]
async fn a_client_lacking_one_permission_is_named_and_the_command_exits_non_zero() {
    let env = setup(30, "csv", fast_settings()).await;
    let (emu, client, cfg, id) = restricted(&env, all_but(&["quality:evaluation:add"])).await;
    let p = qm_migrate::preflight::run(&cfg, &client, &id)
        .await
        .unwrap();
    assert!(!p.runnable());
    let blocking: Vec<&str> = p.blocking().iter().map(|c| c.what.as_str()).collect();
    assert_eq!(blocking, vec!["quality:evaluation:add"]);
    assert!(
        verdict(&p, "quality:evaluation:add")
            .detail
            .contains("create the evaluations")
    );
    assert!(emu.state.evaluations().is_empty());

    // The command: exit code 1 and the permission named in plain words.
    let cfg_path = env.path("restricted.toml");
    std::fs::write(
        &cfg_path,
        std::fs::read_to_string(env.path("qm-migrate.toml"))
            .unwrap()
            .replace("http://127.0.0.1:8080", &emu.url()),
    )
    .unwrap();
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(env.path("genesys-fixture.json")).unwrap())
            .unwrap();
    let (_, secret) = crate::support::fixture_secret(&fixture);
    let out = command(&["preflight"], &cfg_path, &id, &secret).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("MISSING  quality:evaluation:add: not granted")
            && stdout.contains("cannot run: quality:evaluation:add"),
        "{stdout}"
    );
    assert!(!stdout.contains(&secret));
    // `run` stops at the preflight: nothing read, nothing written.
    let out = command(&["run"], &cfg_path, &id, &secret).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing was read or written"));
    assert!(emu.state.evaluations().is_empty());
}

#[tokio::test]
async fn without_the_authorization_api_permissions_are_inferred_from_reads() {
    let env = setup(30, "csv", fast_settings()).await;
    let (_emu, client, cfg, id) =
        restricted(&env, all_but(&["oauth:client:view", "directory:user:view"])).await;
    let p = qm_migrate::preflight::run(&cfg, &client, &id)
        .await
        .unwrap();
    assert_eq!(p.permissions_from, "inferred");
    assert_eq!(verdict(&p, "roles").verdict, Verdict::Warning);
    assert_eq!(verdict(&p, "directory:user:view").verdict, Verdict::Missing);
    assert_eq!(
        verdict(&p, "quality:evaluationForm:view").verdict,
        Verdict::Ok
    );
    assert_eq!(verdict(&p, "quality:evaluation:view").verdict, Verdict::Ok);
    // What only a write could show is said to be unknown, not tested by writing.
    assert_eq!(
        verdict(&p, "quality:evaluation:add").verdict,
        Verdict::Unknown
    );
    assert_eq!(
        p.blocking()
            .iter()
            .map(|c| c.what.as_str())
            .collect::<Vec<_>>(),
        vec!["directory:user:view"]
    );
}
