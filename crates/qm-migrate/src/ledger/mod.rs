//! The ledger: one SQLite file, the single source of truth of a migration (DESIGN §2).
//!
//! It holds the staged source records (raw text, content hash, canonical JSON or the read error), the
//! Genesys directory snapshot, the plan (one disposition and reason per record), the provisioned forms
//! with the ids of their published version, and the load state machine of every `evaluation` item:
//!
//! ```text
//! planned → sending → created(evaluationId) | rejected(code, message) | deferred(until) | unknown
//! ```
//!
//! `sending` is committed *before* the request leaves, with the item's idempotency key, so a crash
//! at any point leaves an item that the next `load` can reconcile (an item found in `sending` at start
//! is `unknown`). The file is created with mode 0600: it holds personal data. Schema changes are
//! numbered migrations applied through `PRAGMA user_version`.

mod channels;
mod created;
mod evidence;
mod forms;
pub mod lease;
mod loads;
mod plans;
mod queries;
mod records;
mod reports;
mod schema;
mod writes;

pub(crate) use channels::AGENT_KEY;
pub use channels::{AttemptRow, HistoryRow, ScorePoint, ScorecardDay};
pub use created::{CreatedItem, DriftRow};
pub use evidence::EvidenceRow;
pub use forms::FormRow;
pub use loads::{AgentCap, ItemPeople, LoadRow, SyncDue, SyncRow, WindowStart, state};
pub use plans::{Exception, PlanRow};
pub use records::{RecordCursor, RecordRow, StagedRecord, record_name};
pub use reports::{ExceptionData, MonthStats, ReportRow, RunSummary};
pub use writes::WriteRow;

use anyhow::Result;
use rusqlite::OptionalExtension as _;
use rusqlite::{Connection, params};

/// One run of a command, as `status` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    /// Run id (`rollback --since` takes it).
    pub id: i64,
    /// The command.
    pub command: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End, when it finished.
    pub finished_at: Option<String>,
}

/// The open ledger.
pub struct Ledger {
    conn: Connection,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The records accounted for, given the latest extract as `?1` (see [`crate::accounting`]): those
/// of the latest extract, and those that left the source whose evaluation is (or may be) in
/// Genesys.
pub(crate) const ACCOUNTED: &str = "(r.last_seen_run = ?1 OR (r.last_seen_run < ?1 AND r.id IN
    (SELECT record_id FROM loads WHERE state IN ('created', 'sending', 'unknown'))))";

impl Ledger {
    /// Starts a run of `command`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn begin_run(&self, command: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (command, started_at) VALUES (?1, ?2)",
            params![command, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a run with its summary.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn finish_run(&self, run: i64, summary: &serde_json::Value) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?1, summary = ?2 WHERE id = ?3",
            params![now(), summary.to_string(), run],
        )?;
        Ok(())
    }

    /// The latest `n` runs, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recent_runs(&self, n: usize) -> Result<Vec<RunInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, command, started_at, finished_at FROM runs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::try_from(n).unwrap_or(i64::MAX)], |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every run of `command`: (id, started at), oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn runs_of(&self, command: &str) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_at FROM runs WHERE command = ?1 ORDER BY id")?;
        let rows = stmt
            .query_map([command], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// An API source whose pass over its contact days is not complete (a day did not add up, or
    /// the extract stopped): some days were read in this pass and others not, so the records of the
    /// unread days would look deleted from Calabrio.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn api_pass_open(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT source FROM api_days LIMIT 1", [], |r| r.get(0))
            .optional()?)
    }

    /// The latest extract run, when it did not finish (stopped, or failed) and records were staged
    /// by it: the ledger's current records are then incomplete.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn unfinished_extract(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM runs WHERE command = 'extract' AND finished_at IS NULL
               AND id = (SELECT max(id) FROM runs WHERE command = 'extract')
               AND id = (SELECT max(last_seen_run) FROM records)",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The id of the latest finished extract run.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn latest_extract(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT max(last_seen_run) FROM records", [], |r| r.get(0))?)
    }

    /// A transaction for batched writes.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn transaction(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self.conn.transaction()?)
    }

    /// The raw connection, for tests that inspect or tamper with a ledger. The tool itself goes
    /// through the named methods: no module but this one holds SQL.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::schema::MIGRATIONS;
    use super::*;

    /// A ledger written before `sort_at` existed gets it from its canonical JSON, so the newest
    /// version of a duplicated evaluation is still the newest after the upgrade.
    #[test]
    fn the_sort_date_migration_backfills_old_ledgers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (id, command, started_at) VALUES (1, 'extract', 'x');
                 INSERT INTO records (file, locator, evaluation_id, hash, raw, canonical, seq, first_run, last_seen_run)
                 VALUES ('f', 'f:2', 'e1', 'h1', 'r', '{\"dates\":{\"evaluated_at_utc\":\"2024-01-02T03:04:05Z\"}}', 1, 1, 1),
                        ('f', 'f:3', 'e1', 'h2', 'r', '{\"dates\":{\"created_at_utc\":\"2023-01-02T03:04:05Z\"}}', 2, 1, 1);",
            )
            .unwrap();
        }
        let ledger = Ledger::open(&path).unwrap();
        let sorts: Vec<Option<i64>> = ledger
            .conn()
            .prepare("SELECT sort_at FROM records ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            sorts,
            vec![Some(1_704_164_645_000), Some(1_672_628_645_000)]
        );
        // The later line has the older date: the earlier line wins.
        let lost = ledger.superseded().unwrap();
        assert_eq!(lost.len(), 1);
        let (loser, winner) = lost.into_iter().next().unwrap();
        assert_eq!(ledger.locator_of(loser).unwrap(), "f:3");
        assert_eq!(ledger.locator_of(winner).unwrap(), "f:2");
    }
}
