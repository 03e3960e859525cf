//! qm-migrate: move Calabrio ONE QM evaluation history into Genesys Cloud, provably and exactly once.
//!
//! The pipeline (DESIGN §2) is a module per stage, all state in one SQLite [`ledger`]:
//! [`extract`] stages source records, [`plan`] gives each a disposition and a reason, [`provision`]
//! creates and publishes the Legacy Migration Form ([`form`]), [`load`] sends the evaluations.
//! [`sample`] writes a synthetic dataset and [`demo`] runs the whole thing against the in-process
//! emulator. [`main`] is the command line: `0` done, `1` done but some records quarantined, rejected
//! or unknown, `2` fatal (config, auth, I/O).

pub mod chart;
pub mod cli;
pub mod config;
pub mod demo;
pub mod extract;
pub mod form;
pub mod fsutil;
pub mod history;
pub mod lease;
pub mod ledger;
pub mod load;
pub mod mirror;
pub mod plan;
pub mod preflight;
pub mod probe;
pub mod provision;
pub mod readback;
pub mod report;
pub mod sample;
pub mod scorecard;
pub mod verify;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::{Value, json};

use crate::cli::{Cli, Command, EmulatorKind};
use crate::config::{Config, Credentials};
use crate::ledger::Ledger;

/// What a command reports: a JSON summary (for `--json`), a human text, and the exit code.
pub struct Outcome {
    /// The `--json` object.
    pub json: Value,
    /// The text for people.
    pub human: String,
    /// 0 or 1.
    pub code: u8,
}

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
    match runtime.block_on(dispatch(cli)) {
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
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(quiet: bool) {
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

fn load_config(path: &Path) -> Result<Config> {
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

fn exit_code(dispositions: &BTreeMap<String, u64>, load: Option<&BTreeMap<String, u64>>) -> u8 {
    let q = dispositions.get("quarantined").copied().unwrap_or(0);
    let bad = load.map_or(0, |l| {
        l.get("rejected").copied().unwrap_or(0) + l.get("unknown").copied().unwrap_or(0)
    });
    u8::from(q > 0 || bad > 0)
}

fn table(rows: &[(&str, String)]) -> String {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<w$}  {v}\n"))
        .collect()
}

fn invariant_line(records: u64, d: &BTreeMap<String, u64>) -> String {
    invariant_line_with(records, d, 0)
}

/// `records N = evaluation + history + excluded + quarantined (+ not yet planned)`, checked.
fn invariant_line_with(records: u64, d: &BTreeMap<String, u64>, unplanned: u64) -> String {
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

async fn dispatch(cli: Cli) -> Result<Outcome> {
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("qm-migrate.toml"));
    let progress = progress_bar(cli.quiet);
    match cli.command {
        Command::Init { force } => {
            if config_path.exists() && !force {
                anyhow::bail!(
                    "{} exists; use --force to overwrite it",
                    config_path.display()
                );
            }
            fsutil::write_private(&config_path, config::TEMPLATE.as_bytes())?;
            Ok(Outcome {
                json: json!({"command": "init", "config": config_path}),
                human: format!("wrote {}", config_path.display()),
                code: 0,
            })
        }
        Command::Sample {
            evaluations,
            out,
            seed,
            csv_only,
        } => {
            let s = sample::generate_with(evaluations, seed, &out, !csv_only)?;
            Ok(Outcome {
                human: format!(
                    "wrote a synthetic Calabrio dataset to {}: {} evaluations, {} CSV records, {} JSON Lines records, {} Genesys users, {} conversations, {} planted edge cases (sample-manifest.json)",
                    out.display(),
                    s.evaluations,
                    s.csv_records,
                    s.jsonl_records,
                    s.users,
                    s.conversations,
                    s.cases
                ),
                json: json!({"command": "sample", "sample": s}),
                code: 0,
            })
        }
        Command::Extract => {
            let cfg = load_config(&config_path)?;
            let mut ledger = Ledger::open(&cfg.ledger.path)?;
            let s = extract::run(&cfg, &mut ledger, &progress).await?;
            progress.finish_and_clear();
            let (records, dispositions, unplanned) = ledger_counts(&ledger)?;
            let code = u8::from(s.unreadable > 0);
            Ok(Outcome {
                human: format!(
                    "extract: {} records read ({} new, {} changed, {} unchanged); {} unreadable (they will be quarantined with file, line and field){}{}{}",
                    s.records,
                    s.new,
                    s.changed,
                    s.unchanged,
                    s.unreadable,
                    s.unreadable_reasons
                        .iter()
                        .map(|r| format!(
                            "\n  {} × field '{}': {} (first at {})",
                            r.records, r.field, r.example, r.first_at
                        ))
                        .chain(s.fix.iter().map(|f| format!("\n  fix: {f}")))
                        .collect::<String>(),
                    if s.ignored_columns.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; columns kept only in the raw text: {}",
                            s.ignored_columns.join(", ")
                        )
                    },
                    match (s.days_read, s.days_resumed) {
                        (Some(read), Some(resumed)) => format!(
                            "; Calabrio API: {read} contact days read, {resumed} already complete from an earlier run, {} requests ({} retried, {} logins)",
                            s.api_requests.unwrap_or(0),
                            s.api_retries.unwrap_or(0),
                            s.api_logins.unwrap_or(0)
                        ),
                        _ => String::new(),
                    }
                ),
                json: json!({"command": "extract", "records": records, "dispositions": dispositions, "unplanned": unplanned, "extract": s}),
                code,
            })
        }
        Command::Plan {
            exceptions,
            refresh_users,
        } => {
            let cfg = load_config(&config_path)?;
            let mut ledger = Ledger::open(&cfg.ledger.path)?;
            let client = client_for(&cfg, Credentials::from_env()?)?;
            let s = plan::run(
                &cfg,
                &mut ledger,
                &client,
                &plan::PlanOptions {
                    refresh_users,
                    progress: Some(progress.clone()),
                },
            )
            .await?;
            let written = match &exceptions {
                Some(p) => Some(plan::write_exceptions(&ledger, p)?),
                None => None,
            };
            let code = exit_code(&s.dispositions, None);
            Ok(Outcome {
                human: format!(
                    "plan: {}{}",
                    invariant_line(s.records, &s.dispositions),
                    written
                        .map(|n| format!("\n{n} exceptions written"))
                        .unwrap_or_default()
                ),
                json: json!({"command": "plan", "records": s.records, "dispositions": s.dispositions,
                    "invariant_holds": s.invariant_holds(), "requests": client.requests_sent(), "plan": s}),
                code,
            })
        }
        Command::Provision => {
            let cfg = load_config(&config_path)?;
            let ledger = Ledger::open(&cfg.ledger.path)?;
            let client = client_for(&cfg, Credentials::from_env()?)?;
            let s = provision::run(&cfg, &ledger, &client).await?;
            let (records, dispositions, _) = ledger_counts(&ledger)?;
            Ok(Outcome {
                human: format!(
                    "provision: form '{}' {} (published version {}, {} groups)",
                    s.form,
                    if s.created {
                        "created and published"
                    } else {
                        "already provisioned"
                    },
                    s.published_id,
                    s.groups
                ) + &s
                    .mirrored_forms
                    .iter()
                    .map(|m| {
                        format!(
                            "\nmirrored form '{}' (Calabrio form {}) {}: published version {}, option values = points × 10^{}",
                            m.name,
                            m.calabrio_form_id,
                            match m.outcome {
                                provision::Outcome::Created => "created and published",
                                provision::Outcome::UpToDate => "up to date",
                                provision::Outcome::NewVersion => "changed in Calabrio: new version published",
                            },
                            m.published_id,
                            m.scale
                        )
                    })
                    .collect::<String>(),
                json: json!({"command": "provision", "records": records, "dispositions": dispositions,
                    "requests": client.requests_sent(), "provision": s}),
                code: 0,
            })
        }
        Command::Load {
            dry_run,
            max,
            follow,
            concurrency,
        } => {
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
            // The history channel: every record, whatever its fate (not on a dry run).
            let (hist, card) = if dry_run {
                (None, None)
            } else {
                let card = scorecard::run(&cfg, &ledger, &client, client_today(&client)).await?;
                (Some(history::write(&cfg, &ledger)?), Some(card))
            };
            let (records, dispositions, _) = ledger_counts(&ledger)?;
            let code = exit_code(&dispositions, Some(&s.load));
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
                    if s.interrupted {
                        "; stopped by a signal: run load again to resume"
                    } else {
                        ""
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
        Command::Run { exceptions, report } => {
            let mut cfg = load_config(&config_path)?;
            let creds = Credentials::from_env()?;
            let client_id = creds.client_id.clone();
            let probe = client_for(&cfg, creds.clone())?;
            let p = preflight_into(&mut cfg, &probe, &client_id).await?;
            if !p.runnable() {
                return Ok(Outcome {
                    code: 1,
                    human: format!("{}nothing was read or written", preflight::human(&p)),
                    json: json!({"command": "run", "runnable": false, "preflight": p}),
                });
            }
            // The org's limits, when read, drive the scheduler.
            let client = client_for(&cfg, creds)?;
            let report = report.unwrap_or_else(|| default_report_path(&cfg));
            let mut r = run_all_with(
                &cfg,
                &client,
                exceptions.as_deref(),
                &report,
                &progress,
                None,
                p.requests,
            )
            .await?;
            r.json["preflight"] = serde_json::to_value(&p)?;
            r.human = format!("{}{}", preflight::human(&p), r.human);
            Ok(r)
        }
        Command::Verify => {
            let cfg = load_config(&config_path)?;
            let ledger = Ledger::open(&cfg.ledger.path)?;
            let client = client_for(&cfg, Credentials::from_env()?)?;
            let v = verify::verify(&cfg, &ledger, &client).await?;
            let (records, dispositions, _) = ledger_counts(&ledger)?;
            let mut human = format!("verify: {}", v.line());
            for (record, id) in &v.missing {
                human.push_str(&format!("\n  missing: {id} ({record})"));
            }
            for m in &v.mismatched {
                human.push_str(&format!(
                    "\n  mismatched: {} ({}) {}: ledger {} / Genesys {}",
                    m.evaluation_id, m.record, m.field, m.ledger, m.genesys
                ));
            }
            for id in &v.unknown {
                human.push_str(&format!("\n  unknown to the ledger: {id}"));
            }
            for d in &v.drift {
                human.push_str(&format!(
                    "\n  drift: {} ({}) {}: Genesys {} / source now {}{}",
                    d.evaluation_id,
                    d.record,
                    d.what,
                    d.genesys_total.map_or("—".into(), |t| format!("{t:.2}")),
                    d.source_now.map_or("—".into(), |t| format!("{t:.2}")),
                    if d.note.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", d.note)
                    }
                ));
            }
            for a in &v.agents_differing {
                human.push_str(&format!(
                    "\n  agent {}: ledger {} evaluations (mean {}), Genesys {} (mean {})",
                    a.agent,
                    a.ledger_count,
                    a.ledger_mean.map_or("—".into(), |m| format!("{m:.2}")),
                    a.genesys_count,
                    a.genesys_mean.map_or("—".into(), |m| format!("{m:.2}"))
                ));
            }
            Ok(Outcome {
                code: u8::from(!v.clean()),
                json: json!({"command": "verify", "records": records, "dispositions": dispositions, "verify": v}),
                human,
            })
        }
        Command::Report { format, out } => {
            let cfg = load_config(&config_path)?;
            let ledger = Ledger::open(&cfg.ledger.path)?;
            let n = report::write(&cfg, &ledger, &format, &out)?;
            let (records, dispositions, _) = ledger_counts(&ledger)?;
            Ok(Outcome {
                code: 0,
                human: format!(
                    "report: {n} records written to {} ({format})",
                    out.display()
                ),
                json: json!({"command": "report", "records": records, "dispositions": dispositions, "out": out, "rows": n}),
            })
        }
        Command::Rollback { yes, since, forms } => {
            let cfg = load_config(&config_path)?;
            if !yes {
                anyhow::bail!(
                    "rollback deletes every evaluation this ledger created in Genesys; run it again with --yes"
                );
            }
            let ledger = Ledger::open(&cfg.ledger.path)?;
            let client = client_for(&cfg, Credentials::from_env()?)?;
            let r = verify::rollback(&cfg, &ledger, &client, since, forms).await?;
            let (records, dispositions, _) = ledger_counts(&ledger)?;
            Ok(Outcome {
                code: 0,
                human: format!(
                    "rollback: {} evaluations deleted, {} already gone{}; their items are planned again (the history keeps the deletions){}",
                    r.deleted,
                    r.already_gone,
                    if since.is_some() {
                        format!(", {} older ones kept", r.kept_older)
                    } else {
                        String::new()
                    },
                    r.form
                        .as_ref()
                        .map(|f| format!("\n{f}"))
                        .unwrap_or_else(|| "\nthe form stays (--forms deletes it)".into())
                ),
                json: json!({"command": "rollback", "records": records, "dispositions": dispositions, "rollback": r}),
            })
        }
        Command::Preflight => {
            let cfg = load_config(&config_path)?;
            let creds = Credentials::from_env()?;
            let client_id = creds.client_id.clone();
            let client = client_for(&cfg, creds)?;
            let p = preflight::run(&cfg, &client, &client_id).await?;
            Ok(Outcome {
                code: u8::from(!p.runnable()),
                human: preflight::human(&p),
                json: json!({"command": "preflight", "runnable": p.runnable(), "preflight": p}),
            })
        }
        Command::Probe {
            conversation,
            agent,
            evaluator,
            inactive_agent,
            inactive_evaluator,
            yes,
            allow_evaluated,
            write_config,
            replay_after_s,
            lag_bound_s,
        } => {
            let cfg = load_config(&config_path)?;
            let creds = Credentials::from_env()?;
            let client_id = creds.client_id.clone();
            let client = client_for(&cfg, creds)?;
            let opts = probe::Options {
                agent,
                evaluator,
                inactive_agent,
                inactive_evaluator,
                yes,
                allow_evaluated,
                replay_after_s,
                lag_bound_s,
                ..probe::Options::new(&conversation)
            };
            let report = probe::run(&cfg, &client, &client_id, &opts).await?;
            let mut human = probe::human(&report);
            let written = if write_config {
                let lines = probe::write_config(&config_path, &report)?;
                human.push_str(&format!(
                    "
{} setting(s) written to {}:\n{}",
                    lines.len(),
                    config_path.display(),
                    lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
                ));
                lines
            } else {
                Vec::new()
            };
            Ok(Outcome {
                code: u8::from(!report.cleaned_up),
                human,
                json: json!({
                    "command": "probe",
                    "facts": report.facts,
                    "cleaned_up": report.cleaned_up,
                    "created": report.created,
                    "deleted": report.deleted,
                    "form_deleted": report.form_deleted,
                    "leftovers": report.leftovers,
                    "notes": report.notes,
                    "rows": report.rows,
                    "scoring": report.scoring,
                    "requests": report.requests,
                    "config_written": written,
                }),
            })
        }
        Command::Status => {
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
            Ok(Outcome {
                human: format!(
                    "{}{}{}\nstale records (no longer in the source) {}\nsync: {}; last sync {}\nform: {}\nlast run: {}\nestimated time to finish the load: {}\nload:\n{}recent runs (rollback --since takes the id):\n{}",
                    writer
                        .as_ref()
                        .map(|w| format!("being written by {w}\n"))
                        .unwrap_or_default(),
                    invariant_line_with(records, &dispositions, unplanned),
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
                    "capped_agents": capped, "writer": writer, "sync": sync, "last_sync": last_sync}),
            })
        }
        Command::Emulator {
            kind:
                EmulatorKind::Genesys {
                    listen,
                    fixture,
                    flags,
                },
        } => {
            let text = std::fs::read_to_string(&fixture)
                .with_context(|| format!("cannot read fixture {}", fixture.display()))?;
            let fx: emulator::Fixture = serde_json::from_str(&text).with_context(|| {
                format!("fixture {} is not an emulator fixture", fixture.display())
            })?;
            let settings = flags.settings();
            let clock = genesys::Clock::scaled(flags.time_scale);
            let handle = emulator::spawn(
                &listen,
                emulator::EmulatorState::with_clock(fx, settings, clock),
            )
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!(
                "Genesys emulator listening on {} (Ctrl-C stops it)",
                handle.url()
            );
            tokio::signal::ctrl_c().await.ok();
            let created = handle.state.evaluations().len();
            handle.stop().await;
            Ok(Outcome {
                json: json!({"command": "emulator", "evaluations": created}),
                human: format!("emulator stopped; it held {created} evaluations"),
                code: 0,
            })
        }
        Command::Emulator {
            kind:
                EmulatorKind::Calabrio {
                    listen,
                    fixture: dataset,
                    legacy_login,
                    session_requests,
                    fault_rate,
                    max_page,
                },
        } => {
            let text = std::fs::read_to_string(&dataset)
                .with_context(|| format!("cannot read dataset {}", dataset.display()))?;
            let data: emulator::calabrio::Dataset =
                serde_json::from_str(&text).with_context(|| {
                    format!("{} is not a Calabrio emulator dataset", dataset.display())
                })?;
            let contacts = data.contacts.len();
            let state = emulator::calabrio::CalabrioState::new(
                data,
                emulator::calabrio::CalabrioSettings {
                    legacy_login,
                    session_requests,
                    fault_rate: fault_rate.clamp(0.0, 1.0),
                    max_page: max_page.max(1),
                    ..emulator::calabrio::CalabrioSettings::default()
                },
            );
            let handle = emulator::calabrio::spawn(&listen, state)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!(
                "Calabrio emulator listening on {} with {contacts} contacts (Ctrl-C stops it)",
                handle.base_url()
            );
            tokio::signal::ctrl_c().await.ok();
            let stats = handle.state.stats();
            Ok(Outcome {
                json: json!({"command": "emulator", "calabrio": stats}),
                human: format!(
                    "Calabrio emulator stopped after {} requests ({} logins, {} expired sessions, {} faults)",
                    stats.requests, stats.logins, stats.expired, stats.faults
                ),
                code: 0,
            })
        }
        Command::Demo {
            out,
            evaluations,
            api,
        } => demo::run(&out, evaluations, api, &progress).await,
    }
}

