//! The evaluation aggregates query (`POST /api/v2/analytics/evaluations/aggregates/query`): what
//! Genesys' own analytics count of evaluations, bucketed by a time dimension (official SDK models
//! `EvaluationAggregationQuery` and `EvaluationAggregateQueryResponse`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `EvaluationAggregationQuery`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationAggregationQuery {
    /// `start/end`, ISO 8601.
    pub interval: String,
    /// Buckets within the interval, an ISO 8601 period (`P1M`, `P1D`); none: one bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
    /// IANA zone the buckets are cut in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Dimensions to group by (`userId`, `formId`, `evaluationContextId`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// The filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<EvaluationAggregateQueryFilter>,
    /// Metrics (`nEvaluations`, `oTotalScore`, `oTotalCriticalScore`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// `conversationStart`, `evaluationCreatedDate` (Genesys' default), `evaluationReleaseDate`
    /// or `eventTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_time_dimension: Option<String>,
}

/// `EvaluationAggregateQueryFilter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationAggregateQueryFilter {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Nested clauses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clauses: Vec<EvaluationAggregateQueryClause>,
    /// Predicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<EvaluationAggregateQueryPredicate>,
}

/// `EvaluationAggregateQueryClause`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationAggregateQueryClause {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Predicates.
    #[serde(default)]
    pub predicates: Vec<EvaluationAggregateQueryPredicate>,
}

/// `EvaluationAggregateQueryPredicate` (dimension predicates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationAggregateQueryPredicate {
    /// `dimension`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `userId`, `formId`, `evaluationContextId`, `contextId`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// `matches` (default), `exists`, `notExists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The value matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl EvaluationAggregateQueryPredicate {
    /// `dimension` matches `value`.
    pub fn matches(dimension: &str, value: &str) -> Self {
        EvaluationAggregateQueryPredicate {
            kind: Some("dimension".into()),
            dimension: Some(dimension.to_owned()),
            operator: Some("matches".into()),
            value: Some(value.to_owned()),
        }
    }
}

/// `EvaluationAggregateQueryResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationAggregateQueryResponse {
    /// One container per group.
    #[serde(default)]
    pub results: Vec<EvaluationAggregateDataContainer>,
}

/// `EvaluationAggregateDataContainer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationAggregateDataContainer {
    /// The group's dimension values.
    #[serde(default)]
    pub group: BTreeMap<String, String>,
    /// One entry per time bucket with data.
    #[serde(default)]
    pub data: Vec<StatisticalResponse>,
}

/// `StatisticalResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatisticalResponse {
    /// The bucket, `start/end`.
    pub interval: String,
    /// The metrics.
    #[serde(default)]
    pub metrics: Vec<AggregateMetricData>,
}

/// `AggregateMetricData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateMetricData {
    /// Metric name.
    pub metric: String,
    /// Its statistics.
    #[serde(default)]
    pub stats: StatisticalSummary,
}

/// `StatisticalSummary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatisticalSummary {
    /// Largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// How many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Their sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
}
