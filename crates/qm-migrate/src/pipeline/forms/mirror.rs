//! Mirror mode (issue #9, in progress): a Calabrio form rebuilt in Genesys question by question, and
//! an evaluation answered on it option by option.
//!
//! * Each section becomes a question group with the section's weight (1 when Calabrio gives none);
//!   each question a multiple-choice question with its text (cut at Genesys' 500 characters, the
//!   full text then kept in the help text); each applicable option an answer option whose integer
//!   `value` is its points × 10^`scale`, `scale` being the smallest power of ten (≤ 4) that makes
//!   every option's points whole on this form. An N/A option becomes the question's (and group's)
//!   N/A; a KPI question becomes a fatal (`isKill`) question. A form without a KPI question gets the
//!   container form's KPI group (a fatal question answered Failed on a KPI failure, else N/A), since
//!   Calabrio fails an evaluation on its KPI flag and Genesys zeroes a total only through a failed
//!   fatal question. A form over 200 questions is refused.
//! * The planner answers each question with the mirrored option (`answerId`, `markedNA`, and the
//!   question's own comments), scores the
//!   answers with Genesys' documented formula and keeps the mirror only when that total equals the
//!   Calabrio total within the tolerance; otherwise the record falls back to container mode with the
//!   reason (a negative option, for instance, cannot be an option value: unverified #14).
//!
//! Ids in the definition are logical (`g:<section>`, `q:<section>:<question>`,
//! `o:<section>:<question>:<option>`), mapped to the published version's ids by
//! [`crate::form::map_ids`] as for the container form.

use std::collections::BTreeMap;

use calabrio::catalog::{FormDef, OptionDef};
use genesys::models::{
    AnswerOption, EvaluationForm, GroupScore, Question, QuestionGroup, QuestionScore, ScoringSet,
};
use qm_model::CanonicalEvaluation;
use serde::Serialize;

/// Genesys' limit on questions per form (reference/genesys-api.md §5).
pub const MAX_QUESTIONS: usize = 200;
/// Genesys' limit on question text.
pub const MAX_QUESTION_TEXT: usize = 500;
/// Genesys' limit on form and group names.
pub const MAX_NAME: usize = 250;

/// A mirrored form.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorForm {
    /// The Calabrio form id.
    pub calabrio_form_id: String,
    /// Points × 10^scale = option value.
    pub scale: u32,
    /// The definition, with logical ids.
    pub definition: EvaluationForm,
    /// Content hash of the definition (a changed Calabrio form has another).
    pub hash: String,
    /// Questions whose text was cut (the full text is in the help text).
    pub cut_texts: usize,
    /// Options with negative points, mirrored as 0: an evaluation choosing one falls back.
    pub negative_options: Vec<String>,
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The smallest power of ten (0 … 4) that makes every value whole; 4 when none does.
fn scale_of(points: impl Iterator<Item = f64>) -> u32 {
    let points: Vec<f64> = points.collect();
    (0..=4)
        .find(|k| {
            let f = 10f64.powi(*k as i32);
            points
                .iter()
                .all(|p| ((p * f) - (p * f).round()).abs() < 1e-6)
        })
        .unwrap_or(4)
}

fn group_id(section: &str) -> String {
    format!("g:{section}")
}
fn question_id(section: &str, question: &str) -> String {
    format!("q:{section}:{question}")
}
fn option_id(section: &str, question: &str, option: &str) -> String {
    format!("o:{section}:{question}:{option}")
}

