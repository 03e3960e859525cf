//! What the evidence folder lists per record and per source file.

use anyhow::Result;

use super::{ACCOUNTED, Ledger};

/// One record as the evidence lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvidenceRow {
    /// The record, by what it is in Calabrio (`calabrio_one evaluation 80017`).
    pub record: String,
    /// Where it was last seen (file:line, JSON path or API URL).
    pub source: String,
    /// SHA-256 of the record's raw text as read.
    pub record_sha256: String,
    /// Disposition (`unplanned` before `plan`).
    pub disposition: String,
    /// Why.
    pub reason: String,
    /// Load state of an `evaluation` record.
    pub load_state: String,
    /// The Genesys evaluation.
    pub genesys_evaluation_id: String,
    /// The total score sent (the plan's prediction of Genesys' total).
    pub total_sent: Option<f64>,
    /// The total Genesys answered (create, update or read back).
    pub total_read_back: Option<f64>,
}

impl Ledger {
    /// Every record accounted for in extract `run`, in source order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn evidence_rows(&self, run: i64) -> Result<Vec<EvidenceRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.identity, r.locator, r.hash, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                    coalesce(l.state, ''), coalesce(l.evaluation_id, ''), p.predicted, l.genesys_total
             FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
             WHERE {ACCOUNTED} ORDER BY r.last_seen_run < ?1, r.seq, r.id"
        ))?;
        let rows = stmt
            .query_map([run], |r| {
                let identity: String = r.get(0)?;
                let source: String = r.get(1)?;
                Ok(EvidenceRow {
                    record: super::record_name(&identity, &source),
                    source,
                    record_sha256: r.get(2)?,
                    disposition: r.get(3)?,
                    reason: r.get(4)?,
                    load_state: r.get(5)?,
                    genesys_evaluation_id: r.get(6)?,
                    total_sent: r.get(7)?,
                    total_read_back: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The source files (or API addresses) the records of extract `run` were read from, with how
    /// many records each gave.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn source_files(&self, run: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.file, count(*) FROM records r WHERE {ACCOUNTED} GROUP BY r.file ORDER BY r.file"
        ))?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
