//! The statements of the history and scorecard channels: metric ids, the agent-days sent to the
//! scorecard, the points the scorecard is built from.

use anyhow::Result;
use rusqlite::params;

use super::{ACCOUNTED, Ledger};

/// One scorecard point: a planned record with an agent, a score and a date.
#[derive(Debug, Clone)]
pub struct ScorePoint {
    /// Genesys agent.
    pub agent_user_id: String,
    /// When it was evaluated (RFC 3339).
    pub evaluated_at: String,
    /// The normalised total.
    pub score: f64,
    /// The canonical evaluation (for the section scores).
    pub canonical: Option<String>,
}

/// What the scorecard table holds for one agent-day of one metric.
#[derive(Debug, Clone)]
pub struct ScorecardDay<'a> {
    /// Genesys agent.
    pub agent_user_id: &'a str,
    /// The day (`YYYY-MM-DD`).
    pub day: &'a str,
    /// External metric id.
    pub metric_id: &'a str,
    /// The day's mean.
    pub value: f64,
    /// Evaluations that day.
    pub count: i64,
    /// `sent`, `unprocessed` or `outside_window`.
    pub state: &'a str,
    /// Genesys' code, when refused.
    pub code: Option<&'a str>,
    /// Why.
    pub message: Option<&'a str>,
}

impl Ledger {
    /// Remembers the Genesys id of the external metric `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_metric(&self, name: &str, metric_id: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO metrics (name, metric_id, provisioned_at) VALUES (?1, ?2, ?3)",
            params![name, metric_id, jiff::Timestamp::now().to_string()],
        )?;
        Ok(())
    }

    /// The Genesys id of the external metric `name`, once provisioned.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn metric_id(&self, name: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn
            .query_row(
                "SELECT metric_id FROM metrics WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The scorecard points of extract `run`: records planned as `evaluation` or `history` with an
    /// agent, a score and a date.
    ///
    /// # Errors
    /// SQLite errors, or the first error of `f`.
    pub fn scan_score_points(
        &self,
        run: i64,
        mut f: impl FnMut(ScorePoint) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT p.agent_user_id, p.evaluated_at, p.score, r.canonical FROM plans p JOIN records r ON r.id = p.record_id
             WHERE r.last_seen_run = ?1 AND p.disposition IN ('evaluation', 'history')
               AND p.agent_user_id IS NOT NULL AND p.score IS NOT NULL AND p.evaluated_at IS NOT NULL",
        )?;
        let mut rows = stmt.query([run])?;
        while let Some(r) = rows.next()? {
            f(ScorePoint {
                agent_user_id: r.get(0)?,
                evaluated_at: r.get(1)?,
                score: r.get(2)?,
                canonical: r.get(3)?,
            })?;
        }
        Ok(())
    }

    /// What was last recorded for one agent-day of one metric: (value, count, state).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn scorecard_day(
        &self,
        agent_user_id: &str,
        day: &str,
        metric_id: &str,
    ) -> Result<Option<(f64, i64, String)>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn
            .query_row(
                "SELECT value, count, state FROM scorecard WHERE agent_user_id = ?1 AND day = ?2 AND metric_id = ?3",
                params![agent_user_id, day, metric_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Records what became of one agent-day of one metric.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_scorecard_day(&self, d: &ScorecardDay<'_>) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO scorecard (agent_user_id, day, metric_id, value, count, state, code, message, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.agent_user_id,
                d.day,
                d.metric_id,
                d.value,
                d.count,
                d.state,
                d.code,
                d.message,
                jiff::Timestamp::now().to_string()
            ],
        )?;
        Ok(())
    }
}

/// The SQL expression that groups a record (`r`, with its plan `p`) under its agent: the history
/// site has one page per value, and the report links to it.
pub(crate) const AGENT_KEY: &str = "coalesce('calabrio:' || coalesce(
        json_extract(r.canonical, '$.agent.calabrio_person_id'),
        lower(json_extract(r.canonical, '$.agent.email')),
        lower(json_extract(r.canonical, '$.agent.username')),
        json_extract(r.canonical, '$.agent.key'),
        json_extract(r.canonical, '$.agent.display_name')),
    'genesys:' || p.agent_user_id, 'unreadable')";

