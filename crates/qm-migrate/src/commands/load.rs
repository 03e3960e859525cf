//! `load`: sends the evaluations, then the scorecard points and the history.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::{Outcome, exit_code, table};
use crate::config::Credentials;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    progress: indicatif::ProgressBar,
    dry_run: bool,
    max: Option<usize>,
    follow: bool,
    concurrency: Option<usize>,
) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let client = client_for(&cfg, Credentials::from_env()?)?;
    let opts = load::LoadOptions {
        dry_run,
        max,
        follow,
        concurrency: concurrency.unwrap_or(0),
        stop: Some(stop_signal()),
    };
    let s = load::run(&cfg, &ledger, &client, &opts, &progress).await?;
    let stopped = s.interrupted || s.outage.is_some();
    // The history channel: every record, whatever its fate (not on a dry run).
    let (hist, card) = if dry_run || stopped {
        (None, None)
    } else {
        let card = scorecard::run(&cfg, &ledger, &client, client_today(&client)).await?;
        (Some(history::write(&cfg, &ledger)?), Some(card))
    };
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    let code = exit_code(&dispositions, Some(&s.load)).max(u8::from(stopped));
    Ok(Outcome {
        human: format!(
            "load: created {} now ({} adopted after an unknown outcome), rejected {}, deferred {}, unknown {}; estimated {} at the start, took {}{}{}\n{}",
            s.created_now,
            s.adopted,
            s.rejected_now,
            s.deferred_now,
            s.unknown_now,
            load::human_duration(s.eta_seconds),
            load::human_duration(s.elapsed_seconds),
            match (&s.outage, s.interrupted) {
                (Some(o), _) => format!(
                    "; stopped: Genesys kept failing ({o}), {} requests sent during the outage: nothing is lost, run load again to resume (`load --follow` waits an outage out)",
                    s.outage_requests
                ),
                (None, true) =>
                    "; stopped by a signal: nothing is lost, run load again to resume".to_owned(),
                (None, false) => String::new(),
            },
            if dry_run {
                format!("; dry run: {} creates would be sent", s.would_send)
            } else {
                String::new()
            },
            table(
                &s.load
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.to_string()))
                    .collect::<Vec<_>>()
            )
        ),
        json: json!({"command": "load", "records": records, "dispositions": dispositions,
            "history": hist,
            "scorecard": card,
            "load": s.load, "requests": client.requests_sent(), "eta_seconds": s.eta_seconds,
            "throttled": client.throttled(), "retries": client.retries(), "load_run": s}),
        code,
    })
}
