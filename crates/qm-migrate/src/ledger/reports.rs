//! The statements of the report: every record with its outcome, the monthly reconciliation, the
//! score distribution, the exceptions, the last verify and the last runs.

use std::collections::BTreeMap;

use anyhow::Result;
use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use super::{ACCOUNTED, AGENT_KEY, Ledger};

/// One record in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// The record, by what it is in Calabrio (`calabrio_one evaluation 80017`).
    pub record: String,
    /// Where it was last seen: file and line (or JSON path, or API URL).
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

/// One month of the reconciliation (by evaluation date, else the record's sort date).
#[derive(Debug, Clone)]
pub struct MonthStats {
    /// `YYYY-MM`, or none for records without any date.
    pub month: Option<String>,
    /// Records.
    pub records: u64,
    /// Planned as evaluations.
    pub evaluations: u64,
    /// Created in Genesys.
    pub created: u64,
    /// Mean normalised score of every record.
    pub source_mean: Option<f64>,
    /// Mean normalised score of the created ones.
    pub migrated_mean: Option<f64>,
    /// Mean Genesys total of the created ones.
    pub genesys_mean: Option<f64>,
}

/// A record that did not become a created evaluation (yet), for the report's exceptions.
#[derive(Debug, Clone)]
pub struct ExceptionData {
    /// The record, by what it is in Calabrio (`calabrio_one evaluation 80017`).
    pub name: String,
    /// Where it stood in the source.
    pub locator: String,
    /// Calabrio evaluation id.
    pub evaluation_id: Option<String>,
    /// Disposition (`unplanned` if none).
    pub disposition: String,
    /// Reason.
    pub reason: String,
    /// Load state.
    pub state: Option<String>,
    /// Genesys' code.
    pub code: Option<String>,
    /// Genesys' message.
    pub message: Option<String>,
    /// The agent's history page, relative to the history site.
    pub page: Option<String>,
}

/// The last run of a command.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// Command.
    pub command: String,
    /// Started (RFC 3339).
    pub started: String,
    /// Finished, or `(did not finish)`.
    pub finished: String,
}

/// What counts as an exception: not an evaluation, or an evaluation not (yet) created.
const EXCEPTION: &str = "(p.disposition IS NULL OR p.disposition <> 'evaluation'
               OR l.state IN ('rejected', 'unknown', 'deferred', 'planned', 'sending'))";

