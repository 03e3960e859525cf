//! Conversation details (`/api/v2/analytics/conversations/…`): the checks and searches that link
//! an evaluation to its conversation.

use super::*;

impl GenesysClient {
    /// Analytics details of up to 100 conversations; ids Genesys does not know are absent.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn conversation_details(
        &self,
        ids: &[String],
    ) -> Result<Vec<AnalyticsConversation>, GenesysError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let got: ConversationMultiGet = self
            .get(
                "/api/v2/analytics/conversations/details",
                &[("id", ids.join(","))],
            )
            .await?;
        Ok(got.conversations)
    }

    /// Every conversation `user_id` took part in (any segment) that started within `interval`
    /// (`start/end`), in start order, reading every page of 100. The query is a read: it is retried
    /// like a GET.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn conversations_of_user(
        &self,
        user_id: &str,
        interval: &str,
    ) -> Result<Vec<AnalyticsConversation>, GenesysError> {
        let path = "/api/v2/analytics/conversations/details/query";
        let mut out = Vec::new();
        for page in 1u32.. {
            let body = crate::models::ConversationQuery {
                interval: interval.to_owned(),
                order: Some("asc".into()),
                order_by: Some("conversationStart".into()),
                segment_filters: vec![crate::models::SegmentDetailQueryFilter {
                    kind: "and".into(),
                    predicates: vec![crate::models::SegmentDetailQueryPredicate {
                        kind: Some("dimension".into()),
                        dimension: Some("userId".into()),
                        operator: Some("matches".into()),
                        value: Some(user_id.to_owned()),
                    }],
                }],
                paging: Some(crate::models::PagingSpec {
                    page_size: 100,
                    page_number: page,
                }),
            };
            let got: crate::models::ConversationQueryResponse = self
                .call(Method::POST, path, &[], Some(&body), None, Resend::Safe)
                .await?
                .unwrap_or_default();
            let n = got.conversations.len();
            out.extend(got.conversations);
            let total = got.total_hits.unwrap_or(0);
            if n < 100 || out.len() as u64 >= total {
                break;
            }
        }
        Ok(out)
    }
}
