//! Read-only questions other stages ask of the ledger as a whole.

use std::collections::HashMap;

use anyhow::Result;

use super::Ledger;

impl Ledger {
    /// Our forms' context ids by form name (every form provisioned so far).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn form_contexts(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .conn
            .prepare("SELECT name, context_id FROM forms WHERE context_id IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every created evaluation's total in Genesys beside the normalised Calabrio total.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn created_totals(&self) -> Result<Vec<(Option<f64>, Option<f64>)>> {
        Ok(self
            .conn
            .prepare(
                "SELECT l.genesys_total, p.score FROM loads l JOIN plans p ON p.record_id = l.record_id
                 WHERE l.state = 'created'",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Created evaluations by Calabrio evaluation id: (Genesys id, Genesys total).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn created_by_calabrio_id(&self) -> Result<HashMap<String, (String, Option<f64>)>> {
        Ok(self
            .conn
            .prepare(
                "SELECT r.evaluation_id, l.evaluation_id, l.genesys_total FROM loads l
                 JOIN records r ON r.id = l.record_id WHERE l.state = 'created' AND r.evaluation_id IS NOT NULL",
            )?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The records of extract `run` planned as evaluations: (the mirrored form they go on, or none
    /// for the container form; the plan's reason).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn evaluation_forms(&self, run: i64) -> Result<Vec<(Option<String>, String)>> {
        Ok(self
            .conn
            .prepare(
                "SELECT p.form_name, p.reason FROM plans p JOIN records r ON r.id = p.record_id
                 WHERE r.last_seen_run = ?1 AND p.disposition = 'evaluation'",
            )?
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }
}
