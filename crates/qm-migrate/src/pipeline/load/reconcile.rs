//! Reconcile: an item whose create may have reached Genesys is looked for before anything is sent
//! again — in pages of our forms' evaluations when many are due, else per conversation — and a
//! fresh ledger adopts the evaluations its forms already hold.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The evaluations Genesys holds on the conversation of `item`.
pub(super) async fn evaluations_on(
    client: &GenesysClient,
    item: &LoadRow,
) -> Result<Vec<genesys::models::Evaluation>> {
    client
        .evaluations_for_conversation(&item.conversation_id)
        .await
        .with_context(|| {
            format!(
                "cannot query evaluations on conversation {}",
                item.conversation_id
            )
        })
}

/// Ours: it carries our marker (the key is derived from evaluation id and form) and the same agent.
pub(super) fn is_ours(e: &genesys::models::Evaluation, item: &LoadRow) -> bool {
    let marker = format!("idempotency_key={}", item.idempotency_key);
    e.answers
        .as_ref()
        .and_then(|a| a.private_comments.as_deref())
        .is_some_and(|c| c.contains(&marker))
        && e.agent.as_ref().is_none_or(|a| a.id == item.agent_user_id)
}

/// Our evaluation of an item as found in Genesys: (id, total, `createdDate`).
pub(super) type Found = (String, Option<f64>, Option<String>);

fn found(e: &genesys::models::Evaluation) -> Found {
    (
        e.id.clone(),
        e.answers.as_ref().and_then(|a| a.total_score),
        e.created_date.clone(),
    )
}

/// Looks for the evaluation of `item` in Genesys by its idempotency key marker.
pub(super) async fn find_existing(client: &GenesysClient, item: &LoadRow) -> Result<Option<Found>> {
    Ok(evaluations_on(client, item)
        .await?
        .iter()
        .find(|e| is_ours(e, item))
        .map(found))
}

