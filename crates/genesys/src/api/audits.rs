//! The quality audit trail (`/api/v2/quality/conversations/audits/query…`): an asynchronous query —
//! started, then polled for its state, then read in pages with a cursor.

use super::*;
use crate::models::{
    QmAuditQueryRequest, QualityAuditQueryExecutionResultsResponse,
    QualityAuditQueryExecutionStatusResponse,
};

const AUDIT_QUERY: &str = "/api/v2/quality/conversations/audits/query";

impl GenesysClient {
    /// Starts an audit query; the answer carries its transaction id and first state. Starting a
    /// query changes nothing, so a lost answer is simply asked again.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn start_audit_query(
        &self,
        query: &QmAuditQueryRequest,
    ) -> Result<QualityAuditQueryExecutionStatusResponse, GenesysError> {
        self.call(
            Method::POST,
            AUDIT_QUERY,
            &[],
            Some(query),
            None,
            Resend::Safe,
        )
        .await?
        .ok_or_else(|| crate::transport::empty_body(AUDIT_QUERY))
    }

    /// The state of audit query `transaction_id`.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn audit_query_status(
        &self,
        transaction_id: &str,
    ) -> Result<QualityAuditQueryExecutionStatusResponse, GenesysError> {
        self.get(&format!("{AUDIT_QUERY}/{transaction_id}"), &[])
            .await
    }

    /// One page of a succeeded audit query's results, from `cursor` (none: the first page).
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn audit_query_results(
        &self,
        transaction_id: &str,
        page_size: u32,
        cursor: Option<&str>,
    ) -> Result<QualityAuditQueryExecutionResultsResponse, GenesysError> {
        let mut query = vec![("pageSize", page_size.to_string())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        self.get(&format!("{AUDIT_QUERY}/{transaction_id}/results"), &query)
            .await
    }
}
