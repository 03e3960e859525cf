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
pub mod lease;
mod queries;
mod reports;

pub(crate) use channels::AGENT_KEY;
pub use channels::{AttemptRow, HistoryRow, ScorePoint, ScorecardDay};
pub use created::{CreatedItem, DriftRow};
pub use reports::{ExceptionData, MonthStats, ReportRow, RunSummary};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use qm_model::Disposition;
use rusqlite::{Connection, OptionalExtension, params};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    locator TEXT NOT NULL,
    line INTEGER,
    json_path TEXT,
    evaluation_id TEXT,
    hash TEXT NOT NULL,
    raw TEXT NOT NULL,
    canonical TEXT,
    error_field TEXT,
    error TEXT,
    seq INTEGER NOT NULL,
    first_run INTEGER NOT NULL,
    last_seen_run INTEGER NOT NULL,
    UNIQUE (file, locator)
);
CREATE INDEX records_evaluation ON records (evaluation_id);
CREATE TABLE directory (
    user_id TEXT PRIMARY KEY,
    name TEXT,
    email TEXT,
    username TEXT,
    state TEXT,
    fetched_at TEXT NOT NULL
);
CREATE TABLE plans (
    record_id INTEGER PRIMARY KEY REFERENCES records (id),
    disposition TEXT NOT NULL,
    reason TEXT NOT NULL,
    agent_user_id TEXT,
    evaluator_user_id TEXT,
    conversation_id TEXT,
    link_strategy TEXT,
    evaluated_at TEXT,
    date_basis TEXT,
    score REAL,
    method TEXT,
    predicted REAL,
    answers TEXT,
    planned_at TEXT NOT NULL
);
CREATE TABLE forms (
    name TEXT PRIMARY KEY,
    definition_hash TEXT NOT NULL,
    draft_id TEXT NOT NULL,
    published_id TEXT,
    context_id TEXT,
    id_map TEXT,
    provisioned_at TEXT NOT NULL
);
CREATE TABLE loads (
    record_id INTEGER PRIMARY KEY REFERENCES records (id),
    state TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    agent_user_id TEXT NOT NULL,
    evaluation_id TEXT,
    deferred_until TEXT,
    code TEXT,
    message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    genesys_total REAL,
    release_date TEXT,
    sent_at INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    record_id INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    status INTEGER,
    code TEXT,
    message TEXT,
    response TEXT
);
"#,
    r#"
CREATE TABLE api_days (
    source TEXT NOT NULL,
    day TEXT NOT NULL,
    contacts INTEGER NOT NULL,
    records INTEGER NOT NULL,
    completed_at TEXT NOT NULL,
    PRIMARY KEY (source, day)
);
"#,
    // Plan and status read the records of the latest extract in source order; the columns they
    // filter and sort on sit after the large raw and canonical texts, so without this index every
    // query walks every record's overflow pages.
    r#"
CREATE INDEX records_run_seq ON records (last_seen_run, seq);
"#,
    // The date that decides which version of a duplicated evaluation is the newest, and an index
    // that answers that question without reading any record (backfilled from the canonical JSON).
    r#"
ALTER TABLE records ADD COLUMN sort_at INTEGER;
UPDATE records SET sort_at = CAST(1000 * unixepoch(coalesce(
    json_extract(canonical, '$.dates.evaluated_at_utc'),
    json_extract(canonical, '$.dates.created_at_utc'))) AS INTEGER)
WHERE canonical IS NOT NULL;
CREATE INDEX records_newest ON records (last_seen_run, evaluation_id, sort_at, seq);
"#,
    r#"
ALTER TABLE plans ADD COLUMN agent_match TEXT;
ALTER TABLE plans ADD COLUMN link_detail TEXT;
"#,
    // The `match` strategy's analytics answers, by agent and interval: historical conversations do
    // not change, so a re-plan asks Genesys again only for what it has not asked before.
    r#"
ALTER TABLE directory ADD COLUMN employee_id TEXT;
CREATE TABLE match_cache (
    agent_user_id TEXT NOT NULL,
    interval TEXT NOT NULL,
    conversations TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (agent_user_id, interval)
);
"#,
    r#"
