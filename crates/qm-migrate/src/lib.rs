//! qm-migrate: move Calabrio ONE QM evaluation history into Genesys Cloud, provably and exactly once.
//!
//! The map:
//!
//! - [`main`] ([`app`]) parses the command line and hands it to [`commands`]: one file per command,
//!   each opening what it needs ([`context`]: the configuration, the client, the progress bar, the
//!   stop signal), calling the [`pipeline`] and saying what happened (text or `--json`).
//!   Exit codes: `0` done, `1` done but some records quarantined, rejected or unknown, `2` fatal.
//!   Imports point one way — `app` → `commands` → `context` → `pipeline` → `ledger` — and no folder's
//!   files use each other in a circle (`layout.rs` checks it, and the 700-line limit, in every test run).
//! - [`pipeline`] — the stages in the order a migration runs them: [`extract`] → [`plan`] →
//!   [`provision`] (the [`form`] or its [`mirror`]s) → [`load`] (and the [`history`] and
//!   [`scorecard`] channels) → [`verify`] / [`rollback`] → [`report`] and [`evidence`]; beside them
//!   [`preflight`] and [`probe`].
//! - [`ledger`] — the one SQLite file all state lives in, and the [`lease`] that keeps one writer.
//! - [`config`] and [`cli`] — what the user says; [`sample`] — a synthetic Calabrio dataset with its
//!   planted cases; [`demo`] — the whole job against the built-in emulators.

pub mod accounting;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod fsutil;
pub mod interrupt;
#[cfg(test)]
mod layout;
pub mod ledger;
pub mod pipeline;
pub mod sample;

// The stages and their parts by their short names, as the code, the tests and the docs call them.
pub use commands::demo;
pub use ledger::lease;
pub use pipeline::channels::{history, scorecard};
pub use pipeline::forms::{container as form, mirror};
pub use pipeline::load::readback;
pub use pipeline::report::chart;
pub use pipeline::{
    evidence, extract, load, plan, preflight, probe, provision, report, rollback, verify,
};

// The entry point and what every command shares; the commands' results.
pub use app::main;
pub use commands::{Outcome, RequestCounts, ledger_counts, load_counts, run_all, run_all_with};
pub use context::{
    client_for, client_today, client_with_clock, default_report_path, preflight_into, progress_bar,
    stop_signal,
};
