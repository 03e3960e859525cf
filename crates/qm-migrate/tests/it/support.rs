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
    setup_with(
        n,
        kind,
        settings,
        genesys::Clock::system(),
        genesys::Clock::system(),
    )
    .await
}

/// As [`setup`], with the emulator on `emulator_clock` and the client on `client_clock` (the same
/// clock for scaled-time runs, two for a clock that jumps on one side only).
pub(crate) async fn setup_with(
    n: usize,
    kind: &str,
    settings: Settings,
    emulator_clock: genesys::Clock,
    client_clock: genesys::Clock,
) -> Env {
    setup_org(n, kind, settings, emulator_clock, client_clock, |_| {}).await
}

/// As [`setup_with`], with the org's fixture changed by `org` before the emulator serves it.
pub(crate) async fn setup_org(
    n: usize,
    kind: &str,
    settings: Settings,
    emulator_clock: genesys::Clock,
    client_clock: genesys::Clock,
    org: impl FnOnce(&mut Fixture),
) -> Env {
    let dir = tempfile::tempdir().unwrap();
    qm_migrate::sample::generate(n, 7, dir.path()).unwrap();
    let mut fixture: Fixture = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("genesys-fixture.json")).unwrap(),
    )
    .unwrap();
    org(&mut fixture);
    let emu = emulator::spawn(
        "127.0.0.1:0",
        EmulatorState::with_clock(fixture.clone(), settings, emulator_clock),
    )
    .await
    .unwrap();
    let mut cfg = Config::load(&dir.path().join("qm-migrate.toml")).unwrap();
    cfg.genesys.api_url = Some(emu.url());
    cfg.genesys.login_url = Some(emu.url());
    cfg.genesys.requests_per_minute = 100_000;
    // The emulator is on loopback: a short timeout, and an unknown create is looked up 5 s after
    // its attempt (production waits 300 s for a query that may lag).
    cfg.genesys.timeout_s = 5;
    cfg.genesys.reconcile_after_s = Some(5);
    if kind == "json" {
        cfg.source.kind = "json".into();
        cfg.source.path = dir.path().join("calabrio-export.jsonl");
    }
    let (id, secret) = fixture_secret(&fixture);
    let client = qm_migrate::client_with_clock(
        &cfg,
        Credentials {
            client_id: id,
            client_secret: secrecy::SecretString::from(secret),
        },
        client_clock,
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
    /// The fixture's OAuth client credentials.
    pub(crate) fn credentials(&self) -> Credentials {
        let (client_id, secret) = fixture_secret(self.emu.state.fixture());
        Credentials {
            client_id,
            client_secret: secrecy::SecretString::from(secret),
        }
    }

    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::open(&self.cfg.ledger.path).unwrap()
    }

    pub(crate) async fn run(&self) -> qm_migrate::Outcome {
        qm_migrate::run_all(
            &self.cfg,
            &self.client,
            None,
            &self.path("report.html"),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// extract → plan → provision through the library.
    pub(crate) async fn prepare(&self) -> qm_migrate::plan::PlanSummary {
        let mut ledger = self.ledger();
        let bar = indicatif::ProgressBar::hidden();
        qm_migrate::extract::run(&self.cfg, &mut ledger, &bar)
            .await
            .unwrap();
        let plan = qm_migrate::plan::run(&self.cfg, &mut ledger, &self.client, &Default::default())
            .await
            .unwrap();
        qm_migrate::provision::run(&self.cfg, &ledger, &self.client)
            .await
            .unwrap();
        plan
    }

    /// A config file for the binary pointing at this emulator, and the OAuth client's id and secret.
    pub(crate) fn binary_config(&self, name: &str) -> (PathBuf, String, String) {
        let path = self.path(name);
        let text = std::fs::read_to_string(self.path("qm-migrate.toml"))
            .unwrap()
            .replace("http://127.0.0.1:8080", &self.emu.url())
            .replace(
                "requests_per_minute = 300",
                &format!(
                    "requests_per_minute = 100000\ntimeout_s = {}\nreconcile_after_s = {}",
                    self.cfg.genesys.timeout_s,
                    self.cfg.genesys.reconcile_after().as_secs()
                ),
            );
        std::fs::write(&path, text).unwrap();
        let fixture: Fixture = serde_json::from_str(
            &std::fs::read_to_string(self.path("genesys-fixture.json")).unwrap(),
        )
        .unwrap();
        let (id, secret) = fixture_secret(&fixture);
        (path, id, secret)
    }

    /// Exactly one evaluation in the emulator per `evaluation` record, every load item `created` with
    /// the id the emulator holds. Returns the number of evaluations.
    pub(crate) fn assert_exactly_once(&self) -> usize {
        let ledger = self.ledger();
        let mut want: Vec<String> = ledger
            .conn()
            .prepare("SELECT r.evaluation_id FROM plans p JOIN records r ON r.id = p.record_id WHERE p.disposition = 'evaluation'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        want.sort();
        let stored = self.emu.state.evaluations();
        let mut got: Vec<String> = stored
            .iter()
            .map(|e| {
                let marker = e
                    .answers
                    .as_ref()
                    .unwrap()
                    .private_comments
                    .clone()
                    .unwrap();
                marker
                    .split("calabrio_evaluation_id=")
                    .nth(1)
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        got.sort();
        let mut dupes = got.clone();
        dupes.dedup();
        assert_eq!(dupes.len(), got.len(), "duplicates in Genesys");
        assert_eq!(got, want, "Genesys holds exactly the evaluation records");
        let states: Vec<(String, Option<String>)> = ledger
            .conn()
            .prepare("SELECT state, evaluation_id FROM loads")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let ids: std::collections::HashSet<&str> = stored.iter().map(|e| e.id.as_str()).collect();
        for (state, id) in &states {
            assert_eq!(state, "created");
            assert!(
                ids.contains(id.as_deref().unwrap()),
                "ledger id {id:?} not in Genesys"
            );
        }
        assert_eq!(states.len(), want.len());
        want.len()
    }

    /// (disposition, reason) of the record at `locator` (`file:line`, with or without a JSON path).
    pub(crate) fn plan_at(&self, locator: &str) -> Option<(String, String)> {
        let ledger = self.ledger();
        ledger
            .conn()
            .query_row(
                "SELECT p.disposition, p.reason FROM records r JOIN plans p ON p.record_id = r.id
                 WHERE r.locator = ?1 OR r.locator LIKE ?1 || ' $%'",
                [locator],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    }
}

// ---- A sample export, row by row, and what the ledger made of it (the sync and #24 tests).

/// The export's header and each row's exact bytes (so a re-sorted export holds the same rows).
pub(crate) fn rows(path: &std::path::Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    qm_migrate::demo::export_rows(path).unwrap()
}

pub(crate) fn write(path: &std::path::Path, header: &[u8], rows: &[Vec<u8>]) {
    let mut bytes = header.to_vec();
    for r in rows {
        bytes.extend_from_slice(r);
    }
    std::fs::write(path, bytes).unwrap();
}

/// `row` with the fields at the given columns replaced (written back as CSV).
pub(crate) fn edit_row(row: &[u8], edits: &[(usize, &str)]) -> Vec<u8> {
    qm_migrate::demo::edit_row(row, edits).unwrap()
}

/// One field of a row.
pub(crate) fn field(row: &[u8], col: usize) -> String {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(row);
    r.records().next().unwrap().unwrap()[col].to_owned()
}

/// The first field of a row (the evaluation id).
pub(crate) fn id_of(row: &[u8]) -> String {
    String::from_utf8_lossy(row)
        .split(',')
        .next()
        .unwrap()
        .to_owned()
}

/// The Calabrio evaluation ids whose evaluation exists in Genesys, in record order.
pub(crate) fn created_ids(env: &Env) -> Vec<String> {
    env.ledger()
        .conn()
        .prepare(
            "SELECT r.evaluation_id FROM loads l JOIN records r ON r.id = l.record_id
             WHERE l.state = 'created' ORDER BY r.id",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The export's column names.
pub(crate) fn columns(header: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(header)
        .trim_end()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// `verify` on the env's ledger.
pub(crate) async fn verify(env: &Env) -> qm_migrate::verify::VerifySummary {
    qm_migrate::verify::verify(&env.cfg, &env.ledger(), &env.client)
        .await
        .unwrap()
}

/// The evaluation `id` as the emulator holds it.
pub(crate) fn held(env: &Env, id: &str) -> genesys::models::Evaluation {
    env.emu
        .state
        .evaluations()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap()
}

pub(crate) async fn cycle(
    env: &Env,
) -> (
    qm_migrate::extract::ExtractSummary,
    qm_migrate::load::LoadSummary,
) {
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let x = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
        .await
        .unwrap();
    qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    let l = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    (x, l)
}

/// Every record's disposition, by evaluation id and occurrence.
pub(crate) fn dispositions(env: &Env) -> std::collections::BTreeMap<(String, i64), String> {
    env.ledger()
        .conn()
        .prepare(
            "SELECT r.evaluation_id, r.occurrence, p.disposition
             FROM records r JOIN plans p ON p.record_id = r.id WHERE r.evaluation_id IS NOT NULL",
        )
        .unwrap()
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The created evaluation of the record with evaluation id `id`.
pub(crate) fn evaluation_of(env: &Env, id: &str) -> String {
    env.ledger()
        .conn()
        .query_row(
            "SELECT l.evaluation_id FROM loads l JOIN records r ON r.id = l.record_id
             WHERE r.evaluation_id = ?1 AND l.state = 'created'",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}
