//! `status`: where the migration stands, from the ledger alone.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::{Outcome, exit_code, table};
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let (records, dispositions, unplanned) = ledger_counts(&ledger)?;
    let load = load_counts(&ledger)?;
    let form = ledger.form(&cfg.form.name)?;
    let eta = load::status_eta(&cfg, &ledger, jiff::Timestamp::now().as_millisecond())?;
    let runs = ledger.recent_runs(10)?;
    let last = runs.first();
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let capped: Vec<ledger::AgentCap> = ledger
        .agent_caps()?
        .into_iter()
        .filter(|c| c.until_ms > now_ms)
        .collect();
    let writer = lease::holder(&cfg.ledger.path);
    let sync = ledger.sync_counts()?;
    let last_sync = runs
        .iter()
        .find(|r| r.command == "load" || r.command == "run");
    // When Genesys stops taking re-scores and deletions of each run's evaluations.
    let windows = crate::pipeline::edit_window::per_run(&cfg, &ledger, now_ms)?;
    let window_text: String = windows
        .iter()
        .map(|w| format!("\n  {}", w.line()))
        .collect();
    Ok(Outcome {
        human: format!(
            "{}{}{}\nstale records (no longer in the source) {}\nsync: {}; last sync {}\nedit window (re-scores and deletions refused after [sync] edit_window_days = {}):{}\nform: {}\nlast run: {}\nestimated time to finish the load: {}\nload:\n{}recent runs (rollback --since takes the id):\n{}",
            writer
                .as_ref()
                .map(|w| format!("being written by {w}\n"))
                .unwrap_or_default(),
            crate::accounting::invariant_line(
                records,
                &dispositions,
                unplanned,
                ledger.left_source_count()?
            ),
            match capped.iter().map(|c| c.until_ms).min() {
                Some(next) => format!(
                    "\nagents Genesys answered with their cap: {} (the first is tried again {})",
                    capped.len(),
                    jiff::Timestamp::from_millisecond(next).unwrap_or(jiff::Timestamp::MAX)
                ),
                None => String::new(),
            },
            ledger.stale_records()?,
            sync.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            last_sync.map_or("never".to_owned(), |r| r.started_at.clone()),
            cfg.sync.edit_window_days,
            if window_text.is_empty() {
                " no evaluation created yet".to_owned()
            } else {
                window_text
            },
            form.and_then(|f| f.published_id)
                .map(|p| format!("published version {p}"))
                .unwrap_or_else(|| "not provisioned".into()),
            last.map_or_else(
                || "none".to_owned(),
                |r| format!(
                    "{} #{} started {}, {}",
                    r.command,
                    r.id,
                    r.started_at,
                    r.finished_at
                        .as_ref()
                        .map_or("did not finish".to_owned(), |f| format!("finished {f}"))
                )
            ),
            load::human_duration(eta),
            table(
                &load
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.to_string()))
                    .collect::<Vec<_>>()
            ),
            runs.iter()
                .map(|r| format!(
                    "  #{} {} {} → {}\n",
                    r.id,
                    r.command,
                    r.started_at,
                    r.finished_at.as_deref().unwrap_or("(did not finish)")
                ))
                .collect::<String>()
        ),
        code: exit_code(&dispositions, Some(&load)),
        json: json!({"command": "status", "records": records, "dispositions": dispositions, "unplanned": unplanned, "load": load, "eta_seconds": eta, "last_run": last, "runs": runs,
            "capped_agents": capped, "writer": writer, "sync": sync, "last_sync": last_sync,
            "edit_windows": windows, "records_left_source": ledger.left_source_count()?}),
    })
}