impl Ctx<'_> {
    /// Looks for every `unknown` item old enough to be looked up (its attempt at least
    /// `reconcile_after` old, so a lagging query has caught up): found ⇒ `created`, not found ⇒
    /// `planned`, sent again with the same key and body. Younger ones wait; returns when the next
    /// one matures.
    pub(super) async fn reconcile_due(&self, summary: &mut LoadSummary) -> Result<Option<i64>> {
        let after = self.reconcile_after_ms();
        let now = self.now_ms();
        let mut next: Option<i64> = None;
        let mut due_items = Vec::new();
        for item in self.ledger.loads_in(&[state::UNKNOWN])? {
            // An attempt of unknown time (an old ledger) counts as old.
            let due = item.sent_at.unwrap_or(i64::MIN).saturating_add(after);
            if due > now {
                next = Some(next.map_or(due, |n: i64| n.min(due)));
            } else {
                due_items.push(item);
            }
        }
        // Many at once (an outage): read them in pages first; a page may be stale, so whatever it
        // did not show is still looked up per conversation before it counts as absent.
        let paged = if due_items.len() >= PAGED_RECONCILE_FROM {
            self.unknowns_in_pages(&due_items, summary).await?
        } else {
            HashMap::new()
        };
        for item in due_items {
            let found = match paged.get(&item.record_id) {
                Some(hit) => Some(hit.clone()),
                None => find_existing(self.client, &item).await?,
            };
            match found {
                Some((id, total, created)) => {
                    self.ledger.set_load(
                        item.record_id,
                        state::CREATED,
                        Some(&id),
                        None,
                        None,
                        Some("adopted: found in Genesys by its idempotency key"),
                        total,
                    )?;
                    self.ledger
                        .set_genesys_created(item.record_id, created.as_deref())?;
                    summary.adopted += 1;
                }
                None => {
                    self.ledger.set_load(
                        item.record_id,
                        state::PLANNED,
                        None,
                        None,
                        None,
                        Some(&format!(
                            "was unknown; not in Genesys {} s after the attempt: sent again with the same key",
                            after / 1000
                        )),
                        None,
                    )?;
                    summary.resent_after_unknown += 1;
                }
            }
        }
        Ok(next)
    }

    /// The `unknown` items found in pages of their evaluators' (or agents') evaluations on our
    /// forms, by record: (Genesys id, total).
    pub(super) async fn unknowns_in_pages(
        &self,
        items: &[LoadRow],
        summary: &mut LoadSummary,
    ) -> Result<HashMap<i64, Found>> {
        let contexts = self.ledger.form_contexts()?;
        let mut wanted = Vec::new();
        for item in items {
            let plan = self.ledger.plan(item.record_id)?;
            let form = plan
                .as_ref()
                .and_then(|p| p.form_name.clone())
                .unwrap_or_else(|| self.cfg.form.name.clone());
            if let Some(c) = contexts.get(&form) {
                wanted.push((
                    plan.and_then(|p| p.evaluator_user_id),
                    item.agent_user_id.clone(),
                    c.clone(),
                ));
            }
        }
        let pages = crate::readback::read(
            self.client,
            &crate::readback::grouping(
                &wanted,
                self.cfg.genesys.query_page_size,
                self.cfg.form.release_policy == "never",
            ),
            self.cfg.genesys.query_page_size,
        )
        .await?;
        summary.reconcile_page_requests += pages.requests;
        let mut out = HashMap::new();
        for item in items {
            if let Some(e) = pages.by_id.values().find(|e| is_ours(e, item)) {
                out.insert(item.record_id, found(e));
            }
        }
        Ok(out)
    }

    /// A form this ledger found in Genesys (a lost ledger, a second ledger) may already hold our
    /// evaluations: they are read in pages and every one carrying our marker is adopted (`created`,
    /// with its Genesys id) before anything is sent, so a new ledger is not a second migration.
    pub(super) async fn adopt_from_forms(&self, summary: &mut LoadSummary) -> Result<()> {
        let forms = self.ledger.forms_to_adopt_from()?;
        if forms.is_empty() {
            return Ok(());
        }
        let people = self.ledger.unsent_people()?;
        for (name, context) in forms {
            let wanted: Vec<(Option<String>, String, String)> = people
                .iter()
                .filter(|(_, _, f)| f.as_deref().unwrap_or(&self.cfg.form.name) == name)
                .map(|(e, a, _)| (e.clone(), a.clone(), context.clone()))
                .collect();
            let mut grouping = crate::readback::grouping(
                &wanted,
                self.cfg.genesys.query_page_size,
                self.cfg.form.release_policy == "never",
            );
            // Items whose evaluator the plan does not know are read by agent as well.
            for (e, a, c) in &wanted {
                if e.is_none() {
                    grouping
                        .entry((genesys::EvaluationsOf::Agent(a.clone()), c.clone()))
                        .or_insert(0);
                }
            }
            let pages =
                crate::readback::read(self.client, &grouping, self.cfg.genesys.query_page_size)
                    .await
                    .with_context(|| {
                        format!("cannot read the evaluations already on form '{name}'")
                    })?;
            summary.adoption_page_requests += pages.requests;
            let mut evaluations: Vec<&genesys::models::Evaluation> = pages.by_id.values().collect();
            // The oldest first: of duplicates left by an earlier incident, the first made is kept.
            evaluations.sort_by(|a, b| a.created_date.cmp(&b.created_date).then(a.id.cmp(&b.id)));
            for e in evaluations {
                let Some((source, evaluation_id)) = e
                    .answers
                    .as_ref()
                    .and_then(|a| a.private_comments.as_deref())
                    .and_then(form::parse_marker)
                else {
                    continue;
                };
                if source != self.cfg.source.system {
                    continue;
                }
                let Some(item) = self.ledger.load_item_of_evaluation(&evaluation_id)? else {
                    continue;
                };
                if item.state == state::CREATED {
                    continue;
                }
                let agent_ok = e.agent.as_ref().is_none_or(|a| a.id == item.agent_user_id);
                if !agent_ok {
                    continue;
                }
                self.ledger.set_load(
                    item.record_id,
                    state::CREATED,
                    Some(&e.id),
                    None,
                    None,
                    Some(&format!(
                        "adopted: already on form '{name}' in Genesys (marker of Calabrio evaluation {evaluation_id}); not sent again"
                    )),
                    e.answers.as_ref().and_then(|a| a.total_score),
                )?;
                self.ledger
                    .set_genesys_created(item.record_id, e.created_date.as_deref())?;
                let now = ts_from_ms(self.now_ms()).to_string();
                self.ledger.record_attempt(
                    item.record_id,
                    &now,
                    "adopted",
                    None,
                    None,
                    Some("found on the form by its marker"),
                    Some(&e.id),
                )?;
                summary.adopted += 1;
                summary.adopted_from_form += 1;
            }
            self.ledger.mark_adoption_done(&name)?;
        }
        Ok(())
    }
}
