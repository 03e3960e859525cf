//! `report --format csv|json`: one row per source record of the latest extract — where it stood,
//! its evaluation id, disposition and reason, the Genesys agent and conversation, the load state and
//! the Genesys evaluation id — written with mode 0600. (The HTML report is still to come.)

use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::fsutil::write_private;
use crate::ledger::Ledger;

/// One record in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// File and line (or JSON path, or API URL).
    pub source: String,
    /// Calabrio evaluation id, when readable.
    pub evaluation_id: Option<String>,
    /// Disposition (`unplanned` before `plan`).
    pub disposition: String,
    /// Why.
    pub reason: String,
    /// Genesys agent.
    pub agent_user_id: Option<String>,
    /// Genesys conversation.
    pub conversation_id: Option<String>,
    /// Normalised source score.
    pub score: Option<f64>,
    /// Load state of an `evaluation` record.
    pub load_state: Option<String>,
    /// The Genesys evaluation created for it.
    pub genesys_evaluation_id: Option<String>,
}

/// Every record of the latest extract, in source order.
///
/// # Errors
/// SQLite errors.
pub fn rows(ledger: &Ledger) -> Result<Vec<ReportRow>> {
    let run = ledger.latest_extract()?.unwrap_or(-1);
    let mut stmt = ledger.conn().prepare(
        "SELECT r.locator, r.evaluation_id, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                p.agent_user_id, p.conversation_id, p.score, l.state, l.evaluation_id
         FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
         WHERE r.last_seen_run = ?1 ORDER BY r.seq, r.id",
    )?;
    let rows = stmt
        .query_map([run], |r| {
            Ok(ReportRow {
                source: r.get(0)?,
                evaluation_id: r.get(1)?,
                disposition: r.get(2)?,
                reason: r.get(3)?,
                agent_user_id: r.get(4)?,
                conversation_id: r.get(5)?,
                score: r.get(6)?,
                load_state: r.get(7)?,
                genesys_evaluation_id: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Writes the report in `format` (`csv` or `json`) to `out`; returns the rows written.
///
/// # Errors
/// An unknown format, SQLite and I/O errors.
pub fn write(ledger: &Ledger, format: &str, out: &Path) -> Result<usize> {
    let rows = rows(ledger)?;
    let bytes = match format {
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &rows {
                w.serialize(r)?;
            }
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?
        }
        "json" => serde_json::to_vec_pretty(&serde_json::json!({
            "records": rows.len(),
            "rows": rows,
        }))?,
        other => bail!("report --format '{other}': csv or json (the HTML report is not built yet)"),
    };
    write_private(out, &bytes)?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_format_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let out = dir.path().join("r.html");
        let e = write(&ledger, "html", &out).unwrap_err().to_string();
        assert!(e.contains("csv or json"), "{e}");
        assert!(!out.exists());
    }
}
