//! The plan: one row per record (disposition, reason, people, link, answers), the directory snapshot
//! and the `match` cache it is made from, and plan's bulk writes.

use anyhow::Result;
use qm_model::Disposition;
use rusqlite::{OptionalExtension, params};

#[allow(clippy::wildcard_imports)]
use super::*;

/// One plan row.
#[derive(Debug, Clone, Default)]
pub struct PlanRow {
    /// Record.
    pub record_id: i64,
    /// Disposition.
    pub disposition: Option<Disposition>,
    /// Human reason.
    pub reason: String,
    /// Genesys agent.
    pub agent_user_id: Option<String>,
    /// Genesys evaluator.
    pub evaluator_user_id: Option<String>,
    /// Linked conversation.
    pub conversation_id: Option<String>,
    /// `field` or `mapping`.
    pub link_strategy: Option<String>,
    /// Chosen evaluation date, RFC 3339.
    pub evaluated_at: Option<String>,
    /// `evaluated`, `created` or `contact_start`.
    pub date_basis: Option<String>,
    /// Normalised source score.
    pub score: Option<f64>,
    /// Normalisation method.
    pub method: Option<String>,
    /// Predicted Genesys total.
    pub predicted: Option<f64>,
    /// Answers with logical ids (JSON `ScoringSet`).
    pub answers: Option<String>,
    /// Which person key found the agent, or why none did.
    pub agent_match: Option<String>,
    /// Which link strategy found the conversation, or why none did (candidates included).
    pub link_detail: Option<String>,
    /// The Genesys form the answers are for (mirror mode); `None`: the container form.
    pub form_name: Option<String>,
    /// The record content (hash) this plan was made from.
    pub record_hash: Option<String>,
    /// Comments shortened to fit Genesys' limits (the full text is in the history).
    pub comments_shortened: i64,
    /// The linked conversation's start, as Genesys' analytics gave it (RFC 3339).
    pub conversation_start: Option<String>,
}

