//! The load state machine of every `evaluation` item, its attempts, the per-agent caps, and the sync
//! state of what exists in Genesys.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

#[allow(clippy::wildcard_imports)]
use super::*;

/// The load states of an `evaluation` item.
pub mod state {
    /// Waiting to be sent.
    pub const PLANNED: &str = "planned";
    /// Committed as about to be sent; found at start ⇒ unknown.
    pub const SENDING: &str = "sending";
    /// Exists in Genesys.
    pub const CREATED: &str = "created";
    /// Permanently refused by Genesys.
    pub const REJECTED: &str = "rejected";
    /// Parked until a time (per-agent daily cap).
    pub const DEFERRED: &str = "deferred";
    /// May or may not exist in Genesys: reconciled before anything is re-sent.
    pub const UNKNOWN: &str = "unknown";
    /// Was created; deleted from Genesys because its record left the source (`[sync] on_withdraw
    /// = "delete"`).
    pub const WITHDRAWN: &str = "withdrawn";
    /// Every state, in report order.
    pub const ALL: [&str; 7] = [
        PLANNED, SENDING, CREATED, REJECTED, DEFERRED, UNKNOWN, WITHDRAWN,
    ];
}

/// The sync view of one evaluation in Genesys.
#[derive(Debug, Clone)]
pub struct SyncRow {
    /// The record content (hash) Genesys holds (NULL: unknown, an older ledger).
    pub synced_hash: Option<String>,
    /// Its conversation.
    pub conversation_id: String,
    /// Its agent.
    pub agent_user_id: String,
    /// `update`, `updating`, `flagged`, `edited`, `withdraw`, or none.
    pub sync_state: Option<String>,
    /// When Genesys' edit window was found closed (changes are then only listed).
    pub edit_window_closed: Option<String>,
}

/// When a created evaluation's edit window started: (Genesys `createdDate`, when its create was
/// sent in epoch ms, when Genesys said its window had closed).
pub type WindowStart = (Option<String>, Option<i64>, Option<String>);

/// An evaluation with a sync action to take or resolve.
#[derive(Debug, Clone)]
pub struct SyncDue {
    /// Its record.
    pub record_id: i64,
    /// The Genesys evaluation.
    pub evaluation_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// `update`, `updating` (sent, outcome unknown) or `withdraw`.
    pub sync_state: String,
    /// The `changedDate` Genesys gave our last write (none: not known).
    pub genesys_changed: Option<String>,
    /// The item's key (named in the marker).
    pub idempotency_key: String,
    /// Genesys' `createdDate` of the evaluation, when known.
    pub genesys_created: Option<String>,
    /// When the create was sent (epoch ms): the window's start when `createdDate` is not known.
    pub sent_at: Option<i64>,
    /// When Genesys said it is past its edit window.
    pub edit_window_closed: Option<String>,
}

/// A load item.
#[derive(Debug, Clone)]
pub struct LoadRow {
    /// Record.
    pub record_id: i64,
    /// State.
    pub state: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Conversation.
    pub conversation_id: String,
    /// Agent.
    pub agent_user_id: String,
    /// Evaluation id once created.
    pub evaluation_id: Option<String>,
    /// Parked until.
    pub deferred_until: Option<String>,
    /// When its latest create left (ms on the migration's clock).
    pub sent_at: Option<i64>,
}

/// The people of a load item: (evaluator, agent, form name; `None` is the container form).
pub type ItemPeople = (Option<String>, String, Option<String>);

/// An agent the org answered with its per-agent cap.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentCap {
    /// Genesys user id.
    pub agent_user_id: String,
    /// No create for this agent before this time (ms on the migration's clock).
    pub until_ms: i64,
    /// The code Genesys answered with.
    pub code: Option<String>,
    /// The cap Genesys named (`ErrorBody.limit.value`), when it did.
    pub limit_value: Option<i64>,
}

/// A load item from a row of `record_id, state, idempotency_key, conversation_id, agent_user_id,
/// evaluation_id, deferred_until, sent_at`.
fn load_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LoadRow> {
    Ok(LoadRow {
        record_id: r.get(0)?,
        state: r.get(1)?,
        idempotency_key: r.get(2)?,
        conversation_id: r.get(3)?,
        agent_user_id: r.get(4)?,
        evaluation_id: r.get(5)?,
        deferred_until: r.get(6)?,
        sent_at: r.get(7)?,
    })
}

