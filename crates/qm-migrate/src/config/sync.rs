//! `[sync]`: what every run does with a record that changed or left Calabrio after its evaluation was created.

use serde::{Deserialize, Serialize};

/// `[sync]`: every run is a sync (the migration lasts weeks while Calabrio is in use).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// A record whose content changed after its evaluation was created in Genesys: `update` (the
    /// Genesys evaluation takes the new answers and comments) or `flag` (listed, left as it is).
    pub on_change: String,
    /// A record gone from the source (or no longer an evaluation) whose evaluation exists in
    /// Genesys: `flag` (listed) or `delete` (that evaluation is deleted).
    pub on_withdraw: String,
    /// Genesys refuses to re-score or delete an evaluation this many days after its creation (a
    /// Genesys answer on its developer forum: 90). A change or withdrawal past it is listed, not
    /// sent; `rollback` cannot delete such evaluations. 0: no window is assumed (Genesys' refusal
    /// still tells).
    pub edit_window_days: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            on_change: "update".into(),
            on_withdraw: "flag".into(),
            edit_window_days: 90,
        }
    }
}
