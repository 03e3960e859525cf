//! `[source]`: where the Calabrio records come from (an export, a folder of tables, or the REST API).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[source]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `csv` (wide, one row per evaluation), `csv-long` (one row per question), `json` (JSON,
    /// JSON Lines), `tables` (a directory of normalised tables) or `calabrio-api` (the REST API).
    pub kind: String,
    /// The export file (the directory, for `tables`).
    pub path: PathBuf,
    /// `calabrio-api`: base URL ending in `/api/rest`. The API user and password come from
    /// `CALABRIO_USER` and `CALABRIO_PASSWORD` (or `CALABRIO_PASSWORD_FILE`).
    pub url: Option<String>,
    /// `calabrio-api`: PEM bundle of extra CAs to trust (on-premises servers). TLS verification
    /// cannot be turned off.
    pub ca_bundle: Option<PathBuf>,
    /// `calabrio-api`: first contact day to extract (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// `calabrio-api`: last contact day (inclusive; default today).
    pub to: Option<String>,
    /// `calabrio-api`: contacts per page.
    pub page_size: u64,
    /// IANA zone of naive timestamps; none refuses them.
    pub time_zone: Option<String>,
    /// `utf-8` (default), `windows-1252`, `latin-1` or `auto` (UTF-8 if valid, else Windows-1252).
    pub encoding: String,
    /// Source system name, part of every idempotency key (keep it stable for the whole migration).
    pub system: String,
    /// Further export files of the same kind, read after `path` as one source (an export taken in
    /// parts; the same evaluation in two parts is one record and a superseded copy).
    pub more_paths: Vec<PathBuf>,
    /// `calabrio-api`: added to every contact search, so only contacts that hold evaluations are
    /// read (practitioners' `evalState=scored`; empty: every recorded contact).
    pub contact_filter: String,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: "csv".into(),
            path: PathBuf::from("calabrio-export.csv"),
            url: None,
            ca_bundle: None,
            from: None,
            to: None,
            page_size: 500,
            time_zone: None,
            encoding: "utf-8".into(),
            system: "calabrio_one".into(),
            more_paths: Vec::new(),
            contact_filter: "evalState=scored".into(),
        }
    }
}
