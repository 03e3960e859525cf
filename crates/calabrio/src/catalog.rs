//! What an evaluation refers to but does not carry: the forms (sections, questions, options with
//! their points) and the person directory. The REST API and the tables directory both give an
//! evaluation as ids — chosen option ids, person ids — and this module joins them into the canonical
//! record, the same way for both.

use std::collections::HashMap;

use qm_model::{Answer, Person, Question, Section};

use crate::RecordError;

/// One answer option of a question.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptionDef {
    /// Option id.
    pub id: String,
    /// Label shown to the evaluator.
    pub label: Option<String>,
    /// Points it earns (may be negative or fractional).
    pub points: Option<f64>,
    /// `options[].type` as the source gives it.
    pub kind: Option<String>,
}

impl OptionDef {
    /// True when choosing it marks the question not applicable. Assumption (reference/calabrio.md
    /// §1.7: the values of `options[].type` were not found): a type of `na`/`n/a`/`not_applicable`,
    /// or a label of `N/A`.
    pub fn is_na(&self) -> bool {
        let t = self
            .kind
            .as_deref()
            .map(crate::aliases::fold)
            .unwrap_or_default();
        matches!(t.as_str(), "na" | "notapplicable")
            || self
                .label
                .as_deref()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case("n/a"))
    }
}

/// A question of a form.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuestionDef {
    /// Question id.
    pub id: String,
    /// Text.
    pub text: Option<String>,
    /// Weight.
    pub weight: Option<f64>,
    /// A KPI (auto-fail) question, when the source says.
    pub is_kpi: Option<bool>,
    /// Its options.
    pub options: Vec<OptionDef>,
}

impl QuestionDef {
    /// The most points an applicable answer can earn.
    fn max_points(&self) -> Option<f64> {
        self.options
            .iter()
            .filter(|o| !o.is_na())
            .filter_map(|o| o.points)
            .reduce(f64::max)
    }
}

/// A section of a form.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SectionDef {
    /// Section id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Weight.
    pub weight: Option<f64>,
    /// Its questions.
    pub questions: Vec<QuestionDef>,
}

/// A form.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FormDef {
    /// Form id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// `percentage` or `points`, lower case, when known.
    pub scoring_type: Option<String>,
    /// Sections in form order.
    pub sections: Vec<SectionDef>,
}

/// Forms by id, and the person directory by person id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Forms by id.
    pub forms: HashMap<String, FormDef>,
    /// Persons by Calabrio person id.
    pub persons: HashMap<String, Person>,
}

/// One answered (or unanswered) question of an evaluation, by ids.
#[derive(Debug, Clone)]
pub struct AnswerRef {
    /// Section id (may be absent in tables that key answers by question only).
    pub section_id: Option<String>,
    /// Question id.
    pub question_id: String,
    /// Chosen option id; `None` = no stored answer.
    pub option_id: Option<String>,
    /// Where the answer stood, for errors (`sections[0].questions[1].selectedOption`, `scores.csv:17`).
    pub field: String,
}

impl Catalog {
    /// The person with `id`, or a person known only by that id when the directory lacks it.
    pub fn person(&self, id: &str) -> Person {
        self.persons.get(id).cloned().unwrap_or_else(|| Person {
            calabrio_person_id: Some(id.to_owned()),
            ..Person::default()
        })
    }

