//! Evaluation forms: create, list, get, update, delete, publish, and the published versions
//! (`/api/v2/quality/forms/evaluations`, `/api/v2/quality/publishedforms/evaluations`).

use super::*;

pub(super) fn assign_ids(form: &mut EvaluationForm, fresh_context: bool) {
    // Every element gets a new id; its context id (what stays across versions) only when the
    // form is new or the element has none.
    let assign = |id: &mut Option<String>, context_id: &mut Option<String>| {
        *id = Some(Uuid::new_v4().to_string());
        if fresh_context || context_id.is_none() {
            *context_id = Some(Uuid::new_v4().to_string());
        }
    };
    assign(&mut form.id, &mut form.context_id);
    for g in &mut form.question_groups {
        assign(&mut g.id, &mut g.context_id);
        for q in &mut g.questions {
            assign(&mut q.id, &mut q.context_id);
            for o in &mut q.answer_options {
                assign(&mut o.id, &mut o.context_id);
            }
        }
    }
}

/// A form request body, parsed and checked against Genesys' form rules.
pub(super) fn form_body(body: &Bytes) -> Result<EvaluationForm, Response> {
    let form: EvaluationForm = parse_json(body)?;
    validate_form(&form)?;
    Ok(form)
}

pub(super) fn validate_form(form: &EvaluationForm) -> Result<(), Response> {
    let invalid = |m: String| error(StatusCode::BAD_REQUEST, "evaluation.form.invalid", m);
    if form.name.trim().is_empty() || form.name.chars().count() > 250 {
        return Err(invalid("Form name must have 1 to 250 characters".into()));
    }
    if form.question_groups.is_empty() {
        return Err(invalid("A form needs at least one question group".into()));
    }
    let questions: usize = form.question_groups.iter().map(|g| g.questions.len()).sum();
    if questions > 200 {
        return Err(invalid(format!(
            "A form may hold 200 questions, this one has {questions}"
        )));
    }
    for g in &form.question_groups {
        if g.name.trim().is_empty() || g.name.chars().count() > 250 {
            return Err(invalid(
                "Question group names must have 1 to 250 characters".into(),
            ));
        }
        if !(g.weight.is_finite() && g.weight >= 0.0) {
            return Err(invalid(format!(
                "Question group '{}' has an invalid weight",
                g.name
            )));
        }
        if g.questions.is_empty() {
            return Err(invalid(format!(
                "Question group '{}' has no questions",
                g.name
            )));
        }
        for q in &g.questions {
            if q.text.trim().is_empty() || q.text.chars().count() > 500 {
                return Err(invalid(
                    "Question text must have 1 to 500 characters".into(),
                ));
            }
            let choice = matches!(
                q.kind.as_str(),
                "multipleChoiceQuestion" | "multipleSelectQuestion"
            );
            if !choice
                && !matches!(
                    q.kind.as_str(),
                    "freeTextQuestion" | "npsQuestion" | "readOnlyTextBlockQuestion"
                )
            {
                return Err(invalid(format!("Question type '{}' is not valid", q.kind)));
            }
            if choice && q.answer_options.is_empty() {
                return Err(invalid(format!(
                    "Question '{}' has no answer options",
                    q.text
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn form_response(v: &FormVersion) -> EvaluationForm {
    let mut f = v.form.clone();
    f.published = Some(v.published);
    f.weight_mode = Some("SCALED".into());
    f.self_uri = Some(format!(
        "/api/v2/quality/forms/evaluations/{}",
        f.id.clone().unwrap_or_default()
    ));
    f
}

pub(crate) async fn create_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_forms_evaluations", body);
    let mut form = match form_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    assign_ids(&mut form, true);
    form.modified_date = Some(iso(st.inner.clock.now()));
    let mut store = st.store();
    store.form_seq += 1;
    let version = FormVersion {
        form,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&version);
    store
        .forms
        .insert(version.form.id.clone().unwrap_or_default(), version);
    Json(resp).into_response()
}

pub(crate) async fn list_forms(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = page!(q);
    let store = st.store();
    // One entry per form (context): its newest version, shown unpublished and without groups, as the
    // real list endpoint does.
    let mut latest: HashMap<String, &FormVersion> = HashMap::new();
    for v in store.forms.values() {
        let ctx = v.form.context_id.clone().unwrap_or_default();
        if latest.get(&ctx).is_none_or(|cur| cur.seq < v.seq) {
            latest.insert(ctx, v);
        }
    }
    let mut forms: Vec<(u64, EvaluationForm)> = latest
        .values()
        .filter(|v| {
            q.get("name")
                .is_none_or(|n| v.form.name.contains(n.as_str()))
        })
        .map(|v| {
            let mut f = form_response(v);
            f.published = Some(false);
            f.question_groups.clear();
            (v.seq, f)
        })
        .collect();
    forms.sort_by_key(|(seq, _)| *seq);
    let forms: Vec<EvaluationForm> = forms.into_iter().map(|(_, f)| f).collect();
    Json(paginate(
        &forms,
        size,
        number,
        "/api/v2/quality/forms/evaluations",
        "",
    ))
    .into_response()
}

pub(crate) async fn get_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    match st.store().forms.get(&id) {
        Some(v) => Json(form_response(v)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        ),
    }
}

/// `PUT /api/v2/quality/forms/evaluations/{id}`: replaces the structure of an unpublished version
/// (the draft that follows each publish); publishing it then makes a new published version of the
/// same form (same context id). A published version cannot be edited.
pub(crate) async fn put_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "put_quality_forms_evaluation", body);
    let mut form = match form_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut store = st.store();
    let Some(v) = store.forms.get(&id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    if v.published {
        return bad_request(format!(
            "Form version {id} is published and cannot be edited; update its newest unpublished version"
        ));
    }
    assign_ids(&mut form, true);
    form.id = Some(id.clone());
    form.context_id.clone_from(&v.form.context_id);
    form.modified_date = Some(iso(st.inner.clock.now()));
    store.form_seq += 1;
    let version = FormVersion {
        form,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&version);
    store.forms.insert(id, version);
    Json(resp).into_response()
}

pub(crate) async fn delete_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    let mut store = st.store();
    let Some(v) = store.forms.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    // A form goes with all its versions (Terraform deletes a published form this way), unless an
    // evaluation uses one of them.
    let ctx = v.form.context_id.clone();
    let versions: std::collections::HashSet<String> = store
        .forms
        .iter()
        .filter(|(_, o)| o.form.context_id == ctx)
        .map(|(k, _)| k.clone())
        .collect();
    if store.evaluations.iter().any(|e| {
        e.evaluation
            .evaluation_form
            .as_ref()
            .is_some_and(|f| versions.contains(&f.id))
    }) {
        return error(
            StatusCode::CONFLICT,
            "evaluation.cannot.be.deleted",
            "An evaluation form in use by evaluations cannot be deleted",
        );
    }
    store.forms.retain(|_, o| o.form.context_id != ctx);
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn publish_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admit!(st, headers);
    check_body!(st, "post_quality_publishedforms_evaluations", body);
    let req: PublishForm = match parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !req.published {
        return bad_request("Unpublishing is not supported by this emulator");
    }
    let mut store = st.store();
    let Some(draft) = store.forms.get(&req.id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {} not found", req.id),
        );
    };
    if draft.published {
        return bad_request(format!("Form version {} is already published", req.id));
    }
    let now = iso(st.inner.clock.now());
    // Publishing makes a new published version (new ids, same context ids) and, as Terraform
    // observes, answers with a new draft: clients must re-read the published version.
    let mut published = draft.form.clone();
    assign_ids(&mut published, false);
    published.modified_date = Some(now.clone());
    let mut next_draft = draft.form.clone();
    assign_ids(&mut next_draft, false);
    next_draft.modified_date = Some(now);
    store.form_seq += 1;
    let p = FormVersion {
        form: published,
        published: true,
        seq: store.form_seq,
    };
    store.form_seq += 1;
    let d = FormVersion {
        form: next_draft,
        published: false,
        seq: store.form_seq,
    };
    let resp = form_response(&d);
    store.forms.insert(p.form.id.clone().unwrap_or_default(), p);
    store.forms.insert(d.form.id.clone().unwrap_or_default(), d);
    if store.publishes_to_drop > 0 {
        store.publishes_to_drop -= 1;
        st.inner
            .stats
            .publishes_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return dropped_connection();
    }
    Json(resp).into_response()
}

pub(super) fn latest_published<'a>(
    forms: &'a HashMap<String, FormVersion>,
    context: &Option<String>,
) -> Option<&'a FormVersion> {
    forms
        .values()
        .filter(|v| v.published && &v.form.context_id == context)
        .max_by_key(|v| v.seq)
}

pub(crate) async fn get_published_form(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    admit!(st, headers);
    let store = st.store();
    let Some(any) = store.forms.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} not found"),
        );
    };
    match latest_published(&store.forms, &any.form.context_id) {
        Some(v) => Json(form_response(v)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "evaluation.not.found",
            format!("Form {id} has no published version"),
        ),
    }
}

pub(crate) async fn list_published_forms(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    admit!(st, headers);
    let (size, number) = page!(q);
    let store = st.store();
    let mut versions: Vec<&FormVersion> = store
        .forms
        .values()
        .filter(|v| v.published)
        .filter(|v| {
            q.get("name")
                .is_none_or(|n| v.form.name.contains(n.as_str()))
        })
        .collect();
    versions.sort_by_key(|v| v.seq);
    let forms: Vec<EvaluationForm> = versions.into_iter().map(form_response).collect();
    Json(paginate(
        &forms,
        size,
        number,
        "/api/v2/quality/publishedforms/evaluations",
        "",
    ))
    .into_response()
}
