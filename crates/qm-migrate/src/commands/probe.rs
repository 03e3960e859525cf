//! `probe`: measures, on the org itself, the behaviours no document settles.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::cli::ProbeArgs;
use crate::config::Credentials;
use crate::context::*;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf, args: ProbeArgs) -> Result<Outcome> {
    let ProbeArgs {
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
    } = args;
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
