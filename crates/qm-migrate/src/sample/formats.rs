//! The sample's evaluations in every source shape the tool reads: wide and long CSV, canonical JSON
//! Lines, a tables directory and the Calabrio REST API dataset the Calabrio emulator serves. All are
//! written from the same rows, so extracting any of them must give the same canonical records.

use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Agent, FORMS, FormM, OptM, QuestionM, Row, SectionM, fmt_num};
use crate::fsutil::write_private;

/// The evaluation-level columns of the wide and long CSV exports (the malformed rows the sample
/// appends fill the first eighteen in this order).
pub(super) const EVALUATION_COLUMNS: &[&str] = &[
    "evaluation_id",
    "contact_id",
    "assoc_call_id",
    "contact_type",
    "contact_start_utc",
    "form_id",
    "form_name",
    "scoring_type",
    "kind",
    "state",
    "evaluated_at",
    "created_at",
    "total_score",
    "raw_additive_score",
    "kpi_failed",
    "agent_person_id",
    "agent_username",
    "agent_email",
    "agent_windows_login",
    "agent_display_name",
    "evaluator_person_id",
    "evaluator_email",
    "evaluator_username",
    "evaluator_windows_login",
    "evaluator_display_name",
    "evaluation_comment",
    "agent_employee_id",
    "agent_acd_id",
];

/// A person as every format writes them.
pub(super) struct Who {
    pub(super) person_id: String,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) windows: String,
    pub(super) name: String,
    pub(super) active: bool,
    pub(super) employee_id: Option<String>,
    pub(super) acd_id: Option<String>,
}

/// One answered question of a row.
pub(super) struct Answered<'a> {
    pub(super) section: &'a SectionM,
    pub(super) question: &'a QuestionM,
    pub(super) option: &'a OptM,
}

/// The rows with what they refer to.
pub(super) struct View<'a> {
    pub(super) rows: &'a [Row],
    pub(super) agents: &'a [Agent],
    pub(super) evaluators: &'a [(String, String, Option<String>)],
    pub(super) models: &'a [FormM],
}

fn ms(iso: &str) -> Value {
    iso.parse::<jiff::Timestamp>()
        .map_or(Value::Null, |t| json!(t.as_millisecond()))
}

fn num(text: &str) -> Value {
    text.parse::<f64>().map_or(Value::Null, |v| json!(v))
}

fn int(text: &str) -> Value {
    text.parse::<i64>().map_or(json!(text), |v| json!(v))
}

