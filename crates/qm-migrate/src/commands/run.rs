//! `run`: preflight, then every stage in order with one summary.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use super::{Outcome, exit_code, invariant_line, table};
use crate::config::{Config, Credentials};
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    progress: indicatif::ProgressBar,
    exceptions: Option<PathBuf>,
    report: Option<PathBuf>,
) -> Result<Outcome> {
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
    /// Of `verify`, the evaluation analytics queries of the timeline check (counted apart).
    pub verify_timeline: u64,
    /// Everything.
    pub total: u64,
    /// `total` less the analytics queries (`match`'s searches and the timeline check, which grow
    /// with agent-days and months, not evaluations), per evaluation created in this run.
    pub per_created_evaluation: Option<f64>,
    /// Analytics searches per record `match` tried to link.
    pub match_per_record_tried: Option<f64>,
}

impl RequestCounts {
    /// Adds the preflight's requests and recomputes the totals.
    pub fn with_preflight(mut self, preflight: u64, created: u64) -> Self {
        self.preflight = preflight;
        self.total = self.preflight + self.plan + self.provision + self.load + self.verify;
        self.per_created_evaluation = (created > 0).then(|| {
            self.total
                .saturating_sub(self.match_analytics + self.verify_timeline) as f64
                / created as f64
        });
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
    if !ex.incomplete_days.is_empty() {
        // The records of a day not read would look deleted from Calabrio: nothing goes further.
        return Ok(Outcome {
            human: format!(
                "run stopped after extract: nothing was planned or loaded{}\nRun `qm-migrate run` again once the days add up (each extract reads them again).",
                super::extract::api_lines(&ex)
            ),
            json: json!({"command": "run", "stopped_after": "extract", "extract": ex}),
            code: 1,
        });
    }
    let pl = plan::run(
        cfg,
        &mut ledger,
        client,
        &plan::PlanOptions {
            refresh_users: false,
            progress: Some(progress.clone()),
            announce: !progress.is_hidden(),
        },
    )
    .await?;
    if crate::interrupt::requested() {
        return Err(crate::interrupt::Stopped::signal("run (after plan)", "run").into());
    }
    // What the load does besides creating: the evaluations it releases to their agents.
    let releasing = ledger.unsent_count()?;
    let release_line = match cfg.form.release_policy.as_str() {
        "immediate" => format!(
            "release: {releasing} evaluations to create are released to their agents as they are created ([form] release_policy = \"immediate\"); agents may dispute them for 45 days where the form allows it"
        ),
        "never" => "release: none ([form] release_policy = \"never\")".to_owned(),
        _ => "release: left to Genesys ([form] release_policy = \"omit\")".to_owned(),
    };
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
        &load::LoadOptions {
            stop: Some(crate::interrupt::receiver()),
            ..load::LoadOptions::default()
        },
        progress,
    )
    .await?;
    if ld.interrupted || ld.outage.is_some() {
        // Stopped cleanly: every request in flight settled and was recorded; a re-run resumes.
        let why = match &ld.outage {
            Some(o) => format!(
                "Genesys kept failing ({o}); {} requests were sent during the outage",
                ld.outage_requests
            ),
            None => "stopped by a signal".to_owned(),
        };
        return Ok(Outcome {
            human: format!(
                "{}
load stopped: {why}. Created {} evaluations now; nothing is lost: run `qm-migrate run` again to resume (`load --follow` waits an outage out).
load states:
{}",
                invariant_line(pl.records, &pl.dispositions, pl.records_left_source),
                ld.created_now,
                table(
                    &ld.load
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.to_string()))
                        .collect::<Vec<_>>()
                ),
            ),
            json: json!({
                "command": "run",
                "records": pl.records,
                "dispositions": pl.dispositions,
                "invariant_holds": pl.invariant_holds(),
                "load": ld.load,
                "interrupted": ld.interrupted,
                "outage": ld.outage,
                "requests": client.requests_sent(),
                "plan": pl,
                "extract": ex,
                "load_run": ld,
            }),
            code: 1,
        });
    }
    let card = scorecard::run(cfg, &ledger, client, client_today(client)).await?;
    let hist = history::write(cfg, &ledger)?;
    counts.load = since(client);
    let v =
        crate::interrupt::or_stop("verify", "verify", verify::verify(cfg, &ledger, client)).await?;
    counts.verify = since(client);
    counts.verify_timeline = v.timeline.as_ref().map_or(0, |t| t.requests);
    let counts = counts.with_preflight(preflight_requests, ld.created_now);
    report::write(cfg, &ledger, "html", report)?;
    let code = exit_code(&pl.dispositions, Some(&ld.load))
        .max(u8::from(!v.clean()))
        .max(u8::from(ex.has_problems()));
    let human = format!(
        "{}\n{release_line}\nform '{}' ({})\ncreated {} evaluations now; load states:\n{}requests sent: {} (preflight {}, plan {}{}, provision {}, load {}, verify {}{}){}\nhistory: {} entries for {} agents ({} without a Genesys account); site {}",
        invariant_line(pl.records, &pl.dispositions, pl.records_left_source),
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
        if counts.verify_timeline > 0 {
            format!(
                " of which {} evaluation analytics queries for the timeline",
                counts.verify_timeline
            )
        } else {
            String::new()
        },
        counts
            .per_created_evaluation
            .map(|r| format!(": {r:.3} per created evaluation"))
            .unwrap_or_default(),
        hist.entries,
        hist.agents,
        hist.legacy_agents,
        hist.index
    ) + &format!(
        "\nsync: {} changed in Calabrio and updated, {} created, {} listed (flagged: {} by plan; {} edited in Genesys, never overwritten; {} past Genesys' edit window; {} refused by Genesys for that evaluation alone), {} deleted as gone from the source",
        ld.updated_now,
        ld.created_now,
        pl.sync_flagged + ld.edited_in_genesys + ld.past_edit_window + ld.sync_refused,
        pl.sync_flagged,
        ld.edited_in_genesys,
        ld.past_edit_window,
        ld.sync_refused,
        ld.withdrawn_now
    ) + &format!("\nverify: {}\nreport: {}", v.line(), report.display())
        + &super::extract::api_lines(&ex);
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
            "releasing": (cfg.form.release_policy == "immediate").then_some(releasing),
            "report": report,
            "extract": ex,
            "provision": pr,
            "load_run": ld,
        }),
        human,
        code,
    })
}
