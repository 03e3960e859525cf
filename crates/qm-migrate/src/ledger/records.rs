//! The staged source records: staging (identity, content hash, raw text, canonical JSON or the read
//! error), the current extract, duplicates, the Calabrio API's completed days, the Calabrio forms.

use std::collections::HashMap;

use anyhow::Result;
use rusqlite::params;

#[allow(clippy::wildcard_imports)]
use super::*;

/// A record's identity: the Calabrio evaluation (source system and evaluation id), or, for a record
/// without a readable id, its position.
/// A source record with what staging it needs computed ahead (locator text, identity, canonical
/// JSON, sort date): the CPU part of `extract`, done off the thread that writes the ledger.
#[derive(Debug)]
pub struct StagedRecord {
    /// The record.
    pub rec: calabrio::SourceRecord,
    locator: String,
    identity: String,
    canonical: Option<String>,
    sort_at: Option<i64>,
}

impl StagedRecord {
    /// Prepares `rec` for [`Ledger::upsert_record`].
    ///
    /// # Errors
    /// The canonical evaluation cannot be serialised (not expected).
    pub fn new(rec: calabrio::SourceRecord) -> Result<Self> {
        let locator = rec.locator.to_string();
        let identity = record_identity(&rec, &locator);
        let canonical = match &rec.parsed {
            Ok(ev) => Some(serde_json::to_string(ev)?),
            Err(_) => None,
        };
        // What "newest" is decided by: the evaluation date, else the created date (epoch ms).
        let sort_at = rec.parsed.as_ref().ok().and_then(|ev| {
            ev.dates
                .evaluated_at_utc
                .or(ev.dates.created_at_utc)
                .map(|t| t.as_millisecond())
        });
        Ok(Self {
            rec,
            locator,
            identity,
            canonical,
            sort_at,
        })
    }
}

/// How a person is told which record this is: by what it is in Calabrio (`calabrio_one evaluation
/// 80017`), from its stored `identity`; a record without a readable evaluation id by its place.
pub fn record_name(identity: &str, locator: &str) -> String {
    let mut parts = identity.split('\u{1f}');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("evaluation"), Some(system), Some(id)) => format!("{system} evaluation {id}"),
        _ => format!("the record at {locator} (no readable evaluation id)"),
    }
}

fn record_identity(rec: &calabrio::SourceRecord, locator: &str) -> String {
    match &rec.parsed {
        Ok(ev) => format!(
            "evaluation\u{1f}{}\u{1f}{}",
            ev.source.system, ev.evaluation_id
        ),
        Err(_) => format!("position\u{1f}{}\u{1f}{locator}", rec.locator.file),
    }
}

/// Where a read of the latest extract's records has got to ([`Ledger::next_current_records`]).
#[derive(Debug, Clone)]
pub struct RecordCursor {
    run: Option<i64>,
    /// The (position, id) of the last record read.
    after: (i64, i64),
}

/// A staged record, as the planner reads it.
#[derive(Debug, Clone)]
pub struct RecordRow {
    /// Row id.
    pub id: i64,
    /// `file:line` or `file $[i]`.
    pub locator: String,
    /// Evaluation id, when readable.
    pub evaluation_id: Option<String>,
    /// Content hash.
    pub hash: String,
    /// Canonical JSON, when readable.
    pub canonical: Option<String>,
    /// The field of the read error.
    pub error_field: Option<String>,
    /// The read error.
    pub error: Option<String>,
    /// Order in the source.
    pub seq: i64,
}