    /// The canonical sections of an evaluation on `form` from its answers: names, weights, labels and
    /// points joined from the form. A section's `score` is the points earned by its applicable
    /// answers and its `max` the most its applicable questions could earn (N/A answers excluded,
    /// reference/calabrio.md §3), so the planner reads it as a ratio like an exported section score.
    ///
    /// # Errors
    /// An answer naming a question or option the form does not have.
    pub fn sections(
        &self,
        form: &FormDef,
        answers: &[AnswerRef],
    ) -> Result<Vec<Section>, RecordError> {
        let mut out: Vec<Section> = Vec::new();
        let mut earned: Vec<(f64, f64, bool)> = Vec::new();
        for a in answers {
            let found = form.sections.iter().find_map(|s| {
                if a.section_id.as_ref().is_some_and(|id| *id != s.id) {
                    return None;
                }
                s.questions
                    .iter()
                    .find(|q| q.id == a.question_id)
                    .map(|q| (s, q))
            });
            let Some((sdef, qdef)) = found else {
                return Err(RecordError::field(
                    a.field.clone(),
                    format!(
                        "question {} is not on form {} ({})",
                        a.question_id,
                        form.id,
                        form.name.as_deref().unwrap_or("unnamed")
                    ),
                ));
            };
            let answer = match &a.option_id {
                None => None,
                Some(oid) => Some(qdef.options.iter().find(|o| o.id == *oid).ok_or_else(|| {
                    RecordError::field(
                        a.field.clone(),
                        format!("option {oid} is not an option of question {}", qdef.id),
                    )
                })?),
            };
            let si = match out
                .iter()
                .position(|s| s.section_id.as_deref() == Some(sdef.id.as_str()))
            {
                Some(i) => i,
                None => {
                    out.push(Section {
                        section_id: Some(sdef.id.clone()),
                        name: sdef.name.clone(),
                        weight: sdef.weight,
                        ..Section::default()
                    });
                    earned.push((0.0, 0.0, false));
                    out.len() - 1
                }
            };
            let na = answer.is_some_and(OptionDef::is_na);
            if let Some(o) = answer
                && !na
            {
                earned[si].0 += o.points.unwrap_or(0.0);
                earned[si].1 += qdef.max_points().unwrap_or(0.0);
                earned[si].2 = true;
            }
            out[si].questions.push(Question {
                question_id: Some(qdef.id.clone()),
                text: qdef.text.clone(),
                weight: qdef.weight,
                is_kpi: qdef.is_kpi,
                answer: answer.map(|o| Answer {
                    option_id: Some(o.id.clone()),
                    label: o.label.clone(),
                    points: o.points,
                    kind: o.kind.clone(),
                }),
                na: na.then_some(true),
            });
        }
        for (s, (score, max, any)) in out.iter_mut().zip(earned) {
            if any {
                s.score = Some(score);
                s.max = Some(max);
            } else if !s.questions.is_empty() && s.questions.iter().all(|q| q.na == Some(true)) {
                s.na = Some(true);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> FormDef {
        let opt = |id: &str, label: &str, points: f64, kind: Option<&str>| OptionDef {
            id: id.into(),
            label: Some(label.into()),
            points: Some(points),
            kind: kind.map(str::to_owned),
        };
        FormDef {
            id: "12".into(),
            name: Some("F".into()),
            scoring_type: Some("points".into()),
            sections: vec![SectionDef {
                id: "101".into(),
                name: Some("Compliance".into()),
                weight: None,
                questions: vec![
                    QuestionDef {
                        id: "1001".into(),
                        text: Some("Verified?".into()),
                        options: vec![opt("1", "Yes", 10.0, None), opt("2", "No", 0.0, None)],
                        ..QuestionDef::default()
                    },
                    QuestionDef {
                        id: "1002".into(),
                        text: Some("Disclosure?".into()),
                        options: vec![
                            opt("3", "Yes", 5.0, None),
                            opt("4", "Rude", -5.0, None),
                            opt("5", "N/A", 0.0, Some("NA")),
                        ],
                        ..QuestionDef::default()
                    },
                ],
            }],
        }
    }

    fn answer(q: &str, o: Option<&str>) -> AnswerRef {
        AnswerRef {
            section_id: Some("101".into()),
            question_id: q.into(),
            option_id: o.map(str::to_owned),
            field: format!("q{q}"),
        }
    }

    #[test]
    fn section_score_is_earned_over_applicable_points() {
        let c = Catalog::default();
        let s = c
            .sections(
                &form(),
                &[answer("1001", Some("1")), answer("1002", Some("4"))],
            )
            .unwrap();
        assert_eq!((s[0].score, s[0].max), (Some(5.0), Some(15.0)));
        assert_eq!(s[0].name.as_deref(), Some("Compliance"));
        assert_eq!(
            s[0].questions[1].answer.as_ref().unwrap().label.as_deref(),
            Some("Rude")
        );
        // N/A leaves the question out of the applicable points.
        let s = c
            .sections(
                &form(),
                &[answer("1001", Some("1")), answer("1002", Some("5"))],
            )
            .unwrap();
        assert_eq!((s[0].score, s[0].max), (Some(10.0), Some(10.0)));
        assert_eq!(s[0].questions[1].na, Some(true));
    }

    #[test]
    fn unknown_options_and_questions_name_the_field() {
        let c = Catalog::default();
        let e = c
            .sections(&form(), &[answer("1001", Some("9"))])
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("q1001"));
        assert!(e.message.contains("option 9"), "{e}");
        let e = c.sections(&form(), &[answer("7", None)]).unwrap_err();
        assert!(e.message.contains("question 7 is not on form 12"), "{e}");
    }
}
