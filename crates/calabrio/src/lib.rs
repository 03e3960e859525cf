//! Readers for Calabrio ONE exports: each turns a file into a stream of [`SourceRecord`]s — the raw
//! text of one record, its content hash, where it stood (file and line or JSON path) and either the
//! canonical evaluation or the reason it could not be read.
//!
//! A reader never drops a record: an unreadable row is still a record, with the error naming the
//! file, the line (or JSON path), the field and why, so the planner can quarantine it and the history
//! can keep its raw text. Only an unusable *file* (missing, unreadable header, no evaluation id column)
//! is a [`FileError`]. The file readers stream: memory stays flat in the number of records (the
//! tables directory, which must be joined, is read whole). [`api`] reads the REST API the same way.

mod aliases;
pub mod api;
pub mod catalog;
pub mod csv_long;
pub mod csv_wide;
pub mod encoding;
pub mod json;
pub mod tables;

use std::fmt;
use std::path::Path;

use qm_model::CanonicalEvaluation;
use sha2::{Digest, Sha256};

pub use aliases::{Canonical, canonical_column};

/// Options shared by the readers.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Zone of naive timestamps (`[source] time_zone`); `None` refuses them.
    pub time_zone: Option<jiff::tz::TimeZone>,
    /// Name of the extractor recorded in `source.extractor`.
    pub extractor: Option<String>,
    /// The file's encoding.
    pub encoding: encoding::SourceEncoding,
}

/// Where a record stood in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// The file, as given.
    pub file: String,
    /// 1-based line where the record starts (CSV, JSONL, JSON).
    pub line: Option<u64>,
    /// JSON path (`$[3]`) for records of a JSON array.
    pub json_path: Option<String>,
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(p) = &self.json_path {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// Why one record could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// The field (column name or JSON path), when one is to blame.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field '{field}': {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl RecordError {
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub(crate) fn whole(message: impl Into<String>) -> Self {
        RecordError {
            field: None,
            message: message.into(),
        }
    }
}

/// One record read from a source, readable or not.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Where it stood.
    pub locator: Locator,
    /// Its raw text, verbatim (lossy only if the bytes were not UTF-8).
    pub raw: String,
    /// SHA-256 of the raw bytes, hex.
    pub hash: String,
    /// The canonical evaluation, or why there is none.
    pub parsed: Result<CanonicalEvaluation, RecordError>,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// I/O.
    #[error("{file}: cannot be read")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The header row is unusable.
    #[error("{file}:1: {message}")]
    Header {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// `score.unit` of a form's scoring type: `points` for points forms, `percent` otherwise.
pub(crate) fn unit_of(scoring_type: Option<&str>) -> Option<String> {
    scoring_type.map(|s| {
        if s.to_ascii_lowercase().starts_with("point") {
            "points".to_owned()
        } else {
            "percent".to_owned()
        }
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The formats [`read`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One row per evaluation (reference/calabrio.md §8.2).
    WideCsv,
    /// One row per evaluation × question (§8.3).
    LongCsv,
    /// Nested JSON: one object, an array of objects, or JSON Lines (§8.1).
    Json,
    /// A directory of normalised tables (§8.4).
    Tables,
}

impl Format {
    /// Guesses by extension: `.csv` is wide CSV, `.json`/`.jsonl`/`.ndjson` JSON.
    pub fn from_path(path: &Path) -> Option<Format> {
        if path.is_dir() {
            return Some(Format::Tables);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::WideCsv),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Streams the records of `path` in `format`.
///
/// # Errors
/// [`FileError`] when the file cannot be opened or its header is unusable.
pub fn read(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
) -> Result<Box<dyn Iterator<Item = SourceRecord>>, FileError> {
    Ok(match format {
        Format::WideCsv => Box::new(csv_wide::WideCsvReader::open(path, opts.clone())?),
        Format::LongCsv => Box::new(csv_long::LongCsvReader::open(path, opts.clone())?),
        Format::Json => Box::new(json::JsonReader::open(path, opts.clone())?),
        Format::Tables => Box::new(tables::TablesReader::open(path, opts.clone())?),
    })
}
