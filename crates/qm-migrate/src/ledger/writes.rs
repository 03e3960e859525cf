//! The write log: every create, update and deletion this tool made to a Genesys evaluation, as
//! `verify` matches them with Genesys' own audit trail. Creates are logged by a trigger on the load
//! state (`schema.rs`), whatever path made an item `created`; updates and deletions here, where the
//! pipeline applies them.

use anyhow::Result;
use rusqlite::params;

use super::{Ledger, now};

/// One write of ours.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WriteRow {
    /// The record it was for.
    pub record_id: i64,
    /// The record by its Calabrio identity (`calabrio_one evaluation 80017`).
    pub record: String,
    /// The Genesys evaluation.
    pub evaluation_id: String,
    /// `Create`, `Update` or `Delete`, as Genesys' audit trail names the action.
    pub action: String,
    /// When the ledger recorded it (RFC 3339, this machine's clock).
    pub at: String,
}

impl Ledger {
    /// Logs that Genesys applied our `action` (`Update` or `Delete`) to `evaluation_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn log_write(
        &self,
        record_id: i64,
        evaluation_id: &str,
        action: &str,
        note: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![record_id, evaluation_id, action, now(), note],
        )?;
        Ok(())
    }

    /// Every write of ours, oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn genesys_writes(&self) -> Result<Vec<WriteRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT w.record_id, r.identity, r.locator, w.evaluation_id, w.action, w.at
             FROM genesys_writes w LEFT JOIN records r ON r.id = w.record_id ORDER BY w.at, w.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let identity: Option<String> = r.get(1)?;
                let locator: Option<String> = r.get(2)?;
                Ok(WriteRow {
                    record_id: r.get(0)?,
                    record: super::record_name(
                        identity.as_deref().unwrap_or(""),
                        locator.as_deref().unwrap_or(""),
                    ),
                    evaluation_id: r.get(3)?,
                    action: r.get(4)?,
                    at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The name a Genesys user id has in the directory snapshot, if it is there.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn user_name(&self, user_id: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn
            .query_row(
                "SELECT name FROM directory WHERE user_id = ?1",
                [user_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }
}
