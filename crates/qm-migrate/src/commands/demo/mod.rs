//! `demo`: the whole migration of a synthetic dataset into the built-in Genesys emulator.
//!
//! `sample` (deterministic) → the emulator in-process on 127.0.0.1 → extract → plan → provision →
//! load → a short summary on stdout and `demo-out/` with the ledger, the exceptions, a plain summary
//! and the emulator's state. The emulator's state is saved and restored, so running `demo` twice
//! talks to the same "org": the second run creates nothing, because everything already exists.
//! The demo raises the emulator's request limit (it says so) — it never disables a limit.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::config::{Config, Credentials};
use crate::ledger::Ledger;
use crate::{Outcome, fsutil, ledger_counts, load_counts};

mod second_pass;

use second_pass::second_pass;
pub use second_pass::{edit_row, export_rows};

/// The demo's "today": 2026-11-04T12:00:00Z, five days after the sample's last contact day.
pub const DEMO_TODAY_UNIX_S: u64 = 1_793_793_600;

/// Recorded contacts without an evaluation per evaluated one in the demo's Calabrio tenant.
const CALABRIO_UNEVALUATED_PER_EVALUATED: u32 = 20;

/// The request rate of the demo's emulator (the real default is 300 per minute).
pub const DEMO_REQUESTS_PER_MINUTE: u32 = 60_000;

/// Starts the Calabrio emulator on the sample's API dataset (sessions expiring every 200 requests,
/// 2 % of requests failing, a server page cap of 50, twenty unevaluated contacts per evaluated one)
/// and points `cfg` at it.
async fn calabrio_api(
    sample_dir: &Path,
    cfg: &mut Config,
) -> Result<(
    emulator::calabrio::CalabrioHandle,
    calabrio::api::ApiOptions,
)> {
    let text = std::fs::read_to_string(sample_dir.join("calabrio-api.json"))?;
    let data: emulator::calabrio::Dataset = serde_json::from_str(&text)?;
    let user = data
        .api_users
        .first()
        .cloned()
        .context("the sample's API dataset has no API user")?;
    let (from, to) = data
        .contact_days()
        .context("the sample's API dataset has no contacts")?;
    let state = emulator::calabrio::CalabrioState::new(
        data,
        emulator::calabrio::CalabrioSettings {
            session_requests: 200,
            fault_rate: 0.02,
            // A server page cap below the `limit` the client asks for (500).
            max_page: 50,
            // As a tenant records every call and evaluates a few per cent of them.
            unevaluated_per_evaluated: CALABRIO_UNEVALUATED_PER_EVALUATED,
            ..emulator::calabrio::CalabrioSettings::default()
        },
    );
    let handle = emulator::calabrio::spawn("127.0.0.1:0", state).await?;
    cfg.source.kind = "calabrio-api".into();
    cfg.source.url = Some(handle.base_url());
    cfg.source.from = Some(from.to_string());
    cfg.source.to = Some(to.to_string());
    let mut opts = calabrio::api::ApiOptions::new(
        &handle.base_url(),
        &user.user_id,
        secrecy::SecretString::from(user.password),
    );
    opts.initial_backoff = std::time::Duration::from_millis(5);
    Ok((handle, opts))
}

