//! The commands (DESIGN §4): `dispatch` runs one — parse the arguments, call the pipeline, say what
//! happened as text or as `--json` — and `run` chains the stages.

mod emulator;
mod extract;
mod init;
mod load;
mod plan;
mod preflight;
mod probe;
mod provision;
mod report;
mod rollback;
mod run;
mod sample;
mod status;
mod verify;

pub mod demo;

pub use run::{RequestCounts, run_all, run_all_with};

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::Value;

use crate::app::*;
use crate::cli::{Cli, Command};
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

/// What a command reports: a JSON summary (for `--json`), a human text, and the exit code.
pub struct Outcome {
    /// The `--json` object.
    pub json: Value,
    /// The text for people.
    pub human: String,
    /// 0 or 1.
    pub code: u8,
}

/// Counts per disposition (all four keys) and the number of records of the latest extract.
///
/// # Errors
/// Ledger errors.
pub fn ledger_counts(ledger: &Ledger) -> Result<(u64, BTreeMap<String, u64>, u64)> {
    let mut dispositions: BTreeMap<String, u64> = qm_model::Disposition::ALL
        .iter()
        .map(|d| (d.as_str().to_owned(), 0))
        .collect();
    let mut records = 0;
    let mut unplanned = 0;
    for (d, n) in ledger.disposition_counts()? {
        let n = u64::try_from(n).unwrap_or(0);
        records += n;
        if d == "unplanned" {
            unplanned += n;
        } else {
            *dispositions.entry(d).or_insert(0) += n;
        }
    }
    Ok((records, dispositions, unplanned))
}

/// Counts per load state (all six keys).
///
/// # Errors
/// Ledger errors.
pub fn load_counts(ledger: &Ledger) -> Result<BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, u64> = ledger::state::ALL
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for (s, n) in ledger.load_counts()? {
        out.insert(s, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

pub(crate) fn exit_code(
    dispositions: &BTreeMap<String, u64>,
    load: Option<&BTreeMap<String, u64>>,
) -> u8 {
    let q = dispositions.get("quarantined").copied().unwrap_or(0);
    let bad = load.map_or(0, |l| {
        l.get("rejected").copied().unwrap_or(0) + l.get("unknown").copied().unwrap_or(0)
    });
    u8::from(q > 0 || bad > 0)
}

pub(crate) fn table(rows: &[(&str, String)]) -> String {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<w$}  {v}\n"))
        .collect()
}

pub(crate) fn invariant_line(records: u64, d: &BTreeMap<String, u64>) -> String {
    invariant_line_with(records, d, 0)
}

/// `records N = evaluation + history + excluded + quarantined (+ not yet planned)`, checked.
pub(crate) fn invariant_line_with(
    records: u64,
    d: &BTreeMap<String, u64>,
    unplanned: u64,
) -> String {
    let sum: u64 = d.values().sum::<u64>() + unplanned;
    let pending = if unplanned > 0 {
        format!(" + not yet planned {unplanned}")
    } else {
        String::new()
    };
    format!(
        "records {records} = evaluation {} + history {} + excluded {} + quarantined {}{pending} = {sum} ({})",
        d.get("evaluation").unwrap_or(&0),
        d.get("history").unwrap_or(&0),
        d.get("excluded").unwrap_or(&0),
        d.get("quarantined").unwrap_or(&0),
        if sum == records {
            "invariant holds"
        } else {
            "INVARIANT BROKEN"
        }
    )
}

pub(crate) async fn dispatch(cli: Cli) -> Result<Outcome> {
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("qm-migrate.toml"));
    let progress = progress_bar(cli.quiet);
    match cli.command {
        Command::Init { force } => init::command(config_path, force).await,
        Command::Sample {
            evaluations,
            out,
            seed,
            csv_only,
        } => sample::command(config_path, evaluations, out, seed, csv_only).await,
        Command::Extract => extract::command(config_path, progress).await,
        Command::Plan {
            exceptions,
            refresh_users,
        } => plan::command(config_path, progress, exceptions, refresh_users).await,
        Command::Provision => provision::command(config_path).await,
        Command::Load {
            dry_run,
            max,
            follow,
            concurrency,
        } => load::command(config_path, progress, dry_run, max, follow, concurrency).await,
        Command::Run { exceptions, report } => {
            run::command(config_path, progress, exceptions, report).await
        }
        Command::Verify => verify::command(config_path).await,
        Command::Report { format, out } => report::command(config_path, format, out).await,
        Command::Rollback { yes, since, forms } => {
            rollback::command(config_path, yes, since, forms).await
        }
        Command::Preflight => preflight::command(config_path).await,
        Command::Probe(args) => probe::command(config_path, args).await,
        Command::Status => status::command(config_path).await,
        Command::Emulator { kind } => emulator::command(kind).await,
        Command::Demo {
            out,
            evaluations,
            api,
        } => demo::run(&out, evaluations, api, &progress).await,
    }
}