impl Ledger {
    /// Load state of a record, if it has a load item.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_state(&self, record_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT state FROM loads WHERE record_id = ?1",
                [record_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Makes the load item of an `evaluation` plan row exist (state `planned`), or re-arms a
    /// `rejected` one after a re-plan. Items already sent are left alone.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn arm_load(
        &self,
        record_id: i64,
        key: &str,
        conversation_id: &str,
        agent_user_id: &str,
    ) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT INTO loads (record_id, state, idempotency_key, conversation_id, agent_user_id, updated_at)
             VALUES (?1, 'planned', ?2, ?3, ?4, ?5)
             ON CONFLICT (record_id) DO UPDATE SET
               state = CASE WHEN state = 'rejected' THEN 'planned' ELSE state END,
               conversation_id = CASE WHEN state IN ('planned', 'rejected', 'deferred') THEN excluded.conversation_id ELSE conversation_id END,
               agent_user_id = CASE WHEN state IN ('planned', 'rejected', 'deferred') THEN excluded.agent_user_id ELSE agent_user_id END,
               updated_at = excluded.updated_at",
        )?
        .execute(params![record_id, key, conversation_id, agent_user_id, now()])?;
        Ok(())
    }

    /// Drops the load item of a record that is no longer an `evaluation` (only if never sent).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn disarm_load(&self, record_id: i64) -> Result<()> {
        self.conn.prepare_cached(
            "DELETE FROM loads WHERE record_id = ?1 AND state IN ('planned', 'rejected', 'deferred')",
        )?
        .execute([record_id])?;
        Ok(())
    }

    /// Counts of load items by state.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM loads GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Load items in `states`, ordered by agent then record (the loader interleaves agents).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn loads_in(&self, states: &[&str]) -> Result<Vec<LoadRow>> {
        let placeholders = vec!["?"; states.len()].join(",");
        let sql = format!(
            "SELECT record_id, state, idempotency_key, conversation_id, agent_user_id, evaluation_id, deferred_until,
                    sent_at
             FROM loads WHERE state IN ({placeholders}) ORDER BY agent_user_id, record_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(states.iter()), load_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sets the state of a load item (and the fields that go with it), recording an attempt row
    /// when `attempt` is given.
    ///
    /// # Errors
    /// SQLite errors.
    #[allow(clippy::too_many_arguments)]
    pub fn set_load(
        &self,
        record_id: i64,
        new_state: &str,
        evaluation_id: Option<&str>,
        deferred_until: Option<&str>,
        code: Option<&str>,
        message: Option<&str>,
        genesys_total: Option<f64>,
    ) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE loads SET state = ?2, evaluation_id = coalesce(?3, evaluation_id), deferred_until = ?4,
             code = ?5, message = ?6, genesys_total = coalesce(?7, genesys_total), updated_at = ?8,
             attempts = attempts + CASE WHEN ?2 = 'sending' THEN 1 ELSE 0 END
             WHERE record_id = ?1",
            params![
                record_id,
                new_state,
                evaluation_id,
                deferred_until,
                code,
                message,
                genesys_total,
                now()
            ],
        )?;
        anyhow::ensure!(n == 1, "no load item for record {record_id}");
        Ok(())
    }

    /// Records one request attempt and its outcome.
    ///
    /// # Errors
    /// SQLite errors.
    #[allow(clippy::too_many_arguments)]
    pub fn record_attempt(
        &self,
        record_id: i64,
        started_at: &str,
        outcome: &str,
        status: Option<u16>,
        code: Option<&str>,
        message: Option<&str>,
        response: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO attempts (record_id, started_at, finished_at, outcome, status, code, message, response)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![record_id, started_at, now(), outcome, status, code, message, response],
        )?;
        Ok(())
    }

    /// Commits `sending` (with the send time on the migration's clock) before the request leaves.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_sending(&self, record_id: i64, sent_at_ms: i64) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE loads SET state = 'sending', sent_at = ?2, attempts = attempts + 1, code = NULL,
             message = NULL, deferred_until = NULL, updated_at = ?3 WHERE record_id = ?1",
            params![record_id, sent_at_ms, now()],
        )?;
        anyhow::ensure!(n == 1, "no load item for record {record_id}");
        Ok(())
    }

    /// Gives a load item a new idempotency key (the next generation, derived from the current key)
    /// and forgets its release date, after an attempt known to have created nothing. Returns the new
    /// key.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn next_key_generation(&self, record_id: i64) -> Result<String> {
        let (key, generation): (String, i64) = self.conn.query_row(
            "SELECT idempotency_key, key_generation FROM loads WHERE record_id = ?1",
            [record_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let base = uuid::Uuid::parse_str(&key).unwrap_or(uuid::Uuid::NAMESPACE_OID);
        let next = uuid::Uuid::new_v5(&base, format!("generation {}", generation + 1).as_bytes())
            .to_string();
        self.conn.execute(
            "UPDATE loads SET idempotency_key = ?2, key_generation = key_generation + 1,
             release_date = NULL, updated_at = ?3 WHERE record_id = ?1",
            params![record_id, next, now()],
        )?;
        Ok(next)
    }

    /// Records that the org answered `agent` with its cap: no create before `until_ms`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_agent_cap(
        &self,
        agent: &str,
        until_ms: i64,
        code: Option<&str>,
        limit_value: Option<i64>,
        message: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO agent_caps (agent_user_id, until_ms, code, limit_value, message, observed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![agent, until_ms, code, limit_value, message, now()],
        )?;
        Ok(())
    }

    /// Every agent the org answered with its cap, newest answer each.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn agent_caps(&self) -> Result<Vec<AgentCap>> {
        let mut stmt = self.conn.prepare(
            "SELECT agent_user_id, until_ms, code, limit_value FROM agent_caps ORDER BY agent_user_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AgentCap {
                    agent_user_id: r.get(0)?,
                    until_ms: r.get(1)?,
                    code: r.get(2)?,
                    limit_value: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Send times (ms) per agent of the items that count against the per-agent cap (created,
    /// sending, unknown) since `since_ms`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recent_sends(&self, since_ms: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT agent_user_id, sent_at FROM loads
             WHERE state IN ('created', 'sending', 'unknown') AND sent_at >= ?1 ORDER BY sent_at",
        )?;
        let rows = stmt
            .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The release date sent with an item: fixed at its first send, so every re-send (same
    /// `Idempotency-Key`) carries a byte-identical body.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn release_date(&self, record_id: i64, now: &str) -> Result<String> {
        self.conn.execute(
            "UPDATE loads SET release_date = ?2 WHERE record_id = ?1 AND release_date IS NULL",
            params![record_id, now],
        )?;
        Ok(self.conn.query_row(
            "SELECT release_date FROM loads WHERE record_id = ?1",
            [record_id],
            |r| r.get(0),
        )?)
    }

    /// Records whose evaluation was (or may have been) sent: record id → (evaluation id, locator).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn sent_records(&self) -> Result<HashMap<i64, (Option<String>, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.evaluation_id, r.locator FROM loads l JOIN records r ON r.id = l.record_id
             WHERE l.state IN ('created', 'sending', 'unknown')",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The sync view of every evaluation that exists in Genesys: record → (the record content it
    /// holds, conversation, agent, sync state).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn synced(&self) -> Result<HashMap<i64, SyncRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT record_id, synced_hash, conversation_id, agent_user_id, sync_state, edit_window_closed
             FROM loads WHERE state = 'created'",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    SyncRow {
                        synced_hash: r.get(1)?,
                        conversation_id: r.get(2)?,
                        agent_user_id: r.get(3)?,
                        sync_state: r.get(4)?,
                        edit_window_closed: r.get(5)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Sets the sync state of record `id`'s evaluation (`None`: in step with the source).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_sync(&self, id: i64, state: Option<&str>, note: Option<&str>) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE loads SET sync_state = ?2, sync_note = coalesce(?3, sync_note), updated_at = ?4
             WHERE record_id = ?1",
        )?
        .execute(params![id, state, note, now()])?;
        Ok(())
    }

    /// The `changedDate` Genesys gave our last write of record `id`'s evaluation.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_genesys_changed(&self, id: i64, changed: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE loads SET genesys_changed = ?2 WHERE record_id = ?1")?
            .execute(params![id, changed])?;
        Ok(())
    }

    /// Genesys' `createdDate` of record `id`'s evaluation (kept when `created` is none).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_genesys_created(&self, id: i64, created: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE loads SET genesys_created = coalesce(?2, genesys_created) WHERE record_id = ?1",
            )?
            .execute(params![id, created])?;
        Ok(())
    }

    /// Genesys refused a re-score or deletion of record `id`'s evaluation as past its edit window
    /// (or its date says so): listed (`flagged`) with `note`, and nothing is sent for it again.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn close_edit_window(&self, id: i64, note: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE loads SET edit_window_closed = coalesce(edit_window_closed, ?3), sync_state = 'flagged',
             sync_note = ?2, updated_at = ?3 WHERE record_id = ?1",
            params![id, note, now()],
        )?;
        Ok(())
    }

    /// Every created evaluation's window start: (Genesys `createdDate`, when it was sent in epoch
    /// ms, when Genesys said its window had closed).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn created_windows(&self) -> Result<Vec<WindowStart>> {
        let mut stmt = self.conn.prepare(
            "SELECT genesys_created, sent_at, edit_window_closed FROM loads WHERE state = 'created'",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The evaluations with a sync action to take or resolve: (record, evaluation id,
    /// conversation, sync state, the `changedDate` of our last write).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn sync_due(&self) -> Result<Vec<SyncDue>> {
        let mut stmt = self.conn.prepare(
            "SELECT record_id, evaluation_id, conversation_id, sync_state, genesys_changed, idempotency_key,
                    genesys_created, sent_at, edit_window_closed
             FROM loads
             WHERE state = 'created' AND evaluation_id IS NOT NULL
               AND sync_state IN ('update', 'updating', 'withdraw') ORDER BY record_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SyncDue {
                    record_id: r.get(0)?,
                    evaluation_id: r.get(1)?,
                    conversation_id: r.get(2)?,
                    sync_state: r.get(3)?,
                    genesys_changed: r.get(4)?,
                    idempotency_key: r.get(5)?,
                    genesys_created: r.get(6)?,
                    sent_at: r.get(7)?,
                    edit_window_closed: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// An update of record `id`'s evaluation was applied: Genesys holds the plan's content now.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_updated(
        &self,
        id: i64,
        changed: Option<&str>,
        total: Option<f64>,
        note: &str,
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "UPDATE loads SET sync_state = NULL, sync_note = ?2, genesys_changed = ?3,
             genesys_total = coalesce(?4, genesys_total),
             synced_hash = (SELECT record_hash FROM plans WHERE record_id = ?1), updated_at = ?5
             WHERE record_id = ?1",
            params![id, note, changed, total, now()],
        )?;
        tx.execute(
            "INSERT INTO genesys_writes (record_id, evaluation_id, action, at, note)
             SELECT record_id, evaluation_id, 'Update', ?2, ?3 FROM loads
             WHERE record_id = ?1 AND evaluation_id IS NOT NULL",
            params![id, now(), note],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sync counts: sync state → evaluations (`in_step` for none), and `withdrawn`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn sync_counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self.conn.prepare(
            "SELECT coalesce(sync_state, 'in_step'), count(*) FROM loads WHERE state = 'created' GROUP BY 1
             UNION ALL SELECT 'withdrawn', count(*) FROM loads WHERE state = 'withdrawn'",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .map(|x| x.map(|(k, v)| (k, u64::try_from(v).unwrap_or(0))))
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Evaluations in Genesys whose record the latest extract no longer has: (record, locator).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn withdrawn_in_source(&self) -> Result<Vec<(i64, String)>> {
        let Some(run) = self.latest_extract()? else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.locator FROM loads l JOIN records r ON r.id = l.record_id
             WHERE l.state = 'created' AND r.last_seen_run < ?1",
        )?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Load items planned and not yet created (planned, deferred, unknown, sending).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn unsent_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM loads WHERE state IN ('planned', 'deferred', 'unknown', 'sending')",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The people of the load items not yet created: (evaluator, agent, form name; `None` is the
    /// container form).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn unsent_people(&self) -> Result<Vec<ItemPeople>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.evaluator_user_id, l.agent_user_id, p.form_name
             FROM loads l LEFT JOIN plans p ON p.record_id = l.record_id WHERE l.state <> 'created'",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The load item of Calabrio evaluation `evaluation_id` (its identity), if it has one.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_item_of_evaluation(&self, evaluation_id: &str) -> Result<Option<LoadRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT l.record_id, l.state, l.idempotency_key, l.conversation_id, l.agent_user_id,
                        l.evaluation_id, l.deferred_until, l.sent_at
                 FROM loads l JOIN records r ON r.id = l.record_id
                 WHERE r.evaluation_id = ?1 ORDER BY r.last_seen_run DESC LIMIT 1",
                [evaluation_id],
                load_row,
            )
            .optional()?)
    }
}
