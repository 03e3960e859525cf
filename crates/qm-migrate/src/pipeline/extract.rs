//! `extract`: stage every record of the source into the ledger with its raw text and content hash.
//!
//! Idempotent: a record is its Calabrio evaluation (source system and evaluation id; a record without
//! a readable id, its position); staging the same source again changes nothing, and a record whose
//! content changed is noticed by its hash and updated (so the next `plan` re-plans it). File records
//! are committed in batches, so memory stays flat however large the export. The REST API is read one
//! contact day at a time; each day is committed together with a mark that it is complete, so an
//! interrupted extract resumes from the first day not yet complete; once every day was read, the next
//! extract reads them all again (a sync: edits and deletions in Calabrio are seen).

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::{Ledger, StagedRecord};

/// Records per batch between the reading and the writing thread.
const BATCH: usize = 256;

/// What `extract` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExtractSummary {
    /// Records read from the source (readable or not).
    pub records: u64,
    /// Of which could not be read (they will be quarantined).
    pub unreadable: u64,
    /// Newly staged.
    pub new: u64,
    /// Staged before, content changed.
    pub changed: u64,
    /// Staged before, unchanged.
    pub unchanged: u64,
    /// Source columns that map to nothing (kept in the raw text only).
    pub ignored_columns: Vec<String>,
    /// Records of earlier extracts the source no longer has.
    pub stale: i64,
    /// The most frequent reasons records were unreadable (by field), most frequent first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable_reasons: Vec<UnreadableReason>,
    /// What to change when the reasons point at the configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip)]
    reasons: std::collections::HashMap<String, UnreadableReason>,
    /// API: contact days read in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_read: Option<u64>,
    /// API: contact days skipped because an earlier run completed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_resumed: Option<u64>,
    /// API: requests sent, retries, logins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// API: retries after 429/5xx/transport errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_retries: Option<u64>,
    /// API: logins (the first and after each expired session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_logins: Option<u64>,
    /// Calabrio form definitions the source carries (API, tables), kept for mirror mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forms: Option<usize>,
    /// API: evaluations read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_evaluations: Option<u64>,
    /// API: requests per evaluation read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests_per_evaluation: Option<f64>,
    /// API: what the API refused for one contact or evaluation (staged as unreadable, or without
    /// its comments), each with its reason; the next extract tries them again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_problems: Vec<String>,
    /// API: contact days that did not add up (not marked complete; the next extract reads them
    /// again), each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incomplete_days: Vec<String>,
}

impl ExtractSummary {
    /// Something could not be read as it should: exit 1.
    pub fn has_problems(&self) -> bool {
        !self.api_problems.is_empty() || !self.incomplete_days.is_empty()
    }
}

/// One reason records were unreadable.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadableReason {
    /// The field.
    pub field: String,
    /// Records unreadable for it.
    pub records: u64,
    /// The first message.
    pub example: String,
    /// Where it was first met.
    pub first_at: String,
}

impl ExtractSummary {
    fn count(&mut self, outcome: &str, rec: &calabrio::SourceRecord) {
        self.records += 1;
        if let Err(e) = &rec.parsed {
            self.unreadable += 1;
            let field = e.field.clone().unwrap_or_else(|| "(record)".into());
            self.reasons
                .entry(field.clone())
                .or_insert_with(|| UnreadableReason {
                    field,
                    records: 0,
                    example: e.message.clone(),
                    first_at: rec.locator.to_string(),
                })
                .records += 1;
        }
        match outcome {
            "new" => self.new += 1,
            "changed" => self.changed += 1,
            _ => self.unchanged += 1,
        }
    }
}

/// The reader options of the configured source.
///
/// # Errors
/// A bad time zone or encoding.
pub fn read_options(cfg: &Config) -> Result<calabrio::ReadOptions> {
    Ok(calabrio::ReadOptions {
        time_zone: cfg
            .source
            .time_zone
            .as_deref()
            .map(jiff::tz::TimeZone::get)
            .transpose()
            .context("[source] time_zone")?,
        encoding: calabrio::encoding::SourceEncoding::parse(&cfg.source.encoding)
            .context("[source] encoding")?,
        extractor: Some(
            match cfg.source.kind.as_str() {
                "json" => "json_export",
                "tables" => "warehouse_tables",
                _ => "csv_manual",
            }
            .into(),
        ),
    })
}

