//! `[ledger]`: where the ledger lives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[ledger]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// The SQLite ledger file.
    pub path: PathBuf,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            path: PathBuf::from("qm-migrate.db"),
        }
    }
}