/// Builds the mirrored form of `def`.
///
/// # Errors
/// A form Genesys cannot hold: over 200 questions, or no question at all.
pub fn build(def: &FormDef) -> Result<MirrorForm, String> {
    let label = def
        .name
        .clone()
        .unwrap_or_else(|| format!("form {}", def.id));
    let count: usize = def.sections.iter().map(|s| s.questions.len()).sum();
    if count > MAX_QUESTIONS {
        return Err(format!(
            "Calabrio form {} ({label}) has {count} questions; a Genesys form holds at most {MAX_QUESTIONS}, so it cannot be mirrored",
            def.id
        ));
    }
    if count == 0 {
        return Err(format!(
            "Calabrio form {} ({label}) has no question to mirror",
            def.id
        ));
    }
    let scale = scale_of(
        def.sections
            .iter()
            .flat_map(|s| &s.questions)
            .flat_map(|q| &q.options)
            .filter(|o| !o.is_na())
            .filter_map(|o| o.points),
    );
    let factor = 10f64.powi(scale as i32);
    let mut cut_texts = 0;
    let mut negative_options = Vec::new();
    let groups = def
        .sections
        .iter()
        .map(|s| {
            let questions: Vec<Question> = s
                .questions
                .iter()
                .map(|q| {
                    let full = q
                        .text
                        .clone()
                        .unwrap_or_else(|| format!("Question {}", q.id));
                    let text = clip(&full, MAX_QUESTION_TEXT);
                    let help_text = (text.len() < full.len()).then(|| {
                        cut_texts += 1;
                        full.clone()
                    });
                    let answer_options = q
                        .options
                        .iter()
                        .filter(|o| !o.is_na())
                        .map(|o| {
                            let v = (o.points.unwrap_or(0.0) * factor).round();
                            if v < 0.0 {
                                negative_options.push(option_id(&s.id, &q.id, &o.id));
                            }
                            AnswerOption {
                                id: Some(option_id(&s.id, &q.id, &o.id)),
                                text: o.label.clone().unwrap_or_else(|| o.id.clone()),
                                value: v.clamp(0.0, f64::from(i32::MAX)) as i32,
                                ..AnswerOption::default()
                            }
                        })
                        .collect();
                    Question {
                        id: Some(question_id(&s.id, &q.id)),
                        text,
                        help_text,
                        kind: "multipleChoiceQuestion".into(),
                        na_enabled: q.options.iter().any(OptionDef::is_na),
                        is_kill: q.is_kpi == Some(true),
                        answer_options,
                        ..Question::default()
                    }
                })
                .collect();
            QuestionGroup {
                id: Some(group_id(&s.id)),
                name: clip(
                    s.name.as_deref().unwrap_or(&format!("Section {}", s.id)),
                    MAX_NAME,
                ),
                kind: "questionGroup".into(),
                weight: s.weight.unwrap_or(1.0),
                manual_weight: true,
                na_enabled: questions.iter().any(|q| q.na_enabled),
                questions,
                ..QuestionGroup::default()
            }
        })
        .collect();
    let mut groups: Vec<QuestionGroup> = groups;
    // Calabrio can fail an evaluation on a KPI without a KPI question on the form (the flag is the
    // evaluation's); Genesys zeroes a total only through a failed fatal question. Such forms get
    // one, as the container form has: answered Failed on a KPI failure, else N/A (0 of 0).
    let has_kpi_question = def
        .sections
        .iter()
        .flat_map(|s| &s.questions)
        .any(|q| q.is_kpi == Some(true));
    if !has_kpi_question {
        groups.push(crate::form::kpi_group());
    }
    let definition = EvaluationForm {
        name: clip(&format!("{label} (Calabrio)"), MAX_NAME),
        question_groups: groups,
        ..EvaluationForm::default()
    };
    let hash = crate::form::definition_hash(&definition);
    Ok(MirrorForm {
        calabrio_form_id: def.id.clone(),
        scale,
        definition,
        hash,
        cut_texts,
        negative_options,
    })
}

/// How one evaluation goes onto its mirrored form.
#[derive(Debug, Clone, PartialEq)]
pub enum Mirrored {
    /// Answered question by question; Genesys will compute `predicted`.
    Answers {
        /// The answers, logical ids.
        answers: ScoringSet,
        /// Genesys' total by the documented formula.
        predicted: f64,
    },
    /// Container mode for this record, and why.
    Fallback(String),
}