impl Ledger {
    /// Stages one record. Returns `new`, `changed` or `unchanged`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn upsert_record(
        tx: &rusqlite::Transaction<'_>,
        staged: &StagedRecord,
        seq: i64,
        run: i64,
    ) -> Result<&'static str> {
        let StagedRecord {
            rec,
            locator,
            identity,
            canonical,
            sort_at,
        } = staged;
        // The copies of this evaluation staged before, and not yet met in this run: the same
        // content first (a re-sorted export), else the first one (its content changed).
        let mut copies: Vec<(i64, String, i64, i64)> = tx
            .prepare_cached(
                "SELECT id, hash, occurrence, last_seen_run FROM records WHERE identity = ?1
                 ORDER BY occurrence",
            )?
            .query_map([&identity], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let next_occurrence = copies.iter().map(|c| c.2).max().unwrap_or(0) + 1;
        copies.retain(|c| c.3 < run);
        if let Some((id, ..)) = copies.iter().find(|c| c.1 == rec.hash) {
            tx.prepare_cached(
                "UPDATE records SET last_seen_run = ?1, seq = ?2, file = ?3, locator = ?4, line = ?5,
                 json_path = ?6 WHERE id = ?7",
            )?
            .execute(params![
                run,
                seq,
                rec.locator.file,
                locator,
                rec.locator.line.map(|l| l as i64),
                rec.locator.json_path,
                id
            ])?;
            return Ok("unchanged");
        }
        let existing = copies.first().map(|c| c.0);
        let (evaluation_id, field, error) = match &rec.parsed {
            Ok(ev) => (Some(ev.evaluation_id.as_str()), None, None),
            Err(e) => (None, e.field.as_deref(), Some(e.message.as_str())),
        };
        match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE records SET hash = ?1, raw = ?2, canonical = ?3, error_field = ?4, error = ?5,
                     evaluation_id = ?6, seq = ?7, last_seen_run = ?8, line = ?9, json_path = ?10, sort_at = ?12,
                     file = ?13, locator = ?14
                     WHERE id = ?11",
                    params![
                        rec.hash,
                        rec.raw,
                        canonical,
                        field,
                        error,
                        evaluation_id,
                        seq,
                        run,
                        rec.locator.line.map(|l| l as i64),
                        rec.locator.json_path,
                        id,
                        sort_at,
                        rec.locator.file,
                        locator
                    ],
                )?;
                Ok("changed")
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO records (file, locator, line, json_path, evaluation_id, hash, raw, canonical,
                     error_field, error, seq, first_run, last_seen_run, sort_at, identity, occurrence)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15)",
                )?
                .execute(params![
                        rec.locator.file,
                        locator,
                        rec.locator.line.map(|l| l as i64),
                        rec.locator.json_path,
                        evaluation_id,
                        rec.hash,
                        rec.raw,
                        canonical,
                        field,
                        error,
                        seq,
                        run,
                        sort_at,
                        identity,
                        next_occurrence
                    ],
                )?;
                Ok("new")
            }
        }
    }

    /// The records of the latest extract, in source order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn current_records(&self) -> Result<Vec<RecordRow>> {
        let mut rows = Vec::new();
        self.scan_current_records(|r| {
            rows.push(r);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Calls `f` with each record of the latest extract, in source order, without holding them all.
    /// Records are read in chunks and no statement stays open while `f` runs, so `f` may write and
    /// its commits can checkpoint the WAL (a statement held open for a whole scan would let the WAL
    /// grow without bound).
    ///
    /// # Errors
    /// SQLite errors, or the first error of `f`.
    pub fn scan_current_records(&self, mut f: impl FnMut(RecordRow) -> Result<()>) -> Result<()> {
        let mut cursor = self.current_records_cursor()?;
        loop {
            let chunk = self.next_current_records(&mut cursor, 2000)?;
            if chunk.is_empty() {
                return Ok(());
            }
            for r in chunk {
                f(r)?;
            }
        }
    }

    /// A cursor at the start of the latest extract's records, for [`Self::next_current_records`]
    /// (the planner reads them chunk by chunk between its awaits).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn current_records_cursor(&self) -> Result<RecordCursor> {
        Ok(RecordCursor {
            run: self.latest_extract()?,
            after: (i64::MIN, i64::MIN),
        })
    }

    /// The next `limit` records of the latest extract after `cursor`, in source order (empty at
    /// the end). No statement stays open between calls.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn next_current_records(
        &self,
        cursor: &mut RecordCursor,
        limit: usize,
    ) -> Result<Vec<RecordRow>> {
        match cursor.run {
            Some(run) => self.current_records_after(run, &mut cursor.after, limit),
            None => Ok(Vec::new()),
        }
    }

    /// The next chunk of records of extract `run` after position `after` (moved to its last).
    fn current_records_after(
        &self,
        run: i64,
        after: &mut (i64, i64),
        limit: usize,
    ) -> Result<Vec<RecordRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, locator, evaluation_id, hash, canonical, error_field, error, seq
             FROM records WHERE last_seen_run = ?1 AND (seq > ?2 OR (seq = ?2 AND id > ?3))
             ORDER BY seq, id LIMIT ?4",
        )?;
        let chunk: Vec<RecordRow> = stmt
            .query_map(params![run, after.0, after.1, i64::try_from(limit)?], |r| {
                Ok(RecordRow {
                    id: r.get(0)?,
                    locator: r.get(1)?,
                    evaluation_id: r.get(2)?,
                    hash: r.get(3)?,
                    canonical: r.get(4)?,
                    error_field: r.get(5)?,
                    error: r.get(6)?,
                    seq: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(last) = chunk.last() {
            *after = (last.seq, last.id);
        }
        Ok(chunk)
    }

    /// Carries the records of `file` staged by earlier runs into run `run` (an API extract that
    /// resumes keeps the days it completed before), and returns the highest position used, so the
    /// new run numbers its records after them.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn carry_forward(&self, file: &str, run: i64) -> Result<i64> {
        // The records of the days this pass completed (all of them for days an older ledger
        // completed without saying in which run).
        self.conn.execute(
            "UPDATE records SET last_seen_run = ?2 WHERE file = ?1 AND last_seen_run < ?2
               AND (EXISTS (SELECT 1 FROM api_days WHERE source = ?1 AND run IS NULL)
                    OR last_seen_run IN (SELECT run FROM api_days WHERE source = ?1))",
            params![file, run],
        )?;
        self.conn.execute(
            "UPDATE api_days SET run = ?2 WHERE source = ?1",
            params![file, run],
        )?;
        Ok(self.conn.query_row(
            "SELECT coalesce(max(seq), 0) FROM records WHERE file = ?1",
            [file],
            |r| r.get(0),
        )?)
    }

    /// Records of the latest extract that another record of the same evaluation id supersedes
    /// (a later evaluation or created date; between equal dates, the copy staged first, so a
    /// re-sorted or re-split export does not move the disposition to another copy): loser → winner.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn superseded(&self) -> Result<HashMap<i64, i64>> {
        let Some(run) = self.latest_extract()? else {
            return Ok(HashMap::new());
        };
        let mut stmt = self.conn.prepare(
            "SELECT id, winner FROM (
                SELECT id, first_value(id) OVER (
                    PARTITION BY evaluation_id ORDER BY sort_at DESC, occurrence, id) AS winner
                FROM records WHERE last_seen_run = ?1 AND evaluation_id IS NOT NULL)
             WHERE id != winner",
        )?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The content hash of record `id`.
    ///
    /// # Errors
    /// SQLite errors (an unknown id included).
    pub fn hash_of(&self, id: i64) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("SELECT hash FROM records WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// How many records the latest extract holds.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn current_record_count(&self) -> Result<u64> {
        let Some(run) = self.latest_extract()? else {
            return Ok(0);
        };
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM records WHERE last_seen_run = ?1",
            [run],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The canonical JSON of record `id`, when it was readable.
    ///
    /// # Errors
    /// SQLite errors (an unknown id included).
    pub fn canonical_of(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT canonical FROM records WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// The locator of record `id`.
    ///
    /// # Errors
    /// SQLite errors (an unknown id included).
    pub fn locator_of(&self, id: i64) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("SELECT locator FROM records WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// The API refused what a record of `file` is about (`path`: one evaluation's path, or a
    /// contact's `…/eval/` prefix): the copies the previous extract staged under it are kept in run
    /// `run`, as a refusal is not a deletion. Returns how many were kept (none: the caller stages
    /// the record it has).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn hold_over(
        tx: &rusqlite::Transaction<'_>,
        file: &str,
        path: &str,
        run: i64,
    ) -> Result<usize> {
        Ok(tx.execute(
            "UPDATE records SET last_seen_run = ?3 WHERE file = ?1 AND last_seen_run < ?3
               AND last_seen_run = (SELECT max(last_seen_run) FROM records
                                    WHERE file = ?1 AND last_seen_run < ?3)
               AND (json_path = ?2
                    OR (substr(?2, -1) = '/' AND substr(json_path, 1, length(?2)) = ?2))",
            params![file, path, run],
        )?)
    }

    /// A pass over every contact day of `source` is complete: the next extract reads them all
    /// again.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn finish_api_pass(&self, source: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM api_days WHERE source = ?1", [source])?;
        Ok(())
    }

    /// Contact days of the API source `source` already extracted completely.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn completed_days(&self, source: &str) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT day FROM api_days WHERE source = ?1")?;
        let days = stmt
            .query_map([source], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(days)
    }

    /// Records that contact day `day` of `source` is complete (in the transaction that staged it).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn complete_day(
        tx: &rusqlite::Transaction<'_>,
        source: &str,
        day: &str,
        contacts: u64,
        records: u64,
        run: i64,
    ) -> Result<()> {
        tx.execute(
            "INSERT OR REPLACE INTO api_days (source, day, contacts, records, completed_at, run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                source,
                day,
                i64::try_from(contacts)?,
                i64::try_from(records)?,
                jiff::Timestamp::now().to_string(),
                run
            ],
        )?;
        Ok(())
    }

    /// Records staged by earlier extracts that the latest one no longer saw.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn stale_records(&self) -> Result<i64> {
        let Some(run) = self.latest_extract()? else {
            return Ok(0);
        };
        Ok(self.conn.query_row(
            "SELECT count(*) FROM records WHERE last_seen_run < ?1",
            [run],
            |r| r.get(0),
        )?)
    }

    /// Stores the Calabrio form definitions a source carries (JSON), replacing changed ones.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_calabrio_forms(&self, forms: &[(String, String)]) -> Result<usize> {
        let mut changed = 0;
        for (id, definition) in forms {
            let hash = crate::fsutil::sha256_hex(definition.as_bytes());
            changed += self.conn.execute(
                "INSERT INTO calabrio_forms (form_id, definition, hash, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (form_id) DO UPDATE SET definition = excluded.definition, hash = excluded.hash,
                   updated_at = excluded.updated_at WHERE calabrio_forms.hash <> excluded.hash",
                params![id, definition, hash, now()],
            )?;
        }
        Ok(changed)
    }

    /// The stored Calabrio form definitions (JSON) by form id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn calabrio_forms(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT form_id, definition FROM calabrio_forms")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(rows)
    }
}
