//! Gamification reads (`/api/v2/gamification/…`): whether the org's performance profiles gamify the
//! evaluation score (official SDK models `GetProfilesResponse`, `GetMetricResponse`,
//! `GetMetricDefinitionsResponse`).

use serde::{Deserialize, Serialize};

/// `PerformanceProfile` (the fields read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerformanceProfile {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// `Metric` of a profile (the fields read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GamifiedMetric {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The metric definition it gamifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_definition_id: Option<String>,
}

/// `MetricDefinition` (the fields read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GamificationMetricDefinition {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name (e.g. "Evaluation Score").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The analytics metrics it divides (e.g. `oTotalScore`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dividend_metrics: Vec<String>,
}

/// A listing with `entities` (the gamification responses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entities<T> {
    /// Entities.
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
}
