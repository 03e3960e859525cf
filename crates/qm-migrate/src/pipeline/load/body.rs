//! The create body: the official `EvaluationCreateBody` with the plan's answers translated to the
//! published form's ids (container or mirror).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The `EvaluationCreateBody` of a load item: published form id, evaluator and agent from the plan,
/// answers translated from logical to published ids, status and release per `[form]`.
///
/// # Errors
/// A missing plan, missing answers, or an id the published form does not map.
pub fn create_body(
    cfg: &Config,
    ledger: &Ledger,
    item: &LoadRow,
    form_id: &str,
    map: &BTreeMap<String, String>,
    release_date: Option<String>,
) -> Result<EvaluationCreateBody> {
    let plan = ledger
        .plan(item.record_id)?
        .with_context(|| format!("load item {} has no plan", item.record_id))?;
    let mut logical: ScoringSet =
        serde_json::from_str(plan.answers.as_deref().unwrap_or("null"))
            .with_context(|| format!("plan of record {} has no answers", item.record_id))?;
    // The marker names the key this attempt is sent with (a new generation after a known refusal).
    logical.private_comments = logical
        .private_comments
        .as_deref()
        .map(|m| form::marker_with_key(m, &item.idempotency_key));
    Ok(EvaluationCreateBody {
        evaluation_form: EntityRef::id(form_id),
        evaluator: EntityRef::id(plan.evaluator_user_id.clone().unwrap_or_default()),
        agent: EntityRef::id(&item.agent_user_id),
        answers: form::translate(&logical, map)?,
        status: Some(cfg.form.status.clone()),
        release_date,
        never_release: (cfg.form.release_policy == "never").then_some(true),
        agent_has_read: None,
    })
}

/// Mirrored forms by name: (published id, logical → published ids).
pub type MirrorForms = HashMap<String, (String, BTreeMap<String, String>)>;

/// The provisioned mirrored forms the plans use: name → (published id, logical → published ids).
///
/// # Errors
/// A mirrored form the plans use that is not provisioned; ledger errors.
pub fn mirror_forms(ledger: &Ledger) -> Result<MirrorForms> {
    let mut out = HashMap::new();
    for name in ledger.planned_form_names()? {
        let row = ledger
            .form(&name)?
            .filter(|f| f.id_map.is_some())
            .with_context(|| {
                format!("the mirrored form '{name}' is not provisioned: run `qm-migrate provision` first")
            })?;
        out.insert(name, published_ids(&row)?);
    }
    Ok(out)
}

/// A provisioned form's published id and its map of logical to published ids.
pub(super) fn published_ids(
    row: &crate::ledger::FormRow,
) -> Result<(String, BTreeMap<String, String>)> {
    let map: BTreeMap<String, String> = serde_json::from_str(row.id_map.as_deref().unwrap_or("{}"))
        .with_context(|| format!("ledger id map of form '{}'", row.name))?;
    let id = map
        .get("form")
        .cloned()
        .with_context(|| format!("ledger id map of form '{}' has no form id", row.name))?;
    Ok((id, map))
}
