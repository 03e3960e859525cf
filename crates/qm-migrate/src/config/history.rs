//! `[history]`: the history channel's folder and client app.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[history]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Directory of the history channel (`agents/*.jsonl` and `site/`).
    pub dir: PathBuf,
    /// Where the history site lists agents without a Genesys account.
    pub legacy_group: String,
    /// The hosted site's `index.html` (https): `provision` registers it in Genesys as a client app
    /// (an embedded web page) so supervisors open the history inside Genesys.
    pub client_app_url: Option<String>,
    /// The client app's name in Genesys.
    pub client_app_name: String,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            dir: PathBuf::from("history"),
            legacy_group: "Legacy Team".into(),
            client_app_url: None,
            client_app_name: "QM history (Calabrio)".into(),
        }
    }
}