/// Stages the configured source.
///
/// # Errors
/// An unusable file (missing, bad header), an API that cannot be reached, or a ledger error.
pub async fn run(
    cfg: &Config,
    ledger: &mut Ledger,
    progress: &indicatif::ProgressBar,
) -> Result<ExtractSummary> {
    run_with(cfg, ledger, progress, None).await
}

/// [`run`], with the Calabrio API options given rather than built from the configuration and the
/// environment (tests, which must not touch the process environment).
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    cfg: &Config,
    ledger: &mut Ledger,
    progress: &indicatif::ProgressBar,
    api: Option<calabrio::api::ApiOptions>,
) -> Result<ExtractSummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "extract")?;
    if cfg.source.kind == "calabrio-api" {
        let opts = match api {
            Some(o) => o,
            None => api_options(cfg)?,
        };
        return run_api(cfg, ledger, progress, opts).await;
    }
    let opts = read_options(cfg)?;
    let mut summary = ExtractSummary::default();
    let path = &cfg.source.path;
    let mut records: Box<dyn Iterator<Item = calabrio::SourceRecord> + Send> =
        Box::new(std::iter::empty());
    for file in std::iter::once(path).chain(&cfg.source.more_paths) {
        let opts = opts.clone();
        let part: Box<dyn Iterator<Item = calabrio::SourceRecord> + Send> =
            match cfg.source.kind.as_str() {
                "csv" => {
                    let r = calabrio::csv_wide::WideCsvReader::open(file, opts)?;
                    summary.ignored_columns.extend(r.ignored_headers.clone());
                    Box::new(r)
                }
                "csv-long" => {
                    let r = calabrio::csv_long::LongCsvReader::open(file, opts)?;
                    summary.ignored_columns.extend(r.ignored_headers.clone());
                    Box::new(r)
                }
                "tables" => Box::new(calabrio::tables::TablesReader::open(file, opts)?),
                _ => Box::new(calabrio::json::JsonReader::open(file, opts)?),
            };
        records = Box::new(records.chain(part));
    }
    summary.ignored_columns.sort();
    summary.ignored_columns.dedup();
    for col in &summary.ignored_columns {
        tracing::warn!(column = %col, "Source column maps to no canonical field; it is kept only in the raw text.");
    }
    let run = ledger.begin_run("extract")?;
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {pos} records ({per_sec})") {
        progress.set_style(style);
    }
    progress.set_message("extract");
    // Two stages on two threads: reading, parsing and serialising the records; writing them to
    // the ledger. Batches of records pass through a bounded channel, so memory stays flat.
    let (send, receive) = std::sync::mpsc::sync_channel::<Result<Vec<StagedRecord>>>(8);
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for rec in records {
                match StagedRecord::new(rec) {
                    Ok(staged) => batch.push(staged),
                    Err(e) => {
                        let _ = send.send(Err(e));
                        return;
                    }
                }
                if batch.len() == BATCH
                    && send
                        .send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                        .is_err()
                {
                    return; // the writer stopped (an error): nothing more to do
                }
            }
            let _ = send.send(Ok(batch));
        });
        let mut seq: i64 = 0;
        let mut tx = ledger.transaction()?;
        for batch in receive {
            for staged in batch? {
                seq += 1;
                let outcome = Ledger::upsert_record(&tx, &staged, seq, run)?;
                summary.count(outcome, &staged.rec);
                if seq % 2000 == 0 {
                    tx.commit()?;
                    tx = ledger.transaction()?;
                }
            }
            progress.set_position(u64::try_from(seq).unwrap_or(0));
        }
        tx.commit()?;
        Ok(())
    })?;
    // The tables carry the form definitions: kept for mirror mode.
    if cfg.source.kind == "tables" {
        let catalog = calabrio::tables::read_catalog(path)?;
        summary.forms = Some(store_forms(ledger, catalog.forms.values())?);
    }
    summary.stale = ledger.stale_records()?;
    summary.explain(cfg);
    ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}