/// One record with its plan and load item, as the history shows it.
#[derive(Debug, Clone, Default)]
pub struct HistoryRow {
    /// The agent it is grouped under ([`AGENT_KEY`]).
    pub agent_key: String,
    /// Record id.
    pub record_id: i64,
    /// Where it stood in the source.
    pub locator: String,
    /// Calabrio evaluation id.
    pub evaluation_id: Option<String>,
    /// SHA-256 of the raw text.
    pub hash: String,
    /// The raw text.
    pub raw: String,
    /// The canonical evaluation (JSON).
    pub canonical: Option<String>,
    /// The field of the read error.
    pub error_field: Option<String>,
    /// The read error.
    pub error: Option<String>,
    /// Disposition.
    pub disposition: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Genesys agent.
    pub agent_user_id: Option<String>,
    /// Genesys evaluator.
    pub evaluator_user_id: Option<String>,
    /// Linked conversation.
    pub conversation_id: Option<String>,
    /// How it was linked.
    pub link_strategy: Option<String>,
    /// The date used.
    pub evaluated_at: Option<String>,
    /// Which date that is.
    pub date_basis: Option<String>,
    /// Normalised total.
    pub score: Option<f64>,
    /// Scoring method.
    pub method: Option<String>,
    /// The total Genesys is expected to compute.
    pub predicted: Option<f64>,
    /// How the agent was matched.
    pub agent_match: Option<String>,
    /// What the link strategies found.
    pub link_detail: Option<String>,
    /// Load state.
    pub load_state: Option<String>,
    /// Genesys evaluation id.
    pub genesys_evaluation_id: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// When it was sent (epoch ms).
    pub sent_at: Option<i64>,
    /// Release date sent.
    pub release_date: Option<String>,
    /// The total Genesys computed.
    pub genesys_total: Option<f64>,
    /// Genesys' error code.
    pub code: Option<String>,
    /// Genesys' message.
    pub message: Option<String>,
    /// The record by its Calabrio identity (`calabrio_one evaluation 80017`).
    pub name: String,
    /// Comments shortened to fit Genesys' limits (the full text is in `canonical`).
    pub comments_shortened: i64,
}

/// One HTTP attempt made for a record.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// Started (RFC 3339).
    pub started_at: Option<String>,
    /// Finished.
    pub finished_at: Option<String>,
    /// What came of it.
    pub outcome: Option<String>,
    /// HTTP status.
    pub status: Option<i64>,
    /// Genesys' code.
    pub code: Option<String>,
    /// Genesys' message.
    pub message: Option<String>,
    /// The response body.
    pub response: Option<String>,
}

impl Ledger {
    /// Every record of extract `run` with its plan and load item, grouped by agent and in date
    /// order within the agent. The statement stays open while `f` runs (`f` may write).
    ///
    /// # Errors
    /// SQLite errors, or the first error of `f`.
    pub fn scan_history(
        &self,
        run: i64,
        mut f: impl FnMut(HistoryRow) -> Result<()>,
    ) -> Result<()> {
        let sql = format!(
            "SELECT {AGENT_KEY} AS agent_key, r.id, r.locator, r.evaluation_id, r.hash, r.raw, r.canonical,
                    r.error_field, r.error, p.disposition, p.reason, p.agent_user_id, p.evaluator_user_id,
                    p.conversation_id, p.link_strategy, p.evaluated_at, p.date_basis, p.score, p.method,
                    p.predicted, p.agent_match, p.link_detail, l.state, l.evaluation_id, l.idempotency_key,
                    l.sent_at, l.release_date, l.genesys_total, l.code, l.message, r.identity,
                    coalesce(p.comments_shortened, 0)
             FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
             WHERE {ACCOUNTED} ORDER BY agent_key, r.sort_at, r.seq, r.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params![run])?;
        while let Some(r) = rows.next()? {
            let locator: String = r.get(2)?;
            let identity: String = r.get(30)?;
            f(HistoryRow {
                name: super::record_name(&identity, &locator),
                comments_shortened: r.get(31)?,
                agent_key: r.get(0)?,
                record_id: r.get(1)?,
                locator: r.get(2)?,
                evaluation_id: r.get(3)?,
                hash: r.get(4)?,
                raw: r.get(5)?,
                canonical: r.get(6)?,
                error_field: r.get(7)?,
                error: r.get(8)?,
                disposition: r.get(9)?,
                reason: r.get(10)?,
                agent_user_id: r.get(11)?,
                evaluator_user_id: r.get(12)?,
                conversation_id: r.get(13)?,
                link_strategy: r.get(14)?,
                evaluated_at: r.get(15)?,
                date_basis: r.get(16)?,
                score: r.get(17)?,
                method: r.get(18)?,
                predicted: r.get(19)?,
                agent_match: r.get(20)?,
                link_detail: r.get(21)?,
                load_state: r.get(22)?,
                genesys_evaluation_id: r.get(23)?,
                idempotency_key: r.get(24)?,
                sent_at: r.get(25)?,
                release_date: r.get(26)?,
                genesys_total: r.get(27)?,
                code: r.get(28)?,
                message: r.get(29)?,
            })?;
        }
        Ok(())
    }

    /// The HTTP attempts made for record `record_id`, in order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn attempts_of(&self, record_id: i64) -> Result<Vec<AttemptRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_at, finished_at, outcome, status, code, message, response
             FROM attempts WHERE record_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([record_id], |a| {
                Ok(AttemptRow {
                    started_at: a.get(0)?,
                    finished_at: a.get(1)?,
                    outcome: a.get(2)?,
                    status: a.get(3)?,
                    code: a.get(4)?,
                    message: a.get(5)?,
                    response: a.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Forgets the history pages (the history is being written again).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn clear_history_pages(&self) -> Result<()> {
        self.conn.execute("DELETE FROM history_pages", [])?;
        Ok(())
    }

    /// Remembers the history page of agent `agent_key`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_history_page(&self, agent_key: &str, page: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO history_pages (agent_key, page) VALUES (?1, ?2)",
            params![agent_key, page],
        )?;
        Ok(())
    }
}
