//! Shared set-up: a synthetic dataset in a temporary folder, the emulator serving its fixture, and a
//! configuration and client pointing at it.

use std::path::PathBuf;

use emulator::{EmulatorHandle, EmulatorState, Fixture, Settings};
use qm_migrate::config::{Config, Credentials};
use qm_migrate::ledger::Ledger;
use qm_migrate::sample::Case;

pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) emu: EmulatorHandle,
    pub(crate) cfg: Config,
    pub(crate) client: genesys::GenesysClient,
    pub(crate) manifest: Vec<Case>,
}

pub(crate) fn fixture_secret(f: &Fixture) -> (String, String) {
    let c = &f.oauth_clients[0];
    (c.client_id.clone(), c.client_secret.clone())
}

/// A dataset of `n` evaluations read as `kind` (`csv` or `json`), the emulator with `settings`.
pub(crate) async fn setup(n: usize, kind: &str, settings: Settings) -> Env {
    let dir = tempfile::tempdir().unwrap();
    qm_migrate::sample::generate(n, 7, dir.path()).unwrap();
    let fixture: Fixture = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("genesys-fixture.json")).unwrap(),
    )
    .unwrap();
    let emu = emulator::spawn("127.0.0.1:0", EmulatorState::new(fixture.clone(), settings))
        .await
        .unwrap();
    let mut cfg = Config::load(&dir.path().join("qm-migrate.toml")).unwrap();
    cfg.genesys.api_url = Some(emu.url());
    cfg.genesys.login_url = Some(emu.url());
    cfg.genesys.requests_per_minute = 100_000;
    if kind == "json" {
        cfg.source.kind = "json".into();
        cfg.source.path = dir.path().join("calabrio-export.jsonl");
    }
    let (id, secret) = fixture_secret(&fixture);
    let client = qm_migrate::client_for(
        &cfg,
        Credentials {
            client_id: id,
            client_secret: secrecy::SecretString::from(secret),
        },
    )
    .unwrap();
    let manifest: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sample-manifest.json")).unwrap(),
    )
    .unwrap();
    Env {
        dir,
        emu,
        cfg,
        client,
        manifest,
    }
}

pub(crate) fn fast_settings() -> Settings {
    Settings {
        requests_per_minute: 100_000,
        ..Settings::default()
    }
}

impl Drop for Env {
    /// Every request the tool sent in a test must match the official models.
    fn drop(&mut self) {
        let v = self.emu.state.schema_violations();
        if !std::thread::panicking() {
            assert!(
                v.is_empty(),
                "requests off the official Genesys models: {v:#?}"
            );
        }
    }
}

impl Env {
    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::open(&self.cfg.ledger.path).unwrap()
    }

    pub(crate) async fn run(&self) -> qm_migrate::Outcome {
        qm_migrate::run_all(
            &self.cfg,
            &self.client,
            None,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// (disposition, reason) of the record at `locator`.
    pub(crate) fn plan_at(&self, locator: &str) -> Option<(String, String)> {
        let ledger = self.ledger();
        ledger
            .conn()
            .query_row(
                "SELECT p.disposition, p.reason FROM records r JOIN plans p ON p.record_id = r.id WHERE r.locator = ?1",
                [locator],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    }
}
