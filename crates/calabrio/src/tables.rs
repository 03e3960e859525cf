//! A normalised tables directory (reference/calabrio.md §8.4), as earlier warehouse extracts write
//! it, one CSV per table:
//!
//! | file | columns |
//! |---|---|
//! | `forms.csv` | `form_id, form_name, scoring_type` |
//! | `sections.csv` | `form_id, section_id, section_name, section_weight` |
//! | `questions.csv` | `section_id, question_id, question_text, question_weight, is_kpi` |
//! | `options.csv` | `question_id, option_id, option_label, option_points, option_type` |
//! | `persons.csv` (optional) | `person_id, username, email, windows_login, employee_id, acd_id, display_id, display_name, active` |
//! | `evaluations.csv` | `evaluation_id, form_id, contact_id, assoc_call_id, contact_type, contact_start_utc, agent_id, evaluator_id, kind, state, evaluated_date, created_date, response_state, raw_score, final_score, kpi_failed` |
//! | `scores.csv` (optional) | `evaluation_id, section_id, question_id, option_id` |
//! | `comments.csv` (optional) | `comment_id, evaluation_id, section_id, question_id, created_date, commentor_id, text` |
//!
//! Headers are matched case-, space- and underscore-insensitively; the Snowflake names
//! (`evaluated_date`, `final_score`, `raw_score`, `option_label`, …) and the canonical ones both work.
//! One record per `evaluations.csv` row, joined with its scores and comments; its raw text is those
//! rows, each prefixed with `file:line:`. A score or comment row for an evaluation the evaluations
//! table lacks is a record in error of its own, so nothing is dropped. A bad row in the form or
//! person tables makes the directory unusable (every evaluation depends on them): a [`FileError`]
//! naming file, line and field.
//!
//! The directory is read whole (the form tables are small; the evaluation tables are held in memory).

use std::collections::HashMap;
use std::path::Path;

use qm_model::{
    CanonicalEvaluation, Comment, CommentScope, Contact, Dates, Form, Kind, Person, Score, Source,
    parse_instant,
};

use crate::aliases::fold;
use crate::catalog::{AnswerRef, Catalog, FormDef, OptionDef, QuestionDef, SectionDef};
use crate::csv_wide::{boolean, normalise_state, number};
use crate::{FileError, Locator, ReadOptions, RecordError, SourceRecord, sha256_hex};

struct Row {
    line: u64,
    raw: String,
    cells: HashMap<String, String>,
}

impl Row {
    fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.cells.get(&fold(n)))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

struct Table {
    file: String,
    rows: Vec<Row>,
}

