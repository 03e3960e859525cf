//! `extract`: stages the source records in the ledger.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    config_path: PathBuf,
    progress: indicatif::ProgressBar,
) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    let mut ledger = Ledger::open(&cfg.ledger.path)?;
    let s = extract::run(&cfg, &mut ledger, &progress).await?;
    progress.finish_and_clear();
    let (records, dispositions, unplanned) = ledger_counts(&ledger)?;
    let code = u8::from(s.unreadable > 0 || s.has_problems());
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
        ) + &api_lines(&s),
        json: json!({"command": "extract", "records": records, "dispositions": dispositions, "unplanned": unplanned, "extract": s}),
        code,
    })
}

/// What the Calabrio API extract adds: requests per evaluation, what it refused about single
/// contacts or evaluations, and the contact days that did not add up (each with why).
pub(crate) fn api_lines(s: &extract::ExtractSummary) -> String {
    let mut out = String::new();
    if let (Some(evaluations), Some(per)) = (s.api_evaluations, s.api_requests_per_evaluation) {
        out += &format!(
            "\nCalabrio API: {evaluations} evaluations read, {per:.2} requests per evaluation"
        );
    }
    if !s.api_problems.is_empty() {
        out += &format!(
            "\nCalabrio refused {} contacts or evaluations (the rest is staged; the next extract asks again):",
            s.api_problems.len()
        );
        for p in s.api_problems.iter().take(20) {
            out += &format!("\n  {p}");
        }
        if s.api_problems.len() > 20 {
            out += &format!(
                "\n  … and {} more (in the JSON output, `extract.api_problems`)",
                s.api_problems.len() - 20
            );
        }
    }
    if !s.incomplete_days.is_empty() {
        out += &format!(
            "\n{} contact days do not add up and are not marked complete (plan waits until `qm-migrate extract` reads them):",
            s.incomplete_days.len()
        );
        for d in s.incomplete_days.iter().take(20) {
            out += &format!("\n  {d}");
        }
        if s.incomplete_days.len() > 20 {
            out += &format!(
                "\n  … and {} more (in the JSON output, `extract.incomplete_days`)",
                s.incomplete_days.len() - 20
            );
        }
    }
    out
}