impl ExtractSummary {
    /// The three most frequent reasons, and the fix when the configuration is the cause.
    fn explain(&mut self, cfg: &Config) {
        let mut reasons: Vec<UnreadableReason> = self.reasons.drain().map(|(_, r)| r).collect();
        reasons.sort_by(|a, b| b.records.cmp(&a.records).then(a.field.cmp(&b.field)));
        let naive = reasons
            .iter()
            .any(|r| r.example.contains("has no time zone"));
        if naive && cfg.source.time_zone.is_none() {
            self.fix = Some(
                "timestamps without an offset: set [source] time_zone to the zone the export was written in (an IANA name such as \"Europe/London\")".into(),
            );
        } else if reasons
            .iter()
            .any(|r| r.example.contains("UTF-8") || r.example.contains("Utf8"))
            && cfg.source.encoding == "utf-8"
        {
            self.fix = Some(
                "bytes that are not UTF-8: set [source] encoding = \"windows-1252\" (or \"auto\")"
                    .into(),
            );
        }
        reasons.truncate(3);
        self.unreadable_reasons = reasons;
    }
}

/// Stores the form definitions a source carries; returns how many.
fn store_forms<'a>(
    ledger: &Ledger,
    forms: impl Iterator<Item = &'a calabrio::catalog::FormDef>,
) -> Result<usize> {
    let rows = forms
        .map(|f| Ok((f.id.clone(), serde_json::to_string(f)?)))
        .collect::<Result<Vec<_>>>()?;
    ledger.put_calabrio_forms(&rows)?;
    Ok(rows.len())
}

/// The API options of `[source]`, with the credentials from the environment.
///
/// # Errors
/// Missing URL or credentials.
pub fn api_options(cfg: &Config) -> Result<calabrio::api::ApiOptions> {
    let url = cfg.source.url.clone().context("[source] url")?;
    let (user, password) = crate::config::calabrio_credentials()?;
    let mut opts = calabrio::api::ApiOptions::new(&url, &user, password);
    opts.ca_bundle = cfg.source.ca_bundle.clone();
    opts.page_size = cfg.source.page_size.max(1);
    opts.timeout = std::time::Duration::from_secs(cfg.genesys.timeout_s.max(1));
    opts.contact_filter.clone_from(&cfg.source.contact_filter);
    Ok(opts)
}

/// The most contact days one search covers (quiet days are searched together).
const MAX_WINDOW_DAYS: u32 = 32;

/// The tenant's zone (`[source] time_zone`): its server cuts contact days there, so "today" is
/// today there.
fn tenant_zone(cfg: &Config) -> Result<Option<jiff::tz::TimeZone>> {
    cfg.source
        .time_zone
        .as_deref()
        .map(jiff::tz::TimeZone::get)
        .transpose()
        .context("[source] time_zone")
}