impl View<'_> {
    pub(super) fn agent(&self, r: &Row) -> Who {
        let a = &self.agents[r.agent];
        Who {
            person_id: a.person_id.to_string(),
            username: a.username.clone(),
            email: r
                .agent_email_override
                .clone()
                .unwrap_or_else(|| a.email.clone()),
            windows: a.windows.clone(),
            name: a.name.clone(),
            active: r.agent > 1,
            employee_id: a.employee_id.clone(),
            acd_id: a.acd_id.clone(),
        }
    }

    pub(super) fn evaluator(&self, e: usize) -> Who {
        let (name, email, _) = &self.evaluators[e];
        Who {
            person_id: (500 + e).to_string(),
            username: email.clone(),
            email: email.clone(),
            windows: format!("CORP\\qa{e}"),
            name: name.clone(),
            active: e != 1,
            employee_id: None,
            acd_id: None,
        }
    }

    pub(super) fn answers<'b>(&'b self, r: &Row) -> Vec<Answered<'b>> {
        let f = &self.models[r.form];
        let mut out = Vec::new();
        for (s, picks) in f.sections.iter().zip(&r.answers) {
            for (q, &o) in s.questions.iter().zip(picks) {
                out.push(Answered {
                    section: s,
                    question: q,
                    option: &q.options[o],
                });
            }
        }
        out
    }

    /// The [`EVALUATION_COLUMNS`] cells of `r`.
    pub(super) fn evaluation_cells(&self, r: &Row) -> Vec<String> {
        let f = &self.models[r.form];
        let a = self.agent(r);
        let e = r.evaluator.map(|e| self.evaluator(e));
        let ev = |g: fn(&Who) -> String| e.as_ref().map(g).unwrap_or_default();
        vec![
            r.evaluation_id.clone(),
            r.contact_id.clone(),
            r.assoc_call_id.clone(),
            "CALL".into(),
            r.contact_start.clone(),
            f.id.into(),
            f.name.into(),
            f.scoring.into(),
            r.kind.clone(),
            r.state.clone(),
            r.evaluated_at.clone(),
            r.created_at.clone(),
            r.total.clone(),
            r.raw_additive.clone(),
            r.kpi_failed.clone(),
            a.person_id,
            a.username,
            a.email,
            a.windows,
            a.name,
            ev(|w| w.person_id.clone()),
            ev(|w| w.email.clone()),
            ev(|w| w.username.clone()),
            ev(|w| w.windows.clone()),
            ev(|w| w.name.clone()),
            r.comment.clone(),
            a.employee_id.clone().unwrap_or_default(),
            a.acd_id.clone().unwrap_or_default(),
        ]
    }

    /// `r` as a canonical JSON record (§8.1).
    pub(super) fn canonical_json(&self, r: &Row) -> Value {
        let f = &self.models[r.form];
        let a = self.agent(r);
        let person = |w: &Who| {
            json!({
                "calabrio_person_id": w.person_id, "username": w.username, "email": w.email,
                "windows_login": w.windows, "display_name": w.name,
                "employee_id": w.employee_id, "acd_id": w.acd_id,
            })
        };
        let answered = self.answers(r);
        let sections: Vec<Value> = f
            .sections
            .iter()
            .filter_map(|s| {
                let (_, score, max) = r.sections.iter().find(|(n, _, _)| n == s.name)?;
                let questions: Vec<Value> = answered
                    .iter()
                    .filter(|x| x.section.id == s.id)
                    .map(|x| {
                        json!({
                            "question_id": x.question.id,
                            "text": x.question.text,
                            "answer": {
                                "option_id": x.option.id, "label": x.option.label,
                                "points": x.option.points,
                                "type": x.option.na.then_some("na"),
                            },
                            "na": x.option.na.then_some(true),
                        })
                    })
                    .collect();
                Some(json!({
                    "section_id": s.id, "name": s.name, "weight": s.weight,
                    "score": num(score), "max": num(max), "questions": questions,
                }))
            })
            .collect();
        json!({
            "schema": "calabrio-qm-evaluation/v1",
            "source": {"system": "calabrio_one", "tenant": "sample.calabriocloud.com", "extractor": "rest_api"},
            "evaluation_id": r.evaluation_id,
            "contact": {
                "contact_id": r.contact_id,
                "assoc_call_id": (!r.assoc_call_id.is_empty()).then_some(&r.assoc_call_id),
                "contact_type": "CALL",
                "start_time_utc": r.contact_start,
            },
            "form": {"form_id": f.id, "form_name": f.name, "scoring_type": f.scoring},
            "agent": person(&a),
            "evaluator": r.evaluator.map(|e| person(&self.evaluator(e))),
            "kind": r.kind,
            "state": if r.state == "SCORED" { "scored" } else { "in_progress" },
            "state_raw": r.state,
            "dates": {
                "evaluated_at_utc": (!r.evaluated_at.is_empty()).then_some(&r.evaluated_at),
                "created_at_utc": (!r.created_at.is_empty()).then_some(&r.created_at),
            },
            "score": {
                "total": r.total.parse::<f64>().ok(),
                "raw_additive": r.raw_additive.parse::<f64>().ok(),
                "unit": if f.scoring == "points" { "points" } else { "percent" },
                "kpi_failed": (r.kpi_failed == "true").then_some(true),
                "kpi_failed_basis": (r.kpi_failed == "true").then_some("explicit"),
            },
            "sections": sections,
            "comments": if r.comment.is_empty() { vec![] } else {
                vec![json!({"scope": "evaluation", "text": r.comment})]
            },
        })
    }

    /// Long CSV (§8.3): one row per answered question; the section score and maximum repeat on each
    /// row of their section. One version per evaluation id (a later version standing next to the
    /// earlier one would be one group whose rows disagree).
    pub(super) fn write_long(&self, path: &Path) -> Result<u64> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header: Vec<&str> = EVALUATION_COLUMNS.to_vec();
        header.extend([
            "section_id",
            "section_name",
            "section_weight",
            "section_score",
            "section_max",
            "question_id",
            "question_text",
            "option_id",
            "answer_label",
            "answer_points",
            "answer_type",
            "is_na",
        ]);
        w.write_record(&header)?;
        let mut rows = 0;
        for r in self.latest() {
            let head = self.evaluation_cells(r);
            for a in self.answers(r) {
                let (score, max) = r
                    .sections
                    .iter()
                    .find(|(n, _, _)| n == a.section.name)
                    .map(|(_, s, m)| (s.clone(), m.clone()))
                    .unwrap_or_default();
                let mut rec = head.clone();
                rec.extend([
                    a.section.id.clone(),
                    a.section.name.to_owned(),
                    fmt_num(a.section.weight),
                    score,
                    max,
                    a.question.id.clone(),
                    a.question.text.clone(),
                    a.option.id.clone(),
                    a.option.label.clone(),
                    fmt_num(a.option.points),
                    if a.option.na {
                        "na".into()
                    } else {
                        String::new()
                    },
                    if a.option.na {
                        "true".into()
                    } else {
                        String::new()
                    },
                ]);
                w.write_record(&rec)?;
                rows += 1;
            }
        }
        write_private(path, &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(rows)
    }

    fn persons(&self) -> Vec<Who> {
        let mut v: Vec<Who> = (0..self.agents.len())
            .map(|i| {
                let a = &self.agents[i];
                Who {
                    person_id: a.person_id.to_string(),
                    username: a.username.clone(),
                    email: a.email.clone(),
                    windows: a.windows.clone(),
                    name: a.name.clone(),
                    active: i > 1,
                    employee_id: a.employee_id.clone(),
                    acd_id: a.acd_id.clone(),
                }
            })
            .collect();
        v.extend((0..self.evaluators.len()).map(|e| self.evaluator(e)));
        v
    }

    /// The latest version of each evaluation (the API and the tables hold one per id).
    fn latest(&self) -> Vec<&Row> {
        let mut seen = std::collections::HashMap::new();
        let mut out: Vec<&Row> = Vec::new();
        for r in self.rows {
            match seen.get(&r.evaluation_id) {
                Some(&i) => out[i] = r,
                None => {
                    seen.insert(r.evaluation_id.clone(), out.len());
                    out.push(r);
                }
            }
        }
        out
    }

    /// A tables directory (§8.4).
    pub(super) fn write_tables(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let table = |name: &str, header: &[&str], rows: Vec<Vec<String>>| -> Result<()> {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for r in rows {
                w.write_record(&r)?;
            }
            write_private(
                &dir.join(name),
                &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
            )
        };
        let mut forms = Vec::new();
        let mut sections = Vec::new();
        let mut questions = Vec::new();
        let mut options = Vec::new();
        for f in self.models {
            forms.push(vec![f.id.into(), f.name.into(), f.scoring.into()]);
            for s in &f.sections {
                sections.push(vec![
                    f.id.into(),
                    s.id.clone(),
                    s.name.into(),
                    fmt_num(s.weight),
                ]);
                for q in &s.questions {
                    questions.push(vec![
                        s.id.clone(),
                        q.id.clone(),
                        q.text.clone(),
                        String::new(),
                        String::new(),
                    ]);
                    for o in &q.options {
                        options.push(vec![
                            q.id.clone(),
                            o.id.clone(),
                            o.label.clone(),
                            fmt_num(o.points),
                            if o.na { "na".into() } else { String::new() },
                        ]);
                    }
                }
            }
        }
        table(
            "forms.csv",
            &["form_id", "form_name", "scoring_type"],
            forms,
        )?;
        table(
            "sections.csv",
            &["form_id", "section_id", "section_name", "section_weight"],
            sections,
        )?;
        table(
            "questions.csv",
            &[
                "section_id",
                "question_id",
                "question_text",
                "question_weight",
                "is_kpi",
            ],
            questions,
        )?;
        table(
            "options.csv",
            &[
                "question_id",
                "option_id",
                "option_label",
                "option_points",
                "option_type",
            ],
            options,
        )?;
        table(
            "persons.csv",
            &[
                "person_id",
                "username",
                "email",
                "windows_login",
                "display_name",
                "active",
                "employee_id",
                "acd_id",
            ],
            self.persons()
                .into_iter()
                .map(|w| {
                    vec![
                        w.person_id,
                        w.username,
                        w.email,
                        w.windows,
                        w.name,
                        w.active.to_string(),
                        w.employee_id.unwrap_or_default(),
                        w.acd_id.unwrap_or_default(),
                    ]
                })
                .collect(),
        )?;
        let mut evaluations = Vec::new();
        let mut scores = Vec::new();
        let mut comments = Vec::new();
        for r in self.latest() {
            let f = &self.models[r.form];
            evaluations.push(vec![
                r.evaluation_id.clone(),
                f.id.into(),
                r.contact_id.clone(),
                r.assoc_call_id.clone(),
                "CALL".into(),
                r.contact_start.clone(),
                self.agent(r).person_id,
                r.evaluator
                    .map(|e| (500 + e).to_string())
                    .unwrap_or_default(),
                r.kind.clone(),
                r.state.clone(),
                r.evaluated_at.clone(),
                r.created_at.clone(),
                r.raw_additive.clone(),
                r.total.clone(),
                r.kpi_failed.clone(),
            ]);
            for a in self.answers(r) {
                scores.push(vec![
                    r.evaluation_id.clone(),
                    a.section.id.clone(),
                    a.question.id.clone(),
                    a.option.id.clone(),
                ]);
            }
            if !r.comment.is_empty() {
                comments.push(vec![
                    format!("c{}", r.evaluation_id),
                    r.evaluation_id.clone(),
                    String::new(),
                    String::new(),
                    r.evaluated_at.clone(),
                    r.evaluator
                        .map(|e| (500 + e).to_string())
                        .unwrap_or_default(),
                    r.comment.clone(),
                ]);
            }
        }
        table(
            "evaluations.csv",
            &[
                "evaluation_id",
                "form_id",
                "contact_id",
                "assoc_call_id",
                "contact_type",
                "contact_start_utc",
                "agent_id",
                "evaluator_id",
                "kind",
                "state",
                "evaluated_date",
                "created_date",
                "raw_score",
                "final_score",
                "kpi_failed",
            ],
            evaluations,
        )?;
        table(
            "scores.csv",
            &["evaluation_id", "section_id", "question_id", "option_id"],
            scores,
        )?;
        table(
            "comments.csv",
            &[
                "comment_id",
                "evaluation_id",
                "section_id",
                "question_id",
                "created_date",
                "commentor_id",
                "text",
            ],
            comments,
        )
    }

    /// The dataset the Calabrio emulator serves (`calabrio-api.json`): API shapes as practitioners'
    /// code reads them (reference/calabrio.md §1.5–1.7). Every fifth comment was edited (its
    /// `history` holds the final text) and every seventh evaluation also has a blank comment.
    pub(super) fn api_dataset(&self, user: &str, password: &str) -> Value {
        let forms: Vec<Value> = self
            .models
            .iter()
            .map(|f| {
                json!({
                    "id": int(f.id), "name": f.name, "scoringType": f.scoring,
                    "bandRanges": [{"name": "Needs Improvement", "max": 60}, {"name": "Meets Expectations", "max": 85}],
                    "sections": f.sections.iter().map(|s| json!({
                        "id": int(&s.id), "name": s.name, "weight": s.weight,
                        "questions": s.questions.iter().map(|q| json!({
                            "id": int(&q.id), "text": q.text,
                            "options": q.options.iter().map(|o| json!({
                                "id": int(&o.id), "label": o.label, "points": o.points,
                                "type": if o.na { "na" } else { "scored" },
                            })).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let persons: Vec<Value> = self
            .persons()
            .into_iter()
            .map(|w| {
                let (first, last) = w.name.split_once(' ').unwrap_or((&w.name, ""));
                json!({
                    "personId": int(&w.person_id), "username": w.username, "email": w.email,
                    "adLogin": w.windows, "firstName": first, "lastName": last,
                    "displayId": w.person_id, "active": w.active,
                    "employeeId": w.employee_id, "acdId": w.acd_id,
                })
            })
            .collect();
        let mut contacts: Vec<Value> = Vec::new();
        for (n, r) in self.latest().into_iter().enumerate() {
            let cid = &r.contact_id;
            let eid = &r.evaluation_id;
            let sections: Vec<Value> = self.models[r.form]
                .sections
                .iter()
                .zip(&r.answers)
                .map(|(s, picks)| {
                    json!({
                        "id": int(&s.id),
                        "questions": s.questions.iter().zip(picks).map(|(q, &o)| json!({
                            "id": int(&q.id), "selectedOption": int(&q.options[o].id),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut detail = json!({
                "id": int(eid),
                "evalForm": {"evalFormId": int(self.models[r.form].id)},
                "qualityRef": format!("/api/rest/recording/contact/{cid}"),
                "agent": {"id": int(&self.agent(r).person_id)},
                "evaluator": r.evaluator.map(|e| json!({"id": 500 + e})),
                "isScoreCounted": r.kind != "calibration",
                "evaluated": if r.evaluated_at.is_empty() { Value::Null } else { ms(&r.evaluated_at) },
                "evaluatedTz": "America/Chicago",
                "state": {"text": r.state},
                "additiveScore": num(&r.raw_additive),
                "totalScore": num(&r.total),
                "sections": sections,
            });
            if !r.created_at.is_empty()
                && let Value::Object(m) = &mut detail
            {
                m.insert("createdDate".into(), ms(&r.created_at));
            }
            let at = ms(if r.evaluated_at.is_empty() {
                &r.created_at
            } else {
                &r.evaluated_at
            });
            let at_ms = at.as_i64().unwrap_or(0);
            let commentor = r.evaluator.map(|e| {
                let w = self.evaluator(e);
                let (first, last) = w.name.split_once(' ').unwrap_or((&w.name, ""));
                json!({"$ref": format!("/api/rest/org/common/person/{}", w.person_id), "username": w.username,
                       "firstName": first, "lastName": last, "displayId": w.person_id})
            });
            let mut comments = Vec::new();
            if !r.comment.is_empty() {
                let href = format!("/api/rest/recording/contact/{cid}/eval/{eid}/comment/{}", 1);
                if n % 5 == 0 {
                    // Edited: as tenants answer, the top-level text is the comment as it stands and
                    // `history[]` holds the earlier text, with when and by whom it was replaced.
                    comments.push(json!({
                        "$ref": href, "text": r.comment, "created": at_ms, "tz": "America/Chicago",
                        "questionFK": null, "sectionFK": null, "commentor": commentor,
                        "history": [
                            {"created": at_ms + 60_000, "text": "(draft) to be completed", "commentor": commentor},
                        ],
                    }));
                } else {
                    comments.push(json!({
                        "$ref": href, "text": r.comment, "created": at_ms, "tz": "America/Chicago",
                        "questionFK": null, "sectionFK": null, "commentor": commentor, "history": [],
                    }));
                }
            }
            if n % 7 == 0 {
                comments.push(json!({
                    "$ref": format!("/api/rest/recording/contact/{cid}/eval/{eid}/comment/2"),
                    "text": "   ", "created": at_ms, "questionFK": null, "sectionFK": null, "history": [],
                }));
            }
            // The evaluation links to its comments only when it has some (practitioners fetch them
            // only then).
            if !comments.is_empty()
                && let Value::Object(m) = &mut detail
            {
                m.insert(
                    "comments".into(),
                    json!(format!(
                        "/api/rest/recording/contact/{cid}/eval/{eid}/comment"
                    )),
                );
            }
            let mut contact = json!({
                "id": int(cid), "startTime": ms(&r.contact_start), "tz": "America/Chicago",
                "contactType": "CALL", "callDuration": 420_000,
            });
            if !r.assoc_call_id.is_empty()
                && let Value::Object(m) = &mut contact
            {
                m.insert("assocCallId".into(), json!(r.assoc_call_id));
            }
            contacts.push(json!({
                "contact": contact,
                "evaluations": [{"detail": detail, "comments": comments}],
            }));
        }
        json!({
            "api_users": [{"userId": user, "password": password}],
            "persons": persons,
            "forms": forms,
            "contacts": contacts,
        })
    }
}

/// The wide CSV and the JSON Lines export of the rows, with the line each row starts on.
pub(super) struct Exports {
    pub(super) csv: Vec<u8>,
    /// Fields in the CSV header.
    pub(super) width: usize,
    pub(super) csv_lines: Vec<u64>,
    pub(super) next_csv_line: u64,
    pub(super) jsonl: String,
    pub(super) json_lines: Vec<u64>,
    pub(super) next_json_line: u64,
}

/// The section names of every form, each once, in form order (the wide CSV's section columns).
pub(super) fn section_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = Vec::new();
    for f in FORMS {
        for (s, _) in f.sections {
            if !v.contains(s) {
                v.push(s);
            }
        }
    }
    v
}

impl View<'_> {
    /// The wide CSV (a column per section and per question) and the JSON Lines export.
    ///
    /// # Errors
    /// CSV or JSON errors.
    pub(super) fn exports(&self) -> Result<Exports> {
        let section_names = section_names();
        let question_columns: Vec<(&str, &str)> = {
            let mut v: Vec<(&str, &str)> = Vec::new();
            for f in self.models {
                for s in &f.sections {
                    for q in &s.questions {
                        if !v.contains(&(s.name, q.text.as_str())) {
                            v.push((s.name, q.text.as_str()));
                        }
                    }
                }
            }
            v
        };
        let mut header: Vec<String> = EVALUATION_COLUMNS.iter().map(|s| (*s).to_owned()).collect();
        for s in &section_names {
            header.push(format!("section:{s}:score"));
            header.push(format!("section:{s}:max"));
        }
        for (s, q) in &question_columns {
            header.push(format!("q:{s}:{q}:answer"));
            header.push(format!("q:{s}:{q}:points"));
        }
        let mut csv_w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        csv_w.write_record(&header)?;
        let mut jsonl = String::new();
        let mut csv_lines: Vec<u64> = Vec::new();
        let mut json_lines: Vec<u64> = Vec::new();
        let mut csv_line: u64 = 2;
        let mut json_line: u64 = 1;
        for r in self.rows {
            let mut rec = self.evaluation_cells(r);
            for s in &section_names {
                match r.sections.iter().find(|(n, _, _)| n == s) {
                    Some((_, v, m)) => {
                        rec.push(v.clone());
                        rec.push(m.clone());
                    }
                    None => {
                        rec.push(String::new());
                        rec.push(String::new());
                    }
                }
            }
            let answered = self.answers(r);
            for (s, q) in &question_columns {
                match answered
                    .iter()
                    .find(|a| a.section.name == *s && a.question.text == *q)
                {
                    Some(a) => {
                        rec.push(a.option.label.clone());
                        rec.push(if a.option.na {
                            String::new()
                        } else {
                            fmt_num(a.option.points)
                        });
                    }
                    None => {
                        rec.push(String::new());
                        rec.push(String::new());
                    }
                }
            }
            csv_w.write_record(&rec)?;
            csv_lines.push(csv_line);
            csv_line += 1 + r.comment.matches('\n').count() as u64;

            jsonl.push_str(&serde_json::to_string(&self.canonical_json(r))?);
            jsonl.push('\n');
            json_lines.push(json_line);
            json_line += 1;
        }
        Ok(Exports {
            width: header.len(),
            csv: csv_w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
            csv_lines,
            next_csv_line: csv_line,
            jsonl,
            json_lines,
            next_json_line: json_line,
        })
    }
}