fn read_table(
    dir: &Path,
    name: &str,
    required: &[&[&str]],
    optional: bool,
) -> Result<Option<Table>, FileError> {
    let path = dir.join(name);
    let file = path.display().to_string();
    if optional && !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|source| FileError::Io {
        file: file.clone(),
        source,
    })?;
    let content = String::from_utf8(bytes).map_err(|e| FileError::Header {
        file: file.clone(),
        message: format!(
            "not valid UTF-8 at byte {} (convert it, or export as UTF-8)",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let content = content.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(content.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| FileError::Header {
            file: file.clone(),
            message: format!("cannot read the header row: {e}"),
        })?
        .iter()
        .map(fold)
        .collect();
    for alternatives in required {
        if !alternatives.iter().any(|a| headers.contains(&fold(a))) {
            return Err(FileError::Header {
                file,
                message: format!("no {} column", alternatives.join(" / ")),
            });
        }
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let start = rdr.position().clone();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(FileError::Header {
                    file: format!("{file}:{}", start.line()),
                    message: format!("unreadable row: {e}"),
                });
            }
        }
        let end = rdr.position().byte() as usize;
        let raw = content
            .get(start.byte() as usize..end)
            .unwrap_or_default()
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if record.len() != headers.len() {
            return Err(FileError::Header {
                file: format!("{file}:{}", start.line()),
                message: format!(
                    "{} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
            });
        }
        let cells = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        rows.push(Row {
            line: start.line(),
            raw,
            cells,
        });
    }
    Ok(Some(Table { file, rows }))
}

fn row_err(table: &Table, row: &Row, e: RecordError) -> FileError {
    FileError::Header {
        file: format!("{}:{}", table.file, row.line),
        message: e.to_string(),
    }
}

fn required(row: &Row, names: &[&str]) -> Result<String, RecordError> {
    row.get(names)
        .map(str::to_owned)
        .ok_or_else(|| RecordError::field(names[0], "is empty"))
}

/// The forms (sections, questions, options with points) and persons of a tables directory.
///
/// # Errors
/// A missing or malformed table, naming file, line and field.
pub fn read_catalog(dir: &Path) -> Result<Catalog, FileError> {
    load_catalog(dir)
}

fn load_catalog(dir: &Path) -> Result<Catalog, FileError> {
    let forms = read_table(dir, "forms.csv", &[&["form_id"]], false)?.unwrap_or_else(empty);
    let sections = read_table(dir, "sections.csv", &[&["form_id"], &["section_id"]], false)?
        .unwrap_or_else(empty);
    let questions = read_table(
        dir,
        "questions.csv",
        &[&["section_id"], &["question_id"]],
        false,
    )?
    .unwrap_or_else(empty);
    let options = read_table(
        dir,
        "options.csv",
        &[&["question_id"], &["option_id"]],
        false,
    )?
    .unwrap_or_else(empty);
    let mut catalog = Catalog::default();
    let mut section_form: HashMap<String, String> = HashMap::new();
    let mut question_section: HashMap<String, (String, String)> = HashMap::new();
    for r in &forms.rows {
        let id = required(r, &["form_id"]).map_err(|e| row_err(&forms, r, e))?;
        catalog.forms.insert(
            id.clone(),
            FormDef {
                id,
                name: r.get(&["form_name"]).map(str::to_owned),
                scoring_type: r
                    .get(&["scoring_type", "form_scoring_type_name"])
                    .map(str::to_ascii_lowercase),
                sections: Vec::new(),
            },
        );
    }
    for r in &sections.rows {
        let mut go = || -> Result<(), RecordError> {
            let form_id = required(r, &["form_id"])?;
            let id = required(r, &["section_id"])?;
            let form = catalog.forms.get_mut(&form_id).ok_or_else(|| {
                RecordError::field("form_id", format!("form {form_id} is not in forms.csv"))
            })?;
            form.sections.push(SectionDef {
                id: id.clone(),
                name: r.get(&["section_name"]).map(str::to_owned),
                weight: r
                    .get(&["section_weight"])
                    .map(|v| number("section_weight", v))
                    .transpose()?
                    .flatten(),
                questions: Vec::new(),
            });
            section_form.insert(id, form_id);
            Ok(())
        };
        go().map_err(|e| row_err(&sections, r, e))?;
    }
    for r in &questions.rows {
        let mut go = || -> Result<(), RecordError> {
            let sid = required(r, &["section_id"])?;
            let id = required(r, &["question_id"])?;
            let form_id = section_form.get(&sid).ok_or_else(|| {
                RecordError::field(
                    "section_id",
                    format!("section {sid} is not in sections.csv"),
                )
            })?;
            let section = catalog
                .forms
                .get_mut(form_id)
                .and_then(|f| f.sections.iter_mut().find(|s| s.id == sid))
                .ok_or_else(|| RecordError::field("section_id", "unknown section"))?;
            section.questions.push(QuestionDef {
                id: id.clone(),
                text: r.get(&["question_text"]).map(str::to_owned),
                weight: r
                    .get(&["question_weight"])
                    .map(|v| number("question_weight", v))
                    .transpose()?
                    .flatten(),
                is_kpi: r
                    .get(&["is_kpi"])
                    .map(|v| boolean("is_kpi", v))
                    .transpose()?
                    .flatten(),
                options: Vec::new(),
            });
            question_section.insert(id, (form_id.clone(), sid));
            Ok(())
        };
        go().map_err(|e| row_err(&questions, r, e))?;
    }
    for r in &options.rows {
        let mut go = || -> Result<(), RecordError> {
            let qid = required(r, &["question_id"])?;
            let id = required(r, &["option_id"])?;
            let (form_id, sid) = question_section.get(&qid).ok_or_else(|| {
                RecordError::field(
                    "question_id",
                    format!("question {qid} is not in questions.csv"),
                )
            })?;
            let question = catalog
                .forms
                .get_mut(form_id)
                .and_then(|f| f.sections.iter_mut().find(|s| s.id == *sid))
                .and_then(|s| s.questions.iter_mut().find(|q| q.id == qid))
                .ok_or_else(|| RecordError::field("question_id", "unknown question"))?;
            question.options.push(OptionDef {
                id,
                label: r
                    .get(&["option_label", "answer_label", "label"])
                    .map(str::to_owned),
                points: r
                    .get(&["option_points", "points"])
                    .map(|v| number("option_points", v))
                    .transpose()?
                    .flatten(),
                kind: r.get(&["option_type", "type"]).map(str::to_owned),
            });
            Ok(())
        };
        go().map_err(|e| row_err(&options, r, e))?;
    }
    if let Some(persons) = read_table(dir, "persons.csv", &[&["person_id"]], true)? {
        for r in &persons.rows {
            let mut go = || -> Result<(), RecordError> {
                let id = required(r, &["person_id"])?;
                let s = |names: &[&str]| r.get(names).map(str::to_owned);
                catalog.persons.insert(
                    id.clone(),
                    Person {
                        calabrio_person_id: Some(id),
                        username: s(&["username"]),
                        email: s(&["email"]),
                        windows_login: s(&["windows_login", "ad_login"]),
                        employee_id: s(&["employee_id"]),
                        acd_id: s(&["acd_id"]),
                        display_id: s(&["display_id"]),
                        display_name: s(&["display_name"]),
                        key: None,
                        active: r
                            .get(&["active"])
                            .map(|v| boolean("active", v))
                            .transpose()?
                            .flatten(),
                    },
                );
                Ok(())
            };
            go().map_err(|e| row_err(&persons, r, e))?;
        }
    }
    Ok(catalog)
}

fn empty() -> Table {
    Table {
        file: String::new(),
        rows: Vec::new(),
    }
}

/// Reader of a tables directory.
pub struct TablesReader {
    records: std::vec::IntoIter<SourceRecord>,
}

impl TablesReader {
    /// Reads the directory.
    ///
    /// # Errors
    /// A missing required table or column, or a bad row in the form or person tables.
    pub fn open(dir: &Path, opts: ReadOptions) -> Result<Self, FileError> {
        if !dir.is_dir() {
            return Err(FileError::Header {
                file: dir.display().to_string(),
                message: "a tables source is a directory of CSV files (forms.csv, sections.csv, questions.csv, options.csv, evaluations.csv, …)".into(),
            });
        }
        let catalog = load_catalog(dir)?;
        let evaluations =
            read_table(dir, "evaluations.csv", &[&["evaluation_id"]], false)?.unwrap_or_else(empty);
        let scores = read_table(
            dir,
            "scores.csv",
            &[&["evaluation_id"], &["question_id"]],
            true,
        )?;
        let comments = read_table(dir, "comments.csv", &[&["evaluation_id"], &["text"]], true)?;
        let known: std::collections::HashSet<&str> = evaluations
            .rows
            .iter()
            .filter_map(|r| r.get(&["evaluation_id"]))
            .collect();
        let group = |t: &Option<Table>| {
            let mut by: HashMap<String, Vec<usize>> = HashMap::new();
            let mut orphans = Vec::new();
            if let Some(t) = t {
                for (i, r) in t.rows.iter().enumerate() {
                    match r.get(&["evaluation_id"]) {
                        Some(id) if known.contains(id) => {
                            by.entry(id.to_owned()).or_default().push(i)
                        }
                        _ => orphans.push(i),
                    }
                }
            }
            (by, orphans)
        };
        let (score_rows, score_orphans) = group(&scores);
        let (comment_rows, comment_orphans) = group(&comments);
        let mut out = Vec::with_capacity(evaluations.rows.len());
        let extractor = opts
            .extractor
            .clone()
            .unwrap_or_else(|| "warehouse_tables".into());
        for r in &evaluations.rows {
            let id = r.get(&["evaluation_id"]).unwrap_or_default().to_owned();
            let mut raw = format!("{}:{}: {}", evaluations.file, r.line, r.raw);
            let mut answers = Vec::new();
            if let (Some(t), Some(rows)) = (&scores, score_rows.get(&id)) {
                for &i in rows {
                    let s = &t.rows[i];
                    raw.push_str(&format!("\n{}:{}: {}", t.file, s.line, s.raw));
                    answers.push((s, format!("{}:{}", t.file, s.line)));
                }
            }
            let mut comment_list = Vec::new();
            if let (Some(t), Some(rows)) = (&comments, comment_rows.get(&id)) {
                for &i in rows {
                    let c = &t.rows[i];
                    raw.push_str(&format!("\n{}:{}: {}", t.file, c.line, c.raw));
                    comment_list.push((c, format!("{}:{}", t.file, c.line)));
                }
            }
            let parsed = evaluation(&catalog, r, &answers, &comment_list, &opts, &extractor);
            out.push(SourceRecord {
                locator: Locator {
                    file: evaluations.file.clone(),
                    line: Some(r.line),
                    json_path: None,
                },
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed,
            });
        }
        for (t, orphans) in [(&scores, score_orphans), (&comments, comment_orphans)] {
            let Some(t) = t else { continue };
            for i in orphans {
                let r = &t.rows[i];
                let raw = format!("{}:{}: {}", t.file, r.line, r.raw);
                out.push(SourceRecord {
                    locator: Locator {
                        file: t.file.clone(),
                        line: Some(r.line),
                        json_path: None,
                    },
                    hash: sha256_hex(raw.as_bytes()),
                    raw,
                    parsed: Err(RecordError::field(
                        "evaluation_id",
                        match r.get(&["evaluation_id"]) {
                            Some(id) => format!("evaluation {id} is not in evaluations.csv"),
                            None => "is empty".to_owned(),
                        },
                    )),
                });
            }
        }
        Ok(TablesReader {
            records: out.into_iter(),
        })
    }
}

impl Iterator for TablesReader {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        self.records.next()
    }
}

