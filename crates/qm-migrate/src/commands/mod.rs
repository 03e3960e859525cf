//! The commands (DESIGN §4), one file each: `dispatch` runs one — parse the arguments, call the
//! pipeline, say what happened as text or as `--json` — and `run` chains the stages; `demo/` is the
//! whole job on the built-in emulators. Only the entry point (`app`) uses them; what they share
//! comes from below (`crate::context`).

mod emulator;
mod evidence;
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

use crate::cli::{Cli, Command};
use crate::context::*;

/// What a command reports: a JSON summary (for `--json`), a human text, and the exit code.
pub struct Outcome {
    /// The `--json` object.
    pub json: Value,
    /// The text for people.
    pub human: String,
    /// 0 or 1.
    pub code: u8,
}

pub use crate::accounting::{exit_code, ledger_counts, load_counts};

pub(crate) fn table(rows: &[(&str, String)]) -> String {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<w$}  {v}\n"))
        .collect()
}

/// The compliance line of a summary (see [`crate::accounting::invariant_line`]).
pub(crate) fn invariant_line(records: u64, d: &BTreeMap<String, u64>, left_source: u64) -> String {
    crate::accounting::invariant_line(records, d, 0, left_source)
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
        Command::Evidence {
            out,
            sign,
            check,
            public_key,
            new_key,
        } => evidence::command(config_path, out, sign, check, public_key, new_key).await,
        Command::Report { format, out } => report::command(config_path, format, out).await,
        Command::Rollback {
            yes,
            since,
            forms,
            dry_run,
        } => rollback::command(config_path, yes, since, forms, dry_run).await,
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