/// Answers `ev` on `form` and keeps the mirror only if Genesys' total equals `calabrio_total`
/// within `tolerance`.
pub fn answer(
    form: &MirrorForm,
    ev: &CanonicalEvaluation,
    calabrio_total: f64,
    tolerance: f64,
) -> Mirrored {
    let def = &form.definition;
    let mut groups: BTreeMap<String, Vec<QuestionScore>> = BTreeMap::new();
    for s in &ev.sections {
        let Some(sid) = &s.section_id else {
            return Mirrored::Fallback("a section without an id cannot be mirrored".into());
        };
        for q in &s.questions {
            let Some(qid) = &q.question_id else {
                return Mirrored::Fallback(format!(
                    "a question of section {sid} has no id and cannot be mirrored"
                ));
            };
            let gq = question_id(sid, qid);
            // The question's own comments travel with its answer.
            let remarks: Vec<&str> = ev
                .comments
                .iter()
                .filter(|c| {
                    c.scope == qm_model::CommentScope::Question
                        && c.question_id.as_deref() == Some(qid.as_str())
                        // A comment names its section by id or (the tables source) by name.
                        && c
                            .section_id
                            .as_deref()
                            .is_none_or(|cs| cs == sid || s.name.as_deref() == Some(cs))
                })
                .map(|c| c.text.as_str())
                .collect();
            let comments = (!remarks.is_empty()).then(|| remarks.join("\n"));
            let score = if q.na == Some(true) {
                QuestionScore {
                    question_id: gq,
                    marked_na: true,
                    comments,
                    ..QuestionScore::default()
                }
            } else {
                let Some(oid) = q.answer.as_ref().and_then(|a| a.option_id.as_ref()) else {
                    return Mirrored::Fallback(format!(
                        "question {qid} has no chosen option id to mirror"
                    ));
                };
                let aid = option_id(sid, qid, oid);
                if form.negative_options.contains(&aid) {
                    return Mirrored::Fallback(format!(
                        "question {qid} was answered with an option of negative points, which a Genesys option value cannot carry (unverified #14)"
                    ));
                }
                QuestionScore {
                    question_id: gq,
                    answer_id: Some(aid),
                    comments,
                    ..QuestionScore::default()
                }
            };
            groups.entry(group_id(sid)).or_default().push(score);
        }
    }
    let answers = ScoringSet {
        question_group_scores: def
            .question_groups
            .iter()
            .filter(|g| g.id.as_deref() != Some(crate::form::KPI_GROUP))
            .filter_map(|g| {
                let id = g.id.clone()?;
                let qs = groups.remove(&id).unwrap_or_default();
                let all_na = !qs.is_empty() && qs.iter().all(|q| q.marked_na);
                Some(GroupScore {
                    question_group_id: id,
                    marked_na: all_na && g.na_enabled,
                    question_scores: if all_na && g.na_enabled {
                        Vec::new()
                    } else {
                        qs
                    },
                    ..GroupScore::default()
                })
            })
            .chain(
                // The added KPI group: Failed on a KPI failure, else N/A.
                def.question_groups
                    .iter()
                    .any(|g| g.id.as_deref() == Some(crate::form::KPI_GROUP))
                    .then(|| crate::form::kpi_answer(ev.score.kpi_failed == Some(true))),
            )
            .collect(),
        ..ScoringSet::default()
    };
    if let Some((id, _)) = groups.into_iter().next() {
        return Mirrored::Fallback(format!("section {id} is not on the mirrored form"));
    }
    match genesys::scoring::score(def, &answers, false) {
        Ok(scored) => {
            let predicted = scored.total_score.unwrap_or(0.0);
            if (predicted - calabrio_total).abs() <= tolerance + 1e-9 {
                Mirrored::Answers { answers, predicted }
            } else {
                let na = ev
                    .sections
                    .iter()
                    .any(|s| s.questions.iter().any(|q| q.na == Some(true)));
                Mirrored::Fallback(format!(
                    "Genesys' rules would score it {predicted:.2} where Calabrio scored {calabrio_total:.2}{}",
                    if na {
                        ": N/A answers lower a section's possible points, and Genesys weights points where Calabrio weights section percentages"
                    } else {
                        ""
                    }
                ))
            }
        }
        Err(e) => Mirrored::Fallback(format!("the mirrored answers are not valid: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calabrio::catalog::{QuestionDef, SectionDef};
    use qm_model::{Answer, Section};

    fn opt(id: &str, label: &str, points: f64) -> OptionDef {
        OptionDef {
            id: id.into(),
            label: Some(label.into()),
            points: Some(points),
            kind: None,
        }
    }

    fn form(questions: Vec<QuestionDef>) -> FormDef {
        FormDef {
            id: "7".into(),
            name: Some("Sales".into()),
            scoring_type: Some("points".into()),
            sections: vec![SectionDef {
                id: "s1".into(),
                name: Some("Opening".into()),
                weight: Some(2.0),
                questions,
            }],
        }
    }

    fn question(id: &str, options: Vec<OptionDef>) -> QuestionDef {
        QuestionDef {
            id: id.into(),
            text: Some(format!("Question {id}?")),
            options,
            ..QuestionDef::default()
        }
    }

    fn evaluation(answers: &[(&str, &str)]) -> CanonicalEvaluation {
        let mut ev: CanonicalEvaluation = serde_json::from_value(serde_json::json!({
            "schema": "test", "source": {}, "evaluation_id": "1", "contact": {}, "form": {},
            "agent": {}, "kind": "evaluation", "state": "scored", "dates": {}, "score": {}
        }))
        .unwrap();
        ev.sections = vec![Section {
            section_id: Some("s1".into()),
            questions: answers
                .iter()
                .map(|(q, o)| qm_model::Question {
                    question_id: Some((*q).into()),
                    answer: Some(Answer {
                        option_id: Some((*o).into()),
                        ..Answer::default()
                    }),
                    ..qm_model::Question::default()
                })
                .collect(),
            ..Section::default()
        }];
        ev
    }

    #[test]
    fn fractional_points_are_scaled_by_a_common_power_of_ten_and_scored_exactly() {
        let f = form(vec![
            question("q1", vec![opt("a", "Yes", 2.5), opt("b", "No", 0.0)]),
            question("q2", vec![opt("c", "Yes", 1.25), opt("d", "No", 0.0)]),
        ]);
        let m = build(&f).unwrap();
        assert_eq!(m.scale, 2);
        let q = &m.definition.question_groups[0].questions;
        assert_eq!(
            (q[0].answer_options[0].value, q[1].answer_options[0].value),
            (250, 125)
        );
        assert_eq!(m.definition.question_groups[0].weight, 2.0);
        // 2.5 of 3.75 points = 66.67 %.
        match answer(&m, &evaluation(&[("q1", "a"), ("q2", "d")]), 66.67, 0.5) {
            Mirrored::Answers { predicted, .. } => assert!((predicted - 66.666).abs() < 0.01),
            other => panic!("{other:?}"),
        }
        // A Calabrio total the formula cannot give falls back, with both numbers.
        match answer(&m, &evaluation(&[("q1", "a"), ("q2", "d")]), 50.0, 0.5) {
            Mirrored::Fallback(r) => assert!(r.contains("66.67") && r.contains("50.00"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_long_texts_na_kpi_and_negative_points() {
        let many: Vec<QuestionDef> = (0..201)
            .map(|i| question(&i.to_string(), vec![opt("y", "Yes", 1.0)]))
            .collect();
        let e = build(&form(many)).unwrap_err();
        assert!(e.contains("201 questions") && e.contains("200"), "{e}");

        let mut long = question("q1", vec![opt("a", "Yes", 1.0), opt("n", "N/A", 0.0)]);
        long.text = Some("x".repeat(600));
        long.is_kpi = Some(true);
        let rude = question("q2", vec![opt("p", "Polite", 5.0), opt("r", "Rude", -5.0)]);
        let m = build(&form(vec![long, rude])).unwrap();
        let q = &m.definition.question_groups[0].questions;
        assert_eq!(q[0].text.chars().count(), 500);
        assert_eq!(q[0].help_text.as_deref().map(str::len), Some(600));
        assert!(q[0].is_kill && q[0].na_enabled && !q[1].na_enabled);
        assert_eq!(
            q[0].answer_options.len(),
            1,
            "N/A is the question's N/A, not an option"
        );
        assert_eq!(m.cut_texts, 1);
        // A real KPI question: no added KPI group.
        assert_eq!(m.definition.question_groups.len(), 1);
        match answer(&m, &evaluation(&[("q1", "a"), ("q2", "r")]), 0.0, 0.5) {
            Mirrored::Fallback(r) => assert!(r.contains("negative points"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_kpi_failure_without_a_kpi_question_zeroes_through_the_added_fatal_question() {
        let m = build(&form(vec![question(
            "q1",
            vec![opt("a", "Yes", 1.0), opt("b", "No", 0.0)],
        )]))
        .unwrap();
        assert_eq!(m.definition.question_groups.len(), 2);
        let mut ev = evaluation(&[("q1", "a")]);
        assert!(matches!(
            answer(&m, &ev, 100.0, 0.5),
            Mirrored::Answers { .. }
        ));
        // A question's comment goes with that question's answer.
        ev.comments = serde_json::from_value(serde_json::json!([
            {"scope": "question", "section_id": "s1", "question_id": "q1", "text": "Greeting skipped <b>"}
        ]))
        .unwrap();
        match answer(&m, &ev, 100.0, 0.5) {
            Mirrored::Answers { answers, .. } => assert_eq!(
                answers.question_group_scores[0].question_scores[0]
                    .comments
                    .as_deref(),
                Some("Greeting skipped <b>")
            ),
            other => panic!("{other:?}"),
        }
        ev.score.kpi_failed = Some(true);
        match answer(&m, &ev, 0.0, 0.5) {
            Mirrored::Answers { predicted, .. } => assert_eq!(predicted, 0.0),
            other => panic!("{other:?}"),
        }
    }
}
