//! `plan`: gives every record a disposition and a reason (and writes the exceptions CSV).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::{Outcome, exit_code, invariant_line};
use crate::config::Credentials;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    progress: indicatif::ProgressBar,
    exceptions: Option<PathBuf>,
    refresh_users: bool,
) -> Result<Outcome> {
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
            announce: !progress.is_hidden(),
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
            "plan: {}{}{}",
            invariant_line(s.records, &s.dispositions, s.records_left_source),
            s.match_estimate
                .as_ref()
                .map(|e| format!(
                    "\n{} (sent: {}; linked {} of {} tried)",
                    e.line(),
                    s.analytics_requests,
                    s.match_linked,
                    s.match_tried
                ))
                .unwrap_or_default(),
            written
                .map(|n| format!("\n{n} exceptions written"))
                .unwrap_or_default()
        ),
        json: json!({"command": "plan", "records": s.records, "dispositions": s.dispositions,
            "invariant_holds": s.invariant_holds(), "requests": client.requests_sent(), "plan": s}),
        code,
    })
}
