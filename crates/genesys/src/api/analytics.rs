//! Analytics: conversation details (`/api/v2/analytics/conversations/…`), the checks and searches
//! that link an evaluation to its conversation; and the evaluation aggregates
//! (`/api/v2/analytics/evaluations/aggregates/query`), what Genesys' own analytics count.

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

    /// The org's first conversation that started within `interval`, whoever took part (one detail
    /// query, ascending by start, a page of one).
    ///
    /// # Errors
    /// Any [`GenesysError`] (a Genesys that refuses so long an interval answers 400).
    pub async fn first_conversation(
        &self,
        interval: &str,
    ) -> Result<Option<AnalyticsConversation>, GenesysError> {
        let body = crate::models::ConversationQuery {
            interval: interval.to_owned(),
            order: Some("asc".into()),
            order_by: Some("conversationStart".into()),
            segment_filters: Vec::new(),
            paging: Some(crate::models::PagingSpec {
                page_size: 1,
                page_number: 1,
            }),
        };
        let got: crate::models::ConversationQueryResponse = self
            .call(
                Method::POST,
                "/api/v2/analytics/conversations/details/query",
                &[],
                Some(&body),
                None,
                Resend::Safe,
            )
            .await?
            .unwrap_or_default();
        Ok(got.conversations.into_iter().next())
    }

    /// What Genesys' evaluation analytics count for `query` (a read: retried like a GET).
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn evaluation_aggregates(
        &self,
        query: &crate::models::EvaluationAggregationQuery,
    ) -> Result<crate::models::EvaluationAggregateQueryResponse, GenesysError> {
        Ok(self
            .call(
                Method::POST,
                "/api/v2/analytics/evaluations/aggregates/query",
                &[],
                Some(query),
                None,
                Resend::Safe,
            )
            .await?
            .unwrap_or_default())
    }
}