/// Today (UTC) on the client's clock: the scorecard's window is measured from it.
pub fn client_today(client: &genesys::GenesysClient) -> jiff::civil::Date {
    let ts = jiff::Timestamp::from_millisecond(client.clock().now_unix_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    jiff::tz::TimeZone::UTC.to_datetime(ts).date()
}

/// A switch that turns true on Ctrl-C or SIGTERM: the loader sends nothing new and lets in-flight
/// requests settle.
pub fn stop_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        let _ = tx.send(true);
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopping: no new request leaves; waiting for the ones in flight.");
        let _ = tx.send(true);
    });
    rx
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

/// HTTP requests to Genesys by purpose: requests are the migration's clock (300 a minute).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RequestCounts {
    /// The preflight's reads (token, roles, probes, limits).
    pub preflight: u64,
    /// Planning: the user directory and the conversation checks.
    pub plan: u64,
    /// Of the plan, the `match` strategy's analytics searches (counted apart).
    pub match_analytics: u64,
    /// Forms, their dry runs, metric definitions, the client app.
    pub provision: u64,
    /// Creates, reconcile lookups, adoption pages, scorecard points.
    pub load: u64,
    /// Reading our evaluations back.
    pub verify: u64,
    /// Everything.
    pub total: u64,
    /// `total` less the analytics searches, per evaluation created in this run.
    pub per_created_evaluation: Option<f64>,
    /// Analytics searches per record `match` tried to link.
    pub match_per_record_tried: Option<f64>,
}

