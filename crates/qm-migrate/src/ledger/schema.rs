//! The schema: numbered migrations applied through `PRAGMA user_version`, and opening a ledger
//! (mode 0600, WAL, foreign keys).

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::Connection;

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const MIGRATIONS: &[&str] = &[
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
    // Genesys' published rules (#24): how many of a plan's comments were shortened to fit Genesys'
    // limits (the full text stays in the history), each evaluation's `createdDate` as Genesys gave
    // it (its 90-day edit window starts then), and when Genesys said an evaluation was past that
    // window (a refused re-score or deletion), so nothing is sent for it again.
    r#"
ALTER TABLE plans ADD COLUMN comments_shortened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN genesys_created TEXT;
ALTER TABLE loads ADD COLUMN edit_window_closed TEXT;
"#,
    // The timeline Genesys shows (#25): the start of the conversation each evaluation is linked to,
    // as plan read it, so verify can expect each agent-month by conversation date.
    r#"
ALTER TABLE plans ADD COLUMN conversation_start TEXT;
"#,
    // Evidence (#27): every write this tool made to a Genesys evaluation — `Create`, `Update`,
    // `Delete` — with its time, so `verify` can match them one by one with Genesys' own audit trail.
    // A create is logged by the trigger whatever path made the item `created` (a load, an adopted
    // lost answer); updates and deletions where they are applied. Older ledgers are backfilled from
    // what they hold: created and withdrawn items, and rollback's deletions.
    r#"
CREATE TABLE genesys_writes (
    id INTEGER PRIMARY KEY,
    record_id INTEGER NOT NULL,
    evaluation_id TEXT NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT
);
CREATE UNIQUE INDEX genesys_writes_once ON genesys_writes (evaluation_id, action) WHERE action <> 'Update';
INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
SELECT record_id, evaluation_id, 'Create', updated_at, 'from the ledger before the write log'
FROM loads WHERE state IN ('created', 'withdrawn') AND evaluation_id IS NOT NULL;
INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
SELECT record_id, evaluation_id, 'Delete', updated_at, 'from the ledger before the write log'
FROM loads WHERE state = 'withdrawn' AND evaluation_id IS NOT NULL AND message LIKE 'deleted from Genesys%';
INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
SELECT record_id, substr(message, 12), 'Create', started_at, 'from the ledger before the write log'
FROM attempts WHERE outcome = 'deleted by rollback' AND message LIKE 'evaluation %';
INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at, note)
SELECT record_id, substr(message, 12), 'Delete', started_at, 'deleted by rollback'
FROM attempts WHERE outcome = 'deleted by rollback' AND message LIKE 'evaluation %';
CREATE TRIGGER loads_created_is_a_write AFTER UPDATE OF state ON loads
WHEN NEW.state = 'created' AND OLD.state != 'created' AND NEW.evaluation_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO genesys_writes (record_id, evaluation_id, action, at)
    VALUES (NEW.record_id, NEW.evaluation_id, 'Create', NEW.updated_at);
END;
"#,
];

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
}
