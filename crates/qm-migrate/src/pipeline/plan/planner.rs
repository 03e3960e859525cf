//! What planning consults, owned so the pass's preparing thread can share it, and the decision of one
//! record: its disposition and, for an evaluation, its answers.

use super::*;

/// What planning consults, owned, so the preparing thread can share it.
pub(super) struct Planner {
    pub(super) ctx: Ctx,
    /// The form the answers are scored against (the same for every record).
    pub(super) def: genesys::models::EvaluationForm,
    /// Mirror mode: every Calabrio form the source defined, mirrored once.
    pub(super) mirrors: Mirrors,
    /// Records already sent (or possibly sent): kept as they are.
    pub(super) keep: HashSet<i64>,
    /// Superseded records, with the record of the same evaluation that supersedes each.
    pub(super) superseded: HashMap<i64, i64>,
    /// Evaluation ids already sent, with where they were sent from: never sent again from
    /// another record.
    pub(super) sent_ids: HashMap<String, String>,
}

impl Planner {
    /// Decides record `record_id` and, if it is to be an evaluation, encodes its answers.
    /// `linked`: a conversation `match` found for it.
    pub(super) fn plan(
        &self,
        record_id: i64,
        locator: &str,
        ev: CanonicalEvaluation,
        linked: Option<(String, String)>,
    ) -> Pending {
        let mut p = plan_one(&self.ctx, record_id, locator, ev, linked);
        if p.row.disposition.is_none() {
            prepare_one(&self.ctx.cfg, &self.def, &self.mirrors, &mut p);
        }
        p
    }

    /// The part of planning a record that needs no ledger, for the preparing thread; `None` for
    /// the records the writing thread decides (kept, superseded, already sent, unreadable).
    pub(super) fn prepare(&self, r: &RecordRow) -> Option<Result<Pending>> {
        if self.keep.contains(&r.id)
            || self.superseded.contains_key(&r.id)
            || r.evaluation_id
                .as_ref()
                .is_some_and(|id| self.sent_ids.contains_key(id))
        {
            return None;
        }
        let text = r.canonical.as_ref()?;
        Some(
            serde_json::from_str::<CanonicalEvaluation>(text)
                .with_context(|| format!("ledger record {} holds unreadable canonical JSON", r.id))
                .map(|ev| self.plan(r.id, &r.locator, ev, None)),
        )
    }
}