/// Runs the demo into `out`.
///
/// # Errors
/// Any stage's fatal error.
pub async fn run(
    out: &Path,
    evaluations: usize,
    api: bool,
    progress: &indicatif::ProgressBar,
) -> Result<Outcome> {
    let started = std::time::Instant::now();
    // The demo writes its folder (sample, ledger, emulator state): one demo per folder at a time.
    let _lease = crate::lease::acquire(&out.join("ledger.db"), "demo")?;
    let sample_dir = out.join("sample");
    let sample = crate::sample::generate(evaluations, 42, &sample_dir)?;
    // The API path keeps its own ledger and Genesys "org" beside the file path's.
    let out_buf = out.join("api");
    let out = if api { out_buf.as_path() } else { out };

    let fixture_text = std::fs::read_to_string(sample_dir.join("genesys-fixture.json"))?;
    let fixture: emulator::Fixture = serde_json::from_str(&fixture_text)?;
    let client_cred = fixture
        .oauth_clients
        .first()
        .cloned()
        .context("the sample fixture has no OAuth client")?;
    let settings = emulator::Settings {
        requests_per_minute: DEMO_REQUESTS_PER_MINUTE,
        ..emulator::Settings::default()
    };
    let cap = settings.per_agent_daily_cap;
    // The demo's "today" is a few days after the sample's last contact, so the scorecard channel has
    // recent days to send (External Metrics accept only -7 … +30 days); the client and the emulator
    // share that clock.
    let clock = genesys::Clock::starting_at(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(DEMO_TODAY_UNIX_S),
        1.0,
    );
    let state = emulator::EmulatorState::with_clock(fixture, settings, clock.clone());
    let state_file = out.join("emulator-state.json");
    if state_file.exists() {
        let snap: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file)?)
            .with_context(|| format!("{} is not an emulator state", state_file.display()))?;
        state
            .restore(snap)
            .with_context(|| format!("{} is not an emulator state", state_file.display()))?;
    }
    let before = state.evaluations().len();
    let handle = emulator::spawn("127.0.0.1:0", state.clone()).await?;

    let mut cfg = Config::load(&sample_dir.join("qm-migrate.toml"))?;
    cfg.genesys.api_url = Some(handle.url());
    cfg.genesys.login_url = Some(handle.url());
    cfg.genesys.requests_per_minute = DEMO_REQUESTS_PER_MINUTE;
    cfg.ledger.path = out.join("ledger.db");
    cfg.history.dir = out.join("history");
    let creds = Credentials {
        client_id: client_cred.client_id.clone(),
        client_secret: secrecy::SecretString::from(client_cred.client_secret.clone()),
    };
    cfg.scorecard.enabled = true;
    // Preflight first, as `run` does: the emulator answers the same reads Genesys would.
    let probe = crate::client_with_clock(&cfg, creds.clone(), clock.clone())?;
    let preflight = crate::preflight_into(&mut cfg, &probe, &client_cred.client_id).await?;
    anyhow::ensure!(
        preflight.runnable(),
        "preflight against the emulator failed:\n{}",
        crate::preflight::human(&preflight)
    );
    // After the second pass (below), its later export is the source of every demo in this folder.
    let later = sample_dir.join("calabrio-export-later.csv");
    let second_done = later.exists() && before > 0;
    let second_due = !api && !second_done;
    if !api && second_done {
        cfg.source.path.clone_from(&later);
    }
    let client = crate::client_with_clock(&cfg, creds.clone(), clock.clone())?;
    let report_path = out.join("report.html");
    let exceptions = out.join("exceptions.csv");
    let calabrio = if api {
        Some(calabrio_api(&sample_dir, &mut cfg).await?)
    } else {
        None
    };
    let api_opts = calabrio.as_ref().map(|(_, o)| o.clone());
    let result = crate::run_all_with(
        &cfg,
        &client,
        Some(&exceptions),
        &report_path,
        progress,
        api_opts,
        preflight.requests,
    )
    .await;
    let calabrio_stats = calabrio.as_ref().map(|(h, _)| h.state.stats());
    drop(calabrio);
    fsutil::write_private(
        &state_file,
        serde_json::to_string(&state.snapshot())?.as_bytes(),
    )?;
    handle.stop().await;
    let run = result?;

    let ledger = Ledger::open(&cfg.ledger.path)?;
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    let left_source = ledger.left_source_count()?;
    let load = load_counts(&ledger)?;
    let after = state.evaluations().len();
    let created_now = after.saturating_sub(before);
    // Every created evaluation's Genesys total against the normalised Calabrio score.
    let (checked, mismatched, max_diff) = score_check(&ledger, cfg.scoring.tolerance)?;
    let evaluation = dispositions.get("evaluation").copied().unwrap_or(0);
    let created = load.get("created").copied().unwrap_or(0);
    let invariant = dispositions.values().sum::<u64>() == records;
    let per_agent_max = state
        .evaluations_per_agent()
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    let history_complete = run.json["history"]["entries"].as_u64() == Some(records);
    let verified = run.json["verify"]["matched"].as_u64() == Some(created)
        && run.json["verify"]["missing"]
            .as_array()
            .is_some_and(Vec::is_empty)
        && run.json["verify"]["mismatched"]
            .as_array()
            .is_some_and(Vec::is_empty)
        && run.json["verify"]["unknown"]
            .as_array()
            .is_some_and(Vec::is_empty);
    // Evaluations whose record a later export no longer has stay in Genesys, listed as drift;
    // their records are still accounted for, under the disposition they had (evaluation).
    let mut ok =
        invariant && created == evaluation && mismatched == 0 && history_complete && verified;
    // The second pass: Calabrio changed while the migration ran.
    let second = if second_due && ok {
        let s = second_pass(
            &mut cfg,
            &state,
            creds,
            clock,
            &later,
            &exceptions,
            &report_path,
            progress,
        )
        .await?;
        fsutil::write_private(
            &state_file,
            serde_json::to_string(&state.snapshot())?.as_bytes(),
        )?;
        ok &= s.ok;
        Some(s)
    } else {
        None
    };
    // The evidence folder, signed with a demo key (made once, beside it), and checked as an
    // auditor would.
    let evidence_dir = out.join("evidence");
    let key = out.join("evidence-key");
    if !key.exists() {
        crate::evidence::new_key(&key)?;
    }
    let public_key = out.join("evidence-key.pub");
    let written = crate::evidence::write(
        &cfg,
        &Ledger::open(&cfg.ledger.path)?,
        &evidence_dir,
        Some(&key),
    )?;
    let evidence_check = crate::evidence::check(&evidence_dir, Some(&public_key))?;
    ok &= evidence_check.passed();
    let elapsed = started.elapsed().as_secs_f64();

    let source = match &calabrio_stats {
        Some(c) => format!(
            "Calabrio REST API (emulator, {} unevaluated contacts per evaluated one): {} requests for {} evaluations ({}), {} logins (after {} 401s of expired sessions), {} 503s retried",
            CALABRIO_UNEVALUATED_PER_EVALUATED,
            c.requests,
            run.json["extract"]["api_evaluations"],
            run.json["extract"]["api_requests_per_evaluation"]
                .as_f64()
                .map_or("no evaluation read".to_owned(), |r| format!(
                    "{r:.2} per evaluation"
                )),
            c.logins,
            c.expired,
            c.faults
        ),
        None => "wide CSV export (sample/calabrio-export.csv)".to_owned(),
    };
    let rows = [
        ("source", source),
        (
            "records",
            match left_source {
                0 => records.to_string(),
                left => format!(
                    "{records} ({} in the source + {left} that left it, still in Genesys)",
                    records - left
                ),
            },
        ),
        ("  evaluation", evaluation.to_string()),
        ("  history", dispositions["history"].to_string()),
        ("  excluded", dispositions["excluded"].to_string()),
        ("  quarantined", dispositions["quarantined"].to_string()),
        (
            "invariant",
            if invariant {
                "records = Σ dispositions".into()
            } else {
                "BROKEN".into()
            },
        ),
        (
            "created in Genesys",
            format!("{created} ({created_now} in this run)"),
        ),
        ("rejected", load["rejected"].to_string()),
        (
            "unknown / deferred",
            format!("{} / {}", load["unknown"], load["deferred"]),
        ),
        (
            "scores checked",
            format!(
                "{checked} Genesys totals vs Calabrio: {mismatched} beyond ±{} points (max |diff| {max_diff:.2})",
                cfg.scoring.tolerance
            ),
        ),
        (
            "history",
            format!(
                "{} entries for {} agents ({} without a Genesys account, under \"{}\"); site {}",
                run.json["history"]["entries"],
                run.json["history"]["agents"],
                run.json["history"]["legacy_agents"],
                cfg.history.legacy_group,
                run.json["history"]["index"].as_str().unwrap_or_default()
            ),
        ),
        (
            "scorecard",
            if run.json["scorecard"]["enabled"] == true {
                format!(
                    "{} agent-days: {} sent, {} unchanged, {} outside the window (not sent), {} unprocessed",
                    run.json["scorecard"]["days"],
                    run.json["scorecard"]["sent"],
                    run.json["scorecard"]["unchanged"],
                    run.json["scorecard"]["outside_window"],
                    run.json["scorecard"]["unprocessed"]
                )
            } else {
                "off ([scorecard] enabled = false)".to_owned()
            },
        ),
        (
            "preflight",
            format!(
                "{} checks, none blocking ({} warnings; permissions read from the {}); org limits: {} evaluations per agent per 24 h, {} requests/min",
                preflight.checks.len(),
                preflight
                    .checks
                    .iter()
                    .filter(|c| c.verdict != crate::preflight::Verdict::Ok)
                    .count(),
                if preflight.permissions_from == "roles" {
                    "client's role"
                } else {
                    "harmless reads"
                },
                preflight
                    .per_agent_daily_cap
                    .map_or("?".into(), |c| c.to_string()),
                preflight
                    .requests_per_minute
                    .map_or("?".into(), |c| c.to_string())
            ),
        ),
        ("requests sent", run.json["requests"].to_string()),
        (
            "verify",
            serde_json::from_value::<crate::verify::VerifySummary>(run.json["verify"].clone())
                .map(|v| v.line())
                .unwrap_or_else(|e| format!("unreadable verify result: {e}")),
        ),
        (
            "busiest agent",
            format!("{per_agent_max} evaluations (cap {cap} per 24 h)"),
        ),
        (
            "emulator limit",
            format!("{DEMO_REQUESTS_PER_MINUTE} requests/min (raised for the demo; Genesys: 300)"),
        ),
        (
            "evidence",
            format!(
                "{} records, {} files in {}, SHA256SUMS signed; check: {} files match, {} problems, signature {}",
                written.records,
                written.files.len() + 1,
                evidence_dir.display(),
                evidence_check.ok.len(),
                evidence_check.problems.len(),
                evidence_check.signature
            ),
        ),
        ("time", format!("{elapsed:.1} s")),
    ];
    let mut human =
        String::from("qm-migrate demo: synthetic Calabrio export → Genesys emulator\n\n");
    human.push_str(&crate::commands::table(&rows));
    if let Some(s) = &second {
        human.push_str("\nsecond pass: meanwhile in Calabrio one evaluation was re-scored, one added and one deleted, and in Genesys a supervisor edited one whose Calabrio record also changed\n\n");
        human.push_str(&crate::commands::table(&s.rows));
    }
    human.push_str(&format!(
        "\n{} written: ledger.db, exceptions.csv (every non-evaluation record with its reason), summary.txt, history/, sample/ (the dataset), evidence/ (signed with evidence-key; evidence-key.pub verifies it)\nreport: {}\n",
        out.display(),
        report_path.display()
    ));
    fsutil::write_private(&out.join("summary.txt"), human.as_bytes())?;
    let json = json!({
        "command": "demo",
        "records": records,
        "dispositions": dispositions,
        "invariant_holds": invariant,
        "load": load,
        "requests": run.json["requests"],
        "requests_by_purpose": run.json["requests_by_purpose"],
        "preflight": preflight,
        "verify": run.json["verify"],
        "report": report_path,
        "evidence": {"written": written, "check": evidence_check},
        "history": run.json["history"],
        "scorecard": run.json["scorecard"],
        "calabrio_api": calabrio_stats,
        "created_this_run": created_now,
        "score_check": {"checked": checked, "mismatched": mismatched, "max_abs_diff": max_diff},
        "emulator": {"requests_per_minute": DEMO_REQUESTS_PER_MINUTE, "per_agent_daily_cap": cap, "busiest_agent": per_agent_max},
        "sample": sample,
        "out": out,
        "elapsed_s": elapsed,
        "run": run.json,
        "second_pass": second.as_ref().map(|s| &s.json),
    });
    Ok(Outcome {
        json,
        human,
        code: if ok { 0 } else { 1 },
    })
}

/// Compares the Genesys total of every created evaluation with the normalised Calabrio total (0 for
/// a KPI failure, as Calabrio scored it). Returns (checked, beyond `tolerance`, max |diff|).
///
/// # Errors
/// Ledger errors.
pub fn score_check(ledger: &Ledger, tolerance: f64) -> Result<(u64, u64, f64)> {
    let mut checked = 0;
    let mut mismatched = 0;
    let mut max_diff: f64 = 0.0;
    for (genesys, predicted) in ledger.created_totals()? {
        checked += 1;
        match (genesys, predicted) {
            (Some(g), Some(p)) => {
                let d = (g - p).abs();
                max_diff = max_diff.max(d);
                if d > tolerance + 1e-9 {
                    mismatched += 1;
                }
            }
            _ => mismatched += 1,
        }
    }
    Ok((checked, mismatched, max_diff))
}
