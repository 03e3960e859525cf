//! The sample's Calabrio forms: four forms with their sections and weights, the questions and
//! answer options `recording/evalform` serves, and the section scores a set of answers makes.

use super::fmt_num;

/// A form of the sample: its Calabrio id, name, scoring, scale and weighted sections.
pub(super) struct FormSpec {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) scoring: &'static str,
    pub(super) max: f64,
    pub(super) sections: &'static [(&'static str, f64)],
}

pub(super) const FORMS: &[FormSpec] = &[
    FormSpec {
        id: "12",
        name: "Inbound Support v3",
        scoring: "percentage",
        max: 100.0,
        sections: &[
            ("Opening", 20.0),
            ("Discovery", 30.0),
            ("Resolution", 40.0),
            ("Compliance", 10.0),
        ],
    },
    FormSpec {
        id: "21",
        name: "Sales Call (1-5)",
        scoring: "points",
        max: 5.0,
        sections: &[
            ("Greeting", 1.0),
            ("Needs Analysis", 1.0),
            ("Offer", 1.0),
            ("Close", 1.0),
            ("Compliance", 1.0),
            ("Soft Skills", 1.0),
        ],
    },
    FormSpec {
        id: "33",
        name: "Collections QA",
        scoring: "percentage",
        max: 100.0,
        sections: &[("Verification", 50.0), ("Negotiation", 50.0)],
    },
    FormSpec {
        id: "40",
        name: "Chat Quality",
        scoring: "percentage",
        max: 100.0,
        sections: &[("Tone", 30.0), ("Accuracy", 40.0), ("Resolution", 30.0)],
    },
];

/// One answer option of a sample form question.
pub(super) struct OptM {
    pub(super) id: String,
    pub(super) label: String,
    pub(super) points: f64,
    pub(super) na: bool,
}

/// A question of a sample form.
pub(super) struct QuestionM {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) options: Vec<OptM>,
}

/// A section of a sample form.
pub(super) struct SectionM {
    pub(super) id: String,
    pub(super) name: &'static str,
    pub(super) weight: f64,
    pub(super) questions: Vec<QuestionM>,
}

/// A sample form with its questions and options (what `recording/evalform` serves).
pub(super) struct FormM {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) scoring: &'static str,
    pub(super) sections: Vec<SectionM>,
}

/// The forms of [`FORMS`] with questions: percentage forms have two questions per section worth
/// 0–50 points each (with an N/A option), the 1–5 form one question per section worth 1–5.
pub(super) fn form_models() -> Vec<FormM> {
    FORMS
        .iter()
        .map(|f| FormM {
            id: f.id,
            name: f.name,
            scoring: f.scoring,
            sections: f
                .sections
                .iter()
                .enumerate()
                .map(|(si, (name, weight))| {
                    let sid = format!("{}{}", f.id, si + 1);
                    let texts: Vec<String> = if f.max == 5.0 {
                        vec![format!("{name}: overall rating")]
                    } else {
                        vec![
                            format!("{name}: followed the standard?"),
                            format!("{name}: done with care?"),
                        ]
                    };
                    let questions = texts
                        .into_iter()
                        .enumerate()
                        .map(|(qi, text)| {
                            let qid = format!("{sid}{}", qi + 1);
                            let options: Vec<(&str, f64, bool)> = if f.max == 5.0 {
                                vec![
                                    ("1", 1.0, false),
                                    ("2", 2.0, false),
                                    ("3", 3.0, false),
                                    ("4", 4.0, false),
                                    ("5", 5.0, false),
                                ]
                            } else {
                                vec![
                                    ("Exceeds", 50.0, false),
                                    ("Meets", 40.0, false),
                                    ("Partly", 30.0, false),
                                    ("Below", 15.0, false),
                                    ("No", 0.0, false),
                                    ("N/A", 0.0, true),
                                ]
                            };
                            QuestionM {
                                id: qid.clone(),
                                text,
                                options: options
                                    .into_iter()
                                    .enumerate()
                                    .map(|(oi, (label, points, na))| OptM {
                                        id: format!("{qid}{}", oi + 1),
                                        label: label.into(),
                                        points,
                                        na,
                                    })
                                    .collect(),
                            }
                        })
                        .collect();
                    SectionM {
                        id: sid,
                        name,
                        weight: *weight,
                        questions,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Section (name, score, max) of `answers` on `form`: points of the applicable answers over the
/// most their questions could earn.
pub(super) fn section_scores_of(
    form: &FormM,
    answers: &[Vec<usize>],
) -> Vec<(String, String, String)> {
    form.sections
        .iter()
        .zip(answers)
        .filter_map(|(s, picks)| {
            let mut score = 0.0;
            let mut max = 0.0;
            for (q, &o) in s.questions.iter().zip(picks) {
                let opt = &q.options[o];
                if !opt.na {
                    score += opt.points;
                    max += q
                        .options
                        .iter()
                        .filter(|x| !x.na)
                        .map(|x| x.points)
                        .fold(0.0, f64::max);
                }
            }
            (max > 0.0).then(|| (s.name.to_owned(), fmt_num(score), fmt_num(max)))
        })
        .collect()
}
