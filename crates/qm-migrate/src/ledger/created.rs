//! The created evaluations as `verify` and `rollback` read them, and what rollback resets.

use anyhow::Result;
use rusqlite::{OptionalExtension as _, params};

use super::Ledger;

/// A created evaluation with what verify compares.
#[derive(Debug, Clone)]
pub struct CreatedItem {
    /// Record id.
    pub record_id: i64,
    /// Where the record stood.
    pub locator: String,
    /// Genesys evaluation id.
    pub evaluation_id: String,
    /// Conversation.
    pub conversation: String,
    /// Genesys agent.
    pub agent: String,
    /// Genesys evaluator.
    pub evaluator: Option<String>,
    /// The total Genesys was expected to compute.
    pub predicted: Option<f64>,
    /// When it was sent (epoch ms).
    pub sent_at: Option<i64>,
    /// The form it was created on.
    pub form_name: Option<String>,
    /// The record by its Calabrio identity (`calabrio_one evaluation 80017`).
    pub name: String,
    /// Genesys' `createdDate` of the evaluation, when it was read.
    pub genesys_created: Option<String>,
    /// When Genesys said the evaluation is past its edit window.
    pub edit_window_closed: Option<String>,
    /// The linked conversation's start, as plan read it.
    pub conversation_start: Option<String>,
    /// The total Genesys answered to our last write.
    pub genesys_total: Option<f64>,
    /// The `changedDate` Genesys gave our last write.
    pub genesys_changed: Option<String>,
}

/// A created evaluation the source no longer gives as it is (or that was edited in Genesys).
#[derive(Debug, Clone)]
pub struct DriftRow {
    /// Where the record stood.
    pub locator: String,
    /// Genesys evaluation id.
    pub evaluation_id: Option<String>,
    /// Sync state.
    pub sync_state: Option<String>,
    /// Sync note.
    pub sync_note: Option<String>,
    /// The total Genesys holds.
    pub genesys_total: Option<f64>,
    /// The plan's prediction.
    pub predicted: Option<f64>,
    /// The record content the plan was made from.
    pub plan_hash: Option<String>,
    /// The record content now.
    pub hash: String,
    /// The record is not in the latest extract.
    pub gone: bool,
    /// The record by its Calabrio identity (`calabrio_one evaluation 80017`).
    pub name: String,
}

impl Ledger {
    /// Every created evaluation with its Genesys id, in conversation order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn created_items(&self) -> Result<Vec<CreatedItem>> {
        let mut stmt = self.conn.prepare(
            "SELECT l.record_id, r.locator, l.evaluation_id, l.conversation_id, l.agent_user_id,
                    p.evaluator_user_id, p.predicted, l.sent_at, p.form_name, r.identity,
                    l.genesys_created, l.edit_window_closed, p.conversation_start, l.genesys_total,
                    l.genesys_changed
             FROM loads l JOIN records r ON r.id = l.record_id LEFT JOIN plans p ON p.record_id = l.record_id
             WHERE l.state = 'created' AND l.evaluation_id IS NOT NULL ORDER BY l.conversation_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let locator: String = r.get(1)?;
                let identity: String = r.get(9)?;
                Ok(CreatedItem {
                    name: super::record_name(&identity, &locator),
                    genesys_created: r.get(10)?,
                    edit_window_closed: r.get(11)?,
                    conversation_start: r.get(12)?,
                    genesys_total: r.get(13)?,
                    genesys_changed: r.get(14)?,
                    record_id: r.get(0)?,
                    locator: r.get(1)?,
                    evaluation_id: r.get(2)?,
                    conversation: r.get(3)?,
                    agent: r.get(4)?,
                    evaluator: r.get(5)?,
                    predicted: r.get(6)?,
                    sent_at: r.get(7)?,
                    form_name: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The created evaluations with a sync state, a record changed since it was sent, or a record
    /// that is no longer in extract `latest`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn drift_rows(&self, latest: i64) -> Result<Vec<DriftRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.locator, l.evaluation_id, l.sync_state, l.sync_note, l.genesys_total, p.predicted,
                    p.record_hash, r.hash, r.last_seen_run < ?1, r.identity
             FROM loads l JOIN records r ON r.id = l.record_id LEFT JOIN plans p ON p.record_id = l.record_id
             WHERE l.state = 'created' AND (l.sync_state IS NOT NULL
                OR (l.synced_hash IS NOT NULL AND l.synced_hash != r.hash) OR r.last_seen_run < ?1)
             ORDER BY r.id",
        )?;
        let rows = stmt
            .query_map([latest], |r| {
                let locator: String = r.get(0)?;
                let identity: String = r.get(9)?;
                Ok(DriftRow {
                    name: super::record_name(&identity, &locator),
                    locator,
                    evaluation_id: r.get(1)?,
                    sync_state: r.get(2)?,
                    sync_note: r.get(3)?,
                    genesys_total: r.get(4)?,
                    predicted: r.get(5)?,
                    plan_hash: r.get(6)?,
                    hash: r.get(7)?,
                    gone: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every published version of our forms: (form name, published version id).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn form_versions(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .conn
            .prepare("SELECT name, published_id FROM form_versions")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Our forms' drafts: (name, draft id), by name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn form_drafts(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .conn
            .prepare("SELECT name, draft_id FROM forms ORDER BY name")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets form `name` (deleted in Genesys): a later `provision` creates it again.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forget_form(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM forms WHERE name = ?1", [name])?;
        Ok(())
    }

    /// When run `run` started (RFC 3339), if the ledger has it.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn run_started_at(&self, run: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT started_at FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Records that rollback deleted (or found gone) the evaluation of `record_id`, and plans the
    /// record again with a fresh idempotency key: replaying the old one would answer with the
    /// deleted evaluation. Both in one transaction.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn rolled_back(&self, record_id: i64, outcome: &str, evaluation_id: &str) -> Result<()> {
        let now = jiff::Timestamp::now().to_string();
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO attempts (record_id, started_at, finished_at, outcome, message)
             VALUES (?1, ?2, ?2, ?3, ?4)",
            params![
                record_id,
                now,
                outcome,
                format!("evaluation {evaluation_id}")
            ],
        )?;
        if outcome == "deleted by rollback" {
            tx.execute(
                "INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
                 VALUES (?1, ?2, 'Delete', ?3, ?4)",
                params![record_id, evaluation_id, now, outcome],
            )?;
        }
        tx.execute(
            "UPDATE loads SET state = 'planned', evaluation_id = NULL, sent_at = NULL, genesys_total = NULL,
               genesys_created = NULL, edit_window_closed = NULL, sync_state = NULL, sync_note = NULL,
               idempotency_key = ?2, updated_at = ?3 WHERE record_id = ?1",
            params![record_id, uuid::Uuid::new_v4().to_string(), now],
        )?;
        tx.commit()?;
        Ok(())
    }
}
