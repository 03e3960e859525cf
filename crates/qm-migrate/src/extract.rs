//! `extract`: stage every record of the source into the ledger with its raw text and content hash.
//!
//! Idempotent: a record is keyed by its file and position; staging the same file again changes
//! nothing, and a record whose content changed is noticed by its hash and updated (so the next `plan`
//! re-plans it). Records are committed in batches, so memory stays flat however large the export.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::Ledger;

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
}

/// Stages the configured source.
///
/// # Errors
/// An unusable file (missing, bad header) or a ledger error.
pub fn run(
    cfg: &Config,
    ledger: &mut Ledger,
    progress: &indicatif::ProgressBar,
) -> Result<ExtractSummary> {
    let format = match cfg.source.kind.as_str() {
        "csv" => calabrio::Format::WideCsv,
        "csv-long" => calabrio::Format::LongCsv,
        _ => calabrio::Format::Json,
    };
    let opts = calabrio::ReadOptions {
        time_zone: cfg
            .source
            .time_zone
            .as_deref()
            .map(jiff::tz::TimeZone::get)
            .transpose()
            .context("[source] time_zone")?,
        encoding: calabrio::encoding::SourceEncoding::parse(&cfg.source.encoding)
            .context("[source] encoding")?,
        extractor: Some(match format {
            calabrio::Format::WideCsv | calabrio::Format::LongCsv => "csv_manual".into(),
            calabrio::Format::Json => "json_export".into(),
        }),
    };
    let mut summary = ExtractSummary::default();
    let path = &cfg.source.path;
    let records: Box<dyn Iterator<Item = calabrio::SourceRecord>> = match format {
        calabrio::Format::WideCsv => {
            let r = calabrio::csv_wide::WideCsvReader::open(path, opts)?;
            summary.ignored_columns = r.ignored_headers.clone();
            Box::new(r)
        }
        calabrio::Format::LongCsv => {
            let r = calabrio::csv_long::LongCsvReader::open(path, opts)?;
            summary.ignored_columns = r.ignored_headers.clone();
            Box::new(r)
        }
        calabrio::Format::Json => Box::new(calabrio::json::JsonReader::open(path, opts)?),
    };
    for col in &summary.ignored_columns {
        tracing::warn!(column = %col, "Source column maps to no canonical field; it is kept only in the raw text.");
    }
    let run = ledger.begin_run("extract")?;
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {pos} records ({per_sec})") {
        progress.set_style(style);
    }
    progress.set_message("extract");
    let mut seq: i64 = 0;
    let mut tx = ledger.transaction()?;
    for rec in records {
        seq += 1;
        summary.records += 1;
        if rec.parsed.is_err() {
            summary.unreadable += 1;
        }
        match Ledger::upsert_record(&tx, &rec, seq, run)? {
            "new" => summary.new += 1,
            "changed" => summary.changed += 1,
            _ => summary.unchanged += 1,
        }
        progress.inc(1);
        if seq % 2000 == 0 {
            tx.commit()?;
            tx = ledger.transaction()?;
        }
    }
    tx.commit()?;
    summary.stale = ledger.stale_records()?;
    ledger.finish_run(run, &serde_json::to_value(&summary)?)?;
    Ok(summary)
}