CREATE INDEX attempts_record ON attempts (record_id);
"#,
    // The scorecard channel: the metric definition, and one item per agent per day with its state
    // (`sent`, `unprocessed` with Genesys' code, or `outside_window`, never sent).
    r#"
CREATE TABLE metrics (
    name TEXT PRIMARY KEY,
    metric_id TEXT NOT NULL,
    provisioned_at TEXT NOT NULL
);
CREATE TABLE scorecard (
    agent_user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    metric_id TEXT NOT NULL,
    value REAL NOT NULL,
    count INTEGER NOT NULL,
    state TEXT NOT NULL,
    code TEXT,
    message TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (agent_user_id, day, metric_id)
);
"#,
    // The history site's page of each agent, so the report can link a record to its page.
    r#"
CREATE TABLE history_pages (
    agent_key TEXT PRIMARY KEY,
    page TEXT NOT NULL
);
"#,
    // Mirror mode: the Calabrio form definitions the source carries (API, tables), and the Genesys
    // form each planned evaluation goes onto (NULL: the container form).
    r#"
CREATE TABLE calabrio_forms (
    form_id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
ALTER TABLE plans ADD COLUMN form_name TEXT;
"#,
    // Every published version each of our forms has had: evaluations made on an older version of a
    // mirrored form stay ours after a new version is published.
    r#"
CREATE TABLE form_versions (
    name TEXT NOT NULL,
    published_id TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (name, published_id)
);
INSERT INTO form_versions (name, published_id, definition_hash, recorded_at)
SELECT name, published_id, definition_hash, datetime('now') FROM forms WHERE published_id IS NOT NULL;
"#,
    // Idempotency key generations: an attempt whose outcome is known to have created nothing (a cap
    // answer, a 409, a 429, a rejection) takes a new key for the next attempt, so a Genesys that
    // replays the first answer of a key cannot replay an old error for ever. And the per-agent cap
    // as the org answered it: no create for that agent before `until_ms`.
    r#"
ALTER TABLE loads ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE agent_caps (
    agent_user_id TEXT PRIMARY KEY,
    until_ms INTEGER NOT NULL,
    code TEXT,
    limit_value INTEGER,
    message TEXT,
    observed_at TEXT NOT NULL
);
"#,
    // The published version whose scoring the org's dry run confirmed (provision checks each new
    // version once, before the first create).
    r#"
ALTER TABLE forms ADD COLUMN scoring_checked TEXT;
"#,
    // A form this ledger found in Genesys rather than created (a lost ledger, a second ledger): its
    // evaluations are read in pages and ours adopted before anything is sent.
    r#"
ALTER TABLE forms ADD COLUMN found_in_genesys INTEGER NOT NULL DEFAULT 0;
ALTER TABLE forms ADD COLUMN adoption_done INTEGER NOT NULL DEFAULT 0;
"#,
    // A record is the Calabrio evaluation (source system + evaluation id), not its place in a file:
    // a re-sorted, re-split or shortened export finds the same records. `occurrence` tells apart
    // the copies one export holds of the same evaluation (duplicates, versions); a record without a
    // readable id keeps an identity by position. The table is rebuilt to drop UNIQUE (file,
    // locator): two runs may put two evaluations at one line.
    //
    // The sync: the record content (hash) each plan was made from and each Genesys evaluation holds,
    // the sync state of an evaluation whose source changed or went (`update`, `updating`,
    // `flagged`, `edited`, `withdraw`), and the `changedDate` Genesys gave our last write (another
    // one means someone edited it there).
    r#"
CREATE TABLE records_v2 (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    file TEXT NOT NULL,
    locator TEXT NOT NULL,
    line INTEGER,
    json_path TEXT,
    evaluation_id TEXT,
    hash TEXT NOT NULL,
    raw TEXT NOT NULL,
    canonical TEXT,
    error_field TEXT,
    error TEXT,
    seq INTEGER NOT NULL,
    first_run INTEGER NOT NULL,
    last_seen_run INTEGER NOT NULL,
    sort_at INTEGER
);
INSERT INTO records_v2 (id, identity, occurrence, file, locator, line, json_path, evaluation_id, hash, raw,
    canonical, error_field, error, seq, first_run, last_seen_run, sort_at)
SELECT id, identity, row_number() OVER (PARTITION BY identity ORDER BY id), file, locator, line, json_path,
    evaluation_id, hash, raw, canonical, error_field, error, seq, first_run, last_seen_run, sort_at
FROM (SELECT *, CASE WHEN evaluation_id IS NOT NULL
        THEN 'evaluation' || char(31) || coalesce(json_extract(canonical, '$.source.system'), 'calabrio_one')
             || char(31) || evaluation_id
        ELSE 'position' || char(31) || file || char(31) || locator END AS identity
      FROM records);
DROP TABLE records;
ALTER TABLE records_v2 RENAME TO records;
CREATE UNIQUE INDEX records_identity ON records (identity, occurrence);
CREATE INDEX records_evaluation ON records (evaluation_id);
CREATE INDEX records_run_seq ON records (last_seen_run, seq);
CREATE INDEX records_newest ON records (last_seen_run, evaluation_id, sort_at, occurrence);
ALTER TABLE plans ADD COLUMN record_hash TEXT;
ALTER TABLE loads ADD COLUMN synced_hash TEXT;
ALTER TABLE loads ADD COLUMN sync_state TEXT;
ALTER TABLE loads ADD COLUMN sync_note TEXT;
ALTER TABLE loads ADD COLUMN genesys_changed TEXT;
UPDATE loads SET synced_hash = (SELECT hash FROM records r WHERE r.id = loads.record_id)
WHERE state = 'created';
CREATE TRIGGER loads_created_holds_the_plan AFTER UPDATE OF state ON loads
WHEN NEW.state = 'created' AND OLD.state != 'created'
BEGIN
    UPDATE loads SET synced_hash = (SELECT record_hash FROM plans WHERE record_id = NEW.record_id),
        sync_state = NULL, sync_note = NULL, genesys_changed = NULL
    WHERE record_id = NEW.record_id;
END;
"#,
    // The extract run that completed each API contact day: a resumed extract carries forward
    // exactly the records of the days its pass completed, and a finished pass starts the next
    // extract afresh (every day read again, so edits and deletions in Calabrio are seen).
    r#"
ALTER TABLE api_days ADD COLUMN run INTEGER;
"#,
];

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

