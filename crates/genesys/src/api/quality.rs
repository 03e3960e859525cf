//! Quality (`/api/v2/quality/…`): evaluation forms and evaluations.

use super::*;

impl GenesysClient {
    /// Creates a draft form.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn create_form(&self, form: &EvaluationForm) -> Result<EvaluationForm, GenesysError> {
        let path = "/api/v2/quality/forms/evaluations";
        self.call(Method::POST, path, &[], Some(form), None, Resend::Never)
            .await?
            .ok_or_else(|| empty_body(path))
    }

    /// Publishes a draft. The response is not trusted as the published version (unverified #8):
    /// read that with [`GenesysClient::get_published_form`]. Terraform treats it as the new draft
    /// that follows the publish; its id is returned, when it has one, for a later new version.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn publish_form(&self, draft_id: &str) -> Result<Option<String>, GenesysError> {
        let body = PublishForm {
            id: draft_id.to_owned(),
            published: true,
        };
        let resp: Option<serde_json::Value> = self
            .call(
                Method::POST,
                "/api/v2/quality/publishedforms/evaluations",
                &[],
                Some(&body),
                None,
                // Not a safe retry: a second publish makes a second version. A publish that may
                // have happened is resolved by reading the published versions (provision).
                Resend::Never,
            )
            .await?;
        Ok(resp.and_then(|v| {
            (v["published"] != true)
                .then(|| v["id"].as_str().map(str::to_owned))
                .flatten()
        }))
    }

    /// Replaces the structure of an unpublished form version (`PUT …/forms/evaluations/{id}`):
    /// publishing it afterwards makes a new version of the same form.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn update_form(
        &self,
        form_id: &str,
        form: &EvaluationForm,
    ) -> Result<EvaluationForm, GenesysError> {
        let path = format!("/api/v2/quality/forms/evaluations/{form_id}");
        self.call(Method::PUT, &path, &[], Some(form), None, Resend::Safe)
            .await?
            .ok_or_else(|| empty_body(&path))
    }

    /// The latest published version of a form (by any of its version ids).
    ///
    /// # Errors
    /// Any [`GenesysError`]; 404 when the form was never published.
    pub async fn get_published_form(&self, form_id: &str) -> Result<EvaluationForm, GenesysError> {
        self.get(
            &format!("/api/v2/quality/publishedforms/evaluations/{form_id}"),
            &[],
        )
        .await
    }

    /// Forms whose name matches `name` (the list shows no question groups).
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn list_forms(&self, name: &str) -> Result<Vec<EvaluationForm>, GenesysError> {
        let listing: EntityListing<EvaluationForm> = self
            .get(
                "/api/v2/quality/forms/evaluations",
                &[("name", name.into()), ("pageSize", "100".into())],
            )
            .await?;
        Ok(listing.entities)
    }

    /// Deletes an evaluation form with all its versions (Terraform's delete: the draft or any
    /// version id). 409 `evaluation.cannot.be.deleted` while evaluations use it.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn delete_form(&self, form_id: &str) -> Result<(), GenesysError> {
        self.delete(&format!("/api/v2/quality/forms/evaluations/{form_id}"))
            .await
    }

    /// Creates an evaluation on a conversation. Never re-sent after it may have reached Genesys.
    ///
    /// A success whose body does not decode is [`GenesysError::Undecodable`], with the evaluation id
    /// when the body still shows one: the evaluation exists, it must never be taken for not sent.
    ///
    /// # Errors
    /// Any [`GenesysError`]; see [`GenesysError::create_failure`].
    pub async fn create_evaluation(
        &self,
        conversation_id: &str,
        body: &EvaluationCreateBody,
        idempotency_key: Option<Uuid>,
    ) -> Result<Evaluation, GenesysError> {
        let path = format!("/api/v2/quality/conversations/{conversation_id}/evaluations");
        let answer = self
            .send(
                Method::POST,
                &path,
                &[],
                Some(body),
                idempotency_key,
                Resend::Never,
            )
            .await?;
        let Some((status, bytes)) = answer else {
            return Err(GenesysError::Undecodable {
                url: path,
                status: 200,
                id: None,
                path: ".".into(),
                message: "empty response body".into(),
            });
        };
        decode::<Evaluation>(&path, &bytes).map_err(|e| {
            let (at, message) = match e {
                GenesysError::Decode { path, message, .. } => (path, message),
                other => (".".into(), other.to_string()),
            };
            GenesysError::Undecodable {
                id: serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                    .filter(|id| !id.trim().is_empty()),
                url: path.clone(),
                status,
                path: at,
                message,
            }
        })
    }

    /// The scoring dry run (`POST /api/v2/quality/evaluations/scoring`): how Genesys scores
    /// `answers` on `form` (a published version, as read), saving nothing. Response-only fields of
    /// the form (`weightMode`) are left out, as the request model has none.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn score_dry_run(
        &self,
        form: &EvaluationForm,
        answers: &crate::models::ScoringSet,
    ) -> Result<crate::models::ScoringSet, GenesysError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct DryRun<'a> {
            evaluation_form: EvaluationForm,
            answers: &'a crate::models::ScoringSet,
        }
        let mut form = form.clone();
        form.weight_mode = None;
        let path = "/api/v2/quality/evaluations/scoring";
        self.call(
            Method::POST,
            path,
            &[],
            Some(&DryRun {
                evaluation_form: form,
                answers,
            }),
            None,
            // Saves nothing: safe to send again.
            Resend::Safe,
        )
        .await?
        .ok_or_else(|| empty_body(path))
    }

    /// One evaluation (`GET /api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}`).
    ///
    /// # Errors
    /// Any [`GenesysError`]; 404 when it does not exist.
    pub async fn get_evaluation(
        &self,
        conversation_id: &str,
        evaluation_id: &str,
    ) -> Result<Evaluation, GenesysError> {
        self.get(
            &format!("/api/v2/quality/conversations/{conversation_id}/evaluations/{evaluation_id}"),
            &[],
        )
        .await
    }

    /// Updates an evaluation (`PUT …/evaluations/{evaluationId}`, body: the official `Evaluation`
    /// model). Never re-sent blindly: each applied update is a new version of the evaluation, so a
    /// lost answer is resolved by reading the evaluation back.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn update_evaluation(
        &self,
        conversation_id: &str,
        evaluation: &Evaluation,
    ) -> Result<Evaluation, GenesysError> {
        let path = format!(
            "/api/v2/quality/conversations/{conversation_id}/evaluations/{}",
            evaluation.id
        );
        self.call(
            Method::PUT,
            &path,
            &[],
            Some(evaluation),
            None,
            Resend::Never,
        )
        .await?
        .ok_or_else(|| empty_body(&path))
    }

    /// Deletes an evaluation.
    ///
    /// # Errors
    /// Any [`GenesysError`]; 404 `evaluation.not.found` when it does not exist.
    pub async fn delete_evaluation(
        &self,
        conversation_id: &str,
        evaluation_id: &str,
    ) -> Result<(), GenesysError> {
        self.delete(&format!(
            "/api/v2/quality/conversations/{conversation_id}/evaluations/{evaluation_id}"
        ))
        .await
    }

    /// Every evaluation of `who` (an evaluator or an agent) on the form whose context is
    /// `form_context_id`, with answers, in pages of `page_size` (no documented maximum: a
    /// `response.entity.too.large` halves it and the reading goes on from the same place). By
    /// evaluator the query is complete; by agent it leaves out `neverRelease` evaluations
    /// (reference/genesys-api.md §6.1). Returns the evaluations and the page size that worked.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn evaluations_of(
        &self,
        who: &EvaluationsOf,
        form_context_id: &str,
        page_size: u32,
    ) -> Result<(Vec<Evaluation>, u32), GenesysError> {
        let (key, id) = match who {
            EvaluationsOf::Evaluator(id) => ("evaluatorUserId", id),
            EvaluationsOf::Agent(id) => ("agentUserId", id),
        };
        let mut size = page_size.max(1);
        let mut out: Vec<Evaluation> = Vec::new();
        loop {
            // Pages are read by offset, so a smaller page size goes on where the last one stopped.
            let page = out.len() as u32 / size + 1;
            let skip = out.len() - (page as usize - 1) * size as usize;
            let q: Vec<(&str, String)> = vec![
                (key, id.clone()),
                ("formContextId", form_context_id.to_owned()),
                ("expandAnswerTotalScores", "true".into()),
                ("includeDeletedUsers", "true".into()),
                ("pageSize", size.to_string()),
                ("pageNumber", page.to_string()),
            ];
            let listing: EntityListing<Evaluation> =
                match self.get("/api/v2/quality/evaluations/query", &q).await {
                    Ok(l) => l,
                    Err(GenesysError::Api {
                        status: 400, body, ..
                    }) if body.code.as_deref() == Some("response.entity.too.large") && size > 1 => {
                        size /= 2;
                        tracing::info!(
                            page_size = size,
                            "Evaluation page too large; halving the page size."
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            let n = listing.entities.len();
            out.extend(listing.entities.into_iter().skip(skip));
            if listing.next_uri.is_none() || n == 0 {
                return Ok((out, size));
            }
        }
    }

    /// Evaluations on a conversation, with answers, following the pages.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn evaluations_for_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<Evaluation>, GenesysError> {
        self.all_pages(
            "/api/v2/quality/evaluations/query",
            &[
                ("conversationId", conversation_id.into()),
                ("expandAnswerTotalScores", "true".into()),
                // Without it, an evaluation whose agent or evaluator was deleted is not shown,
                // and a reconcile would take it for absent (reference/genesys-api.md §6.1).
                ("includeDeletedUsers", "true".into()),
            ],
            25,
        )
        .await
    }
}
