//! Calabrio's JSON (evaluation, person, form, comments) → the canonical evaluation.

use super::*;

pub(super) fn id_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(super) fn epoch_ms(v: &Value, field: &str) -> Result<Option<jiff::Timestamp>, RecordError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let ms = n.as_i64().ok_or_else(|| {
                RecordError::field(field, format!("{n} is not epoch milliseconds"))
            })?;
            jiff::Timestamp::from_millisecond(ms)
                .map(Some)
                .map_err(|e| RecordError::field(field, e.to_string()))
        }
        Value::String(s) => qm_model::parse_instant(s, None)
            .map(Some)
            .map_err(|e| RecordError::field(field, e.to_string())),
        other => Err(RecordError::field(field, format!("{other} is not a time"))),
    }
}

/// A person of `person/permission/ViewOrg` or `person/{id}`.
pub fn person_from_json(p: &Value) -> Option<Person> {
    let id = p.get("personId").or_else(|| p.get("id")).and_then(id_str)?;
    let display = text(p, "displayName").or_else(|| {
        let name = [text(p, "firstName"), text(p, "lastName")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    });
    Some(Person {
        calabrio_person_id: Some(id),
        username: text(p, "username"),
        email: text(p, "email"),
        windows_login: text(p, "adLogin"),
        employee_id: text(p, "employeeId"),
        acd_id: text(p, "acdId"),
        display_id: p.get("displayId").and_then(id_str),
        display_name: display,
        key: None,
        active: p.get("active").and_then(Value::as_bool),
    })
}

/// A form of `recording/evalform`. The scoring type is read from `scoringType` when present (a name
/// not seen in practitioners' code; the per-form `[scoring]` configuration is what normalises).
pub fn form_from_json(f: &Value) -> Option<FormDef> {
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let options = |q: &Value| {
        list(q, "options")
            .iter()
            .filter_map(|o| {
                Some(OptionDef {
                    id: o.get("id").and_then(id_str)?,
                    label: text(o, "label"),
                    points: o.get("points").and_then(Value::as_f64),
                    kind: text(o, "type"),
                })
            })
            .collect()
    };
    Some(FormDef {
        id: f.get("id").and_then(id_str)?,
        name: text(f, "name"),
        scoring_type: text(f, "scoringType").map(|s| s.to_ascii_lowercase()),
        sections: list(f, "sections")
            .iter()
            .filter_map(|s| {
                Some(SectionDef {
                    id: s.get("id").and_then(id_str)?,
                    name: text(s, "name"),
                    weight: s.get("weight").and_then(Value::as_f64),
                    questions: list(s, "questions")
                        .iter()
                        .filter_map(|q| {
                            Some(QuestionDef {
                                id: q.get("id").and_then(id_str)?,
                                text: text(q, "text"),
                                weight: q.get("weight").and_then(Value::as_f64),
                                is_kpi: q.get("isKpi").and_then(Value::as_bool),
                                options: options(q),
                            })
                        })
                        .collect(),
                })
            })
            .collect(),
    })
}

/// The form of an evaluation: `evalForm.evalFormId`, or `evalForm.id` (both seen in practitioners'
/// data).
pub(super) fn form_id_of(detail: &Value) -> Option<String> {
    detail
        .pointer("/evalForm/evalFormId")
        .and_then(id_str)
        .or_else(|| detail.pointer("/evalForm/id").and_then(id_str))
}

/// A comment as practitioners' data reads it: the text is the top-level `text`; `history[]` records
/// its edits, whose newest entry (by `created`) gives the time and the author of the text as it
/// stands. Returns (text, time, author, edited).
pub(super) fn comment_parts(
    c: &Value,
) -> (
    Option<String>,
    Option<jiff::Timestamp>,
    Option<&Value>,
    bool,
) {
    let history = c
        .get("history")
        .and_then(Value::as_array)
        .filter(|h| !h.is_empty());
    let created = |v: &Value| v.get("created").and_then(Value::as_i64);
    let newest = history.and_then(|h| h.iter().max_by_key(|e| created(e).unwrap_or(i64::MIN)));
    let text = c.get("text").and_then(Value::as_str).map(str::to_owned);
    let at = newest
        .and_then(created)
        .into_iter()
        .chain(created(c))
        .max()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
    let author = newest
        .and_then(|e| e.get("commentor"))
        .or_else(|| c.get("commentor"));
    (text, at, author, newest.is_some())
}

/// Maps one evaluation (detail JSON, its comments, its contact) to the canonical record.
///
/// # Errors
/// What in the evaluation cannot be read, naming its JSON path.
pub fn canonical(
    catalog: &Catalog,
    contact: &Value,
    contact_id: &str,
    detail: &Value,
    comments: &Value,
    tenant: Option<&str>,
) -> Result<CanonicalEvaluation, RecordError> {
    let evaluation_id = detail
        .get("id")
        .and_then(id_str)
        .ok_or_else(|| RecordError::field("id", "missing or not a number/string"))?;
    let form_id =
        form_id_of(detail).ok_or_else(|| RecordError::field("evalForm.evalFormId", "missing"))?;
    let form = catalog.forms.get(&form_id).ok_or_else(|| {
        RecordError::field(
            "evalForm.evalFormId",
            format!(
                "form {form_id} is not in recording/evalform, nor found by its id (a retired form the API no longer gives)"
            ),
        )
    })?;
    let agent_id = detail
        .pointer("/agent/id")
        .and_then(id_str)
        .ok_or_else(|| RecordError::field("agent.id", "missing: no agent"))?;
    let evaluator = detail
        .pointer("/evaluator/id")
        .and_then(id_str)
        .map(|id| catalog.person(&id));
    let kind = match detail.get("isScoreCounted") {
        Some(Value::Bool(false)) => Kind::Calibration,
        Some(Value::Bool(true)) | Some(Value::Null) | None => Kind::Evaluation,
        Some(other) => {
            return Err(RecordError::field(
                "isScoreCounted",
                format!("{other} is not true or false"),
            ));
        }
    };
    let state_raw = detail
        .pointer("/state/text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let state = state_raw
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), crate::csv_wide::normalise_state);
    let number = |key: &str| -> Result<Option<f64>, RecordError> {
        match detail.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| RecordError::field(key, format!("{v} is not a number"))),
        }
    };
    let total = number("totalScore")?;
    let raw_additive = number("additiveScore")?;
    // The API has no KPI flag (reference/calabrio.md §1.6): only the scores can tell.
    let (kpi_failed, kpi_basis) = Score::kpi(None, total, raw_additive);
    let evaluated = detail.get("evaluated").unwrap_or(&Value::Null);
    let created = detail.get("createdDate").unwrap_or(&Value::Null);
    let raw_of = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };

    let mut answers = Vec::new();
    for (si, s) in detail
        .get("sections")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let section_id = s.get("id").and_then(id_str);
        for (qi, q) in s
            .get("questions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = format!("sections[{si}].questions[{qi}]");
            let question_id = q
                .get("id")
                .and_then(id_str)
                .ok_or_else(|| RecordError::field(format!("{field}.id"), "missing"))?;
            answers.push(AnswerRef {
                section_id: section_id.clone(),
                question_id,
                option_id: q.get("selectedOption").and_then(id_str),
                field: format!("{field}.selectedOption"),
            });
        }
    }
    let sections = catalog.sections(form, &answers)?;

    let mut out_comments = Vec::new();
    for c in comments.as_array().map(Vec::as_slice).unwrap_or_default() {
        let (body, at, author, edited) = comment_parts(c);
        let Some(body) = body.filter(|t| !t.trim().is_empty()) else {
            continue; // Blank comments carry nothing (practitioners drop them too).
        };
        let question = c.get("questionFK").and_then(id_str);
        let section = c.get("sectionFK").and_then(id_str);
        let section_name = section.as_ref().map(|sid| {
            form.sections
                .iter()
                .find(|s| s.id == *sid)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| sid.clone())
        });
        let scope = match (&question, &section) {
            (Some(_), _) => CommentScope::Question,
            (None, Some(_)) => CommentScope::Section,
            (None, None) => CommentScope::Evaluation,
        };
        let author = author.map(|a| Person {
            calabrio_person_id: a
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_owned),
            username: text(a, "username"),
            display_id: a.get("displayId").and_then(id_str),
            display_name: Some(
                [text(a, "firstName"), text(a, "lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .filter(|n| !n.is_empty()),
            ..Person::default()
        });
        out_comments.push(Comment {
            comment_id: c
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                .map(str::to_owned)
                .or_else(|| c.get("id").and_then(id_str)),
            scope,
            section_id: section_name,
            question_id: question,
            text: body,
            created_at_utc: at,
            author,
            edited: edited.then_some(true),
        });
    }

    let unit = crate::unit_of(form.scoring_type.as_deref());
    Ok(CanonicalEvaluation {
        schema: qm_model::evaluation::SCHEMA.to_owned(),
        source: Source {
            system: "calabrio_one".into(),
            tenant: tenant.map(str::to_owned),
            extractor: Some("rest_api".into()),
            extracted_at: None,
        },
        evaluation_id,
        contact: Contact {
            contact_id: Some(contact_id.to_owned()),
            assoc_call_id: contact.get("assocCallId").and_then(id_str),
            conversation_id: None,
            contact_type: text(contact, "contactType"),
            start_time_utc: epoch_ms(
                contact.get("startTime").unwrap_or(&Value::Null),
                "contact.startTime",
            )?,
            start_tz: text(contact, "tz"),
            duration_ms: contact.get("callDuration").and_then(Value::as_i64),
        },
        form: Form {
            form_id: Some(form.id.clone()),
            form_name: form.name.clone(),
            scoring_type: form.scoring_type.clone(),
            total_points: None,
        },
        agent: catalog.person(&agent_id),
        evaluator,
        approver: None,
        kind,
        evaluation_type: None,
        state,
        state_raw,
        response_state: detail
            .pointer("/responseState/text")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase),
        dates: Dates {
            evaluated_at_utc: epoch_ms(evaluated, "evaluated")?,
            evaluated_at_raw: raw_of(evaluated),
            created_at_utc: epoch_ms(created, "createdDate")?,
            created_at_raw: raw_of(created),
        },
        score: Score {
            total,
            raw_additive,
            unit,
            max_points: None,
            applicable_points: None,
            kpi_failed,
            kpi_failed_basis: kpi_basis,
        },
        sections,
        comments: out_comments,
        warnings: Vec::new(),
    })
}