fn record_identity(rec: &calabrio::SourceRecord, locator: &str) -> String {
    match &rec.parsed {
        Ok(ev) => format!(
            "evaluation\u{1f}{}\u{1f}{}",
            ev.source.system, ev.evaluation_id
        ),
        Err(_) => format!("position\u{1f}{}\u{1f}{locator}", rec.locator.file),
    }
}

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
}

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
}

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

/// A non-`evaluation` record: (locator, evaluation id, disposition, reason).
pub type Exception = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// A provisioned form.
#[derive(Debug, Clone)]
pub struct FormRow {
    /// Name.
    pub name: String,
    /// Hash of the definition it was made from.
    pub definition_hash: String,
    /// First draft id.
    pub draft_id: String,
    /// Published version id.
    pub published_id: Option<String>,
    /// Context id.
    pub context_id: Option<String>,
    /// Logical id → published id (JSON object).
    pub id_map: Option<String>,
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

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl Ledger {
    /// Opens (creating with mode 0600) and migrates the ledger at `path`.
    ///
    /// # Errors
    /// I/O and SQLite errors, naming the file.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::fsutil::touch_private(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open ledger {}", path.display()))?;
        // A new ledger gets 16 KiB pages: a staged record (raw text and canonical JSON, about 2 KB)
        // fills half a 4 KiB page and leaves the rest empty; on 16 KiB pages seven fit, so the file
        // and every byte extract and plan write are about 40 % smaller. (An existing ledger keeps its
        // page size: it cannot change in WAL mode.)
        conn.pragma_update(None, "page_size", 16_384)
            .with_context(|| format!("{} is not a usable ledger", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            // 32 MB of page cache: plan and extract stream the records table twice.
            .and_then(|()| conn.pragma_update(None, "cache_size", -32_768))
            // Checkpoint every 64 MB of WAL rather than 4 MB: index and interior pages rewritten
            // between checkpoints are copied once, not many times (extract and plan write a lot).
            .and_then(|()| conn.pragma_update(None, "wal_autocheckpoint", 16_384))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(10)))
            .with_context(|| format!("{} is not a usable ledger", path.display()))?;
        let mut ledger = Ledger { conn };
        ledger
            .migrate()
            .with_context(|| format!("cannot migrate ledger {}", path.display()))?;
        Ok(ledger)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        anyhow::ensure!(
            version <= known,
            "the ledger was written by a newer qm-migrate (schema {version}, this one knows {known})"
        );
        // A migration may rebuild a table others refer to (SQLite's documented procedure): foreign
        // keys are off while it runs and checked after.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version)?)
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            anyhow::ensure!(
                broken == 0,
                "ledger migration {} left {broken} broken references",
                i + 1
            );
            tx.pragma_update(None, "user_version", i64::try_from(i + 1)?)?;
            tx.commit()?;
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

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

    /// Stores the Calabrio form definitions a source carries (JSON), replacing changed ones.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_calabrio_forms(&self, forms: &[(String, String)]) -> Result<usize> {
        let mut changed = 0;
        for (id, definition) in forms {
            let hash: String = <sha2::Sha256 as sha2::Digest>::digest(definition.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
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

    /// Runs `f`, a bulk write, inside the open transaction of `conn` with SQLite's per-row
    /// foreign-key checks off, then checks the references of `tables` once (`PRAGMA
    /// foreign_key_check`) before committing. Planning 200,000 records spent about a second
    /// looking up each plan's and load's record one row at a time (and keeping a statement journal
    /// for each insert so that a failed check could be undone); one check at the end gives the
    /// same guarantee: a broken reference fails the command and rolls back what `f` has not
    /// committed (`f` may commit as it goes; the check then names what it committed). The pragma
    /// only takes effect outside a transaction: the open one is committed first, and a new one is
    /// open when this returns `Ok`.
    ///
    /// # Errors
    /// The first error of `f`, SQLite errors, or a reference `f` left broken.
    pub fn bulk_checked_once<T>(
        &self,
        tables: &[&str],
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.conn
            .execute_batch("COMMIT; PRAGMA foreign_keys = OFF; BEGIN")?;
        let done = f().and_then(|t| {
            for table in tables {
                let broken: i64 = self.conn.query_row(
                    "SELECT count(*) FROM pragma_foreign_key_check(?1)",
                    [table],
                    |r| r.get(0),
                )?;
                anyhow::ensure!(
                    broken == 0,
                    "{broken} rows of {table} would refer to records that do not exist; nothing was written"
                );
            }
            Ok(t)
        });
        match done {
            Ok(t) => {
                // Back on, and a transaction open again as the caller had it.
                self.conn
                    .execute_batch("COMMIT; PRAGMA foreign_keys = ON; BEGIN")?;
                Ok(t)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                let _ = self.conn.execute_batch("PRAGMA foreign_keys = ON");
                Err(e)
            }
        }
    }

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

    /// Calls `f` with each record of the latest extract, in source order, without holding them all
    /// (the planner streams). Records are read in chunks and no statement stays open while `f`
    /// runs, so `f` may write and its commits can checkpoint the WAL (a statement held open for a
    /// whole scan would let the WAL grow without bound).
    ///
    /// # Errors
    /// SQLite errors, or the first error of `f`.
    pub fn scan_current_records(&self, mut f: impl FnMut(RecordRow) -> Result<()>) -> Result<()> {
        let Some(run) = self.latest_extract()? else {
            return Ok(());
        };
        let mut after = (i64::MIN, i64::MIN);
        loop {
            let chunk = self.current_records_after(run, &mut after, 2000)?;
            if chunk.is_empty() {
                return Ok(());
            }
            for r in chunk {
                f(r)?;
            }
        }
    }

    /// [`Self::scan_current_records`] with a step `prepare` that needs no ledger, run on a second
    /// thread one chunk ahead: while `f` writes the plans of one chunk, `prepare` works on the
    /// next. `f` gets each record with what `prepare` made of it, in source order.
    ///
    /// # Errors
    /// SQLite errors, or the first error of `f`.
    pub fn scan_current_records_prepared<T: Send>(
        &self,
        prepare: impl Fn(&RecordRow) -> T + Sync,
        mut f: impl FnMut(RecordRow, T) -> Result<()>,
    ) -> Result<()> {
        let Some(run) = self.latest_extract()? else {
            return Ok(());
        };
        let prepare = &prepare;
        std::thread::scope(|scope| {
            let (to_worker, chunks) = std::sync::mpsc::sync_channel::<Vec<RecordRow>>(1);
            let (prepared, from_worker) = std::sync::mpsc::sync_channel::<Vec<(RecordRow, T)>>(1);
            scope.spawn(move || {
                for chunk in chunks {
                    let out = chunk
                        .into_iter()
                        .map(|r| {
                            let t = prepare(&r);
                            (r, t)
                        })
                        .collect();
                    if prepared.send(out).is_err() {
                        return; // `f` failed: nobody is listening
                    }
                }
            });
            let mut after = (i64::MIN, i64::MIN);
            let mut in_flight = 0usize;
            loop {
                // Small chunks: three are alive at once (queued, prepared, written), each record
                // with its parsed evaluation and answers beside it.
                let chunk = self.current_records_after(run, &mut after, 500)?;
                let done = chunk.is_empty();
                if !done {
                    to_worker
                        .send(chunk)
                        .map_err(|_| anyhow::anyhow!("the planning thread stopped"))?;
                    in_flight += 1;
                }
                // One chunk stays with the worker while this thread writes the one before.
                while in_flight > usize::from(!done) {
                    let out = from_worker
                        .recv()
                        .map_err(|_| anyhow::anyhow!("the planning thread stopped"))?;
                    in_flight -= 1;
                    for (r, t) in out {
                        f(r, t)?;
                    }
                }
                if done {
                    return Ok(());
                }
            }
        })
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
            "SELECT record_id, synced_hash, conversation_id, agent_user_id, sync_state FROM loads
             WHERE state = 'created'",
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

    /// The evaluations with a sync action to take or resolve: (record, evaluation id,
    /// conversation, sync state, the `changedDate` of our last write).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn sync_due(&self) -> Result<Vec<SyncDue>> {
        let mut stmt = self.conn.prepare(
            "SELECT record_id, evaluation_id, conversation_id, sync_state, genesys_changed, idempotency_key
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
        self.conn.execute(
            "UPDATE loads SET sync_state = NULL, sync_note = ?2, genesys_changed = ?3,
             genesys_total = coalesce(?4, genesys_total),
             synced_hash = (SELECT record_hash FROM plans WHERE record_id = ?1), updated_at = ?5
             WHERE record_id = ?1",
            params![id, note, changed, total, now()],
        )?;
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

    /// Writes a plan row (in `tx`).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_plan(&self, p: &PlanRow) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO plans (record_id, disposition, reason, agent_user_id, evaluator_user_id,
             conversation_id, link_strategy, evaluated_at, date_basis, score, method, predicted, answers, planned_at,
             agent_match, link_detail, form_name, record_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
                p.record_hash
        ])?;
        Ok(())
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

    /// A record planned as an evaluation whose conversation check failed: it stays in the history
    /// with `reason`, and its answers and prediction are dropped.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn demote_to_history(&self, record_id: i64, reason: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET disposition = 'history', reason = ?2, answers = NULL, predicted = NULL, form_name = NULL
                 WHERE record_id = ?1",
            )?
            .execute(params![record_id, reason])?;
        Ok(())
    }

    /// Rewrites the reason and link detail of a record that stays in the history.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_link_outcome(&self, record_id: i64, reason: &str, detail: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE plans SET reason = ?2, link_detail = ?3 WHERE record_id = ?1")?
            .execute(params![record_id, reason, detail])?;
        Ok(())
    }

