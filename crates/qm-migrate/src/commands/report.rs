//! `report`: the HTML, CSV or JSON report.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf, format: String, out: PathBuf) -> Result<Outcome> {
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