async fn run_api(
    cfg: &Config,
    ledger: &mut Ledger,
    progress: &indicatif::ProgressBar,
    opts: calabrio::api::ApiOptions,
) -> Result<ExtractSummary> {
    let url = opts.base_url.clone();
    let from: jiff::civil::Date = cfg
        .source
        .from
        .as_deref()
        .context("[source] from")?
        .parse()
        .context("[source] from")?;
    let to: jiff::civil::Date = match &cfg.source.to {
        Some(t) => t.parse().context("[source] to")?,
        // Today where the tenant's days are cut.
        None => tenant_zone(cfg)?
            .unwrap_or(jiff::tz::TimeZone::UTC)
            .to_datetime(jiff::Timestamp::now())
            .date(),
    };
    anyhow::ensure!(from <= to, "[source] from ({from}) is after to ({to})");
    let api = calabrio::api::CalabrioApi::connect(opts).await?;
    let source_key = url.trim_end_matches('/').to_owned();
    let done = ledger.completed_days(&source_key)?;
    let total_days = u64::try_from((to - from).get_days()).unwrap_or(0) + 1;
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} day {pos}/{len} ({eta} left)")
    {
        progress.set_style(style);
    }
    progress.set_length(total_days);
    progress.set_message("extract (Calabrio API)");
    let run = ledger.begin_run("extract")?;
    let mut summary = ExtractSummary {
        days_read: Some(0),
        days_resumed: Some(0),
        ..ExtractSummary::default()
    };
    // Records of the days completed by earlier runs belong to this extract too.
    let mut seq: i64 = ledger.carry_forward(&source_key, run)?;
    // Days are searched in windows: one day at first, doubled while the days are quiet (a
    // search costs a count and a page, even for a day without contacts), halved when busy.
    let mut span: u32 = 1;
    let mut day = from;
    loop {
        if done.contains(&day.to_string()) {
            *summary.days_resumed.get_or_insert(0) += 1;
            progress.inc(1);
            if day >= to {
                break;
            }
            day = day.tomorrow()?;
            continue;
        }
        // The window: up to `span` days not completed before, within the range.
        let mut last = day;
        let mut days = vec![day];
        while (days.len() as u32) < span && last < to {
            let next = last.tomorrow()?;
            if done.contains(&next.to_string()) {
                break;
            }
            last = next;
            days.push(next);
        }
        let label = if last == day {
            format!("contact day {day}")
        } else {
            format!("contact days {day} to {last}")
        };
        // A stop (Ctrl-C) drops the window being read: it is not marked complete, and the next
        // extract reads it again (the days before it are saved).
        let got = match crate::interrupt::or_stop(
            &format!("extract ({label}; the days before are saved)"),
            "extract",
            async { Ok(api.days(day, last).await) },
        )
        .await?
        {
            Ok(got) => got,
            // Days that do not add up are not marked complete; the next extract reads them again.
            // The other days go on, one at a time from here.
            Err(e @ calabrio::api::ApiError::Incomplete { .. }) => {
                tracing::warn!(days = %label, error = %e, "Contact days do not add up; they are not marked complete.");
                summary.incomplete_days.push(e.to_string());
                progress.inc(days.len() as u64);
                span = 1;
                if last >= to {
                    break;
                }
                day = last.tomorrow()?;
                continue;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)).with_context(|| {
                    format!("{label} (the days before are saved; run extract again to resume)")
                });
            }
        };
        *summary.api_evaluations.get_or_insert(0) += got.evaluations;
        let mut records = got.records.len() as u64;
        let tx = ledger.transaction()?;
        for rec in got.records {
            seq += 1;
            let staged = StagedRecord::new(rec)?;
            let outcome = Ledger::upsert_record(&tx, &staged, seq, run)?;
            summary.count(outcome, &staged.rec);
        }
        // What the API refused about one contact or evaluation: the copy an earlier extract
        // staged is kept (a refusal is not a deletion); without one, the record as read
        // (unreadable with the reason, or without its comments) is staged.
        for refused in got.refused {
            let source_file = refused.record.locator.file.clone();
            let kept = Ledger::hold_over(&tx, &source_file, &refused.path, run)?;
            if kept > 0 {
                summary.api_problems.push(format!(
                    "{} (the copy staged before is kept)",
                    refused.reason
                ));
                summary.records += kept as u64;
                summary.unchanged += kept as u64;
                records += kept as u64;
            } else {
                summary.api_problems.push(refused.reason);
                seq += 1;
                let staged = StagedRecord::new(refused.record)?;
                let outcome = Ledger::upsert_record(&tx, &staged, seq, run)?;
                summary.count(outcome, &staged.rec);
                records += 1;
            }
        }
        // The window's contacts and records are written on its first day.
        for (i, d) in days.iter().enumerate() {
            let (c, r) = if i == 0 {
                (got.contacts, records)
            } else {
                (0, 0)
            };
            Ledger::complete_day(&tx, &source_key, &d.to_string(), c, r, run)?;
        }
        tx.commit()?;
        *summary.days_read.get_or_insert(0) += days.len() as u64;
        progress.inc(days.len() as u64);
        let page = cfg.source.page_size.max(1);
        span = if got.contacts < page / 4 {
            (span * 2).min(MAX_WINDOW_DAYS)
        } else if got.contacts > page * 4 {
            (span / 2).max(1)
        } else {
            span
        };
        if last >= to {
            break;
        }
        day = last.tomorrow()?;
    }
    // Every day of the range is read: the next extract starts a new pass. A day that did not add
    // up leaves the pass open: the next extract reads it (and plan waits for it).
    if summary.incomplete_days.is_empty() {
        ledger.finish_api_pass(&source_key)?;
    }
    summary.forms = Some(store_forms(ledger, api.forms().await.iter())?);
    api.logout().await;
    let stats = &api.stats;
    let load =
        |c: &std::sync::atomic::AtomicU64| Some(c.load(std::sync::atomic::Ordering::Relaxed));
    summary.api_requests = load(&stats.requests);
    summary.api_retries = load(&stats.retries);
    summary.api_logins = load(&stats.logins);
    summary.api_requests_per_evaluation = match (summary.api_requests, summary.api_evaluations) {
        (Some(r), Some(e)) if e > 0 => Some(r as f64 / e as f64),
        _ => None,
    };
    summary.stale = ledger.stale_records()?;
    summary.explain(cfg);
    ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}
