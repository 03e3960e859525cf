//! What every command shares: the entry point (parse, logging, runtime, exit code), the progress bar,
//! the Genesys client built from the configuration, the stop signal, the configuration file opened with
//! a hint.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::Cli;
use crate::commands::dispatch;
use crate::config::{Config, Credentials};
#[allow(clippy::wildcard_imports)]
use crate::*;

/// Runs the command line.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let json_out = cli.json;
    let result = runtime.block_on(async {
        crate::interrupt::install();
        dispatch(cli).await
    });
    match result {
        Ok(out) => {
            if json_out {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out.json).unwrap_or_default()
                );
            } else if !out.human.is_empty() {
                println!("{}", out.human.trim_end());
            }
            ExitCode::from(out.code)
        }
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // A stop (a signal, an outage) loses nothing: the command said how far it got, and a
            // plain re-run resumes. Done but not finished: 1, never 2.
            if let Some(stopped) = crate::interrupt::stopped_in(&e) {
                eprintln!("{stopped}");
                return ExitCode::from(1);
            }
            if let Some(g) = e
                .chain()
                .find_map(|c| c.downcast_ref::<genesys::GenesysError>())
                .filter(|g| g.is_outage())
            {
                eprintln!("error: {e:#}");
                eprintln!("{}", crate::interrupt::Stopped::genesys_outage(g, "run"));
                return ExitCode::from(1);
            }
            if let Some(c) = e
                .chain()
                .find_map(|c| c.downcast_ref::<calabrio::api::ApiError>())
                .filter(|c| c.is_outage())
            {
                eprintln!("error: {e:#}");
                eprintln!("{}", crate::interrupt::Stopped::calabrio_outage(c));
                return ExitCode::from(1);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QM_MIGRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

/// A progress bar on stderr, hidden when stderr is not a terminal, with `--quiet`, or with
/// `QM_MIGRATE_NO_PROGRESS` set.
pub fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet
        || !std::io::stderr().is_terminal()
        || std::env::var_os("QM_MIGRATE_NO_PROGRESS").is_some()
    {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub(crate) fn load_config(path: &Path) -> Result<Config> {
    Config::load(path).map_err(|e| {
        if path.exists() {
            e
        } else {
            anyhow::anyhow!("{e:#}\nhint: `qm-migrate init` writes a commented configuration")
        }
    })
}

/// Builds the Genesys client of `cfg` with `creds`.
///
/// # Errors
/// Configuration errors.
pub fn client_for(cfg: &Config, creds: Credentials) -> Result<genesys::GenesysClient> {
    client_with_clock(cfg, creds, genesys::Clock::system())
}

/// Builds the Genesys client of `cfg` on `clock` (a scaled clock shared with an emulator).
///
/// # Errors
/// Configuration errors.
pub fn client_with_clock(
    cfg: &Config,
    creds: Credentials,
    clock: genesys::Clock,
) -> Result<genesys::GenesysClient> {
    let (api, login) = cfg.endpoints()?;
    let mut c = genesys::ClientConfig::new(&api, &login, &creds.client_id, creds.client_secret);
    c.clock = clock;
    c.requests_per_minute = cfg.genesys.requests_per_minute;
    c.timeout = std::time::Duration::from_secs(cfg.genesys.timeout_s);
    c.max_attempts = cfg.genesys.max_attempts.max(1);
    c.max_inline_retry_after = std::time::Duration::from_secs(cfg.genesys.park_threshold_s);
    Ok(genesys::GenesysClient::new(c)?)
}

/// Today (UTC) on the client's clock: the scorecard's window is measured from it.
pub fn client_today(client: &genesys::GenesysClient) -> jiff::civil::Date {
    let ts = jiff::Timestamp::from_millisecond(client.clock().now_unix_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    jiff::tz::TimeZone::UTC.to_datetime(ts).date()
}

/// A switch that turns true on Ctrl-C or SIGTERM (see [`crate::interrupt`]): the loader sends
/// nothing new and lets in-flight requests settle.
pub fn stop_signal() -> tokio::sync::watch::Receiver<bool> {
    crate::interrupt::receiver()
}

/// `report.html` beside the ledger.
pub fn default_report_path(cfg: &Config) -> PathBuf {
    cfg.ledger
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join("report.html")
}

/// Runs the preflight and, when it read the org's limits, puts them into `cfg`: the per-agent
/// daily cap as the org states it, and the request rate when the org's is lower than the config's.
///
/// # Errors
/// Configuration errors.
pub async fn preflight_into(
    cfg: &mut Config,
    client: &genesys::GenesysClient,
    client_id: &str,
) -> Result<preflight::Preflight> {
    let p = preflight::run(cfg, client, client_id).await?;
    if let Some(cap) = p.per_agent_daily_cap.filter(|c| *c > 0) {
        cfg.genesys.per_agent_daily_cap = cap;
    }
    if let Some(rpm) = p.requests_per_minute.filter(|r| *r > 0) {
        cfg.genesys.requests_per_minute = cfg.genesys.requests_per_minute.min(rpm);
    }
    Ok(p)
}
