//! What every command shares: the configuration file opened with a hint, the Genesys client built
//! from it, the progress bar, the stop signal, the default report path and the preflight that sets
//! the org's limits. The commands use it; it uses nothing of theirs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::{Config, Credentials};
use crate::preflight;

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