/// A non-`evaluation` record: (its name by Calabrio identity, locator, evaluation id,
/// disposition, reason, agent match, link).
pub type Exception = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl Ledger {
    /// Writes a plan row (in `tx`).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_plan(&self, p: &PlanRow) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO plans (record_id, disposition, reason, agent_user_id, evaluator_user_id,
             conversation_id, link_strategy, evaluated_at, date_basis, score, method, predicted, answers, planned_at,
             agent_match, link_detail, form_name, record_hash, comments_shortened, conversation_start)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )?
        .execute(params![
                p.record_id,
                p.disposition.map(|d| d.as_str()),
                p.reason,
                p.agent_user_id,
                p.evaluator_user_id,
                p.conversation_id,
                p.link_strategy,
                p.evaluated_at,
                p.date_basis,
                p.score,
                p.method,
                p.predicted,
                p.answers,
                now(),
                p.agent_match,
                p.link_detail,
                p.form_name,
                p.record_hash,
                p.comments_shortened,
                p.conversation_start
        ])?;
        Ok(())
    }

    /// The plan row of a record.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn plan(&self, record_id: i64) -> Result<Option<PlanRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT record_id, disposition, reason, agent_user_id, evaluator_user_id, conversation_id,
                 link_strategy, evaluated_at, date_basis, score, method, predicted, answers, agent_match,
                 link_detail, form_name, record_hash, comments_shortened, conversation_start
                 FROM plans WHERE record_id = ?1",
                [record_id],
                |r| {
                    let d: Option<String> = r.get(1)?;
                    Ok(PlanRow {
                        record_id: r.get(0)?,
                        disposition: d.as_deref().and_then(Disposition::parse),
                        reason: r.get(2)?,
                        agent_user_id: r.get(3)?,
                        evaluator_user_id: r.get(4)?,
                        conversation_id: r.get(5)?,
                        link_strategy: r.get(6)?,
                        evaluated_at: r.get(7)?,
                        date_basis: r.get(8)?,
                        score: r.get(9)?,
                        method: r.get(10)?,
                        predicted: r.get(11)?,
                        answers: r.get(12)?,
                        agent_match: r.get(13)?,
                        link_detail: r.get(14)?,
                        form_name: r.get(15)?,
                        record_hash: r.get(16)?,
                        comments_shortened: r.get(17)?,
                        conversation_start: r.get(18)?,
                    })
                },
            )
            .optional()?)
    }

    /// The Genesys form a record's plan answers on (mirror mode); `None`: the container form.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn plan_form_name(&self, record_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT form_name FROM plans WHERE record_id = ?1")?
            .query_row([record_id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The mirrored forms the current plans use.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn planned_form_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT p.form_name FROM plans p JOIN records r ON r.id = p.record_id
             WHERE p.form_name IS NOT NULL AND p.disposition = 'evaluation'
               AND r.last_seen_run = (SELECT max(last_seen_run) FROM records) ORDER BY 1",
        )?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Counts by disposition of the records accounted for (records without a plan count as
    /// `unplanned`): those of the latest extract, and those that left the source whose evaluation
    /// is still in Genesys (they keep the disposition they had; see [`Self::left_source_count`]).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn disposition_counts(&self) -> Result<Vec<(String, i64)>> {
        let run = self.latest_extract()?.unwrap_or(-1);
        let mut stmt = self.conn.prepare(&format!(
            "SELECT coalesce(p.disposition, 'unplanned'), count(*) FROM records r
             LEFT JOIN plans p ON p.record_id = r.id WHERE {ACCOUNTED} GROUP BY 1"
        ))?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records that left the source (not in the latest extract) whose evaluation is still in
    /// Genesys (or may be): they are still accounted for, under the disposition they had.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn left_source_count(&self) -> Result<u64> {
        let Some(run) = self.latest_extract()? else {
            return Ok(0);
        };
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM records r JOIN loads l ON l.record_id = r.id
             WHERE r.last_seen_run < ?1 AND l.state IN ('created', 'sending', 'unknown')",
            [run],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The cached analytics answer for `agent` over `interval` (JSON conversations).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn match_cache(&self, agent: &str, interval: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT conversations FROM match_cache WHERE agent_user_id = ?1 AND interval = ?2",
            )?
            .query_row([agent, interval], |r| r.get(0))
            .optional()?)
    }

    /// Keeps an analytics answer for the next plan.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_match_cache(&self, agent: &str, interval: &str, json: &str) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO match_cache (agent_user_id, interval, conversations, fetched_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![agent, interval, json, now()])?;
        Ok(())
    }

    /// Replaces the directory snapshot.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn replace_directory(&mut self, users: &[genesys::models::User]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM directory", [])?;
        let at = now();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO directory (user_id, name, email, username, state, fetched_at, employee_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for u in users {
                let employee = u
                    .employer_info
                    .as_ref()
                    .and_then(|e| e.employee_id.as_ref());
                stmt.execute(params![
                    u.id, u.name, u.email, u.username, u.state, at, employee
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The directory snapshot.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn directory(&self) -> Result<Vec<genesys::models::User>> {
        let mut stmt = self.conn.prepare(
            "SELECT user_id, name, email, username, state, employee_id FROM directory ORDER BY user_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let employee: Option<String> = r.get(5)?;
                Ok(genesys::models::User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    username: r.get(3)?,
                    state: r.get(4)?,
                    employer_info: employee.map(|e| genesys::models::EmployerInfo {
                        employee_id: Some(e),
                    }),
                    ..genesys::models::User::default()
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Non-`evaluation` plan rows with their locators, for `plan --exceptions`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn exceptions(&self) -> Result<Vec<Exception>> {
        let run = self.latest_extract()?.unwrap_or(-1);
        let mut stmt = self.conn.prepare(
            "SELECT r.locator, r.evaluation_id, p.disposition, p.reason, p.agent_match, p.link_detail,
                    r.identity
             FROM records r JOIN plans p ON p.record_id = r.id
             WHERE r.last_seen_run = ?1 AND p.disposition <> 'evaluation' ORDER BY r.seq",
        )?;
        let rows = stmt
            .query_map([run], |r| {
                let locator: String = r.get(0)?;
                let identity: String = r.get(6)?;
                Ok((
                    super::record_name(&identity, &locator),
                    locator,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Begins a bulk write (plan's): a transaction committed in steps, with SQLite's per-row
    /// foreign-key checks off until [`Self::commit_bulk`] checks the references once. Planning
    /// 200,000 records spent about a second looking up each plan's and load's record one row at a
    /// time (and keeping a statement journal for each insert so that a failed check could be
    /// undone); one check at the end gives the same guarantee: a broken reference fails the
    /// command. (The pragma only takes effect outside a transaction, so it comes first.)
    ///
    /// # Errors
    /// SQLite errors.
    pub fn begin_bulk(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF; BEGIN")?;
        Ok(())
    }

    /// Commits what the bulk write has done so far and goes on in a new transaction (so the WAL
    /// can be checkpointed).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn commit_bulk_step(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT; BEGIN")?;
        Ok(())
    }

    /// Checks the references of `tables` (`PRAGMA foreign_key_check`), then commits the bulk
    /// write and turns the per-row checks back on. A broken reference rolls back what was not yet
    /// committed and fails, naming the table.
    ///
    /// # Errors
    /// SQLite errors, or a reference the bulk write left broken.
    pub fn commit_bulk(&self, tables: &[&str]) -> Result<()> {
        let checked = tables.iter().try_for_each(|table| {
            let broken: i64 = self.conn.query_row(
                "SELECT count(*) FROM pragma_foreign_key_check(?1)",
                [table],
                |r| r.get(0),
            )?;
            anyhow::ensure!(
                broken == 0,
                "{broken} rows of {table} would refer to records that do not exist; nothing more was written"
            );
            Ok(())
        });
        if let Err(e) = checked {
            self.abandon_bulk();
            return Err(e);
        }
        self.conn
            .execute_batch("COMMIT; PRAGMA foreign_keys = ON")?;
        Ok(())
    }

    /// Abandons what the bulk write has not committed and turns the per-row foreign-key checks
    /// back on (best effort: on an error path).
    pub fn abandon_bulk(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
        let _ = self.conn.execute_batch("PRAGMA foreign_keys = ON");
    }
}