impl Ledger {
    /// Every record of extract `run`, in source order, with its outcome.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn report_rows(&self, run: i64) -> Result<Vec<ReportRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.locator, r.evaluation_id, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                    p.agent_user_id, p.conversation_id, p.score, l.state, l.evaluation_id, r.identity
             FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
             WHERE {ACCOUNTED} ORDER BY r.last_seen_run < ?1, r.seq, r.id"
        ))?;
        let rows = stmt
            .query_map([run], |r| {
                let source: String = r.get(0)?;
                let identity: String = r.get(9)?;
                Ok(ReportRow {
                    record: super::record_name(&identity, &source),
                    source,
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

    /// The records of extract `run` per month: source against Genesys.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn month_stats(&self, run: i64) -> Result<Vec<MonthStats>> {
        let mut stmt = self.conn.prepare(
            "SELECT coalesce(substr(p.evaluated_at, 1, 7), strftime('%Y-%m', r.sort_at / 1000, 'unixepoch')) AS m,
                    count(*), sum(p.disposition = 'evaluation'), sum(l.state = 'created'),
                    avg(p.score), avg(CASE WHEN l.state = 'created' THEN p.score END),
                    avg(CASE WHEN l.state = 'created' THEN l.genesys_total END)
             FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
             WHERE r.last_seen_run = ?1 GROUP BY m ORDER BY m",
        )?;
        let count = |n: Option<i64>| u64::try_from(n.unwrap_or(0)).unwrap_or(0);
        let rows = stmt
            .query_map([run], |r| {
                Ok(MonthStats {
                    month: r.get(0)?,
                    records: count(r.get(1)?),
                    evaluations: count(r.get(2)?),
                    created: count(r.get(3)?),
                    source_mean: r.get(4)?,
                    migrated_mean: r.get(5)?,
                    genesys_mean: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The evaluations created in Genesys, counted per month three ways: by the Calabrio evaluation
    /// date, by the conversation's start (what Genesys' views show when asked by conversation date)
    /// and by Genesys' creation date (what its default views count). `YYYY-MM` → the three counts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn timelines(&self) -> Result<BTreeMap<String, [u64; 3]>> {
        let mut out: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        let queries = [
            "SELECT substr(p.evaluated_at, 1, 7), count(*) FROM loads l JOIN plans p ON p.record_id = l.record_id
             WHERE l.state = 'created' AND p.evaluated_at IS NOT NULL GROUP BY 1",
            "SELECT substr(p.conversation_start, 1, 7), count(*) FROM loads l JOIN plans p ON p.record_id = l.record_id
             WHERE l.state = 'created' AND p.conversation_start IS NOT NULL GROUP BY 1",
            "SELECT coalesce(substr(l.genesys_created, 1, 7), strftime('%Y-%m', l.sent_at / 1000, 'unixepoch')), count(*)
             FROM loads l WHERE l.state = 'created' AND coalesce(l.genesys_created, l.sent_at) IS NOT NULL GROUP BY 1",
        ];
        for (i, sql) in queries.iter().enumerate() {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (month, n) in rows {
                out.entry(month).or_default()[i] += u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// For each planned record of extract `run`: the total as Calabrio gave it and the normalised
    /// score.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn score_pairs(&self, run: i64) -> Result<Vec<(Option<f64>, Option<f64>)>> {
        let mut stmt = self.conn.prepare(
            "SELECT json_extract(r.canonical, '$.score.total'), p.score
             FROM records r JOIN plans p ON p.record_id = r.id
             WHERE r.last_seen_run = ?1 AND (p.score IS NOT NULL OR json_extract(r.canonical, '$.score.total') IS NOT NULL)",
        )?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many records of extract `run` are exceptions.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn exception_count(&self, run: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM records r LEFT JOIN plans p ON p.record_id = r.id
                 LEFT JOIN loads l ON l.record_id = r.id WHERE r.last_seen_run = ?1 AND {EXCEPTION}"
            ),
            [run],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The first `limit` exceptions of extract `run`, in source order, with their agent's history
    /// page.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn report_exceptions(&self, run: i64, limit: usize) -> Result<Vec<ExceptionData>> {
        let sql = format!(
            "SELECT r.locator, r.evaluation_id, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                    l.state, l.code, l.message, (SELECT page FROM history_pages h WHERE h.agent_key = {AGENT_KEY}),
                    r.identity
             FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
             WHERE r.last_seen_run = ?1 AND {EXCEPTION}
             ORDER BY r.seq, r.id LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![run, i64::try_from(limit)?], |r| {
                let locator: String = r.get(0)?;
                let identity: String = r.get(8)?;
                Ok(ExceptionData {
                    name: super::record_name(&identity, &locator),
                    locator,
                    evaluation_id: r.get(1)?,
                    disposition: r.get(2)?,
                    reason: r.get(3)?,
                    state: r.get(4)?,
                    code: r.get(5)?,
                    message: r.get(6)?,
                    page: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Of extract `run`'s evaluation records: how many had comments shortened to fit Genesys'
    /// limits, and how many comments that was.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn shortened_comments(&self, run: i64) -> Result<(u64, u64)> {
        let (records, comments): (i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), sum(p.comments_shortened) FROM records r JOIN plans p ON p.record_id = r.id
             WHERE r.last_seen_run = ?1 AND p.disposition = 'evaluation' AND p.comments_shortened > 0",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            u64::try_from(records).unwrap_or(0),
            u64::try_from(comments.unwrap_or(0)).unwrap_or(0),
        ))
    }

    /// The last `verify` as it recorded itself: (finished at, summary JSON).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_verify(&self) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT finished_at, summary FROM runs WHERE command = 'verify' AND summary IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The last run of each command, in run order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_runs(&self) -> Result<Vec<RunSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, command, started_at, coalesce(finished_at, '(did not finish)') FROM runs
             WHERE id IN (SELECT max(id) FROM runs GROUP BY command) ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    started: r.get(2)?,
                    finished: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
