//! The probe form (a main group, a weight-0 group, an N/A question, a fatal question), the two
//! answer sets the probe sends, and how the form is created and published (or a left-behind one
//! reused).

use super::*;

/// Logical ids of the probe form.
pub(super) const MAIN: &str = "g:main";
pub(super) const ZERO: &str = "g:zero";
pub(super) const Q_GREETING: &str = "q:greeting";
pub(super) const Q_RESOLVED: &str = "q:resolved";
pub(super) const Q_FATAL: &str = "q:fatal";
pub(super) const Q_ZERO: &str = "q:zero";

pub(super) fn option(id: &str, text: &str, value: i32) -> AnswerOption {
    AnswerOption {
        id: Some(id.into()),
        text: text.into(),
        value,
        ..AnswerOption::default()
    }
}

pub(super) fn question(
    id: &str,
    text: &str,
    na: bool,
    fatal: bool,
    options: Vec<AnswerOption>,
) -> Question {
    Question {
        id: Some(id.into()),
        text: text.into(),
        kind: "multipleChoiceQuestion".into(),
        na_enabled: na,
        is_kill: fatal,
        answer_options: options,
        ..Question::default()
    }
}

/// The probe form: a scored group (an N/A-able question and a fatal one) and a group of weight 0.
pub fn definition() -> EvaluationForm {
    EvaluationForm {
        name: FORM_NAME.into(),
        question_groups: vec![
            QuestionGroup {
                id: Some(MAIN.into()),
                name: "Probe: scored".into(),
                kind: "questionGroup".into(),
                weight: 1.0,
                manual_weight: true,
                na_enabled: false,
                questions: vec![
                    question(
                        Q_GREETING,
                        "Greeting given?",
                        false,
                        false,
                        vec![option("o:g:yes", "Yes", 10), option("o:g:no", "No", 0)],
                    ),
                    question(
                        Q_RESOLVED,
                        "Issue resolved?",
                        true,
                        false,
                        vec![option("o:r:yes", "Yes", 10), option("o:r:no", "No", 0)],
                    ),
                    question(
                        Q_FATAL,
                        "Compliance statement read? (fatal)",
                        false,
                        true,
                        vec![option("o:f:pass", "Pass", 1), option("o:f:fail", "Fail", 0)],
                    ),
                ],
                ..QuestionGroup::default()
            },
            QuestionGroup {
                id: Some(ZERO.into()),
                name: "Probe: weight 0".into(),
                kind: "questionGroup".into(),
                weight: 0.0,
                manual_weight: true,
                na_enabled: false,
                questions: vec![question(
                    Q_ZERO,
                    "Informational only (weight 0)",
                    false,
                    false,
                    vec![option("o:z:good", "Good", 10), option("o:z:bad", "Bad", 0)],
                )],
                ..QuestionGroup::default()
            },
        ],
        ..EvaluationForm::default()
    }
}

pub(super) fn answer(q: &str, option: Option<&str>) -> QuestionScore {
    QuestionScore {
        question_id: q.into(),
        answer_id: option.map(str::to_owned),
        marked_na: option.is_none(),
        ..QuestionScore::default()
    }
}

/// Set A: the weight-0 group answered 0 and a question N/A (documented: 100 %).
pub(super) fn set_weight_zero_and_na() -> ScoringSet {
    ScoringSet {
        question_group_scores: vec![
            GroupScore {
                question_group_id: MAIN.into(),
                question_scores: vec![
                    answer(Q_GREETING, Some("o:g:yes")),
                    answer(Q_RESOLVED, None),
                    answer(Q_FATAL, Some("o:f:pass")),
                ],
                ..GroupScore::default()
            },
            GroupScore {
                question_group_id: ZERO.into(),
                question_scores: vec![answer(Q_ZERO, Some("o:z:bad"))],
                ..GroupScore::default()
            },
        ],
        ..ScoringSet::default()
    }
}

/// Set B: the fatal question failed, the rest answered well (documented: 0 %).
pub(super) fn set_failed_fatal() -> ScoringSet {
    ScoringSet {
        question_group_scores: vec![
            GroupScore {
                question_group_id: MAIN.into(),
                question_scores: vec![
                    answer(Q_GREETING, Some("o:g:yes")),
                    answer(Q_RESOLVED, Some("o:r:yes")),
                    answer(Q_FATAL, Some("o:f:fail")),
                ],
                ..GroupScore::default()
            },
            GroupScore {
                question_group_id: ZERO.into(),
                question_scores: vec![answer(Q_ZERO, Some("o:z:good"))],
                ..GroupScore::default()
            },
        ],
        ..ScoringSet::default()
    }
}

/// Creates and publishes the probe form (or reuses one a probe left behind): (draft id, context id,
/// the published version as read, logical → published ids).
pub(super) async fn probe_form(
    client: &GenesysClient,
    def: &EvaluationForm,
) -> Result<(
    String,
    Option<String>,
    EvaluationForm,
    BTreeMap<String, String>,
)> {
    let mut draft = None;
    for f in client
        .list_forms(FORM_NAME)
        .await
        .context("cannot list evaluation forms")?
    {
        if f.name != FORM_NAME {
            continue;
        }
        let id = f.id.clone().context("listed form without id")?;
        match client.get_published_form(&id).await {
            Ok(published) if form::map_ids(def, &published).is_ok() => {
                let map = form::map_ids(def, &published)?;
                return Ok((id, published.context_id.clone(), published, map));
            }
            // A left-behind form of another shape: delete it and make ours.
            Ok(_) => {
                client.delete_form(&id).await.with_context(|| {
                    format!("a form named '{FORM_NAME}' ({id}) of another shape exists and cannot be deleted")
                })?;
            }
            Err(GenesysError::Api { status: 404, .. }) => draft = Some(id),
            Err(e) => return Err(e).context("cannot read the probe form"),
        }
    }
    let draft_id = match draft {
        Some(d) => d,
        None => client
            .create_form(&form::for_create(def))
            .await
            .context("cannot create the probe form")?
            .id
            .context("created form without id")?,
    };
    crate::provision::publish(client, FORM_NAME, &draft_id, None).await?;
    let published = client
        .get_published_form(&draft_id)
        .await
        .context("cannot read the published probe form")?;
    let map = form::map_ids(def, &published)?;
    Ok((draft_id, published.context_id.clone(), published, map))
}