impl RequestCounts {
    /// Adds the preflight's requests and recomputes the totals.
    pub fn with_preflight(mut self, preflight: u64, created: u64) -> Self {
        self.preflight = preflight;
        self.total = self.preflight + self.plan + self.provision + self.load + self.verify;
        self.per_created_evaluation = (created > 0)
            .then(|| self.total.saturating_sub(self.match_analytics) as f64 / created as f64);
        self
    }
}

/// extract → plan → provision → load (history, scorecard) → verify → report, with one summary.
///
/// # Errors
/// Any stage's fatal error.
pub async fn run_all(
    cfg: &Config,
    client: &genesys::GenesysClient,
    exceptions: Option<&Path>,
    report: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<Outcome> {
    run_all_with(cfg, client, exceptions, report, progress, None, 0).await
}

/// [`run_all`] with the Calabrio API options given (the demo's API path) and the requests a
/// preflight already sent (counted in the summary).
///
/// # Errors
/// As [`run_all`].
pub async fn run_all_with(
    cfg: &Config,
    client: &genesys::GenesysClient,
    exceptions: Option<&Path>,
    report: &Path,
    progress: &indicatif::ProgressBar,
    api: Option<calabrio::api::ApiOptions>,
    preflight_requests: u64,
) -> Result<Outcome> {
    let _lease = lease::acquire(&cfg.ledger.path, "run")?;
    let mut ledger = Ledger::open(&cfg.ledger.path)?;
    let mut counts = RequestCounts::default();
    let mut mark = client.requests_sent();
    let mut since = |client: &genesys::GenesysClient| {
        let now = client.requests_sent();
        let n = now.saturating_sub(mark);
        mark = now;
        n
    };
    let ex = extract::run_with(cfg, &mut ledger, progress, api).await?;
    let pl = plan::run(
        cfg,
        &mut ledger,
        client,
        &plan::PlanOptions {
            refresh_users: false,
            progress: Some(progress.clone()),
        },
    )
    .await?;
    counts.plan = since(client);
    counts.match_analytics = pl.analytics_requests;
    counts.match_per_record_tried =
        (pl.match_tried > 0).then(|| pl.analytics_requests as f64 / pl.match_tried as f64);
    if let Some(p) = exceptions {
        plan::write_exceptions(&ledger, p)?;
    }
    let pr = provision::run(cfg, &ledger, client).await?;
    counts.provision = since(client);
    let ld = load::run(
        cfg,
        &ledger,
        client,
        &load::LoadOptions::default(),
        progress,
    )
    .await?;
    let card = scorecard::run(cfg, &ledger, client, client_today(client)).await?;
    let hist = history::write(cfg, &ledger)?;
    counts.load = since(client);
    let v = verify::verify(cfg, &ledger, client).await?;
    counts.verify = since(client);
    let counts = counts.with_preflight(preflight_requests, ld.created_now);
    report::write(cfg, &ledger, "html", report)?;
    let code = exit_code(&pl.dispositions, Some(&ld.load)).max(u8::from(!v.clean()));
    let human = format!(
        "{}\nform '{}' ({})\ncreated {} evaluations now; load states:\n{}requests sent: {} (preflight {}, plan {}{}, provision {}, load {}, verify {}){}\nhistory: {} entries for {} agents ({} without a Genesys account); site {}",
        invariant_line(pl.records, &pl.dispositions),
        pr.form,
        if pr.created {
            "created"
        } else {
            "already provisioned"
        },
        ld.created_now,
        table(
            &ld.load
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_string()))
                .collect::<Vec<_>>()
        ),
        counts.total,
        counts.preflight,
        counts.plan,
        if counts.match_analytics > 0 {
            format!(
                " of which {} analytics searches for `match`",
                counts.match_analytics
            )
        } else {
            String::new()
        },
        counts.provision,
        counts.load,
        counts.verify,
        counts
            .per_created_evaluation
            .map(|r| format!(": {r:.3} per created evaluation"))
            .unwrap_or_default(),
        hist.entries,
        hist.agents,
        hist.legacy_agents,
        hist.index
    ) + &format!(
        "\nsync: {} changed in Calabrio and updated, {} created, {} listed (flagged: {} by plan; {} edited in Genesys, never overwritten), {} deleted as gone from the source",
        ld.updated_now,
        ld.created_now,
        pl.sync_flagged + ld.edited_in_genesys,
        pl.sync_flagged,
        ld.edited_in_genesys,
        ld.withdrawn_now
    ) + &format!("\nverify: {}\nreport: {}", v.line(), report.display());
    Ok(Outcome {
        json: json!({
            "command": "run",
            "plan": pl,
            "history": hist,
            "scorecard": card,
            "records": pl.records,
            "dispositions": pl.dispositions,
            "invariant_holds": pl.invariant_holds(),
            "load": ld.load,
            "requests": counts.total,
            "requests_by_purpose": counts,
            "verify": v,
            "report": report,
            "extract": ex,
            "provision": pr,
            "load_run": ld,
        }),
        human,
        code,
    })
}
