//! The quality audit query (`POST /api/v2/quality/conversations/audits/query`, then its state and its
//! pages of results): Genesys' own record of who created, changed and deleted each evaluation
//! (official SDK models `QMAuditQueryRequest`, `QualityAuditQueryExecutionStatusResponse`,
//! `QualityAuditQueryExecutionResultsResponse`, `QualityAuditLogMessage`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::EntityRef;

/// `QMAuditQueryRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QmAuditQueryRequest {
    /// `start/end`, ISO 8601.
    pub interval: String,
    /// Filters, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<QualityAuditQueryFilter>,
    /// Sort order of the results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<AuditQuerySort>,
}

/// `QualityAuditQueryFilter`: `property` is `UserId`, `ClientId`, `Action`, `EntityType`, `EntityId`,
/// `ConversationId`, `ServiceName`, `TrusteeOrganizationId` or `TrusteeOnlyAudits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityAuditQueryFilter {
    /// The property.
    pub property: String,
    /// Its value.
    pub value: String,
}

/// `AuditQuerySort`: `name` is `Timestamp`; `sortOrder` `ascending` or `descending`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuerySort {
    /// `Timestamp`.
    pub name: String,
    /// `ascending` or `descending`.
    pub sort_order: String,
}

/// `QualityAuditQueryExecutionStatusResponse` (the fields read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityAuditQueryExecutionStatusResponse {
    /// The transaction id.
    #[serde(default)]
    pub id: String,
    /// `Queued`, `Running`, `Succeeded`, `Failed` or `Cancelled`.
    #[serde(default)]
    pub state: String,
}

/// `QualityAuditQueryExecutionResultsResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityAuditQueryExecutionResultsResponse {
    /// The transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Entries in this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// Where the next page starts; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The entries.
    #[serde(default)]
    pub entities: Vec<QualityAuditLogMessage>,
}

/// `QualityAuditLogMessage` (the fields read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityAuditLogMessage {
    /// Entry id.
    #[serde(default)]
    pub id: String,
    /// The person who acted (UI actions; API actions of a user token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EntityRef>,
    /// The OAuth client that sent the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<EntityRef>,
    /// `QualityService`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `User`, `System`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `Success`, `Failure` or `Warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<String>,
    /// `Create`, `Update`, `Delete`, `Read`, …
    #[serde(default)]
    pub action: String,
    /// `Evaluation`, `Recording`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    /// The entity acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityRef>,
    /// More about it (`conversationId`, `formId`, …).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
}