    /// Begins the transaction a bulk write (plan) commits in steps.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn begin_bulk(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
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

    /// Commits the bulk write.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn commit_bulk(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Abandons what the bulk write has not committed (best effort: on an error path).
    pub fn abandon_bulk(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
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

    /// Counts of current records by disposition (records without a plan count as `unplanned`).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn disposition_counts(&self) -> Result<Vec<(String, i64)>> {
        let run = self.latest_extract()?.unwrap_or(-1);
        let mut stmt = self.conn.prepare(
            "SELECT coalesce(p.disposition, 'unplanned'), count(*) FROM records r
             LEFT JOIN plans p ON p.record_id = r.id WHERE r.last_seen_run = ?1 GROUP BY 1",
        )?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
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
                 link_detail, form_name, record_hash
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
                    })
                },
            )
            .optional()?)
    }

    /// The provisioned form named `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn form(&self, name: &str) -> Result<Option<FormRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, definition_hash, draft_id, published_id, context_id, id_map FROM forms WHERE name = ?1",
                [name],
                |r| {
                    Ok(FormRow {
                        name: r.get(0)?,
                        definition_hash: r.get(1)?,
                        draft_id: r.get(2)?,
                        published_id: r.get(3)?,
                        context_id: r.get(4)?,
                        id_map: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a provisioned form.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_form(&self, f: &FormRow) -> Result<()> {
        if let Some(pid) = &f.published_id {
            self.conn.execute(
                "INSERT OR IGNORE INTO form_versions (name, published_id, definition_hash, recorded_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![f.name, pid, f.definition_hash, now()],
            )?;
        }
        // An upsert, not a replace: the row's other columns (checks, adoption) stay.
        self.conn.execute(
            "INSERT INTO forms (name, definition_hash, draft_id, published_id, context_id, id_map, provisioned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET definition_hash = excluded.definition_hash,
               draft_id = excluded.draft_id, published_id = excluded.published_id,
               context_id = excluded.context_id, id_map = excluded.id_map,
               provisioned_at = excluded.provisioned_at",
            params![
                f.name,
                f.definition_hash,
                f.draft_id,
                f.published_id,
                f.context_id,
                f.id_map,
                now()
            ],
        )?;
        Ok(())
    }

    /// The published version of form `name` whose scoring the org's dry run confirmed, if any.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn scoring_checked(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT scoring_checked FROM forms WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Records that the org's dry run confirmed the scoring of `published_id` of form `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_scoring_checked(&self, name: &str, published_id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE forms SET scoring_checked = ?2 WHERE name = ?1",
            params![name, published_id],
        )?;
        Ok(())
    }

    /// Marks form `name` as found in Genesys (not created by this ledger): `load` adopts our
    /// evaluations on it before sending anything.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_form_found(&self, name: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE forms SET found_in_genesys = 1, adoption_done = 0 WHERE name = ?1",
            [name],
        )?;
        Ok(())
    }

    /// Forms found in Genesys whose evaluations were not yet read for adoption: (name, context id).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forms_to_adopt_from(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, context_id FROM forms
             WHERE found_in_genesys = 1 AND adoption_done = 0 AND context_id IS NOT NULL",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records that the evaluations on form `name` were read and ours adopted.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_adoption_done(&self, name: &str) -> Result<()> {
        self.conn
            .execute("UPDATE forms SET adoption_done = 1 WHERE name = ?1", [name])?;
        Ok(())
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

    /// Non-`evaluation` plan rows with their locators, for `plan --exceptions`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn exceptions(&self) -> Result<Vec<Exception>> {
        let run = self.latest_extract()?.unwrap_or(-1);
        let mut stmt = self.conn.prepare(
            "SELECT r.locator, r.evaluation_id, p.disposition, p.reason, p.agent_match, p.link_detail
             FROM records r JOIN plans p ON p.record_id = r.id
             WHERE r.last_seen_run = ?1 AND p.disposition <> 'evaluation' ORDER BY r.seq",
        )?;
        let rows = stmt
            .query_map([run], |r| {
                Ok((
                    r.get(0)?,
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
}

#[cfg(test)]
mod tests {
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
