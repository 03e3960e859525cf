//! `[verify]`: what `verify` reads back besides the evaluations: the timeline and the audit trail.

use serde::{Deserialize, Serialize};

/// `[verify]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// Compare the timeline Genesys' evaluation analytics show (by conversation date, per agent and
    /// month) with what the ledger expects.
    pub timeline: bool,
    /// Genesys' analytics may lag behind a fresh load: an agent-month whose newest evaluation was
    /// written less than this long ago is listed as pending, not as a difference (seconds).
    pub analytics_lag_s: u64,
    /// Cross-check Genesys' own audit trail of evaluations with the ledger's record of our writes.
    pub audit: bool,
    /// Longest wait for Genesys to answer the audit queries (seconds); past it `verify` says what it
    /// could not check.
    pub audit_timeout_s: u64,
    /// A write of ours younger than this that the audit trail does not show yet is pending, not a
    /// finding (seconds; Genesys does not publish how soon an action reaches the trail).
    pub audit_lag_s: u64,
    /// The migration's interval is queried in windows of at most this many days (Genesys does not
    /// publish a longest interval).
    pub audit_window_days: u32,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            timeline: true,
            analytics_lag_s: 3600,
            audit: true,
            audit_timeout_s: 300,
            audit_lag_s: 900,
            audit_window_days: 30,
        }
    }
}