fn evaluation(
    catalog: &Catalog,
    r: &Row,
    answers: &[(&Row, String)],
    comments: &[(&Row, String)],
    opts: &ReadOptions,
    extractor: &str,
) -> Result<CanonicalEvaluation, RecordError> {
    let evaluation_id = required(r, &["evaluation_id"])?;
    let form_id = required(r, &["form_id"])?;
    let form = catalog.forms.get(&form_id).ok_or_else(|| {
        RecordError::field("form_id", format!("form {form_id} is not in forms.csv"))
    })?;
    let zone = opts.time_zone.as_ref();
    let instant = |field: &str, names: &[&str]| -> Result<Option<jiff::Timestamp>, RecordError> {
        r.get(names)
            .map(|v| parse_instant(v, zone).map_err(|e| RecordError::field(field, e.to_string())))
            .transpose()
    };
    let num = |field: &str, names: &[&str]| -> Result<Option<f64>, RecordError> {
        Ok(r.get(names)
            .map(|v| number(field, v))
            .transpose()?
            .flatten())
    };
    let agent_id = required(r, &["agent_id", "agent_person_id"])?;
    let kind = match (r.get(&["kind", "eval_type"]), r.get(&["is_score_counted"])) {
        (Some(k), _) if k.eq_ignore_ascii_case("calibration") => Kind::Calibration,
        (Some(k), _) if k.eq_ignore_ascii_case("evaluation") => Kind::Evaluation,
        (Some(k), _) => {
            return Err(RecordError::field(
                "kind",
                format!("'{k}' is neither evaluation nor calibration"),
            ));
        }
        (None, Some(v)) => match boolean("is_score_counted", v)? {
            Some(false) => Kind::Calibration,
            _ => Kind::Evaluation,
        },
        (None, None) => Kind::Evaluation,
    };
    let state_raw = r.get(&["state"]).map(str::to_owned);
    let state = state_raw
        .as_deref()
        .map_or_else(|| "scored".to_owned(), normalise_state);
    let total = num("final_score", &["final_score", "total_score"])?;
    if total.is_none() && state == "scored" {
        return Err(RecordError::field(
            "final_score",
            "is empty on a scored evaluation",
        ));
    }
    let raw_additive = num("raw_score", &["raw_score", "raw_additive_score"])?;
    let explicit = r
        .get(&["kpi_failed"])
        .map(|v| boolean("kpi_failed", v))
        .transpose()?
        .flatten();
    let (kpi_failed, kpi_basis) = Score::kpi(explicit, total, raw_additive);
    let refs: Vec<AnswerRef> = answers
        .iter()
        .map(|(s, at)| AnswerRef {
            section_id: s.get(&["section_id"]).map(str::to_owned),
            question_id: s.get(&["question_id"]).unwrap_or_default().to_owned(),
            option_id: s.get(&["option_id"]).map(str::to_owned),
            field: format!("{at} option_id"),
        })
        .collect();
    let sections = catalog.sections(form, &refs)?;
    let mut out_comments = Vec::new();
    for (c, at) in comments {
        let Some(text) = c.cells.get("text").filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        let question = c.get(&["question_id"]).map(str::to_owned);
        let section = c.get(&["section_id"]).map(|sid| {
            form.sections
                .iter()
                .find(|s| s.id == sid)
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| sid.to_owned())
        });
        out_comments.push(Comment {
            comment_id: c.get(&["comment_id"]).map(str::to_owned),
            scope: match (&question, &section) {
                (Some(_), _) => CommentScope::Question,
                (None, Some(_)) => CommentScope::Section,
                _ => CommentScope::Evaluation,
            },
            section_id: section,
            question_id: question,
            text: text.trim().to_owned(),
            created_at_utc: c
                .get(&["created_date", "created_at"])
                .map(|v| {
                    parse_instant(v, zone).map_err(|e| {
                        RecordError::field(format!("{at} created_date"), e.to_string())
                    })
                })
                .transpose()?,
            author: c.get(&["commentor_id"]).map(|id| catalog.person(id)),
            edited: None,
        });
    }
    let unit = crate::unit_of(form.scoring_type.as_deref());
    Ok(CanonicalEvaluation {
        schema: qm_model::evaluation::SCHEMA.to_owned(),
        source: Source {
            system: "calabrio_one".into(),
            tenant: None,
            extractor: Some(extractor.to_owned()),
            extracted_at: None,
        },
        evaluation_id,
        contact: Contact {
            contact_id: r.get(&["contact_id"]).map(str::to_owned),
            assoc_call_id: r.get(&["assoc_call_id"]).map(str::to_owned),
            conversation_id: r.get(&["conversation_id"]).map(str::to_owned),
            contact_type: r.get(&["contact_type"]).map(str::to_owned),
            start_time_utc: instant("contact_start_utc", &["contact_start_utc"])?,
            start_tz: r.get(&["contact_tz"]).map(str::to_owned),
            duration_ms: None,
        },
        form: Form {
            form_id: Some(form.id.clone()),
            form_name: form.name.clone(),
            scoring_type: form.scoring_type.clone(),
            total_points: None,
        },
        agent: catalog.person(&agent_id),
        evaluator: r
            .get(&["evaluator_id", "evaluator_person_id"])
            .map(|id| catalog.person(id)),
        approver: r
            .get(&["approver_id", "approver_person_id"])
            .map(|id| catalog.person(id)),
        kind,
        evaluation_type: None,
        state,
        state_raw,
        response_state: r.get(&["response_state"]).map(str::to_ascii_lowercase),
        dates: Dates {
            evaluated_at_utc: instant("evaluated_date", &["evaluated_date", "evaluated_at"])?,
            evaluated_at_raw: r
                .get(&["evaluated_date", "evaluated_at"])
                .map(str::to_owned),
            created_at_utc: instant("created_date", &["created_date", "created_at"])?,
            created_at_raw: r.get(&["created_date", "created_at"]).map(str::to_owned),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let base: &[(&str, &str)] = &[
            (
                "forms.csv",
                "form_id,form_name,scoring_type\n12,Sales,points\n",
            ),
            (
                "sections.csv",
                "form_id,section_id,section_name,section_weight\n12,101,Compliance,1\n",
            ),
            (
                "questions.csv",
                "section_id,question_id,question_text\n101,1001,Verified?\n101,1002,Disclosure?\n",
            ),
            (
                "options.csv",
                "question_id,option_id,option_label,option_points,option_type\n1001,1,Yes,10,\n1001,2,No,0,\n1002,3,Yes,5,\n1002,4,N/A,0,na\n",
            ),
            (
                "persons.csv",
                "person_id,email,display_name,active\n7,ann@example.com,Ann Lee,false\n",
            ),
            (
                "evaluations.csv",
                "evaluation_id,form_id,agent_id,evaluated_date,final_score,raw_score\ne1,12,7,2024-01-02T03:04:05Z,10,10\n",
            ),
            (
                "scores.csv",
                "evaluation_id,section_id,question_id,option_id\ne1,101,1001,1\ne1,101,1002,4\n",
            ),
            (
                "comments.csv",
                "comment_id,evaluation_id,section_id,question_id,text\nc1,e1,101,,Good\n",
            ),
        ];
        for (name, text) in base {
            let text = files
                .iter()
                .find(|(n, _)| n == name)
                .map_or(*text, |(_, t)| *t);
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn read(dir: &tempfile::TempDir) -> Vec<SourceRecord> {
        TablesReader::open(dir.path(), ReadOptions::default())
            .unwrap()
            .collect()
    }

    #[test]
    fn a_record_joins_its_form_answers_person_and_comments() {
        let dir = dir_with(&[]);
        let recs = read(&dir);
        assert_eq!(recs.len(), 1);
        let ev = recs[0].parsed.as_ref().unwrap();
        assert_eq!(ev.agent.email.as_deref(), Some("ann@example.com"));
        assert_eq!(ev.agent.active, Some(false));
        let s = &ev.sections[0];
        assert_eq!((s.score, s.max), (Some(10.0), Some(10.0)), "N/A left out");
        assert_eq!(s.questions[1].na, Some(true));
        assert_eq!(ev.comments[0].scope, CommentScope::Section);
        assert_eq!(ev.comments[0].section_id.as_deref(), Some("Compliance"));
        assert_eq!(recs[0].locator.line, Some(2));
        assert!(
            recs[0].raw.contains("scores.csv:3: e1,101,1002,4"),
            "{}",
            recs[0].raw
        );
    }

    #[test]
    fn bad_answers_and_orphans_are_records_in_error_naming_file_line_and_field() {
        let dir = dir_with(&[(
            "scores.csv",
            "evaluation_id,section_id,question_id,option_id\ne1,101,1001,99\ne9,101,1001,1\n",
        )]);
        let recs = read(&dir);
        assert_eq!(recs.len(), 2, "the evaluation and the orphan score row");
        let e = recs[0].parsed.as_ref().unwrap_err();
        assert!(
            e.field
                .as_deref()
                .unwrap()
                .ends_with("scores.csv:2 option_id"),
            "{e}"
        );
        assert_eq!(e.message, "option 99 is not an option of question 1001");
        assert!(recs[1].locator.to_string().ends_with("scores.csv:3"));
        let e = recs[1].parsed.as_ref().unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 'evaluation_id': evaluation e9 is not in evaluations.csv"
        );
    }

    #[test]
    fn a_bad_form_table_row_makes_the_directory_unusable() {
        let dir = dir_with(&[(
            "options.csv",
            "question_id,option_id,option_label,option_points\n1001,1,Yes,ten\n",
        )]);
        let err = TablesReader::open(dir.path(), ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("options.csv:2"), "{err}");
        assert!(err.contains("option_points"), "{err}");
        let dir = dir_with(&[("evaluations.csv", "form_id\n12\n")]);
        let err = TablesReader::open(dir.path(), ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no evaluation_id column"), "{err}");
    }
}
