//! `[scorecard]`: the External Metrics channel.

use serde::{Deserialize, Serialize};

/// `[scorecard]`: one Genesys External Metric point per agent per day, for the recent days Genesys
/// accepts (unverified #19), so scorecards stay current while both systems run side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScorecardConfig {
    /// Off by default (unverified behaviour); `enabled = true` turns it on.
    pub enabled: bool,
    /// The metric definition, created by `provision` if missing (by name).
    pub metric_name: String,
    /// IANA zone in which a day is a day for the scorecard.
    pub time_zone: String,
    /// Oldest accepted `dateOccurred`, days before today.
    pub days_back: i64,
    /// Latest accepted `dateOccurred`, days after today.
    pub days_ahead: i64,
    /// Calabrio sections that get a metric of their own (`<metric_name>: <section>`).
    pub sections: Vec<String>,
}

impl Default for ScorecardConfig {
    fn default() -> Self {
        ScorecardConfig {
            enabled: false,
            metric_name: "Legacy QA score (Calabrio)".into(),
            time_zone: "UTC".into(),
            days_back: 7,
            days_ahead: 30,
            sections: Vec::new(),
        }
    }
}
