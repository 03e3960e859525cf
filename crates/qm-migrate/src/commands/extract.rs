//! `extract`: stages the source records in the ledger.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::app::*;
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
